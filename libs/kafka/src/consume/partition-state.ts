import type { KafkaMessage } from 'kafkajs';
import { MAX_SPAN } from './offset-metadata';
import type { StagedEvents } from './partition-transactions';

/** A record this member took from a fetch and holds until its offset is committed. */
export class HeldRecord {
  done = false;
  /** Exactly once: committed ahead of the partition's offset (in its metadata), its events with it. */
  committedAhead = false;
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

/**
 * What a commit may carry: the offset to commit (the next to read: the first record not done), and the
 * records done and not yet committed. Without `ahead`, those are the leading ones; with it, also those done
 * beyond the offset (within MAX_SPAN of it), whose offsets `finished` lists for the commit's metadata.
 */
export interface Committable {
  records: HeldRecord[];
  next: bigint;
  finished: bigint[];
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
  /** The offset the group holds for this partition, as far as this member knows, and its metadata. */
  private committedAt: bigint;
  private metadataAt: string;
  /** Offsets the group's metadata says are done already (exactly once, by an earlier owner). */
  private readonly finishedBefore: ReadonlySet<bigint>;
  /** The generation of the group this state was last confirmed in (see ConsumeEngine.confirm). */
  generation: number;
  /** Given up: another member may own the partition, or its transaction failed. Nothing of it commits. */
  revoked = false;

  constructor(
    readonly topic: string,
    readonly partition: number,
    start: bigint,
    generation: number,
    finished: ReadonlySet<bigint> = new Set(),
    metadata = '',
  ) {
    this.fetchedUpTo = start;
    this.committedAt = start;
    this.metadataAt = metadata;
    this.finishedBefore = finished;
    this.generation = generation;
  }

  /** The next offset a fetch should bring. */
  get end(): bigint {
    return this.fetchedUpTo;
  }

  get committed(): bigint {
    return this.committedAt;
  }

  /** The metadata of the last commit this member knows of (see offset-metadata.ts). */
  get committedMetadata(): string {
    return this.metadataAt;
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
   * may lie past the last record (a transaction's markers): the end moves past it. Records an earlier owner
   * finished and committed ahead (the group's metadata) are held as done, and not returned.
   */
  take(messages: readonly KafkaMessage[], lastOffset: string): HeldRecord[] {
    const taken: HeldRecord[] = [];
    for (const message of messages) {
      const record = new HeldRecord(this, message);
      if (record.offsetNumber < this.fetchedUpTo) continue;
      this.records.push(record);
      this.fetchedUpTo = record.offsetNumber + 1n;
      if (this.finishedBefore.has(record.offsetNumber)) {
        record.done = true;
        record.committedAhead = true;
      } else {
        taken.push(record);
      }
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

  /** What a commit may carry now (see Committable), or undefined when it would change nothing. */
  committable(options: { ahead?: boolean } = {}): Committable | undefined {
    let i = this.head;
    while (i < this.records.length && this.records[i].done) i++;
    const next = i < this.records.length ? this.records[i].offsetNumber : this.fetchedUpTo;
    const records = this.records.slice(this.head, i).filter((r) => !r.committedAhead);
    const finished: bigint[] = [];
    if (options.ahead) {
      for (let j = i + 1; j < this.records.length; j++) {
        const record = this.records[j];
        if (record.offsetNumber - next > BigInt(MAX_SPAN)) break;
        if (!record.done) continue;
        finished.push(record.offsetNumber);
        if (!record.committedAhead) records.push(record);
      }
      // What an earlier owner finished and this member has not fetched yet must stay named, or a takeover before
      // it is fetched would run it again.
      for (const offset of this.finishedBefore) {
        if (offset >= this.fetchedUpTo && offset > next && offset - next <= BigInt(MAX_SPAN)) finished.push(offset);
      }
    }
    if (next <= this.committedAt && records.length === 0) return undefined;
    return { records, next, finished };
  }

  /** A commit of `committable`, with `metadata`, went through: its records are committed. */
  committedWith(committable: Committable, metadata: string): void {
    for (const record of committable.records) record.committedAhead = true;
    this.metadataAt = metadata;
    this.committedUpTo(committable.next);
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
