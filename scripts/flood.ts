import { Command, Option } from 'commander';
import { Partitioners, type Message } from 'kafkajs';
import { TOPICS } from '@app/contracts';
import { brokersFromEnv, toolKafka } from './lib/kafka-local';
import { positiveInt, positiveNumber } from './lib/cli-args';
import { randomCart, randomPayment } from './lib/catalogue';
import { describeFetchError } from './lib/fetch-errors';
import { formatRate, Progress } from './lib/progress';
import { RateLimiter } from './lib/rate-limiter';

/**
 * `npm run flood -- -n N`: the Black Friday burst, N payments into payment-successful (payment i for user i),
 * straight to the topic or through `POST /payment`. floodKafka and floodHttp are the core, for a benchmark
 * to call in-process; the CLI below only parses options and draws the progress.
 */

export interface FloodResult {
  /** Payments the broker acknowledged (kafka) or the payment service answered 200 to (http). */
  sent: number;
  /** Payments not acknowledged; of a failed batch, some may still have been written (kafka retries nothing). */
  failed: number;
  /** From the first send to the last answer; connecting is not counted. */
  seconds: number;
  /** The first distinct failure reasons, each with how often it occurred. */
  failures: Array<{ reason: string; count: number }>;
}

/** Called with (0, 0) once connected, when sending starts, then after every acknowledged or failed send. */
export type OnProgress = (sent: number, failed: number) => void;

interface FloodOptions {
  count: number;
  /** Payments per second at most; undefined sends as fast as the other side takes them. */
  rate?: number;
  onProgress?: OnProgress;
}

export interface FloodKafkaOptions extends FloodOptions {
  brokers: string[];
  /** Messages per producer.send. */
  batch: number;
  /** The user of the payment at `index` (0-based); by default each payment has a user of its own. */
  userOf?: (index: number) => number;
}

export interface FloodHttpOptions extends FloodOptions {
  /** Base URL of the payment service. */
  url: string;
  /** Requests in flight. */
  concurrency: number;
}

// Enough batches in flight to keep the broker busy while one is acknowledged, few enough to bound memory.
const BATCHES_IN_FLIGHT = 4;
// A rate-capped flood sends at least ~10 batches a second, so the pace is smooth rather than one burst a second.
const PACED_BATCHES_PER_SECOND = 10;
const DISTINCT_FAILURES_KEPT = 5;
const HTTP_TIMEOUT_MS = 30_000;

class Tally {
  sent = 0;
  failed = 0;
  private readonly reasons = new Map<string, number>();
  private readonly started = performance.now();

  constructor(private readonly onProgress?: OnProgress) {
    onProgress?.(0, 0);
  }

  succeeded(n: number): void {
    this.sent += n;
    this.onProgress?.(this.sent, this.failed);
  }

  failedWith(n: number, reason: string): void {
    this.failed += n;
    const seen = this.reasons.get(reason);
    if (seen !== undefined) this.reasons.set(reason, seen + n);
    else if (this.reasons.size < DISTINCT_FAILURES_KEPT) this.reasons.set(reason, n);
    this.onProgress?.(this.sent, this.failed);
  }

  result(): FloodResult {
    const failures = [...this.reasons].map(([reason, count]) => ({ reason, count }));
    return { sent: this.sent, failed: this.failed, seconds: (performance.now() - this.started) / 1000, failures };
  }
}

export async function floodKafka(options: FloodKafkaOptions): Promise<FloodResult> {
  const { count, rate } = options;
  const batch = rate === undefined ? options.batch : Math.min(options.batch, Math.max(1, Math.ceil(rate / PACED_BATCHES_PER_SECOND)));
  const kafka = toolKafka('flood-cli', options.brokers);
  const topic = TOPICS.paymentSuccessful;

  // Checked up front: a missing topic would otherwise fail every batch only after the producer's retries.
  const admin = kafka.admin();
  await admin.connect();
  const exists = await admin.listTopics().finally(() => admin.disconnect());
  if (!exists.includes(topic)) throw new Error(`topic ${topic} does not exist: create it with \`npm run topics\``);

  // The services' partitioner (murmur2, as the Java client), so a user's payments land where POST /payment puts them.
  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner, allowAutoTopicCreation: false });
  await producer.connect();
  const tally = new Tally(options.onProgress);
  const limiter = new RateLimiter(rate);
  let next = 0;
  const sender = async (): Promise<void> => {
    while (next < count) {
      const first = next;
      const size = Math.min(batch, count - first);
      next += size;
      await limiter.take(size);
      const messages: Message[] = Array.from({ length: size }, (_, i) => {
        const userId = options.userOf?.(first + i) ?? first + i + 1;
        return { key: String(userId), value: JSON.stringify(randomPayment(userId)) };
      });
      try {
        await producer.send({ topic, acks: -1, messages });
        tally.succeeded(size);
      } catch (error) {
        tally.failedWith(size, (error as Error).message);
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: BATCHES_IN_FLIGHT }, sender));
  } finally {
    await producer.disconnect();
  }
  return tally.result();
}

export async function floodHttp(options: FloodHttpOptions): Promise<FloodResult> {
  const { count, rate } = options;
  const endpoint = `${options.url.replace(/\/+$/, '')}/payment`;
  const tally = new Tally(options.onProgress);
  const limiter = new RateLimiter(rate);
  let next = 0;
  // Node's fetch (undici) keeps connections alive, so each worker reuses one socket.
  const worker = async (): Promise<void> => {
    while (next < count) {
      const userId = ++next;
      await limiter.take(1);
      try {
        const response = await fetch(endpoint, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ user_id: userId, cart: randomCart() }),
          signal: AbortSignal.timeout(HTTP_TIMEOUT_MS),
        });
        // Read to the end either way: an unread body keeps its connection from being reused.
        const body = await response.text();
        if (response.status === 200) tally.succeeded(1);
        else tally.failedWith(1, `HTTP ${response.status}: ${body.slice(0, 200)}`);
      } catch (error) {
        tally.failedWith(1, describeFetchError(error));
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(options.concurrency, count) }, worker));
  return tally.result();
}

const INTENSE = 5000;
const EXTREME = 10_000;
const DEFAULT_COUNT = 1000;



interface CliOptions {
  count?: number;
  intense?: boolean;
  extreme?: boolean;
  via: 'kafka' | 'http';
  batch: number;
  concurrency: number;
  url: string;
  rate?: number;
}

function cli(): Command {
  return new Command('flood')
    .description('The Black Friday burst: N payments into payment-successful, payment i for user i, with random carts.')
    .option('-n, --count <n>', `payments to send (default ${DEFAULT_COUNT}); wins over --intense and --extreme`, positiveInt)
    .addOption(new Option('--intense', `${INTENSE} payments, unless -n is given`).conflicts('extreme'))
    .option('--extreme', `${EXTREME} payments, unless -n is given`)
    .addOption(new Option('--via <way>', 'kafka: straight to the topic; http: POST /payment').choices(['kafka', 'http']).default('kafka'))
    .option('--batch <n>', 'kafka: messages per producer.send (smaller when --rate needs it)', positiveInt, 500)
    .option('--concurrency <n>', 'http: requests in flight', positiveInt, 32)
    .option('--url <url>', 'http: base URL of the payment service', 'http://127.0.0.1:8000')
    .option('--rate <r>', 'at most r payments per second (default: as fast as they are taken)', positiveNumber)
    .addHelpText(
      'after',
      '\nThe broker is KAFKA_BROKERS (default 127.0.0.1:9092). Exits 1 if any payment failed.\n' +
        'Examples:\n  npm run flood -- --extreme\n  npm run flood -- -n 2000 --via http --concurrency 64\n  npm run flood -- -n 1000 --rate 200',
    );
}

async function main(): Promise<number> {
  const options = cli().parse().opts<CliOptions>();
  const count = options.count ?? (options.extreme ? EXTREME : options.intense ? INTENSE : DEFAULT_COUNT);
  // Created at the first report, so the time spent connecting does not count against the rate.
  let progress: Progress | undefined;
  const onProgress: OnProgress = (sent, failed) => {
    progress ??= new Progress(count, { unit: 'payments' });
    progress.update(sent + failed, failed);
  };
  let result: FloodResult;
  try {
    result =
      options.via === 'kafka'
        ? await floodKafka({ count, rate: options.rate, batch: options.batch, brokers: brokersFromEnv(), onProgress })
        : await floodHttp({ count, rate: options.rate, url: options.url, concurrency: options.concurrency, onProgress });
  } finally {
    progress?.finish();
  }
  const { sent, failed, seconds, failures } = result;
  if (failures.length > 0) console.error('failures (the first kinds seen):');
  for (const { reason, count: times } of failures) console.error(`  ${times} x ${reason}`);
  console.log(`sent ${sent} payments (${failed} failed) in ${seconds.toFixed(2)} s: ${formatRate(sent / seconds)} payments/s via ${options.via}`);
  return failed > 0 ? 1 : 0;
}

// Only as a command: a benchmark imports floodKafka/floodHttp without parsing its own argv.
if (require.main === module) {
  main().then(
    (code) => process.exit(code),
    (error: Error) => {
      console.error(`flood: ${error.message}`);
      process.exit(1);
    },
  );
}
