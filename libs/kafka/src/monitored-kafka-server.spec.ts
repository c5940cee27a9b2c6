import { EventEmitter } from 'node:events';
import { Logger } from '@nestjs/common';
import { Kafka, KafkaJSProtocolError, type Consumer, type EachBatchPayload } from 'kafkajs';
import { HealthIndicatorService } from '@nestjs/terminus';
import { Counter, Registry, register } from 'prom-client';
import { CONSUMER_GROUPS } from '@app/contracts';
import { METRICS } from '@app/platform';
import { ConsumerState } from './consume/consumer-state';
import { PartitionRetries } from './consume/partition-retries';
import { PartitionTransactions } from './consume/partition-transactions';
import { StalledPartitionsMetrics } from './consume/stalled-partitions.metrics';
import { ConsumerGroup } from './dead-letter.interceptor';
import { KafkaHealthIndicator } from './kafka.health';
import { consumerServerOptions } from './kafka-config';
import { MonitoredKafkaServer, type ConsumeOptions } from './monitored-kafka-server';

/** kafkajs's consumer as the server sees it, with its events and calls recorded; nothing connects. */
function fakeConsumer() {
  const emitter = new EventEmitter();
  const events = new Kafka({ clientId: 'spec', brokers: ['127.0.0.1:1'] }).consumer({ groupId: 'spec' }).events;
  const calls: string[] = [];
  const seeks: Array<{ topic: string; partition: number; offset: string }> = [];
  const resumed: Array<{ topic: string; partitions: number[] }> = [];
  let failConnect = 0;
  const consumer = {
    events,
    on: (event: string, listener: (e: unknown) => void) => emitter.on(event, listener),
    connect: async () => {
      calls.push('connect');
      if (failConnect > 0) {
        failConnect -= 1;
        throw new Error('broker not answering');
      }
    },
    disconnect: async () => void calls.push('disconnect'),
    subscribe: async () => void calls.push('subscribe'),
    run: async () => void calls.push('run'),
    seek: (to: { topic: string; partition: number; offset: string }) => void seeks.push(to),
    resume: (partitions: Array<{ topic: string; partitions: number[] }>) => void resumed.push(...partitions),
  };
  return {
    consumer: consumer as unknown as Consumer,
    calls,
    seeks,
    resumed,
    crash: (restart: boolean) => emitter.emit(events.CRASH, { payload: { error: new Error('coordinator not found'), groupId: 'g', restart } }),
    join: (memberAssignment: Record<string, number[]>) => emitter.emit(events.GROUP_JOIN, { payload: { groupId: 'g', memberId: 'm', memberAssignment } }),
    heartbeat: () => emitter.emit(events.HEARTBEAT, { payload: { groupId: 'g', memberId: 'm' } }),
    failNextConnects: (n: number) => (failConnect = n),
  };
}

function serverWith(fake: ReturnType<typeof fakeConsumer>, consume?: ConsumeOptions) {
  const state = new ConsumerState(new PartitionRetries({ initialMs: 100, maxMs: 1000, boundMs: 60_000 }));
  const options = consumerServerOptions({ brokers: ['127.0.0.1:1'], clientId: 'spec', groupId: 'g', concurrency: 1 });
  const server = new MonitoredKafkaServer(options, state, '[#1]', consume);
  const internals = server as unknown as { consumer: Consumer; registerConsumerEventListeners(): void; messageHandlers: Map<string, unknown> };
  internals.consumer = fake.consumer;
  internals.messageHandlers.set('payment-successful', () => undefined);
  internals.registerConsumerEventListeners();
  return { server, state };
}

describe('MonitoredKafkaServer, when kafkajs crashes its consumer', () => {
  // Its crash lines are expected here (jest gives each spec file its own modules, so this stays here).
  beforeAll(() => Logger.overrideLogger(false));
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  it('starts a consumer kafkajs gave up on again itself, 5 s later, and reports it crashed meanwhile', async () => {
    const fake = fakeConsumer();
    const { state } = serverWith(fake);
    fake.crash(false);
    expect(state.status).toBe('crashed');
    expect(state.lastError).toBe('Error: coordinator not found');
    await jest.advanceTimersByTimeAsync(4999);
    expect(fake.calls).toEqual([]);
    await jest.advanceTimersByTimeAsync(1);
    expect(fake.calls).toEqual(['disconnect', 'connect', 'subscribe', 'run']);
  });

  it('leaves a consumer kafkajs restarts itself alone', async () => {
    const fake = fakeConsumer();
    const { state } = serverWith(fake);
    fake.crash(true);
    expect(state.status).toBe('crashed');
    await jest.advanceTimersByTimeAsync(60_000);
    expect(fake.calls).toEqual([]);
  });

  it('tries again every 5 s for as long as starting fails, and not once the service is closing', async () => {
    const fake = fakeConsumer();
    const { state } = serverWith(fake);
    fake.failNextConnects(2);
    fake.crash(false);
    await jest.advanceTimersByTimeAsync(5000);
    expect(state.lastError).toBe('restart failed: broker not answering');
    await jest.advanceTimersByTimeAsync(5000);
    await jest.advanceTimersByTimeAsync(5000);
    expect(fake.calls).toEqual(['disconnect', 'connect', 'disconnect', 'connect', 'disconnect', 'connect', 'subscribe', 'run']);

    const closing = fakeConsumer();
    const second = serverWith(closing);
    second.state.closing = true;
    closing.crash(false);
    await jest.advanceTimersByTimeAsync(60_000);
    expect(closing.calls).toEqual([]);
  });
});

describe('MonitoredKafkaServer, taking a partition over while the broker is away', () => {
  beforeAll(() => Logger.overrideLogger(false));

  const unanswered = () => new Promise<never>(() => undefined);
  const payload = { batch: { topic: 'payment-successful', partition: 0, firstOffset: () => '7' }, pause: () => () => undefined };

  /** A server whose first batch of a partition is being taken over, against clients the broker never answers. */
  function takingOver(kafka: object) {
    const { server, state } = serverWith(fakeConsumer());
    const transactions = new PartitionTransactions(kafka as Kafka, 'g');
    // Nest's client is what the server's kafkajs is.
    const internals = server as unknown as { client: object; transactions: PartitionTransactions; takeOver(p: unknown): Promise<boolean> };
    internals.client = kafka;
    internals.transactions = transactions;
    const taking = internals.takeOver(payload);
    const stop = () => {
      state.closing = true;
      transactions.abandon();
    };
    return { taking, stop, state };
  }

  it('gives up claiming the partition once the service stops, and holds nothing for a retry', async () => {
    const { taking, stop, state } = takingOver({ producer: () => ({ connect: unanswered, disconnect: unanswered }) });
    stop();
    await expect(taking).resolves.toBe(false);
    expect(state.retries.stalled()).toEqual([]);
  }, 2000);

  it('gives up reading the committed offset once the service stops', async () => {
    const answered = async () => undefined;
    const producer = { connect: answered, disconnect: answered, transaction: async () => ({ abort: answered }) };
    const admins: string[] = [];
    const { taking, stop, state } = takingOver({
      producer: () => producer,
      admin: () => ({ connect: () => (admins.push('connect'), unanswered()), disconnect: answered }),
    });
    // The claim is answered; the admin that reads the offset is left waiting.
    await new Promise((resolve) => setImmediate(resolve));
    expect(admins).toEqual(['connect']);
    stop();
    await expect(taking).resolves.toBe(false);
    expect(state.retries.stalled()).toEqual([]);
  }, 2000);
});

describe('MonitoredKafkaServer, what a rebalance and a crash show the operator', () => {
  beforeAll(() => Logger.overrideLogger(false));
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  const topic = 'payment-successful';

  /** What /health/ready shows of the consumer, against a broker that answers. */
  async function readiness(state: ConsumerState) {
    const indicator = new KafkaHealthIndicator(new HealthIndicatorService(), { ping: async () => ({ brokers: 1 }) } as never, state);
    return (await indicator.check()).kafka as { status: string; consumer: string; last_error: string | null; stalled: Array<{ partition: number }> };
  }

  it('stops reporting a partition stalled once a rebalance gives it to another member, and restarts its retry clock if it comes back', async () => {
    const fake = fakeConsumer();
    const { state } = serverWith(fake);
    const metrics = new StalledPartitionsMetrics(state, new ConsumerGroup(CONSUMER_GROUPS.order));
    const stalledGauge = async () => (await register.getSingleMetric(METRICS.stalledPartitions)!.get()).values.find((v) => v.labels.topic === topic)?.value;
    const firstFailure = Date.now();
    state.retries.failed(topic, 0, '5', new Error('database down'));
    state.retries.failed(topic, 1, '9', new Error('database down'));
    expect((await readiness(state)).stalled.map((s) => s.partition)).toEqual([0, 1]);
    expect(await stalledGauge()).toBe(2);

    fake.join({ [topic]: [1] });
    // Partition 0 is its new owner's to retry now: reporting it here would page for a stall nobody here can end.
    expect((await readiness(state)).stalled.map((s) => s.partition)).toEqual([1]);
    expect(await stalledGauge()).toBe(1);
    expect(state.retries.failingSince(topic, 1, '9')).toBe(firstFailure);

    // Back a minute later, the same record failing again gets the whole retry bound, not a clock already run down.
    jest.advanceTimersByTime(60_000);
    fake.join({ [topic]: [0, 1] });
    expect(state.retries.failingSince(topic, 0, '5')).toBeUndefined();
    state.retries.failed(topic, 0, '5', new Error('database down'));
    expect(state.retries.failingSince(topic, 0, '5')).toBe(firstFailure + 60_000);
    metrics.onModuleDestroy();
  });

  it('counts every consumer crash in kafka_consumer_crashes_total, and /health/ready reports it crashed and why', async () => {
    // Wired as bootstrap wires it: the ConsumerCrashing alert fires on this counter's increase.
    const crashes = new Counter({ name: METRICS.crashes, help: 'consumer crashes', registers: [new Registry()] });
    const crashCount = async () => (await crashes.get()).values[0]?.value ?? 0;
    const fake = fakeConsumer();
    const noop = () => undefined;
    const telemetry = { retried: noop, sent: noop, transaction: noop, rebalanced: noop, crashed: () => crashes.inc() };
    const { state } = serverWith(fake, { order: 'key', transactional: false, telemetry });
    fake.join({ [topic]: [0] });
    expect(await crashCount()).toBe(0);
    expect((await readiness(state)).status).toBe('up');

    // restart: true, kafkajs restarts the consumer itself, so the server starts no timer of its own.
    fake.crash(true);
    expect(await crashCount()).toBe(1);
    expect(await readiness(state)).toMatchObject({ status: 'down', consumer: 'crashed', last_error: 'Error: coordinator not found' });
    fake.crash(true);
    expect(await crashCount()).toBe(2);
    expect(jest.getTimerCount()).toBe(0);
  });
});

describe('MonitoredKafkaServer, exactly once, when a partition changes hands', () => {
  beforeAll(() => Logger.overrideLogger(false));
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  const topic = 'payment-successful';

  /**
   * A broker that answers at once: the group's committed offset of partition 0 is `committed`, and a slice's
   * transaction ends as `commit` says. Records the offsets the loop's transactions committed.
   */
  function answeringKafka(committed: string, commit: () => Promise<void> = async () => undefined) {
    const answered = async () => undefined;
    const transactionsCommitted: string[] = [];
    const kafka = {
      producer: () => ({
        connect: answered,
        disconnect: answered,
        transaction: async () => {
          let next: string | undefined;
          return {
            sendBatch: answered,
            sendOffsets: async (o: { topics: Array<{ partitions: Array<{ offset: string }> }> }) => void (next = o.topics[0].partitions[0].offset),
            commit: async () => {
              await commit();
              if (next !== undefined) transactionsCommitted.push(next);
            },
            abort: answered,
            isActive: () => true,
          };
        },
      }),
      admin: () => ({
        connect: answered,
        disconnect: answered,
        fetchOffsets: async () => [{ topic, partitions: [{ partition: 0, offset: committed }] }],
      }),
    };
    return { kafka, transactionsCommitted };
  }

  /** A transactional server over the fake consumer and broker, with handlers that succeed and are counted. */
  function transactionalServer(kafka: object) {
    const fake = fakeConsumer();
    const { server, state } = serverWith(fake, { order: 'key', transactional: true });
    const internals = server as unknown as {
      client: object;
      transactions: PartitionTransactions;
      handleBatch(payload: EachBatchPayload): Promise<void>;
    };
    internals.client = kafka;
    internals.transactions = new PartitionTransactions(kafka as Kafka, 'g');
    const handled: string[] = [];
    jest.spyOn(server, 'handleMessage').mockImplementation(async ({ message }: { message: { offset: string } }) => void handled.push(message.offset));
    return { fake, server, state, handled, handleBatch: (payload: EachBatchPayload) => internals.handleBatch(payload) };
  }

  /** A batch of partition 0 with records `from`..`to`, as kafkajs hands it to eachBatch; counts its pauses. */
  function batchOf(from: number, to: number) {
    const offsets = Array.from({ length: to - from + 1 }, (_, i) => String(from + i));
    const paused: string[] = [];
    const payload = {
      batch: {
        topic,
        partition: 0,
        messages: offsets.map((offset) => ({ offset, key: Buffer.from('k'), value: Buffer.from('{}'), headers: {}, timestamp: '0', attributes: 0 })),
        firstOffset: () => offsets[0],
        lastOffset: () => offsets[offsets.length - 1],
      },
      heartbeat: async () => undefined,
      resolveOffset: () => undefined,
      commitOffsetsIfNecessary: async () => undefined,
      isRunning: () => true,
      isStale: () => false,
      pause: () => {
        paused.push(offsets[0]);
        return () => undefined;
      },
    };
    return { payload: payload as unknown as EachBatchPayload, paused };
  }

  it("skips what the previous owner committed after this member joined: it resumes from the group's offset, handling nothing twice", async () => {
    // kafkajs read the offset (7) as the member joined; the previous owner's last transaction then committed 12.
    const { kafka, transactionsCommitted } = answeringKafka('12');
    const { fake, handled, handleBatch } = transactionalServer(kafka);
    await handleBatch(batchOf(7, 14).payload);
    expect(fake.seeks).toEqual([{ topic, partition: 0, offset: '12' }]);
    expect(handled).toEqual([]);
    expect(transactionsCommitted).toEqual([]);

    // kafkajs fetches again from 12: that batch is handled, and no new check is made in this generation.
    await handleBatch(batchOf(12, 14).payload);
    expect(handled).toEqual(['12', '13', '14']);
    expect(transactionsCommitted).toEqual(['15']);
    expect(fake.seeks).toHaveLength(1);
  });

  it('leaves a fenced partition paused until the group confirms this member owns it: the second heartbeat after, not the first', async () => {
    const fencedError = new KafkaJSProtocolError(Object.assign(new Error('producer fenced'), { type: 'PRODUCER_FENCED', code: 90 }));
    const { kafka, transactionsCommitted } = answeringKafka('7', async () => Promise.reject(fencedError));
    const { fake, state, handled, handleBatch } = transactionalServer(kafka);
    const first = batchOf(7, 9);
    await handleBatch(first.payload);
    expect(handled).toEqual(['7', '8', '9']);
    expect(transactionsCommitted).toEqual([]);
    expect(first.paused).toEqual(['7']);
    expect(state.retries.stalled().map((s) => s.offset)).toEqual(['7']);

    // Until confirmed, a batch fetched for it is not handled: it may be another member's now.
    const meanwhile = batchOf(7, 9);
    await handleBatch(meanwhile.payload);
    expect(meanwhile.paused).toEqual(['7']);
    expect(handled).toHaveLength(3);

    // kafkajs has one heartbeat in flight at a time: the first accepted may have been sent before the fencing.
    jest.advanceTimersByTime(3000);
    fake.heartbeat();
    expect(fake.resumed).toEqual([]);
    jest.advanceTimersByTime(3000);
    fake.heartbeat();
    expect(fake.resumed).toEqual([{ topic, partitions: [0] }]);
  });

  /**
   * A stop that arrives while the batch in hand's transaction is committing, `ends` saying when (if ever) the
   * broker answers that commit. As kafkajs does, disconnecting the consumer waits for the batch in hand.
   */
  async function stoppingWhileCommitting(ends: (answer: () => void) => void) {
    let committing!: () => void;
    const commitStarted = new Promise<void>((resolve) => (committing = resolve));
    const commit = () =>
      new Promise<void>((answer) => {
        committing();
        ends(answer);
      });
    const { kafka } = answeringKafka('7', commit);
    const { fake, server, handleBatch } = transactionalServer(kafka);
    const { payload } = batchOf(7, 9);
    // What the loop has marked consumed: only a committed transaction moves it.
    const consumed: string[] = [];
    payload.resolveOffset = (offset: string) => void consumed.push(offset);
    const batch = handleBatch(payload);
    (fake.consumer as unknown as { disconnect: () => Promise<void> }).disconnect = () => batch;
    await commitStarted;
    let stopped = false;
    const closing = server.close().then(() => void (stopped = true));
    return { consumed, closing, isStopped: () => stopped };
  }

  it('stopping, waits for the transaction of the batch in hand that commits within 5 s, so the next owner repeats nothing', async () => {
    let answer!: () => void;
    const stop = await stoppingWhileCommitting((a) => (answer = a));
    await jest.advanceTimersByTimeAsync(4999);
    expect({ stopped: stop.isStopped(), consumed: stop.consumed }).toEqual({ stopped: false, consumed: [] });
    answer();
    await stop.closing;
    expect(stop.consumed).toEqual(['9']);
  });

  it('stopping, gives up after 5 s a transaction the broker never answers, leaving its records to the next owner', async () => {
    const stop = await stoppingWhileCommitting(() => undefined);
    await jest.advanceTimersByTimeAsync(4999);
    expect(stop.isStopped()).toBe(false);
    await jest.advanceTimersByTimeAsync(1);
    expect({ stopped: stop.isStopped(), consumed: stop.consumed }).toEqual({ stopped: true, consumed: [] });
  });
});
