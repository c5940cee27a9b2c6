/** One lane: records that run one after another, in the order they were added. */
class Lane<T> {
  readonly waiting: T[] = [];
  private next = 0;
  /** The record started and not finished, held for a retry, or retried and waiting for a place. */
  current?: T;
  /** The current record is running. */
  running = false;
  /** The current record failed and waits for its retry. */
  held = false;
  /** In the ready queue. */
  queued = false;

  constructor(
    readonly id: string,
    readonly group: string,
  ) {}

  get size(): number {
    return this.waiting.length - this.next;
  }

  shift(): T | undefined {
    if (this.next >= this.waiting.length) return undefined;
    const item = this.waiting[this.next++];
    if (this.next > 256 && this.next * 2 > this.waiting.length) {
      this.waiting.splice(0, this.next);
      this.next = 0;
    }
    return item;
  }

  clear(): number {
    const dropped = this.size;
    this.waiting.length = 0;
    this.next = 0;
    return dropped;
  }
}

/**
 * Decides which held record runs next (Parallel Consumer's key ordering): one lane per key of a partition
 * (records of one key run one after another, in offset order, as Kafka promises per key), any number of lanes
 * side by side, and at most `maxInFlight` records running on this instance. A lane whose record failed is held
 * until its retry, while the other lanes go on. There is no barrier between fetched batches: a slow key holds
 * its own lane only.
 *
 * Lanes are grouped by partition, so a partition given up drops its waiting records at once; a lane whose
 * record is still running stays until it ends, so the same key taken up again (by the next generation) waits
 * for it and two records of a key never overlap.
 */
export class KeyScheduler<T> {
  private readonly lanes = new Map<string, Lane<T>>();
  private readonly groups = new Map<string, Set<Lane<T>>>();
  private ready: Lane<T>[] = [];
  private readyHead = 0;
  private running = 0;
  private waitingCount = 0;
  private stopped = false;

  constructor(
    readonly maxInFlight: number,
    private readonly start: (record: T, lane: string) => void,
  ) {}

  /** Records running now. */
  get inFlight(): number {
    return this.running;
  }

  /** Records waiting for their lane or for a free place. */
  get waiting(): number {
    return this.waitingCount;
  }

  /** Lanes with a record waiting for its retry. */
  get held(): number {
    let count = 0;
    for (const lane of this.lanes.values()) if (lane.held) count++;
    return count;
  }

  /** Queues `record` at the end of lane `id` (of `group`, its partition) and starts what may start. */
  add(id: string, group: string, record: T): void {
    let lane = this.lanes.get(id);
    if (!lane) {
      lane = new Lane<T>(id, group);
      this.lanes.set(id, lane);
      let members = this.groups.get(group);
      if (!members) this.groups.set(group, (members = new Set()));
      members.add(lane);
    }
    lane.waiting.push(record);
    this.waitingCount++;
    if (lane.current === undefined) this.enqueue(lane);
    this.pump();
  }

  /** The lane's running record ended: its next record may start. */
  finished(id: string): void {
    const lane = this.stopRunning(id);
    if (!lane) return;
    lane.current = undefined;
    this.afterCurrent(lane);
    this.pump();
  }

  /** The lane's running record failed: its place is freed, and the lane waits until `retry`. */
  failed(id: string): void {
    const lane = this.stopRunning(id);
    if (!lane) return;
    lane.held = true;
    this.pump();
  }

  /** Frees the place of the lane's running record; undefined when the lane runs nothing. */
  private stopRunning(id: string): Lane<T> | undefined {
    const lane = this.lanes.get(id);
    if (!lane || !lane.running) return undefined;
    lane.running = false;
    this.running--;
    return lane;
  }

  /** The held record of the lane may run again (if the lane still holds `record`). */
  retry(id: string, record: T): void {
    const lane = this.lanes.get(id);
    if (!lane || !lane.held || lane.current !== record) return;
    lane.held = false;
    this.waitingCount++;
    this.enqueue(lane);
    this.pump();
  }

  /**
   * Drops the waiting and held records of a group (a partition given up). A lane whose record is running stays
   * until it ends, keeping its key's place. Returns how many records were dropped.
   */
  drop(group: string): number {
    const members = this.groups.get(group);
    if (!members) return 0;
    let dropped = 0;
    for (const lane of members) {
      const count = lane.clear();
      dropped += count;
      this.waitingCount -= count;
      if (lane.current !== undefined && !lane.running) {
        // Held for its retry, or retried and waiting for a place.
        if (!lane.held) this.waitingCount--;
        lane.held = false;
        lane.current = undefined;
        dropped++;
      }
      if (!lane.running) this.remove(lane);
    }
    return dropped;
  }

  /** No record starts any more (the service is stopping); those running may end. */
  stop(): void {
    this.stopped = true;
  }

  private afterCurrent(lane: Lane<T>): void {
    if (lane.size > 0) this.enqueue(lane);
    else this.remove(lane);
  }

  private remove(lane: Lane<T>): void {
    if (this.lanes.get(lane.id) === lane) this.lanes.delete(lane.id);
    const members = this.groups.get(lane.group);
    members?.delete(lane);
    if (members?.size === 0) this.groups.delete(lane.group);
  }

  private enqueue(lane: Lane<T>): void {
    if (lane.queued) return;
    lane.queued = true;
    this.ready.push(lane);
  }

  /** Starts records, oldest ready lane first, while places are free. */
  private pump(): void {
    while (!this.stopped && this.running < this.maxInFlight && this.readyHead < this.ready.length) {
      const lane = this.ready[this.readyHead++];
      lane.queued = false;
      if (this.lanes.get(lane.id) !== lane || lane.held) continue;
      if (lane.running) continue;
      let record = lane.current;
      if (record === undefined) {
        record = lane.shift();
        if (record === undefined) continue;
        lane.current = record;
      }
      this.waitingCount--;
      lane.running = true;
      this.running++;
      this.start(record, lane.id);
    }
    if (this.readyHead > 1024 && this.readyHead * 2 > this.ready.length) {
      this.ready = this.ready.slice(this.readyHead);
      this.readyHead = 0;
    }
  }
}
