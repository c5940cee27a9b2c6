const COLORS = [36, 33, 35, 32, 34, 91, 96, 93];

/** Prints each service's lines behind its name, coloured on a terminal, so interleaved logs stay readable. */
export function prefixedSink(labels: string[]): (label: string, line: string) => void {
  const width = Math.max(...labels.map((l) => l.length));
  const color = new Map(labels.map((label, i) => [label, COLORS[i % COLORS.length]]));
  const tty = process.stdout.isTTY;
  return (label, line) => {
    const name = label.padEnd(width);
    process.stdout.write(tty ? `\x1b[${color.get(label) ?? 37}m${name} |\x1b[0m ${line}\n` : `${name} | ${line}\n`);
  };
}
