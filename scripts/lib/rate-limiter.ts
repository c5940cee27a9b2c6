import { setTimeout as sleep } from 'node:timers/promises';

/**
 * A paced schedule: each `take(n)` is given the next free slot, n/rate seconds long, after the previous one.
 * A sender that falls behind gets no catch-up burst, so the rate is a cap, never an average.
 */
export class RateLimiter {
  private nextSlot = 0;

  /** `perSecond` undefined means no limit. */
  constructor(private readonly perSecond?: number) {
    if (perSecond !== undefined && !(perSecond > 0)) throw new Error(`the rate must be above 0, got ${perSecond}`);
  }

  /** Resolves when `units` more may go out. Callers share the schedule, so concurrent workers stay under the cap. */
  async take(units: number): Promise<void> {
    if (this.perSecond === undefined) return;
    const now = performance.now();
    // The units go out at the end of their slot, so n units never take less than n/rate seconds.
    this.nextSlot = Math.max(now, this.nextSlot) + (units / this.perSecond) * 1000;
    await sleep(this.nextSlot - now);
  }
}
