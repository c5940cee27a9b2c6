/** What a queued transaction's end is reported to. */
export interface CommitOutcome {
  committed(): void;
  failed(error: unknown): void;
}

/**
 * The transactions of a consumer's partitions, one after another a partition, and not awaited by the batch that
 * queued them: kafkajs fetches on and the next batch is handled while one commits. The next batch's transaction
 * is queued only once the one before it has committed (`previousCommitted`), so at most one is in flight a
 * partition, and none is ever sent behind one that failed: it would commit an offset past records whose events
 * were aborted.
 *
 * A failed transaction leaves kafkajs fetching past records that were never committed. The partition must be
 * taken back (see MonitoredKafkaServer.takeOver): `restart` says to where, at the latest, the first record of the
 * earliest transaction that failed.
 */
export class CommitQueue {
  private readonly last = new Map<string, Promise<boolean>>();
  private readonly rewinds = new Map<string, bigint>();

  /** Waits for the partition's last transaction to end: whether it committed (true when there is none). */
  previousCommitted(key: string): Promise<boolean> {
    return this.last.get(key) ?? Promise.resolve(true);
  }

  /** Queues the transaction `commit` of records from `firstOffset` on; `outcome` hears how it ended, before anything queued after it. */
  queue(key: string, firstOffset: string, commit: Promise<void>, outcome: CommitOutcome): void {
    this.last.set(
      key,
      commit.then(
        () => {
          outcome.committed();
          return true;
        },
        (error: unknown) => {
          const first = BigInt(firstOffset);
          const earlier = this.rewinds.get(key);
          if (earlier === undefined || first < earlier) this.rewinds.set(key, first);
          outcome.failed(error);
          return false;
        },
      ),
    );
  }

  /** Waits until the partition's last transaction has ended, however it ended. */
  async ended(key: string): Promise<void> {
    await this.last.get(key);
  }

  /**
   * Once the partition's last transaction has ended and the group's committed offset is read again: forgets its
   * outcome, so the next transaction is queued afresh, and returns the first record of the earliest one that
   * failed since the last restart, if any did.
   */
  restart(key: string): bigint | undefined {
    const rewind = this.rewinds.get(key);
    this.rewinds.delete(key);
    this.last.delete(key);
    return rewind;
  }
}
