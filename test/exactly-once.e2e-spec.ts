import { randomUUID } from 'node:crypto';
import type { Producer } from 'kafkajs';
import { waitFor } from '../scripts/lib/wait';
import { serviceLogs, signalService, startService, startServices, stopService } from './support/chain-control';
import { queryTestDatabase } from './support/database';
import { expectExactlyOnce, mainChain, ordersMade, sendBurst, settleAndCount } from './support/exactly-once';
import { connectedProducer } from './support/kafka';
import { ORDER_INSTANCES, waitForSplit } from './support/ownership';

describe('exactly once through the chain (read_committed)', () => {
  let producer: Producer;

  beforeAll(async () => {
    producer = await connectedProducer();
  });

  // Each test starts from three running instances, whatever the one before left.
  beforeEach(async () => {
    await startServices(ORDER_INSTANCES);
  });

  afterAll(async () => {
    await producer.disconnect();
    await startServices(ORDER_INSTANCES);
    await signalService('order-3', 'SIGCONT').catch(() => undefined);
  });

  it('gives every payment one order-created and one email-sent when an order instance is SIGKILLed mid-burst', async () => {
    const payments = 10_000;
    const run = `eos-kill-${randomUUID().slice(0, 8)}`;
    const victim = 'order-2';
    const owned = await waitForSplit(ORDER_INSTANCES, 'three instances to own one partition each');
    await sendBurst(producer, run, payments);

    // Killed while it works: it has made orders of this burst, and the burst is far from done.
    const before = await waitFor(async () => {
      const [mine, all] = [await ordersMade(mainChain(), run, '2'), await ordersMade(mainChain(), run)];
      return mine > 0 ? { mine, all } : undefined;
    }, { timeoutMs: 60_000, intervalMs: 20, what: `${victim} to be working on the burst` });
    const killed = await stopService(victim, 'SIGKILL');
    expect(killed.exit_signal).toBe('SIGKILL');
    expect(before.all).toBeLessThan(payments);

    const counts = await settleAndCount(mainChain(), run, payments);
    expectExactlyOnce(counts, payments);
    // The survivors took the victim's partition over and finished it.
    const [orphan] = owned.get(victim)!;
    const [{ count }] = await queryTestDatabase<{ count: string }>(
      `SELECT count(*) FROM orders.orders WHERE payment_id LIKE $1 AND source_partition = $2 AND instance_id <> '2'`,
      [`${run}-%`, orphan],
    );
    expect(Number(count)).toBeGreaterThan(0);

    await startService(victim);
    await waitForSplit(ORDER_INSTANCES, `${victim} to rejoin`);
  });

  it('fences an instance frozen past its session (a zombie): its late transaction is refused, nothing doubles', async () => {
    const payments = 2000;
    const zombie = 'order-3';
    const fencings = async () => (await serviceLogs(zombie)).filter((line) => /transaction was fenced/.test(line)).length;
    const runs: string[] = [];
    let fenced = false;
    // A freeze that lands between two transactions (while it fetches) leaves it nothing in hand to commit late:
    // then it is frozen again, in a burst of its own, up to three times.
    for (let attempt = 1; attempt <= 3 && !fenced; attempt++) {
      const run = `eos-zombie-${randomUUID().slice(0, 8)}`;
      runs.push(run);
      await waitForSplit(ORDER_INSTANCES, 'three instances to own one partition each');
      const before = await fencings();
      await sendBurst(producer, run, payments);
      await waitFor(async () => ((await ordersMade(mainChain(), run, '3')) > 0 ? true : undefined), { timeoutMs: 60_000, intervalMs: 10, what: `${zombie} to be working on the burst` });
      await signalService(zombie, 'SIGSTOP');
      try {
        // Its session (10 s) runs out: the two others take its partition over and claim its transactional id.
        await waitForSplit(['order-1', 'order-2'], 'the two others to own all three partitions');
      } finally {
        await signalService(zombie, 'SIGCONT');
      }
      await waitForSplit(ORDER_INSTANCES, `${zombie} to rejoin after it thawed`);
      fenced = (await fencings()) > before;
    }

    for (const run of runs) expectExactlyOnce(await settleAndCount(mainChain(), run, payments), payments);
    // What it had in hand when it froze was refused, not committed late.
    expect(fenced).toBe(true);
  });
});
