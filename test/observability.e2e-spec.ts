import request from 'supertest';
import { testBrokers, testChainSpecs, urlOf } from './support/environment';
import { freshUserId, joinedGroup, payment } from './support/http';

describe('health and metrics', () => {
  it.each(testChainSpecs().map((spec) => [spec.label, spec] as const))('%s answers /health with Kafka and its database up', async (_, spec) => {
    const url = `http://127.0.0.1:${spec.port}`;
    // A consumer's health is up while it rebalances; wait for the group to settle before reading its state.
    const response = spec.service === 'payment' ? await request(url).get('/health').expect(200) : await joinedGroup(url);
    expect(response.body.status).toBe('ok');
    expect(response.body.details.kafka).toMatchObject({ status: 'up', brokers: testBrokers().length });
    // Every service has its schema now: payment keeps its Idempotency-Keys in `payment`.
    expect(response.body.details.database).toMatchObject({ status: 'up' });
    if (spec.service !== 'payment') expect(response.body.details.kafka.consumer).toBe('joined');
  });

  it.each(testChainSpecs().map((spec) => [spec.label, spec] as const))('%s answers /health/live with its process and consumer, /health/ready with Kafka and its database', async (_, spec) => {
    const url = `http://127.0.0.1:${spec.port}`;
    if (spec.service !== 'payment') await joinedGroup(url);
    const live = (await request(url).get('/health/live').expect(200)).body;
    expect(Object.keys(live.details).sort()).toEqual(['consumer', 'process']);
    expect(live.details.process).toMatchObject({ status: 'up', pid: expect.any(Number) });
    expect(live.details.consumer).toEqual(
      spec.service === 'payment' ? { status: 'up', consuming: false } : { status: 'up', consumer: 'joined', silent_for_s: expect.any(Number) },
    );
    const ready = (await request(url).get('/health/ready').expect(200)).body;
    expect(Object.keys(ready.details).sort()).toEqual(['database', 'kafka']);
  });

  it('counts published events in kafka_messages_sent_total by event type', async () => {
    const read = async () => {
      const text = (await payment().get('/metrics').expect(200).expect('Content-Type', /text\/plain/)).text;
      const match = text.match(/^kafka_messages_sent_total\{event_type="payment-successful"\} (\d+)$/m);
      return { text, count: match ? Number(match[1]) : 0 };
    };
    const before = await read();
    await payment().post('/payment').send({ user_id: freshUserId(), cart: [{ name: 'Apple Watch', price: 399 }] }).expect(200);
    const after = await read();
    expect(after.count).toBe(before.count + 1);
    expect(after.text).toMatch(/^process_resident_memory_bytes \d+/m);
  });

  it('exports the consumer lag of its group for every partition it reads', async () => {
    const text = (await request(urlOf('analytics')).get('/metrics').expect(200)).text;
    for (const topic of ['payment-successful', 'order-created', 'email-sent']) {
      for (const partition of [0, 1, 2]) {
        expect(text).toMatch(new RegExp(`^kafka_consumer_group_lag\\{group="analytics-service-group",topic="${topic}",partition="${partition}"\\} \\d+$`, 'm'));
      }
    }
  });
});
