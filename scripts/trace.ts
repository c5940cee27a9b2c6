// `npm run trace -- <id>`: one payment's path through the chain's logs (.logs/chain.log, written by npm start),
// from any of its ids: the X-Request-Id of its POST /payment, its payment_id, order_id or email_id.
import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { CHAIN_LOG, formatTraceLine, traceLines, whoLogged } from './lib/trace';

function main(): number {
  const program = new Command('trace')
    .description("Shows one payment's log lines across the services, in time order")
    .argument('<id>', 'a request id (X-Request-Id), payment_id, order_id or email_id')
    .option('-f, --file <path>', 'log lines to read (JSON, one per line); - for standard input', CHAIN_LOG)
    .option('--json', 'the matching lines as they are')
    .parse();
  const [id] = program.args;
  const options = program.opts<{ file: string; json?: boolean }>();
  let text: string;
  try {
    text = readFileSync(options.file === '-' ? 0 : options.file, 'utf8');
  } catch (error) {
    console.error(`[trace] cannot read ${options.file}: ${(error as Error).message} (npm start writes ${CHAIN_LOG})`);
    return 2;
  }
  const trace = traceLines(text, id);
  for (const line of trace.lines) console.log(options.json ? JSON.stringify(line) : formatTraceLine(line));
  if (trace.lines.length === 0) {
    console.error(`[trace] no log line mentions ${id}`);
    return 1;
  }
  const services = [...new Set(trace.lines.map(whoLogged))];
  if (!options.json) console.log(`${trace.lines.length} line(s) from ${services.join(', ')}; ids followed: ${trace.ids.join(', ')}`);
  return 0;
}

process.exitCode = main();
