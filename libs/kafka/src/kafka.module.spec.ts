import { loadEnvironment } from '@app/platform';
import { consumerStateFor, failurePolicyFor } from './kafka.module';

// The environment a service boots with when the operator sets no RETRY_MAX_MS.
const defaults = () => loadEnvironment({}, { PORT: 8000 });
// The largest value Math.random can return.
const JUST_BELOW_ONE = 1 - Number.EPSILON;

describe('KafkaModule retry wiring (docs/failure-handling.md)', () => {
  it('retries a failing record after 100 ms, doubling to at most 10 s, with jitter of up to half the wait', () => {
    const waits = (random: number) => {
      // The clock stands still, so the RETRY_MAX_MS bound never shortens a wait.
      const { retries } = consumerStateFor(defaults(), () => 1_000_000, () => random);
      return Array.from({ length: 10 }, () => retries.failed('payment-successful', 0, '7', new Error('database down')));
    };
    expect(waits(JUST_BELOW_ONE)).toEqual([100, 200, 400, 800, 1600, 3200, 6400, 10_000, 10_000, 10_000]);
    expect(waits(0)).toEqual([50, 100, 200, 400, 800, 1600, 3200, 5000, 5000, 5000]);
  });

  it('parks a record still failing after the default 5 minutes in its DLQ as retriable, and not before', () => {
    const env = defaults();
    let now = 1_000_000;
    const { retries } = consumerStateFor(env, () => now, () => JUST_BELOW_ONE);
    const policy = failurePolicyFor(env);
    const outage = new Error('connect ECONNREFUSED');
    const start = now;
    // What the dead-letter interceptor and the consume loop do with each failure of the same record.
    let verdict = policy.decide(outage, retries.failingSince('order-created', 1, '42'), now);
    while (verdict.action === 'retry' && now - start < 24 * 3600 * 1000) {
      now += retries.failed('order-created', 1, '42', outage);
      verdict = policy.decide(outage, retries.failingSince('order-created', 1, '42'), now);
    }
    expect({ verdict, after: now - start }).toEqual({ verdict: { action: 'dead-letter', retriable: true }, after: 300_000 });
    expect(policy.decide(outage, start, start + 299_999)).toEqual({ action: 'retry' });
  });
});
