import type { Admin } from 'kafkajs';
import type { PartitionTransactions } from './partition-transactions';
import { parsePartitionKey, partitionKey as keyOf } from './topic-partition';

/** The offset the group holds for a partition, and its metadata (exactly once: the records done beyond it). */
export interface GroupOffset {
  offset: bigint;
  metadata: string;
}

/** What ownership needs of the consumer. */
export interface PartitionControl {
  pause(topic: string, partition: number): void;
  resume(topic: string, partition: number): void;
}

/**
 * Which partitions this member may work on, in one place: the group's generation as this member counts it
 * (one more at every join and every crash: work confirmed in an earlier one is not to be committed until it is
 * confirmed again), and, exactly once, the claims on each partition's transactional id and the partitions left
 * alone after their transaction failed.
 *
 * Fencing (exactly once): kafkajs speaks TxnOffsetCommit without the group's generation (no KIP-447), so the
 * broker cannot tell an old owner from a new one by the group. Each partition has its own transactional id, and
 * claiming it (see PartitionTransactions) fences whoever wrote for it before. A member claims a partition
 * before its first batch in a generation, then reads the group's committed offset again: the previous owner's
 * last transaction may have moved it since kafkajs read it at the join.
 */
export class PartitionOwnership {
  private current = 0;
  /**
   * Partitions whose transaction failed, and when: left alone until the group confirms who owns them, by a new
   * assignment or by a heartbeat sent after that moment and accepted (then this member is current, and the
   * partition still its own: its own transaction was aborted, on timeout). kafkajs sends one heartbeat at a
   * time, so the second accepted after the failure was surely sent after it.
   */
  private readonly fenced = new Map<string, { since: number; beats: number }>();
  private admin?: Promise<Admin>;
  private adminReady?: Admin;

  constructor(
    private readonly control: PartitionControl,
    private readonly exactlyOnce?: { transactions: PartitionTransactions; admin: () => Admin; groupId: string },
    private readonly now: () => number = Date.now,
  ) {}

  get generation(): number {
    return this.current;
  }

  /**
   * The group gave this member a new assignment: a new generation. Partitions left alone are resumed (kafkajs
   * keeps a pause across rebalances), and, exactly once, every assigned partition is claimed at once: a
   * previous owner that died left its transaction open, and read_committed consumers downstream wait for it
   * until it is aborted, which claiming does.
   */
  joined(assignment: Record<string, number[]>): Promise<void> {
    this.current += 1;
    for (const key of this.fenced.keys()) {
      const { topic, partition } = parsePartitionKey(key);
      this.fenced.delete(key);
      this.control.resume(topic, partition);
    }
    return this.exactlyOnce?.transactions.renew(assignment) ?? Promise.resolve();
  }

  /** The consumer crashed: whatever was confirmed must be confirmed again after it rejoins. */
  crashed(): void {
    this.current += 1;
  }

  isFenced(topic: string, partition: number): boolean {
    return this.fenced.has(keyOf(topic, partition));
  }

  /** A partition's transaction failed: it is paused until the group confirms this member still owns it. */
  fence(topic: string, partition: number): void {
    this.fenced.set(keyOf(topic, partition), { since: this.now(), beats: 0 });
    this.control.pause(topic, partition);
  }

  /** A heartbeat was accepted: the partitions fenced before the one before it are this member's still. Returns them. */
  heartbeat(): Array<{ topic: string; partition: number }> {
    const now = this.now();
    const confirmed: Array<{ topic: string; partition: number }> = [];
    for (const [key, fencing] of this.fenced) {
      if (fencing.since >= now || ++fencing.beats < 2) continue;
      this.fenced.delete(key);
      const tp = parsePartitionKey(key);
      confirmed.push(tp);
      this.control.resume(tp.topic, tp.partition);
    }
    return confirmed;
  }

  /**
   * The offset the group holds for a partition this member is about to work on in this generation.
   * At least once it is where kafkajs fetched from (it reads the group's offset at each join). Exactly once, the
   * partition is claimed first (fencing its previous writer), then the offset is read again; rejects while the
   * broker cannot say, or once the service stops.
   */
  async groupOffset(topic: string, partition: number, fetchedOffset: string): Promise<GroupOffset> {
    if (!this.exactlyOnce) return { offset: BigInt(fetchedOffset), metadata: '' };
    const { transactions, groupId } = this.exactlyOnce;
    await transactions.claim(topic, partition);
    this.admin ??= this.connectAdmin();
    const admin = await transactions.guard(this.admin);
    const [offsets] = await transactions.guard(admin.fetchOffsets({ groupId, topics: [topic] }));
    const found = offsets?.partitions.find((p) => p.partition === partition);
    const committed = BigInt(found?.offset ?? '-1');
    if (committed < 0n) return { offset: BigInt(fetchedOffset), metadata: '' };
    return { offset: committed, metadata: found?.metadata ?? '' };
  }

  private async connectAdmin(): Promise<Admin> {
    const admin = this.exactlyOnce!.admin();
    try {
      await admin.connect();
      this.adminReady = admin;
      return admin;
    } catch (error) {
      this.admin = undefined; // the next partition tries again
      throw error;
    }
  }

  /** An admin still connecting (the broker is away) is left to disconnect once it can: its retries would hold the stop. */
  async close(): Promise<void> {
    const [pending, ready] = [this.admin, this.adminReady];
    this.admin = this.adminReady = undefined;
    if (ready) await ready.disconnect().catch(() => undefined);
    else void pending?.then((admin) => admin.disconnect()).catch(() => undefined);
  }
}
