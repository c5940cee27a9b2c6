/**
 * How the tests run one of the project's scripts (`npm run <name>` runs `tsx scripts/<name>.ts`): node with tsx's
 * loader, as tsx itself does, without npx in front (which costs most of a second of CPU per call).
 */
export function scriptArgs(name: string, args: string[]): [string, string[]] {
  return [process.execPath, ['--import', 'tsx', `scripts/${name}.ts`, ...args]];
}
