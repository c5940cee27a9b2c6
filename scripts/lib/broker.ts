import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
// The config module alone: the tools need not load Nest to talk to the broker.
import { kafkaClientConfig } from '@app/kafka/kafka-config';

const REPO_ROOT = path.resolve(__dirname, '../..');
const POM = path.join(REPO_ROOT, 'kafka', 'pom.xml');
// KAFKA_STATE_DIR lets a second broker (the benchmark's) run beside the dev one with its own data.
const STATE_DIR = path.resolve(REPO_ROOT, process.env.KAFKA_STATE_DIR || '.kafka');
const DATA_DIR = path.join(STATE_DIR, 'data');
const LOGS_DIR = path.join(STATE_DIR, 'logs');
const PID_FILE = path.join(STATE_DIR, 'broker.pid');
const SERVER_PROPERTIES = path.join(STATE_DIR, 'server.properties');
const LOG4J_CONFIG = path.join(STATE_DIR, 'log4j2.xml');
const BROKER_OUT = path.join(LOGS_DIR, 'broker.out');
const SERVER_LOG = path.join(LOGS_DIR, 'server.log');
const CLASSPATH_MARKER = '.complete';

const READY_DEADLINE_MS = 90_000;
const READY_POLL_MS = 500;
const STOP_DEADLINE_MS = 30_000;

type Log = (line: string) => void;
const defaultLog: Log = (line) => console.log(`[kafka] ${line}`);

export function brokersFromEnv(): string[] {
  const raw = process.env.KAFKA_BROKERS ?? '127.0.0.1:9092';
  const brokers = raw
    .split(',')
    .map((b) => b.trim())
    .filter((b) => b.length > 0);
  return brokers.length > 0 ? brokers : ['127.0.0.1:9092'];
}

/**
 * The kafkajs client every tool (flood, lag, topics, dlq, poison, npm start, the tests and the benchmark)
 * uses: the services' connection settings, without kafkajs' log noise on the terminal.
 */
export function toolKafka(clientId: string, brokers: string[] = brokersFromEnv()): Kafka {
  return new Kafka({ ...kafkaClientConfig(brokers, clientId), logLevel: logLevel.NOTHING });
}

export async function brokerAnswers(brokers: string[], timeoutMs = 3000): Promise<boolean> {
  const admin = new Kafka({
    clientId: 'broker-probe',
    brokers,
    logLevel: logLevel.NOTHING,
    connectionTimeout: Math.min(1000, timeoutMs),
    requestTimeout: timeoutMs,
    retry: { retries: 0 },
  }).admin();
  let timer: NodeJS.Timeout | undefined;
  // kafkajs' connect and request timeouts apply per step; the race bounds the whole probe instead.
  const deadline = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), timeoutMs);
  });
  const probe = (async () => {
    await admin.connect();
    const cluster = await admin.describeCluster();
    return cluster.brokers.length > 0;
  })().catch(() => false);
  try {
    return await Promise.race([probe, deadline]);
  } finally {
    clearTimeout(timer);
    await admin.disconnect().catch(() => undefined);
  }
}

function firstBrokerAddress(): { host: string; port: number } {
  const first = brokersFromEnv()[0];
  const sep = first.lastIndexOf(':');
  const host = sep > 0 ? first.slice(0, sep) : first;
  const port = sep > 0 ? Number(first.slice(sep + 1)) : 9092;
  if (!Number.isInteger(port) || port <= 0 || port >= 65535) {
    throw new Error(`KAFKA_BROKERS: cannot read a port from "${first}"`);
  }
  return { host, port };
}

function kafkaVersion(pom: string): string {
  const match = /<kafka\.version>\s*([^<\s]+)\s*<\/kafka\.version>/.exec(pom);
  if (!match) throw new Error(`${POM} has no <kafka.version> property`);
  return match[1];
}

function classpathDir(version: string): string {
  const cacheHome = process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
  return path.join(cacheHome, 'black-friday-chain', `kafka-${version}`, 'libs');
}

interface RunResult {
  code: number | null;
  output: string;
}

function run(command: string, args: string[], timeoutMs: number): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], timeout: timeoutMs });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, output }));
  });
}

function tail(text: string, lines: number): string {
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}

// The marker holds the pom's hash, so editing kafka/pom.xml (e.g. a log4j bump) rebuilds the folder.
async function ensureClasspath(log: Log): Promise<string> {
  const pom = fs.readFileSync(POM, 'utf8');
  const version = kafkaVersion(pom);
  const libs = classpathDir(version);
  const marker = path.join(libs, CLASSPATH_MARKER);
  const pomHash = createHash('sha256').update(pom).digest('hex');
  if (fs.existsSync(marker) && fs.readFileSync(marker, 'utf8').trim() === pomHash) return libs;

  log(`resolving Kafka ${version} jars with Maven into ${libs} (one-time, needs Maven Central or ~/.m2)`);
  // A fresh folder: jars left from another pom would put two versions of a library on the classpath.
  fs.rmSync(libs, { recursive: true, force: true });
  fs.mkdirSync(libs, { recursive: true });
  const args = [
    '-B', '-q', '-f', POM, 'dependency:copy-dependencies',
    `-DoutputDirectory=${libs}`, '-DincludeScope=runtime',
  ];
  let result: RunResult;
  try {
    result = await run('mvn', args, 10 * 60_000);
  } catch (err) {
    throw new Error(`cannot run mvn (${(err as Error).message}): Maven is needed once to fetch the Kafka jars`);
  }
  if (result.code !== 0) {
    throw new Error(
      `mvn dependency:copy-dependencies failed (exit ${result.code}): Maven Central must be reachable ` +
        `to fetch Kafka ${version} the first time.\n${tail(result.output, 30)}`,
    );
  }
  fs.writeFileSync(marker, `${pomHash}\n`);
  log(`classpath ready: ${fs.readdirSync(libs).filter((f) => f.endsWith('.jar')).length} jars`);
  return libs;
}

function serverProperties(host: string, port: number): string {
  const controllerPort = port + 1;
  return [
    '# Written by scripts/lib/broker.ts on every start: edit the script, not this file.',
    'process.roles=broker,controller',
    'node.id=1',
    // Static voters rather than controller.quorum.bootstrap.servers + format --standalone: the quorum is
    // then described by this file alone, so a changed port in KAFKA_BROKERS needs no reformat (a dynamic
    // quorum records the controller endpoint in the formatted metadata log). Both work on 4.1.2.
    `controller.quorum.voters=1@${host}:${controllerPort}`,
    `listeners=PLAINTEXT://${host}:${port},CONTROLLER://${host}:${controllerPort}`,
    `advertised.listeners=PLAINTEXT://${host}:${port}`,
    'controller.listener.names=CONTROLLER',
    'inter.broker.listener.name=PLAINTEXT',
    'listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT',
    `log.dirs=${DATA_DIR}`,
    'num.partitions=3',
    'offsets.topic.replication.factor=1',
    'transaction.state.log.replication.factor=1',
    'transaction.state.log.min.isr=1',
    'share.coordinator.state.topic.replication.factor=1',
    'share.coordinator.state.topic.min.isr=1',
    'group.initial.rebalance.delay.ms=0',
    // Topics are created by scripts/topics.ts with explicit partitions; a typo must not create one.
    'auto.create.topics.enable=false',
    '',
  ].join('\n');
}

// INFO goes to a rolling file, WARN+ to stdout (broker.out), so the console stays quiet but useful.
const LOG4J2_XML = `<?xml version="1.0" encoding="UTF-8"?>
<Configuration status="WARN">
  <Appenders>
    <Console name="Stdout" target="SYSTEM_OUT">
      <ThresholdFilter level="WARN"/>
      <PatternLayout pattern="[%d] %p %m (%c)%n"/>
    </Console>
    <RollingFile name="Server" fileName="\${sys:kafka.logs.dir}/server.log"
                 filePattern="\${sys:kafka.logs.dir}/server.log.%i">
      <PatternLayout pattern="[%d] %p %m (%c)%n"/>
      <SizeBasedTriggeringPolicy size="50 MB"/>
      <DefaultRolloverStrategy max="3"/>
    </RollingFile>
  </Appenders>
  <Loggers>
    <Root level="INFO">
      <AppenderRef ref="Stdout"/>
      <AppenderRef ref="Server"/>
    </Root>
  </Loggers>
</Configuration>
`;

function javaBinary(): string {
  return process.env.JAVA_HOME ? path.join(process.env.JAVA_HOME, 'bin', 'java') : 'java';
}

function logJvmOptions(): string[] {
  return [`-Dlog4j2.configurationFile=${LOG4J_CONFIG}`, `-Dkafka.logs.dir=${LOGS_DIR}`];
}

// Any 16 random bytes make a valid id, but one starting with '-' would be read as an option by the tool.
function newClusterId(): string {
  let id: string;
  do id = randomBytes(16).toString('base64url');
  while (id.startsWith('-'));
  return id;
}

async function formatStorageIfNeeded(libs: string, log: Log): Promise<void> {
  if (fs.existsSync(path.join(DATA_DIR, 'meta.properties'))) return;
  const clusterId = newClusterId();
  log(`formatting ${DATA_DIR} (cluster id ${clusterId})`);
  const result = await run(
    javaBinary(),
    [
      '-Xmx256m', ...logJvmOptions(), '-cp', path.join(libs, '*'),
      'kafka.tools.StorageTool', 'format', '-t', clusterId, '-c', SERVER_PROPERTIES,
    ],
    120_000,
  );
  if (result.code !== 0) {
    throw new Error(`kafka-storage format failed (exit ${result.code}):\n${tail(result.output, 30)}`);
  }
}

function readTail(file: string, lines: number): string {
  try {
    return tail(fs.readFileSync(file, 'utf8'), lines);
  } catch {
    return '(none)';
  }
}

function brokerDiagnostics(): string {
  return `--- ${BROKER_OUT} ---\n${readTail(BROKER_OUT, 30)}\n--- ${SERVER_LOG} ---\n${readTail(SERVER_LOG, 30)}`;
}

// kill(pid, 0) alone is not enough: the pid may have been reused, and a broker killed after its parent
// exited stays a zombie when PID 1 does not reap orphans (as in some containers).
function isBrokerProcess(pid: number): boolean {
  const procDir = `/proc/${pid}`;
  if (fs.existsSync('/proc/self')) {
    try {
      const stat = fs.readFileSync(`${procDir}/stat`, 'utf8');
      const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
      if (state === 'Z' || state === 'X') return false;
      return fs.readFileSync(`${procDir}/cmdline`, 'utf8').includes('kafka.Kafka');
    } catch {
      return false;
    }
  }
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export function localBrokerPid(): number | undefined {
  let pid: number;
  try {
    pid = Number(fs.readFileSync(PID_FILE, 'utf8').trim());
  } catch {
    return undefined;
  }
  return Number.isInteger(pid) && pid > 0 && isBrokerProcess(pid) ? pid : undefined;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function waitUntilReady(brokers: string[], exited: () => string | undefined): Promise<void> {
  const deadline = Date.now() + READY_DEADLINE_MS;
  for (;;) {
    const why = exited();
    if (why) throw new Error(`the broker exited during start-up (${why})\n${brokerDiagnostics()}`);
    if (await brokerAnswers(brokers, 2000)) return;
    if (Date.now() >= deadline) {
      throw new Error(`the broker did not answer within ${READY_DEADLINE_MS / 1000} s\n${brokerDiagnostics()}`);
    }
    await sleep(READY_POLL_MS);
  }
}

export async function startLocalBroker(opts: { log?: Log } = {}): Promise<{ started: boolean }> {
  const log = opts.log ?? defaultLog;
  const brokers = brokersFromEnv();
  if (await brokerAnswers(brokers)) return { started: false };

  const { host, port } = firstBrokerAddress();
  const properties = serverProperties(host, port);
  const previous = localBrokerPid();
  if (previous !== undefined) {
    // Our broker is alive but silent: either an interrupted `up` left it starting (wait for it, do not
    // race it for the data directory), or it listens elsewhere because KAFKA_BROKERS changed since.
    if (fs.readFileSync(SERVER_PROPERTIES, 'utf8') !== properties) {
      throw new Error(`the local broker (pid ${previous}) runs with other listeners than ${brokers[0]}: run kafka:down first`);
    }
    log(`broker pid ${previous} is still starting; waiting for it`);
    await waitUntilReady(brokers, () => (isBrokerProcess(previous) ? undefined : `pid ${previous} is gone`));
    return { started: false };
  }

  const libs = await ensureClasspath(log);
  fs.mkdirSync(LOGS_DIR, { recursive: true });
  fs.writeFileSync(SERVER_PROPERTIES, properties);
  fs.writeFileSync(LOG4J_CONFIG, LOG4J2_XML);
  await formatStorageIfNeeded(libs, log);

  const heap = (process.env.KAFKA_HEAP_OPTS ?? '-Xms512m -Xmx512m').split(/\s+/).filter(Boolean);
  const args = [
    ...heap,
    // The G1 settings of kafka-run-class.sh: short pauses matter more than throughput for a dev broker.
    '-server', '-XX:+UseG1GC', '-XX:MaxGCPauseMillis=20', '-XX:InitiatingHeapOccupancyPercent=35',
    '-XX:+ExplicitGCInvokesConcurrent', '-Djava.awt.headless=true',
    ...logJvmOptions(),
    '-cp', path.join(libs, '*'),
    'kafka.Kafka', SERVER_PROPERTIES,
  ];
  const out = fs.openSync(BROKER_OUT, 'a');
  // Detached in its own process group with no pipes back to us: it outlives the npm script that ran `up`.
  // cwd: a JVM crash file (hs_err_pid*.log) lands next to the logs, not in the caller's directory.
  const child = spawn(javaBinary(), args, { cwd: LOGS_DIR, detached: true, stdio: ['ignore', out, out] });
  fs.closeSync(out);
  let exitReason: string | undefined;
  child.on('error', (err) => (exitReason = err.message));
  child.on('exit', (code, signal) => (exitReason = signal ? `signal ${signal}` : `exit code ${code}`));
  child.unref();
  if (child.pid === undefined) {
    await sleep(0); // spawn reports ENOENT on the next tick
    throw new Error(`cannot start ${javaBinary()}: ${exitReason ?? 'no pid'}`);
  }
  fs.writeFileSync(PID_FILE, `${child.pid}\n`);
  log(`broker pid ${child.pid} starting at ${brokers[0]} (logs in ${LOGS_DIR})`);

  try {
    await waitUntilReady(brokers, () => exitReason);
  } catch (err) {
    // A broker that never became ready must not linger holding the port and the data directory lock.
    await stopLocalBroker({ log: () => undefined });
    throw err;
  }
  return { started: true };
}

// The process may exit between our check and the signal: ESRCH then means the job is done.
function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
  }
}

async function exitsWithin(pid: number, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (isBrokerProcess(pid)) {
    if (Date.now() >= deadline) return false;
    await sleep(200);
  }
  return true;
}

export async function stopLocalBroker(opts: { log?: Log } = {}): Promise<boolean> {
  const log = opts.log ?? defaultLog;
  const pid = localBrokerPid();
  if (pid === undefined) {
    fs.rmSync(PID_FILE, { force: true });
    return false;
  }
  log(`stopping broker pid ${pid} (controlled shutdown)`);
  signal(pid, 'SIGTERM');
  if (!(await exitsWithin(pid, STOP_DEADLINE_MS))) {
    log(`broker pid ${pid} still running after ${STOP_DEADLINE_MS / 1000} s: SIGKILL`);
    signal(pid, 'SIGKILL');
    if (!(await exitsWithin(pid, 10_000))) throw new Error(`broker pid ${pid} survived SIGKILL`);
  }
  fs.rmSync(PID_FILE, { force: true });
  return true;
}

export async function purgeLocalBroker(opts: { log?: Log } = {}): Promise<void> {
  await stopLocalBroker(opts);
  fs.rmSync(DATA_DIR, { recursive: true, force: true });
}
