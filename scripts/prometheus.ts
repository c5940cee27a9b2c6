// `npm run prometheus`: Debian's Prometheus on the project's configuration (docker/prometheus), scraping the
// chain that `npm start` runs on this machine, with the alert rules loaded. Its graph page is the local view
// where Grafana (Docker only) is not at hand.
import { resolve } from 'node:path';
import { Command } from 'commander';
import { ensureCommands, PROMETHEUS_TOOL } from './lib/debian-tools';
import { positiveInt } from './lib/cli-args';
import { LocalPrometheus, scrapeTargets } from './lib/prometheus';
import { chainSpecs, REPO_ROOT } from './lib/services';

async function main(): Promise<void> {
  const options = new Command('prometheus')
    .description("Runs Prometheus on docker/prometheus's configuration against the local chain, until Ctrl+C")
    .option('--port <port>', 'where Prometheus listens', positiveInt, 9090)
    .option('--orders <n>', 'order instances to scrape (8001, 8004, 8005, …)', positiveInt, 3)
    .parse()
    .opts<{ port: number; orders: number }>();
  ensureCommands([PROMETHEUS_TOOL]);
  const targets = scrapeTargets('127.0.0.1', chainSpecs(0, options.orders));
  const prometheus = await LocalPrometheus.start({ dir: resolve(REPO_ROOT, '.prometheus'), port: options.port, targets });
  console.log(`[prometheus] scraping ${targets.flatMap((t) => t.targets).join(', ')}`);
  console.log(`[prometheus] graphs at ${prometheus.url}/graph, targets at ${prometheus.url}/targets, alerts at ${prometheus.url}/alerts; Ctrl+C stops`);
  const stop = () => void prometheus.stop().then(() => process.exit(0));
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main().catch((error: Error) => {
  console.error(`[prometheus] ${error.message}`);
  process.exit(1);
});
