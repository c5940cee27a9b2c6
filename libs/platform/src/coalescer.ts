import { AsyncResource } from 'node:async_hooks';

interface Pending<In, Out> {
  item: In;
  resolve: (value: Out) => void;
  reject: (error: unknown) => void;
}

export interface CoalescerOptions {
  /** Most items one run carries. */
  maxBatch: number;
  /**
   * When a run of several items fails with an error this accepts (bad data, not a broken connection),
   * each item is run again alone, so one bad item fails only its own caller.
   */
  isolate?: (error: unknown) => boolean;
}

/**
 * Group commit. Items submitted in the same turn of the event loop, or while a run is in flight, wait and
 * go together in the next run: a batch of Kafka records handled side by side becomes one SQL statement or
 * one produce request, while a lone item still leaves at once. One run is in flight at a time, items keep
 * the order they were submitted in, and each caller gets its own item's result or the run's error.
 *
 * `run` must return one result per item, in the items' order.
 */
export class Coalescer<In, Out> {
  private waiting: Pending<In, Out>[] = [];
  private scheduled = false;
  /**
   * Runs in the async context the coalescer was made in, not in that of whichever caller came first: a run
   * serves many callers, and must neither see the first one's AsyncLocalStorage (a record's scope) nor keep it.
   */
  private readonly drainLater: () => void;

  constructor(
    private readonly run: (items: In[]) => Promise<Out[]>,
    private readonly options: CoalescerOptions,
  ) {
    this.drainLater = AsyncResource.bind(() => void this.drain());
  }

  submit(item: In): Promise<Out> {
    return new Promise<Out>((resolve, reject) => {
      this.waiting.push({ item, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(this.drainLater);
      }
    });
  }

  private async drain(): Promise<void> {
    while (this.waiting.length > 0) {
      const batch = this.waiting.splice(0, this.options.maxBatch);
      await this.settle(batch);
    }
    this.scheduled = false;
  }

  private async settle(batch: Pending<In, Out>[]): Promise<void> {
    try {
      const results = await this.run(batch.map((pending) => pending.item));
      if (results.length !== batch.length) throw new Error(`a run of ${batch.length} items returned ${results.length} results`);
      batch.forEach((pending, i) => pending.resolve(results[i]));
    } catch (error) {
      if (batch.length > 1 && this.options.isolate?.(error)) {
        for (const pending of batch) await this.settle([pending]);
      } else {
        for (const pending of batch) pending.reject(error);
      }
    }
  }
}
