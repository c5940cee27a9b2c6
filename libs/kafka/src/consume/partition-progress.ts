/**
 * Which records of one partition's fetched batch are done, and so how far its offset may move: to just past
 * the longest run of done records from the batch's start (Confluent's Parallel Consumer calls this the
 * partition state). Records may finish out of order (side by side, one lane per key); the offset never
 * passes one that is not done, so a crash or a retry redelivers it, and everything after it.
 */
export class PartitionProgress {
  private readonly done: boolean[];
  private leading = 0;
  private reported = 0;

  /**
   * @param offsets the offsets of the batch's records, in order
   * @param lastOffset the batch's last offset, which may lie past its last record (a transaction's control
   *   record, filtered out by the client): once every record is done, the offset moves past it too
   */
  constructor(
    private readonly offsets: readonly string[],
    private readonly lastOffset: string,
  ) {
    this.done = offsets.map(() => false);
  }

  markDone(index: number): void {
    this.done[index] = true;
    while (this.leading < this.done.length && this.done[this.leading]) this.leading += 1;
  }

  /** How many records, from the batch's start, are done. */
  get leadingDone(): number {
    return this.leading;
  }

  get complete(): boolean {
    return this.leading === this.done.length;
  }

  /** The offset of the first record not done, or undefined when all are. */
  get firstUnfinished(): string | undefined {
    return this.offsets[this.leading];
  }

  /**
   * What has newly become committable since the last call: the last offset handled (what the client resolves)
   * and the next offset to read (what is committed). Undefined when nothing has moved.
   */
  advance(): { handled: string; next: string } | undefined {
    if (this.leading === this.reported) return undefined;
    this.reported = this.leading;
    const handled = this.complete ? this.lastOffset : this.offsets[this.leading - 1];
    return { handled, next: (BigInt(handled) + 1n).toString() };
  }
}
