import { createWriteStream, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { prettyFactory } from 'pino-pretty';

const COLORS = [36, 33, 35, 32, 34, 91, 96, 93];

export interface ChainLogOptions {
  labels: string[];
  /** Readable lines behind each service's name (a terminal); otherwise the services' JSON lines as they are. */
  pretty: boolean;
  /** Every line is also appended here as JSON, for `npm run trace`; the file is emptied first. */
  file?: string;
  write?: (text: string) => void;
}

/**
 * Prints the services' log lines as `npm start` shows them. The services log JSON (pino), one object a line: on a
 * terminal each is made readable (pino-pretty) behind its service's coloured name; piped, the JSON goes out
 * as it is, and a line that is not JSON (a crash's stack) is wrapped in a JSON object of its own.
 */
export function chainLogPrinter(options: ChainLogOptions): (label: string, line: string) => void {
  const write = options.write ?? ((text: string) => void process.stdout.write(text));
  const width = Math.max(...options.labels.map((l) => l.length));
  const color = new Map(options.labels.map((label, i) => [label, COLORS[i % COLORS.length]]));
  const prettify = prettyFactory({ colorize: options.write === undefined, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname,service,instance' });
  let file: ReturnType<typeof createWriteStream> | undefined;
  if (options.file) {
    mkdirSync(dirname(options.file), { recursive: true });
    file = createWriteStream(options.file, { flags: 'w' });
  }
  return (label, line) => {
    const json = asJson(label, line);
    file?.write(`${json}\n`);
    if (!options.pretty) return write(`${json}\n`);
    const name = label.padEnd(width);
    const prefix = options.write === undefined ? `\x1b[${color.get(label) ?? 37}m${name} |\x1b[0m ` : `${name} | `;
    const text = line.startsWith('{') ? prettify(line).trimEnd() : line;
    // Each line of a pretty entry (its fields follow the message) behind the name, as lines interleave.
    write(`${text.split('\n').map((l) => prefix + l).join('\n')}\n`);
  };
}

/** The line if it is a JSON object; otherwise the line wrapped in one, with the service's label. */
function asJson(label: string, line: string): string {
  if (line.startsWith('{')) {
    try {
      JSON.parse(line);
      return line;
    } catch {
      // not JSON after all
    }
  }
  return JSON.stringify({ level: 'info', time: new Date().toISOString(), service: label, raw: true, msg: line });
}
