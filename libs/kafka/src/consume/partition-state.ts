import type { KafkaMessage } from 'kafkajs';
import type { StagedEvents } from './partition-transactions';

/** A record this member took from a fetch and holds until its offset is committed. */
export class HeldRecord {
  done = false;
  /** Exactly once: what its handler published, which leaves with its offset or not at all. */
  staged: StagedEvents[] = [];
  readonly offsetNumber: bigint;

  constructor(
    readonly state: PartitionState,
    readonly message: KafkaMessage,
  ) {
    this.offsetNumber = BigInt(message.offset);
  }

  get offset(): string {
    return this.message.offset;
  }
}

/** What a commit may carry: the leading records that are done, and the offset to commit (the next to read). */
export interface Committable {
  records: HeldRecord[];
  next: bigint;
}

/**
 * One partition as this member consumes it in one generation of its group (Confluent's Parallel Consumer has
 * the same name): the records taken from fetches and not yet committed, in offset order, which of them are
 * done, and so the offset that may be committed: that of the first record not done, or, when all are, the
 * end of what was fetched. Records finish out of order (one lane per key), but the committed offset never
 * passes one that is not done, so a crash or a takeover hands it, and what follows it, to the next owner.
 * Offsets that no record holds (a transaction's markers, compacted or aborted records) are passed over with
 * the records around them.
 */
export class PartitionState {
  /** Held records in offset order; the first `head` are committed and about to be dropped. */
  private records: HeldRecord[] = [];
  private head = 0;
  /** The next offset a fetch should bring: everything before it has been taken. */
  private fetchedUpTo: bigint;
  /** The offset the group holds for this partition, as far as this member knows. */
  private committedAt: bigint;
  /** The generation of the group this state was last confirmed in (see ConsumeEngine.confirm). */
  generation: number;
  /** Given up: another member may own the partition, or its transaction failed. Nothing of it commits. */
  revoked = false;

  constructor(
    readonly topic: string,
    readonly partition: number,
    start: bigint,
    generation: number,
  ) {
    this.fetchedUpTo = start;
    this.committedAt = start;
    this.generation = generation;
  }

  /** The next offset a fetch should bring. */
  get end(): bigint {
    return this.fetchedUpTo;
  }

  get committed(): bigint {
    return this.committedAt;
  }

  /** Records taken and not yet committed: what back-pressure counts. */
  get held(): number {
    return this.records.length - this.head;
  }

  /** The first record not done, if any: where a takeover would begin again. */
  get firstUnfinished(): HeldRecord | undefined {
    for (let i = this.head; i < this.records.length; i++) if (!this.records[i].done) return this.records[i];
    return undefined;
  }

  /**
   * Takes a fetched batch's records: those from `end` on are new and returned; those before it are already held
   * (kafkajs fetches again from the committed offset after every rejoin) and are not taken twice. `lastOffset`
   * may lie past the last record (a transaction's markers): the end moves past it.
   */
  take(messages: readonly KafkaMessage[], lastOffset: string): HeldRecord[] {
    const taken: HeldRecord[] = [];
    for (const message of messages) {
      const record = new HeldRecord(this, message);
      if (record.offsetNumber < this.fetchedUpTo) continue;
      this.records.push(record);
      taken.push(record);
      this.fetchedUpTo = record.offsetNumber + 1n;
    }
    const last = BigInt(lastOffset) + 1n;
    if (last > this.fetchedUpTo) this.fetchedUpTo = last;
    return taken;
  }

  /** The record's handling ended (handled, or dead-lettered), with what it staged. */
  complete(record: HeldRecord, staged: StagedEvents[] = []): void {
    record.done = true;
    record.staged = staged;
  }

  /** What a commit may carry now, or undefined when the committed offset cannot move. */
  committable(): Committable | undefined {
    let i = this.head;
    while (i < this.records.length && this.records[i].done) i++;
    const next = i < this.records.length ? this.records[i].offsetNumber : this.fetchedUpTo;
    if (next <= this.committedAt) return undefined;
    return { records: this.records.slice(this.head, i), next };
  }

  /** The group now holds `next`: the records before it are dropped. */
  committedUpTo(next: bigint): void {
    if (next <= this.committedAt) return;
    this.committedAt = next;
    while (this.head < this.records.length && this.records[this.head].offsetNumber < next) this.head++;
    // Compact now and then, not at every commit: dropping from the front of an array copies the rest.
    if (this.head > 1024 && this.head * 2 > this.records.length) {
      this.records = this.records.slice(this.head);
      this.head = 0;
    }
  }
}
