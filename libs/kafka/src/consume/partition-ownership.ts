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
 * claiming it (see PartitionTransactions) fences whoever wrote for it before. A member claims its partitions
 * at the join, then reads the group's committed offsets again before their first batch: the previous owner's
 * last transaction may have moved them since kafkajs read them at the join.
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
  /** The group's offsets as read right after the join's claims; each partition's is used once. */
  private prefetched?: { generation: number; keys: Set<string>; offsets: Promise<Map<string, GroupOffset | undefined>> };
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
    if (!this.exactlyOnce) return Promise.resolve();
    const claimed = this.exactlyOnce.transactions.renew(assignment);
    this.prefetch(assignment, claimed);
    return claimed;
  }

  /**
   * Once the join's claims have fenced the partitions' earlier writers, their offsets can no longer move but
   * by this member's own commits: they are read then, all at once, so the first batches need not wait for
   * them (a round trip or three on a busy broker, the first time connecting too).
   */
  private prefetch(assignment: Record<string, number[]>, claimed: Promise<void>): void {
    const keys = new Set(Object.entries(assignment).flatMap(([topic, partitions]) => partitions.map((p) => keyOf(topic, p))));
    // The admin connects while the claims are made.
    this.adminConnection().catch(() => undefined);
    const offsets = claimed.then(() => this.readOffsets(Object.keys(assignment)));
    offsets.catch(() => undefined);
    this.prefetched = { generation: this.current, keys, offsets };
  }

  /** The group's offsets of every partition of `topics`, by partition key. */
  private async readOffsets(topics: string[]): Promise<Map<string, GroupOffset | undefined>> {
    const admin = await this.exactlyOnce!.transactions.guard(this.adminConnection());
    const found = new Map<string, GroupOffset | undefined>();
    for (const { topic, partitions } of await this.exactlyOnce!.transactions.guard(admin.fetchOffsets({ groupId: this.exactlyOnce!.groupId, topics }))) {
      for (const { partition, offset, metadata } of partitions) found.set(keyOf(topic, partition), groupOffsetOf(offset, metadata));
    }
    return found;
  }

  /** The offset read at the join, once, if the partition has not been claimed again since. */
  private async prefetchedOffset(topic: string, partition: number): Promise<GroupOffset | undefined | 'unread'> {
    const prefetched = this.prefetched;
    if (!prefetched || prefetched.generation !== this.current || !prefetched.keys.delete(keyOf(topic, partition))) return 'unread';
    const offsets = await prefetched.offsets.catch(() => undefined);
    return offsets && offsets.has(keyOf(topic, partition)) ? offsets.get(keyOf(topic, partition)) : 'unread';
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
    // Claimed afresh before its next batch: its offset is read again then.
    this.prefetched?.keys.delete(keyOf(topic, partition));
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
   * partition is claimed first (fencing its previous writer), then the offset is read again (read already if
   * the join's claims have done so: see prefetch); rejects while the broker cannot say, or once the service stops.
   */
  async groupOffset(topic: string, partition: number, fetchedOffset: string): Promise<GroupOffset> {
    if (!this.exactlyOnce) return { offset: BigInt(fetchedOffset), metadata: '' };
    await this.exactlyOnce.transactions.claim(topic, partition);
    let found = await this.prefetchedOffset(topic, partition);
    if (found === 'unread') found = (await this.readOffsets([topic])).get(keyOf(topic, partition));
    return found ?? { offset: BigInt(fetchedOffset), metadata: '' };
  }

  private adminConnection(): Promise<Admin> {
    this.admin ??= this.connectAdmin();
    return this.admin;
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

/** A committed offset as the group holds it; undefined when the group has none (-1). */
function groupOffsetOf(offset: string, metadata: string | null): GroupOffset | undefined {
  const committed = BigInt(offset);
  return committed < 0n ? undefined : { offset: committed, metadata: metadata ?? '' };
}
