export interface ProgressOptions {
  /** What is counted, for the rate: `payments` gives `1234 payments/s`. */
  unit?: string;
  stream?: NodeJS.WriteStream;
}

const REDRAW_MS = 100;
const PLAIN_EVERY_MS = 2000;
// The rate shown is over the last seconds, so a slowdown shows at once rather than being averaged away.
const RATE_WINDOW_MS = 2000;

/**
 * Progress of a known amount of work. On a terminal: one line redrawn in place at most every 100 ms (bar,
 * count, percent, current rate, ETA). Elsewhere (a pipe, a CI log): a plain line at every tenth and at
 * least every 2 s, so logs stay short but a stall is still visible.
 */
export class Progress {
  private readonly stream: NodeJS.WriteStream;
  private readonly tty: boolean;
  private readonly unit: string;
  private readonly samples: Array<{ at: number; done: number }>;
  private readonly timer: NodeJS.Timeout;
  private done = 0;
  private failed = 0;
  private lastDraw = 0;
  private lastLine: number;
  private lastTenth = 0;
  private lastPrinted = -1;

  constructor(
    private readonly total: number,
    options: ProgressOptions = {},
  ) {
    this.stream = options.stream ?? process.stdout;
    this.tty = this.stream.isTTY === true;
    this.unit = options.unit ?? 'items';
    const now = performance.now();
    this.samples = [{ at: now, done: 0 }];
    this.lastLine = now;
    // Updates stop arriving when the work stalls; the timer keeps the rate and ETA telling the truth then.
    this.timer = setInterval(() => this.tick(), REDRAW_MS);
    this.timer.unref();
  }

  /** `done` counts everything finished, failures included; `failed` is shown when not zero. */
  update(done: number, failed = 0): void {
    this.done = done;
    this.failed = failed;
    const now = performance.now();
    if (this.tty) {
      if (now - this.lastDraw >= REDRAW_MS) this.redraw(now);
      return;
    }
    const tenth = this.total > 0 ? Math.floor((done * 10) / this.total) : 10;
    if (tenth > this.lastTenth) {
      this.lastTenth = tenth;
      this.printLine(now);
    }
  }

  /** Draws the final state and leaves the cursor on a fresh line. */
  finish(): void {
    clearInterval(this.timer);
    const now = performance.now();
    if (this.tty) {
      this.redraw(now);
      this.stream.write('\n');
    } else if (this.lastPrinted !== this.done) {
      this.printLine(now);
    }
  }

  private tick(): void {
    const now = performance.now();
    if (this.tty) {
      if (now - this.lastDraw >= REDRAW_MS) this.redraw(now);
    } else if (now - this.lastLine >= PLAIN_EVERY_MS) this.printLine(now);
  }

  private redraw(now: number): void {
    this.lastDraw = now;
    const text = ` ${this.status(now)}`;
    // A pseudo-terminal may report 0 columns (script, some CI runners): assume the classic 80.
    const width = Math.max(10, Math.min(40, (this.stream.columns || 80) - text.length - 3));
    const filled = Math.round(this.fraction() * width);
    // \x1b[K clears what a longer previous line left to the right.
    this.stream.write(`\r[${'#'.repeat(filled)}${'.'.repeat(width - filled)}]${text}\x1b[K`);
  }

  private printLine(now: number): void {
    this.lastLine = now;
    this.lastPrinted = this.done;
    this.stream.write(`${this.status(now)}\n`);
  }

  private status(now: number): string {
    const rate = this.currentRate(now);
    const remaining = this.total - this.done;
    const eta = remaining <= 0 ? '0s' : rate > 0 ? formatDuration(remaining / rate) : '--';
    const count = `${String(this.done).padStart(String(this.total).length)}/${this.total}`;
    const failed = this.failed > 0 ? ` (${this.failed} failed)` : '';
    const percent = `${(this.fraction() * 100).toFixed(1).padStart(5)}%`;
    return `${count}${failed} ${percent}  ${formatRate(rate)} ${this.unit}/s  ETA ${eta}`;
  }

  private fraction(): number {
    return this.total > 0 ? Math.min(1, this.done / this.total) : 1;
  }

  private currentRate(now: number): number {
    this.samples.push({ at: now, done: this.done });
    // Keep one sample at or before the window's start, so the window is always fully covered.
    while (this.samples.length > 2 && this.samples[1].at <= now - RATE_WINDOW_MS) this.samples.shift();
    const oldest = this.samples[0];
    const seconds = (now - oldest.at) / 1000;
    return seconds > 0 ? (this.done - oldest.done) / seconds : 0;
  }
}

/** Whole units per second, with a decimal below 10 so a slow paced run does not read as 0/s. */
export function formatRate(perSecond: number): string {
  return perSecond >= 10 ? String(Math.round(perSecond)) : perSecond.toFixed(1);
}

/** `42s`, `3:07`, `1:02:03`. */
function formatDuration(seconds: number): string {
  const s = Math.ceil(seconds);
  if (s < 60) return `${s}s`;
  const mm = String(Math.floor(s / 60) % 60);
  const ss = String(s % 60).padStart(2, '0');
  return s < 3600 ? `${mm}:${ss}` : `${Math.floor(s / 3600)}:${mm.padStart(2, '0')}:${ss}`;
}
