// The local broker without Docker: `up`, `down [--purge]`, `status`. See scripts/lib/kafka-local.
import {
  brokerAnswers,
  brokersFromEnv,
  localBrokerPid,
  purgeLocalBroker,
  startLocalBroker,
  stopLocalBroker,
} from './lib/kafka-local';

const USAGE = 'usage: tsx scripts/kafka.ts up | down [--purge] | status';

function seconds(since: number): string {
  return `${((Date.now() - since) / 1000).toFixed(1)} s`;
}

async function main(args: string[]): Promise<number> {
  const [command, ...flags] = args;
  const brokers = brokersFromEnv().join(',');
  const t0 = Date.now();
  switch (command) {
    case 'up': {
      const { started } = await startLocalBroker();
      console.log(`broker ready at ${brokers} (${started ? 'started' : 'already running'}) in ${seconds(t0)}`);
      return 0;
    }
    case 'down': {
      const purge = flags.includes('--purge');
      const unknown = flags.filter((f) => f !== '--purge');
      if (unknown.length > 0) throw new Error(`unknown option ${unknown.join(' ')}; ${USAGE}`);
      const stopped = await stopLocalBroker();
      if (purge) await purgeLocalBroker();
      const what = stopped ? 'broker stopped' : 'no local broker was running';
      console.log(`${what}${purge ? ', data purged' : ''} in ${seconds(t0)}`);
      return 0;
    }
    case 'status': {
      const answers = await brokerAnswers(brokersFromEnv());
      const pid = localBrokerPid();
      const owner = pid !== undefined ? `local broker pid ${pid}` : 'no local broker process';
      console.log(`broker at ${brokers}: ${answers ? 'answering' : 'not answering'} (${owner})`);
      // Non-zero when nothing answers, so scripts can use `status` as a readiness check.
      return answers ? 0 : 1;
    }
    default:
      console.error(USAGE);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    const message = err instanceof Error ? err.message : String(err);
    // One line for the summary; the broker's log tail (if any) follows for the diagnosis.
    const [first, ...rest] = message.split('\n');
    console.error(`kafka: ${first}`);
    if (rest.length > 0) console.error(rest.join('\n'));
    process.exit(1);
  },
);
