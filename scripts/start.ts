import { Command, InvalidArgumentError } from 'commander';
import { describeTopicReport, ensureTopics } from '@app/kafka';
import { Secrets } from '@app/platform/config/secrets';
import { brokersFromEnv, startLocalBroker, stopLocalBroker, toolKafka } from './lib/kafka-local';
import { clusterBrokersFromEnv, startLocalCluster, stopLocalCluster } from './lib/kafka-local/cluster';
import { buildServices } from './lib/build';
import { chainLogPrinter } from './lib/chain-logs';
import { databaseUrlFromEnv, requirePostgres } from './lib/postgres';
import { readCurl } from './lib/read-token';
import { chainSpecs, startServices, stopServices, type ServiceProcess } from './lib/services';
import { chainLogFile } from './lib/trace';

/**
 * `npm start`: the whole chain in the foreground. PostgreSQL must answer; a broker is started when none
 * answers at KAFKA_BROKERS (and stopped again on Ctrl+C); topics are created; then payment, three order
 * instances, email and analytics run with their logs prefixed by name.
 */
async function main(): Promise<void> {
  const options = new Command('start')
    .description('Runs the whole chain in the foreground, until Ctrl+C')
    .option('--brokers <n>', 'one local broker, or a cluster of three nodes', nodes, 1)
    .option('--port-offset <n>', 'added to every port (8000-8005): a second chain beside the first', portOffset, 0)
    .parse()
    .opts<{ brokers: 1 | 3; portOffset: number }>();
  const began = Date.now();
  const port = (base: number) => base + options.portOffset;
  // The services blank their own secrets; this catches what a crashing one printed past its logger.
  const secrets = Secrets.of(process.env);
  await requirePostgres(databaseUrlFromEnv());
  // `npm start -- --brokers 3`: the chain on three local nodes, which its services then reach through KAFKA_BROKERS.
  const cluster = options.brokers === 3;
  if (cluster) process.env.KAFKA_BROKERS = clusterBrokersFromEnv().join(',');
  const broker = cluster ? { started: (await startLocalCluster()).started.length === 3 } : await startLocalBroker();
  const brokers = brokersFromEnv();
  console.log(`[start] Kafka at ${brokers.join(',')} (${broker.started ? 'started' : 'already running'})`);

  let services: ServiceProcess[] = [];
  let stopping = false;
  const shutdown = async (code: number) => {
    if (stopping) return;
    stopping = true;
    console.log('[start] stopping the chain…');
    await stopServices(services);
    if (broker.started) await (cluster ? stopLocalCluster() : stopLocalBroker());
    process.exit(code);
  };
  process.on('SIGINT', () => void shutdown(0));
  process.on('SIGTERM', () => void shutdown(0));

  try {
    await createTopics(brokers);
    await buildServices({ whenStale: true });
    const specs = chainSpecs(options.portOffset);
    // On a terminal, readable lines; piped, the services' JSON. Both also go to .logs/chain.log for `npm run trace`.
    const print = chainLogPrinter({ labels: specs.map((s) => s.label), pretty: process.stdout.isTTY === true, file: chainLogFile(options.portOffset) });
    services = await startServices(specs, process.env, (label, line) => print(label, secrets.redact(line)));
  } catch (error) {
    console.error(`[start] ${secrets.redact((error as Error).message)}`);
    await shutdown(1);
    return;
  }
  for (const service of services) {
    service.child.on('exit', (code, signal) => {
      if (!stopping) console.error(`[start] ${service.spec.label} exited (${signal ?? code}); the others keep running`);
    });
  }
  console.log(
    [
      `[start] chain healthy in ${((Date.now() - began) / 1000).toFixed(1)} s. Try:`,
      `  curl -X POST localhost:${port(8000)}/payment -H 'Content-Type: application/json' -d '{"user_id": 42, "cart": [{"name": "MacBook", "price": 1999, "quantity": 1}]}'`,
      [`localhost:${port(8001)}/orders`, `localhost:${port(8002)}/emails`, `localhost:${port(8003)}/analytics`].map((url) => `  ${readCurl(url)}`).join('\n'),
      `  the live page: http://localhost:${port(8003)}/   the logs of one payment: npm run trace -- <payment_id>${options.portOffset ? ` --file ${chainLogFile(options.portOffset)}` : ''}`,
      '[start] Ctrl+C stops everything this command started.',
    ].join('\n'),
  );
}

function nodes(value: string): 1 | 3 {
  if (value === '1' || value === '3') return Number(value) as 1 | 3;
  throw new InvalidArgumentError('takes 1 or 3');
}

function portOffset(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 50_000) throw new InvalidArgumentError('expected a whole number from 0 to 50000');
  return n;
}

/** Created once here, so six services starting together do not race to create them. */
async function createTopics(brokers: string[]): Promise<void> {
  const admin = toolKafka('npm-start', brokers).admin();
  await admin.connect();
  try {
    const report = await ensureTopics(admin, Number(process.env.TOPIC_PARTITIONS || 3));
    if (report.created.length > 0) console.log(`[start] created topics ${report.created.join(', ')}`);
    for (const warning of describeTopicReport(report)) console.warn(`[start] ${warning}`);
  } finally {
    await admin.disconnect();
  }
}

void main();
