import { EventEmitter } from 'node:events';
import { Logger } from '@nestjs/common';
import { Kafka, KafkaJSProtocolError, type Consumer, type ConsumerRunConfig, type EachBatchPayload } from 'kafkajs';
import { HealthIndicatorService } from '@nestjs/terminus';
import { Counter, Registry, register } from 'prom-client';
import { CONSUMER_GROUPS } from '@app/contracts';
import { METRICS } from '@app/platform';
import { ConsumerState } from './consume/consumer-state';
import { RecordRetries } from './consume/record-retries';
import { StalledPartitionsMetrics } from './consume/stalled-partitions.metrics';
import { ConsumerGroup } from './dead-letter.interceptor';
import { KafkaHealthIndicator } from './kafka.health';
import { consumerServerOptions } from './kafka-config';
import { MonitoredKafkaServer, type ConsumeOptions, type ConsumerTelemetry } from './monitored-kafka-server';

type TopicPartitions = Array<{ topic: string; partitions: number[] }>;

/** kafkajs's consumer as the server sees it, with its events and calls recorded; nothing connects. */
function fakeConsumer() {
  const emitter = new EventEmitter();
  const events = new Kafka({ clientId: 'spec', brokers: ['127.0.0.1:1'] }).consumer({ groupId: 'spec' }).events;
  const calls: string[] = [];
  const seeks: Array<{ topic: string; partition: number; offset: string }> = [];
  const paused: TopicPartitions = [];
  const resumed: TopicPartitions = [];
  const committed: Array<{ topic: string; partition: number; offset: string }> = [];
  let runConfig: ConsumerRunConfig | undefined;
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
    run: async (config: ConsumerRunConfig) => {
      calls.push('run');
      runConfig = config;
    },
    seek: (to: { topic: string; partition: number; offset: string }) => void seeks.push(to),
    pause: (partitions: TopicPartitions) => void paused.push(...partitions),
    resume: (partitions: TopicPartitions) => void resumed.push(...partitions),
    commitOffsets: async (offsets: Array<{ topic: string; partition: number; offset: string }>) => void committed.push(...offsets),
  };
  return {
    consumer: consumer as unknown as Consumer,
    calls,
    seeks,
    paused,
    resumed,
    /** Offsets committed through the consumer (at least once). */
    committed,
    crash: (restart: boolean) => emitter.emit(events.CRASH, { payload: { error: new Error('coordinator not found'), groupId: 'g', restart } }),
    join: (memberAssignment: Record<string, number[]>) => emitter.emit(events.GROUP_JOIN, { payload: { groupId: 'g', memberId: 'm', memberAssignment } }),
    heartbeat: () => emitter.emit(events.HEARTBEAT, { payload: { groupId: 'g', memberId: 'm' } }),
    /** kafkajs passed a fetched batch that read_committed left empty (a transaction's markers). */
    endBatch: (topic: string, partition: number, lastOffset: string) =>
      emitter.emit(events.END_BATCH_PROCESS, { payload: { topic, partition, batchSize: 0, lastOffset, firstOffset: lastOffset, offsetLag: '0', offsetLagLow: '0', duration: 0 } }),
    /** kafkajs hands a fetched batch to the `eachBatch` the server passed to `consumer.run`. */
    eachBatch: (payload: EachBatchPayload) => runConfig!.eachBatch!(payload),
    failNextConnects: (n: number) => (failConnect = n),
  };
}

function serverWith(fake: ReturnType<typeof fakeConsumer>, consume?: ConsumeOptions) {
  const state = new ConsumerState(new RecordRetries({ initialMs: 100, maxMs: 1000, boundMs: 60_000 }));
  const options = consumerServerOptions({ brokers: ['127.0.0.1:1'], clientId: 'spec', groupId: 'g', concurrency: 1 });
  const server = new MonitoredKafkaServer(options, state, '[#1]', consume);
  const internals = server as unknown as { consumer: Consumer; registerConsumerEventListeners(): void; messageHandlers: Map<string, unknown> };
  internals.consumer = fake.consumer;
  internals.messageHandlers.set('payment-successful', () => undefined);
  internals.registerConsumerEventListeners();
  return { server, state };
}

/**
 * A server whose consumer runs, as Nest starts it (listeners, then `bindEvents`, which builds the engine and
 * passes `eachBatch` to `consumer.run`); `kafka` is the client the engine's transactions and admin use.
 */
async function runningServer(fake: ReturnType<typeof fakeConsumer>, consume?: ConsumeOptions, kafka?: object) {
  const { server, state } = serverWith(fake, consume);
  if (kafka) (server as unknown as { client: object }).client = kafka;
  await server.bindEvents(fake.consumer);
  fake.calls.length = 0;
  return { server, state };
}

/** Records handled by Nest's pipeline (its `handleMessage`), each ending when the spec says (or at once). */
function handledBy(server: MonitoredKafkaServer, endAtOnce: boolean) {
  const handled: string[] = [];
  const pending = new Map<string, () => void>();
  jest.spyOn(server, 'handleMessage').mockImplementation(async ({ message }: { message: { offset: string } }) => {
    handled.push(message.offset);
    if (!endAtOnce) await new Promise<void>((resolve) => pending.set(message.offset, resolve));
  });
  const end = (...offsets: string[]) => {
    for (const offset of offsets) pending.get(offset)!();
  };
  return { handled, end };
}

/** A batch of `topic`[0] with records `from`..`to`, as kafkajs hands it to eachBatch; records what it resolves. */
function batchOf(topic: string, from: number, to: number, fetchedOffset = from) {
  const offsets = Array.from({ length: to - from + 1 }, (_, i) => String(from + i));
  const resolved: string[] = [];
  const payload = {
    batch: {
      topic,
      partition: 0,
      fetchedOffset: String(fetchedOffset),
      messages: offsets.map((offset) => ({ offset, key: Buffer.from('k' + offset), value: Buffer.from('{}'), headers: {}, timestamp: '0', attributes: 0 })),
      firstOffset: () => offsets[0],
      lastOffset: () => offsets[offsets.length - 1],
    },
    heartbeat: async () => undefined,
    resolveOffset: (offset: string) => void resolved.push(offset),
    commitOffsetsIfNecessary: async () => undefined,
    uncommittedOffsets: () => ({ topics: [] }),
    isRunning: () => true,
    isStale: () => false,
    pause: () => () => undefined,
  };
  return { payload: payload as unknown as EachBatchPayload, resolved };
}

/** Lets promise chains run (setImmediate is left real where timers are faked). */
async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
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

  /** A transactional server whose first batch of a partition is being taken over, against clients the broker never answers. */
  async function takingOver(kafka: object) {
    const fake = fakeConsumer();
    const { server, state } = await runningServer(fake, { order: 'key', transactional: true }, kafka);
    const { handled } = handledBy(server, true);
    const { payload, resolved } = batchOf('payment-successful', 7, 9);
    const taking = fake.eachBatch(payload);
    return { server, state, taking, resolved, handled };
  }

  it('gives up claiming the partition once the service stops, and holds nothing for a retry', async () => {
    const { server, state, taking, resolved, handled } = await takingOver({ producer: () => ({ connect: unanswered, disconnect: unanswered }) });
    await settle();
    await server.close();
    await taking;
    // Not taken: kafkajs does not move past it, and the next owner has it.
    expect({ resolved, handled }).toEqual({ resolved: [], handled: [] });
    expect(state.retries.stalled()).toEqual([]);
  }, 2000);

  it('gives up reading the committed offset once the service stops', async () => {
    const answered = async () => undefined;
    const producer = { connect: answered, disconnect: answered, transaction: async () => ({ abort: answered }) };
    const admins: string[] = [];
    const { server, state, taking, resolved } = await takingOver({
      producer: () => producer,
      admin: () => ({ connect: () => (admins.push('connect'), unanswered()), disconnect: answered }),
    });
    // The claim is answered; the admin that reads the offset is left waiting.
    await settle();
    expect(admins).toEqual(['connect']);
    await server.close();
    await taking;
    expect(resolved).toEqual([]);
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
    const { state } = await runningServer(fake);
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

  it('exactly once, reports joined only once the assigned partitions are claimed, and not after a later crash', async () => {
    const claims: Array<() => void> = [];
    const answered = async () => undefined;
    const producer = {
      connect: answered,
      disconnect: answered,
      transaction: async () => ({ abort: () => new Promise<void>((resolve) => claims.push(resolve)) }),
    };
    const admin = { connect: answered, disconnect: answered, fetchOffsets: async () => [] };
    const fake = fakeConsumer();
    const { state } = await runningServer(fake, { order: 'key', transactional: true }, { producer: () => producer, admin: () => admin });
    fake.join({ [topic]: [0, 1] });
    await jest.advanceTimersByTimeAsync(0);
    expect(claims).toHaveLength(2);
    expect(await readiness(state)).toMatchObject({ status: 'down', consumer: 'starting' });
    claims.splice(0).forEach((claimed) => claimed());
    await jest.advanceTimersByTimeAsync(0);
    expect(await readiness(state)).toMatchObject({ status: 'up', consumer: 'joined' });

    // Claims that end after the consumer crashed say nothing of the membership.
    fake.join({ [topic]: [0] });
    await jest.advanceTimersByTimeAsync(0);
    expect(claims).toHaveLength(1);
    fake.crash(true);
    claims.splice(0).forEach((claimed) => claimed());
    await jest.advanceTimersByTimeAsync(0);
    expect(state.status).toBe('crashed');
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

describe('MonitoredKafkaServer, at least once', () => {
  beforeAll(() => Logger.overrideLogger(false));
  // setImmediate stays real: settle() lets promise chains run without moving the clock.
  beforeEach(() => jest.useFakeTimers({ doNotFake: ['setImmediate'] }));
  afterEach(() => jest.useRealTimers());

  const topic = 'payment-successful';

  it('hands a batch over and returns at once, resolving it; the tick commits up to the first record not handled', async () => {
    const fake = fakeConsumer();
    const { server } = await runningServer(fake);
    const { handled, end } = handledBy(server, false);
    fake.join({ [topic]: [0] });
    const { payload, resolved } = batchOf(topic, 7, 9);
    await fake.eachBatch(payload);
    // Returned with every record still running: kafkajs fetches on meanwhile.
    expect(resolved).toEqual(['9']);
    expect(handled).toEqual(['7', '8', '9']);

    end('7', '9');
    await settle();
    await jest.advanceTimersByTimeAsync(200);
    expect(fake.committed).toEqual([{ topic, partition: 0, offset: '8' }]);
    end('8');
    await settle();
    await jest.advanceTimersByTimeAsync(200);
    expect(fake.committed.at(-1)).toEqual({ topic, partition: 0, offset: '10' });

    // A fetch that held only a transaction's markers (10, 11): the commit moves past them, or lag would show them.
    fake.endBatch(topic, 0, '11');
    await jest.advanceTimersByTimeAsync(200);
    expect(fake.committed.at(-1)).toEqual({ topic, partition: 0, offset: '12' });
  });

  it('stopping, waits up to 5 s for the records in flight, commits what is done, and only then leaves the group', async () => {
    const fake = fakeConsumer();
    const { server, state } = await runningServer(fake);
    const { end } = handledBy(server, false);
    fake.join({ [topic]: [0] });
    await fake.eachBatch(batchOf(topic, 7, 9).payload);
    end('7');
    await settle();
    let stopped = false;
    const closing = server.close().then(() => void (stopped = true));
    await settle();
    // No more records are fetched for it, and no batch is taken.
    expect(fake.paused).toEqual([{ topic, partitions: [0] }]);
    const late = batchOf(topic, 10, 10);
    await fake.eachBatch(late.payload);
    expect(late.resolved).toEqual([]);
    await jest.advanceTimersByTimeAsync(4999);
    expect({ stopped, committed: fake.committed, calls: fake.calls }).toEqual({ stopped: false, committed: [], calls: [] });
    end('9');
    await settle();
    expect(stopped).toBe(false);
    // 8 never ends: the grace runs out, and what is done before it is committed.
    await jest.advanceTimersByTimeAsync(1);
    await closing;
    expect(fake.committed).toEqual([{ topic, partition: 0, offset: '8' }]);
    expect(fake.calls).toEqual(['disconnect']);
    expect(state.silentFor()).toBe(0);
  });
});

describe('MonitoredKafkaServer, exactly once, when a partition changes hands', () => {
  beforeAll(() => Logger.overrideLogger(false));
  beforeEach(() => jest.useFakeTimers({ doNotFake: ['setImmediate'] }));
  afterEach(() => jest.useRealTimers());

  const topic = 'payment-successful';
  /** The exactly-once commit tick. */
  const TICK_MS = 25;

  /**
   * A broker that answers at once: the group's committed offset of partition 0 is `committed`, and a
   * transaction's commit ends as `commit` says. Records the offsets the transactions committed, and how often the
   * group's offset was read.
   */
  function answeringKafka(committed: string, commit: () => Promise<void> = async () => undefined) {
    const answered = async () => undefined;
    const transactionsCommitted: string[] = [];
    let offsetReads = 0;
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
        fetchOffsets: async () => {
          offsetReads += 1;
          return [{ topic, partitions: [{ partition: 0, offset: committed }] }];
        },
      }),
    };
    return { kafka, transactionsCommitted, offsetReads: () => offsetReads };
  }

  /** A transactional server over the fake consumer and broker, joined to partition 0, with handlers that succeed and are counted. */
  async function transactionalServer(kafka: object) {
    const fake = fakeConsumer();
    const outcomes: string[] = [];
    const noop = () => undefined;
    const telemetry: ConsumerTelemetry = { retried: noop, sent: noop, rebalanced: noop, crashed: noop, transaction: (_, outcome) => void outcomes.push(outcome) };
    const { server, state } = await runningServer(fake, { order: 'key', transactional: true, telemetry }, kafka);
    const { handled } = handledBy(server, true);
    fake.join({ [topic]: [0] });
    await settle();
    return { fake, server, state, handled, outcomes };
  }

  it("skips what the previous owner committed after this member joined: it resumes from the group's offset, handling nothing twice", async () => {
    // kafkajs read the offset (7) as the member joined; the previous owner's last transaction then committed 12.
    const { kafka, transactionsCommitted, offsetReads } = answeringKafka('12');
    const { fake, handled } = await transactionalServer(kafka);
    const first = batchOf(topic, 7, 14);
    await fake.eachBatch(first.payload);
    await settle();
    expect(handled).toEqual(['12', '13', '14']);
    expect(first.resolved).toEqual(['14']);
    await jest.advanceTimersByTimeAsync(TICK_MS);
    await settle();
    expect(transactionsCommitted).toEqual(['15']);

    // The next batch is taken without a new check in this generation.
    await fake.eachBatch(batchOf(topic, 15, 16).payload);
    await settle();
    await jest.advanceTimersByTimeAsync(TICK_MS);
    await settle();
    expect(handled).toEqual(['12', '13', '14', '15', '16']);
    expect(transactionsCommitted).toEqual(['15', '17']);
    expect(offsetReads()).toBe(1);
    expect(fake.seeks).toEqual([]);
  });

  it('leaves a fenced partition paused until the group confirms this member owns it: the second heartbeat after, not the first', async () => {
    const fencedError = new KafkaJSProtocolError(Object.assign(new Error('producer fenced'), { type: 'PRODUCER_FENCED', code: 90 }));
    const { kafka, transactionsCommitted } = answeringKafka('7', async () => Promise.reject(fencedError));
    const { fake, state, handled, outcomes } = await transactionalServer(kafka);
    await fake.eachBatch(batchOf(topic, 7, 9).payload);
    await settle();
    expect(handled).toEqual(['7', '8', '9']);
    await jest.advanceTimersByTimeAsync(TICK_MS);
    await settle();
    expect(transactionsCommitted).toEqual([]);
    expect(outcomes).toEqual(['aborted']);
    // Paused, and to be fetched again from its commit.
    expect(fake.paused).toEqual([{ topic, partitions: [0] }]);
    expect(fake.seeks).toEqual([{ topic, partition: 0, offset: '7' }]);
    expect(state.retries.stalled().map((s) => s.offset)).toEqual(['7']);

    // Until confirmed, a batch fetched for it is not taken: it may be another member's now.
    const meanwhile = batchOf(topic, 7, 9);
    await fake.eachBatch(meanwhile.payload);
    await settle();
    expect(meanwhile.resolved).toEqual([]);
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
   * A stop that arrives while a transaction is committing, `ends` saying when (if ever) the broker answers that
   * commit.
   */
  async function stoppingWhileCommitting(ends: (answer: () => void) => void) {
    let committing!: () => void;
    const commitStarted = new Promise<void>((resolve) => (committing = resolve));
    const commit = () =>
      new Promise<void>((answer) => {
        committing();
        ends(answer);
      });
    const { kafka, transactionsCommitted } = answeringKafka('7', commit);
    const { fake, server, outcomes } = await transactionalServer(kafka);
    await fake.eachBatch(batchOf(topic, 7, 9).payload);
    await settle();
    await jest.advanceTimersByTimeAsync(TICK_MS);
    await commitStarted;
    let stopped = false;
    const closing = server.close().then(() => void (stopped = true));
    return { fake, transactionsCommitted, outcomes, closing, isStopped: () => stopped };
  }

  it('stopping, waits for the transaction that commits within 5 s, and only then leaves the group, so the next owner repeats nothing', async () => {
    let answer!: () => void;
    const stop = await stoppingWhileCommitting((a) => (answer = a));
    await jest.advanceTimersByTimeAsync(4999);
    expect({ stopped: stop.isStopped(), committed: stop.transactionsCommitted, calls: stop.fake.calls }).toEqual({ stopped: false, committed: [], calls: [] });
    answer();
    await stop.closing;
    expect(stop.transactionsCommitted).toEqual(['10']);
    expect(stop.fake.calls).toEqual(['disconnect']);
  });

  it('stopping, gives up after 5 s a transaction the broker never answers, leaving its records to the next owner', async () => {
    const stop = await stoppingWhileCommitting(() => undefined);
    await jest.advanceTimersByTimeAsync(4999);
    expect(stop.isStopped()).toBe(false);
    await jest.advanceTimersByTimeAsync(1);
    await settle();
    expect({ stopped: stop.isStopped(), committed: stop.transactionsCommitted }).toEqual({ stopped: true, committed: [] });
    // A write given up on while stopping is no failure of the partition's.
    expect(stop.outcomes).toEqual([]);
  });
});
