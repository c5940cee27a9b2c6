import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { run, tail, type RunResult } from './run';
import { REPO_ROOT } from '../services';
import type { Log } from './settings';

const POM = path.join(REPO_ROOT, 'kafka', 'pom.xml');
const CLASSPATH_MARKER = '.complete';

function kafkaVersion(pom: string): string {
  const match = /<kafka\.version>\s*([^<\s]+)\s*<\/kafka\.version>/.exec(pom);
  if (!match) throw new Error(`${POM} has no <kafka.version> property`);
  return match[1];
}

function classpathDir(version: string): string {
  const cacheHome = process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
  return path.join(cacheHome, 'black-friday-chain', `kafka-${version}`, 'libs');
}

/**
 * The folder of the broker's jars, resolved from kafka/pom.xml by Maven the first time. The marker holds the
 * pom's hash, so editing kafka/pom.xml (e.g. a log4j bump) rebuilds the folder.
 */
export async function ensureClasspath(log: Log): Promise<string> {
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
