import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { brokerAnswers } from './client';
import { ensureClasspath } from './classpath';
import { LOG4J2_XML, serverProperties } from './config-files';
import { brokerLayout, type BrokerLayout } from './layout';
import { exitsWithin, isBrokerProcess, signal, sleep } from './processes';
import { readTail, run, tail } from './run';
import { brokersFromEnv, defaultLog, heapOptions, jvmPerformanceOptions, parseAddress, stateDirFromEnv, TOOL_JVM_OPTIONS, type Log } from './settings';

const READY_DEADLINE_MS = 90_000;
const READY_POLL_MS = 500;
const STOP_DEADLINE_MS = 30_000;

/** Which local broker: its state directory (default KAFKA_STATE_DIR or .kafka) and addresses (default KAFKA_BROKERS). */
export interface LocalBrokerOptions {
  stateDir?: string;
  brokers?: string[];
  log?: Log;
}

function resolve(opts: LocalBrokerOptions) {
  return { layout: brokerLayout(opts.stateDir ?? stateDirFromEnv()), brokers: opts.brokers ?? brokersFromEnv(), log: opts.log ?? defaultLog };
}

export function javaBinary(): string {
  return process.env.JAVA_HOME ? path.join(process.env.JAVA_HOME, 'bin', 'java') : 'java';
}

function logJvmOptions(layout: BrokerLayout): string[] {
  return [`-Dlog4j2.configurationFile=${layout.log4jConfig}`, `-Dkafka.logs.dir=${layout.logsDir}`];
}

// Any 16 random bytes make a valid id, but one starting with '-' would be read as an option by the tool.
export function newClusterId(): string {
  let id: string;
  do id = randomBytes(16).toString('base64url');
  while (id.startsWith('-'));
  return id;
}

async function formatStorageIfNeeded(layout: BrokerLayout, libs: string, log: Log, clusterId = newClusterId()): Promise<void> {
  if (fs.existsSync(path.join(layout.dataDir, 'meta.properties'))) return;
  log(`formatting ${layout.dataDir} (cluster id ${clusterId})`);
  const result = await run(
    javaBinary(),
    [
      '-Xmx256m', ...TOOL_JVM_OPTIONS, ...logJvmOptions(layout), '-cp', path.join(libs, '*'),
      'kafka.tools.StorageTool', 'format', '-t', clusterId, '-c', layout.serverProperties,
    ],
    120_000,
  );
  if (result.code !== 0) {
    throw new Error(`kafka-storage format failed (exit ${result.code}):\n${tail(result.output, 30)}`);
  }
}

function diagnostics(layout: BrokerLayout): string {
  return `--- ${layout.brokerOut} ---\n${readTail(layout.brokerOut, 30)}\n--- ${layout.serverLog} ---\n${readTail(layout.serverLog, 30)}`;
}

export function pidOf(layout: BrokerLayout): number | undefined {
  let pid: number;
  try {
    pid = Number(fs.readFileSync(layout.pidFile, 'utf8').trim());
  } catch {
    return undefined;
  }
  return Number.isInteger(pid) && pid > 0 && isBrokerProcess(pid) ? pid : undefined;
}

/** The pid of the local broker of that state directory, if it runs. */
export function localBrokerPid(stateDir: string = stateDirFromEnv()): number | undefined {
  return pidOf(brokerLayout(stateDir));
}

export async function waitUntilReady(layout: BrokerLayout, brokers: string[], exited: () => string | undefined): Promise<void> {
  const deadline = Date.now() + READY_DEADLINE_MS;
  for (;;) {
    const why = exited();
    if (why) throw new Error(`the broker exited during start-up (${why})\n${diagnostics(layout)}`);
    if (await brokerAnswers(brokers, 2000)) return;
    if (Date.now() >= deadline) {
      throw new Error(`the broker did not answer within ${READY_DEADLINE_MS / 1000} s\n${diagnostics(layout)}`);
    }
    await sleep(READY_POLL_MS);
  }
}

/**
 * Writes a node's configuration, formats its storage the first time (with the cluster's id, when it joins
 * others), and starts it detached. Resolves with its pid and a way to ask whether it has exited since.
 */
export async function launchNode(
  layout: BrokerLayout,
  properties: string,
  log: Log,
  node: { clusterId?: string; heap?: string[] } = {},
): Promise<{ pid: number; exitReason: () => string | undefined }> {
  const libs = await ensureClasspath(log);
  fs.mkdirSync(layout.logsDir, { recursive: true });
  fs.writeFileSync(layout.serverProperties, properties);
  fs.writeFileSync(layout.log4jConfig, LOG4J2_XML);
  await formatStorageIfNeeded(layout, libs, log, node.clusterId);

  const args = [
    ...(node.heap ?? heapOptions()),
    ...jvmPerformanceOptions(),
    '-Djava.awt.headless=true',
    ...logJvmOptions(layout),
    '-cp', path.join(libs, '*'),
    'kafka.Kafka', layout.serverProperties,
  ];
  const out = fs.openSync(layout.brokerOut, 'a');
  // Detached in its own process group with no pipes back to us: it outlives the npm script that ran `up`.
  // cwd: a JVM crash file (hs_err_pid*.log) lands next to the logs, not in the caller's directory.
  const child = spawn(javaBinary(), args, { cwd: layout.logsDir, detached: true, stdio: ['ignore', out, out] });
  fs.closeSync(out);
  let exitReason: string | undefined;
  child.on('error', (err) => (exitReason = err.message));
  child.on('exit', (code, sig) => (exitReason = sig ? `signal ${sig}` : `exit code ${code}`));
  child.unref();
  if (child.pid === undefined) {
    await sleep(0); // spawn reports ENOENT on the next tick
    throw new Error(`cannot start ${javaBinary()}: ${exitReason ?? 'no pid'}`);
  }
  fs.writeFileSync(layout.pidFile, `${child.pid}\n`);
  return { pid: child.pid, exitReason: () => exitReason };
}

/** Starts the local broker unless one answers already; resolves once it answers. */
export async function startLocalBroker(opts: LocalBrokerOptions = {}): Promise<{ started: boolean }> {
  const { layout, brokers, log } = resolve(opts);
  if (await brokerAnswers(brokers)) return { started: false };

  const { host, port } = parseAddress(brokers[0]);
  const properties = serverProperties(layout, { id: 1, host, port, controllerPort: port + 1 });
  const previous = pidOf(layout);
  if (previous !== undefined) {
    // Our broker is alive but silent: either an interrupted `up` left it starting (wait for it, do not
    // race it for the data directory), or it listens elsewhere because KAFKA_BROKERS changed since.
    if (fs.readFileSync(layout.serverProperties, 'utf8') !== properties) {
      throw new Error(`the local broker (pid ${previous}) runs with other listeners than ${brokers[0]}: run kafka:down first`);
    }
    log(`broker pid ${previous} is still starting; waiting for it`);
    await waitUntilReady(layout, brokers, () => (isBrokerProcess(previous) ? undefined : `pid ${previous} is gone`));
    return { started: false };
  }

  const { pid, exitReason } = await launchNode(layout, properties, log);
  log(`broker pid ${pid} starting at ${brokers[0]} (logs in ${layout.logsDir})`);

  try {
    await waitUntilReady(layout, brokers, exitReason);
  } catch (err) {
    // A broker that never became ready must not linger holding the port and the data directory lock.
    await stopLocalBroker({ ...opts, log: () => undefined });
    throw err;
  }
  return { started: true };
}

/** Stops the local broker (controlled shutdown, SIGKILL after 30 s); false if none ran. */
export async function stopLocalBroker(opts: LocalBrokerOptions = {}): Promise<boolean> {
  const { layout, log } = resolve(opts);
  return stopNode(layout, log);
}

/** Stops the node of that layout (controlled shutdown, SIGKILL after 30 s); false if it was not running. */
export async function stopNode(layout: BrokerLayout, log: Log): Promise<boolean> {
  const pid = pidOf(layout);
  if (pid === undefined) {
    fs.rmSync(layout.pidFile, { force: true });
    return false;
  }
  log(`stopping broker pid ${pid} (controlled shutdown)`);
  signal(pid, 'SIGTERM');
  if (!(await exitsWithin(pid, STOP_DEADLINE_MS))) {
    log(`broker pid ${pid} still running after ${STOP_DEADLINE_MS / 1000} s: SIGKILL`);
    signal(pid, 'SIGKILL');
    if (!(await exitsWithin(pid, 10_000))) throw new Error(`broker pid ${pid} survived SIGKILL`);
  }
  fs.rmSync(layout.pidFile, { force: true });
  return true;
}

/** Stops the local broker and deletes its data: the next start formats a new cluster. */
export async function purgeLocalBroker(opts: LocalBrokerOptions = {}): Promise<void> {
  await stopLocalBroker(opts);
  fs.rmSync(resolve(opts).layout.dataDir, { recursive: true, force: true });
}
