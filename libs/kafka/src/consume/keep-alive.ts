/**
 * Heartbeats while a batch is being handled: kafkajs heartbeats only between batches, and a batch of slow
 * records can outlast the session. Each beat first runs `onBeat` (the loop moves its offsets forward). Once a
 * beat fails, most often because a rebalance has begun, the member must stop starting records and rejoin in
 * time: `lost` says so.
 */
export class KeepAlive {
  private timer?: NodeJS.Timeout;
  private failure?: unknown;

  constructor(
    private readonly heartbeat: () => Promise<void>,
    private readonly intervalMs: number,
    private readonly onBeat: () => void = () => undefined,
  ) {}

  get lost(): boolean {
    return this.failure !== undefined;
  }

  /** Why the keep-alive was lost. */
  get reason(): unknown {
    return this.failure;
  }

  start(): this {
    this.timer ??= setInterval(() => this.beat(), this.intervalMs);
    return this;
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  private beat(): void {
    try {
      this.onBeat();
    } catch (error) {
      this.failure ??= error;
      return;
    }
    this.heartbeat().catch((error: unknown) => (this.failure ??= error ?? new Error('heartbeat failed')));
  }
}
