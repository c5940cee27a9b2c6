import { EventEmitter } from 'node:events';
import { Logger } from '@nestjs/common';
import { Kafka, type Consumer } from 'kafkajs';
import { ConsumerState } from './consume/consumer-state';
import { PartitionRetries } from './consume/partition-retries';
import { PartitionTransactions } from './consume/partition-transactions';
import { consumerServerOptions } from './kafka-config';
import { MonitoredKafkaServer } from './monitored-kafka-server';

/** kafkajs's consumer as the server sees it, with its events and calls recorded; nothing connects. */
function fakeConsumer() {
  const emitter = new EventEmitter();
  const events = new Kafka({ clientId: 'spec', brokers: ['127.0.0.1:1'] }).consumer({ groupId: 'spec' }).events;
  const calls: string[] = [];
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
  };
  return {
    consumer: consumer as unknown as Consumer,
    calls,
    crash: (restart: boolean) => emitter.emit(events.CRASH, { payload: { error: new Error('coordinator not found'), groupId: 'g', restart } }),
    failNextConnects: (n: number) => (failConnect = n),
  };
}

function serverWith(fake: ReturnType<typeof fakeConsumer>) {
  const state = new ConsumerState(new PartitionRetries({ initialMs: 100, maxMs: 1000, boundMs: 60_000 }));
  const server = new MonitoredKafkaServer(consumerServerOptions({ brokers: ['127.0.0.1:1'], clientId: 'spec', groupId: 'g', concurrency: 1 }), state, '[#1]');
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
