// The local broker without Docker: `up [--brokers 3]`, `down [--purge]`, `status [--brokers 3]`. See scripts/lib/kafka-local.
import {
  brokerAnswers,
  brokersFromEnv,
  localBrokerPid,
  purgeLocalBroker,
  startLocalBroker,
  stopLocalBroker,
} from './lib/kafka-local';
import { clusterBrokersFromEnv, nodeCountFromArgs, localClusterStatus, startLocalCluster, stopLocalCluster } from './lib/kafka-local/cluster';

const USAGE = 'usage: tsx scripts/kafka.ts up [--brokers 1|3] | down [--purge] | status [--brokers 1|3]';



function seconds(since: number): string {
  return `${((Date.now() - since) / 1000).toFixed(1)} s`;
}

async function main(args: string[]): Promise<number> {
  const [command, ...flags] = args;
  const brokers = brokersFromEnv().join(',');
  const t0 = Date.now();
  switch (command) {
    case 'up': {
      if (nodeCountFromArgs(flags) === 3) {
        const { started } = await startLocalCluster({ brokers: clusterBrokersFromEnv() });
        const what = started.length === 0 ? 'all three nodes already running' : `started node(s) ${started.join(', ')}`;
        console.log(`cluster ready at ${clusterBrokersFromEnv().join(',')} (${what}) in ${seconds(t0)}`);
        return 0;
      }
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
      // Every local node goes down: the single broker and the cluster's, whichever run.
      const nodes = await stopLocalCluster({ brokers: clusterBrokersFromEnv(), purge });
      const what = [stopped ? 'broker stopped' : '', nodes > 0 ? `${nodes} cluster node(s) stopped` : ''].filter(Boolean).join(', ') || 'no local broker was running';
      console.log(`${what}${purge ? ', data purged' : ''} in ${seconds(t0)}`);
      return 0;
    }
    case 'status': {
      if (nodeCountFromArgs(flags) === 3) {
        const status = await localClusterStatus({ brokers: clusterBrokersFromEnv() });
        for (const node of status.nodes) {
          const role = node.id === status.controller ? ', active controller' : '';
          console.log(`node ${node.id} at ${node.address}: ${node.answering ? 'answering' : 'not answering'} (${node.pid !== undefined ? `pid ${node.pid}` : 'no process'}${role})`);
        }
        console.log(status.underReplicated.length === 0 ? 'no under-replicated partitions' : `${status.underReplicated.length} under-replicated partition(s):`);
        for (const p of status.underReplicated) console.log(`  ${p.topic}[${p.partition}]: ${p.inSync} of ${p.replicas} replicas in sync`);
        return status.nodes.some((n) => n.answering) ? 0 : 1;
      }
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
