import { TOPICS } from '@app/contracts';
import { runCampaign, summarise, type CaseOutcome } from '../scripts/lib/fuzz-campaign';
import { testChainSpecs, urlOf } from './support/environment';
import { queryTestDatabase } from './support/database';
import { freshUserId } from './support/http';
import { testKafka, withAdmin } from './support/kafka';
import { metric } from './support/metrics';

/** The corpus of `npm test`: the same every run. `npm run fuzz` draws a new seed each time. */
const SEED = 20_261_207;
const RUNS_PER_TOPIC = 20;

/** Retries counted by every consumer of the chain, all topics. */
async function retriesCounted(): Promise<number> {
  const consumers = testChainSpecs().filter((s) => s.service !== 'payment');
  const counts = await Promise.all(consumers.map((s) => metric(urlOf(s.label as Parameters<typeof urlOf>[0]), /^kafka_handler_retries_total\{/)));
  return counts.reduce((a, b) => a + b, 0);
}

/**
 * Hostile records written straight to the consumed topics (fast-check, from a fixed seed: deep nesting, wide
 * lists and objects, prototype keys, numbers past their edges, bad text, invalid UTF-8, every JSON type in
 * every field, random bytes, empty values, odd headers), each followed by a good record of its key at the edges
 * its contract allows. Each hostile record is dead-lettered once per group that reads its topic, as its own
 * fault and never retried, and the record behind it is handled.
 */
describe('a generated corpus of hostile records', () => {
  let results: CaseOutcome[];
  let retries: number;

  beforeAll(async () => {
    const retriesBefore = await retriesCounted();
    results = await withAdmin((admin) =>
      runCampaign({ kafka: testKafka(), admin, query: queryTestDatabase, seed: SEED, runs: RUNS_PER_TOPIC, firstUserId: freshUserId(), timeoutMs: 90_000 }),
    );
    retries = (await retriesCounted()) - retriesBefore;
    console.log(summarise(results).join('\n'));
  }, 240_000);

  it('covers every consumed topic and the named cases, each from the seed', () => {
    const topics = new Set(results.map((r) => r.record.topic));
    expect([...topics].sort()).toEqual([TOPICS.emailSent, TOPICS.orderCreated, TOPICS.paymentSuccessful]);
    expect(results.filter((r) => r.record.kind === 'cart nested 5,000 levels deep')).toHaveLength(1);
    expect(new Set(results.map((r) => r.record.kind)).size).toBeGreaterThanOrEqual(8);
  });

  it('dead-letters each record once per group that reads its topic, as the record\'s fault, with a reason', () => {
    const failed = results.filter((r) => r.problems.length > 0).map((r) => `${r.record.topic} ${r.record.kind} @${r.partition}:${r.offset}: ${r.problems.join('; ')}`);
    expect(failed).toEqual([]);
    // Seen, not assumed: every case has its letters, one per group (two for payments and orders, one for emails).
    const letters = results.reduce((sum, r) => sum + [...r.letters.values()].reduce((n, l) => n + l.length, 0), 0);
    const expected = results.reduce((sum, r) => sum + (r.record.topic === TOPICS.emailSent ? 1 : 2), 0);
    expect(letters).toBe(expected);
  });

  it('names the deep cart as too deep, not as a stack overflow retried as an outage', () => {
    const deep = results.find((r) => r.record.kind === 'cart nested 5,000 levels deep')!;
    expect([...deep.letters.values()].map((letters) => letters.length)).toEqual([1, 1]);
    for (const [, [letter]] of deep.letters) {
      expect(letter.record.error).toBe('ContractViolation: PaymentSuccessfulEvent is invalid: cart is nested too deeply (more than 8 levels of lists and objects)');
      expect(letter.record.retriable).toBe(false);
    }
  });

  it("keeps the headers kafkajs misreads (named toString, __proto__): the letters carry them as written", () => {
    const named = results.find((r) => r.record.kind === 'headers named toString and __proto__')!;
    const letters = [...named.letters.values()].flat();
    expect(letters).toHaveLength(2);
    for (const letter of letters) {
      expect(letter.record.original_headers).toEqual([
        { key: 'toString', value: 't', encoding: 'utf8' },
        { key: '__proto__', value: 'p', encoding: 'utf8' },
      ]);
    }
  });

  it('retries nothing, and handles the record behind each one', () => {
    expect(retries).toBe(0);
    expect(results.every((r) => r.nextHandledMs !== undefined)).toBe(true);
  });
});
