import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

/**
 * Every relative link of the project's markdown pages (README.md, docs/, bench/) leads somewhere: to a file that
 * exists and, when the link names an anchor, to a heading of that file that GitHub gives that anchor. Links in
 * fenced code blocks and code spans are not links; http(s), mailto and other schemes are not checked.
 */

const ROOT = resolve(__dirname, '..', '..');

/** README.md and every .md file under docs/ and bench/, relative to the repository's root. */
function markdownPages(): string[] {
  const under = (dir: string): string[] =>
    existsSync(join(ROOT, dir))
      ? readdirSync(join(ROOT, dir), { withFileTypes: true }).flatMap((entry) => {
          const path = join(dir, entry.name);
          if (entry.isDirectory()) return under(path);
          return entry.isFile() && entry.name.endsWith('.md') ? [path] : [];
        })
      : [];
  return ['README.md', ...under('docs'), ...under('bench')].sort();
}

/**
 * The text with every fenced code block (``` or ~~~, closed by a fence of the same character at least as long)
 * blanked, line for line, so that line numbers stay those of the file.
 */
export function withoutFences(markdown: string): string {
  let fence: { char: string; length: number } | undefined;
  return markdown
    .split('\n')
    .map((line) => {
      const marker = /^ {0,3}(`{3,}|~{3,})(.*)$/.exec(line);
      if (!fence) {
        if (marker && !(marker[1][0] === '`' && marker[2].includes('`'))) {
          fence = { char: marker[1][0], length: marker[1].length };
          return '';
        }
        return line;
      }
      if (marker && marker[1][0] === fence.char && marker[1].length >= fence.length && marker[2].trim() === '') fence = undefined;
      return '';
    })
    .join('\n');
}

/** The text with its code spans blanked (newlines kept); a span never crosses a blank line. */
function withoutCodeSpans(prose: string): string {
  return prose
    .split(/(\n[ \t]*\n)/)
    .map((block) => block.replace(/(`+)(?!`)[\s\S]*?(?<!`)\1(?!`)/g, (span) => span.replace(/[^\n]/g, ' ')))
    .join('');
}

/** GitHub's anchor for a heading's text (github-slugger): lowercase, punctuation dropped, each space a hyphen. */
export function slug(heading: string): string {
  const text = heading
    .replace(/!\[([^\]]*)\]\([^)]*\)/g, '$1') // an image: its alt text
    .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1') // a link: its text
    .replace(/<[^>]*>/g, '') // HTML tags
    .replace(/[`*~]/g, '') // code and emphasis markers
    .trim();
  return text
    .toLowerCase()
    .replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, '')
    .replace(/ /g, '-');
}

/** The anchors a page's headings produce, a repeated one numbered -1, -2, … as GitHub does, and explicit ids. */
export function anchorsOf(markdown: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  for (const line of withoutFences(markdown).split('\n')) {
    const heading = /^ {0,3}#{1,6}[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*$/.exec(line);
    if (heading) {
      const base = slug(heading[1]);
      let anchor = base;
      while (seen.has(anchor)) {
        const n = seen.get(base)! + 1;
        seen.set(base, n);
        anchor = `${base}-${n}`;
      }
      seen.set(anchor, 0);
      anchors.add(anchor);
    }
    for (const id of line.matchAll(/<a\s[^>]*\b(?:id|name)\s*=\s*["']([^"']+)["']/gi)) anchors.add(id[1]);
  }
  return anchors;
}

export interface Link {
  line: number;
  text: string;
  target: string;
}

/** The links of a page outside code: inline `[text](target)` and `![alt](target)`, and reference definitions. */
export function linksOf(markdown: string): Link[] {
  const prose = withoutCodeSpans(withoutFences(markdown));
  const lineAt = (index: number) => prose.slice(0, index).split('\n').length;
  const links: Link[] = [];
  // The text may wrap onto the next lines, but not past a blank line (the end of a paragraph).
  const inline = /!?\[((?:[^[\]]|\[[^\]]*\])*)\]\(\s*(<[^>\n]*>|[^)\s]+)(?:\s+(?:"[^"]*"|'[^']*'|\([^)]*\)))?\s*\)/g;
  for (const match of prose.matchAll(inline)) {
    if (/\n[ \t]*\n/.test(match[1])) continue;
    links.push({ line: lineAt(match.index!), text: match[1], target: match[2].replace(/^<|>$/g, '') });
  }
  for (const match of prose.matchAll(/^ {0,3}\[([^\]\n]+)\]:[ \t]*(<[^>\n]*>|\S+)/gm)) {
    links.push({ line: lineAt(match.index!), text: match[1], target: match[2].replace(/^<|>$/g, '') });
  }
  return links.sort((a, b) => a.line - b.line);
}

/** What is wrong with a link of `page` (relative to `root`), or undefined when it resolves. */
export function problemOf(root: string, page: string, target: string): string | undefined {
  if (/^[a-z][a-z0-9+.-]*:/i.test(target) || target.startsWith('//')) return undefined; // http(s), mailto, …
  const hash = target.indexOf('#');
  const path = decodeURIComponent(hash < 0 ? target : target.slice(0, hash));
  const anchor = hash < 0 ? undefined : decodeURIComponent(target.slice(hash + 1));
  const file = path === '' ? join(root, page) : path.startsWith('/') ? join(root, path) : resolve(root, dirname(page), path);
  if (!file.startsWith(root)) return `${path} is outside the repository`;
  if (!existsSync(file)) return `no such file: ${relative(root, file)}`;
  if (anchor === undefined) return undefined;
  if (statSync(file).isDirectory()) return `${relative(root, file)} is a folder: it has no anchor #${anchor}`;
  if (!file.endsWith('.md')) return /^L\d+(-L\d+)?$/.test(anchor) ? undefined : `${relative(root, file)} is not markdown: no anchor #${anchor}`;
  const anchors = anchorsOf(readFileSync(file, 'utf8'));
  return anchors.has(anchor) ? undefined : `no heading of ${relative(root, file)} makes the anchor #${anchor}`;
}

describe("GitHub's anchors (slug)", () => {
  it.each([
    ['Exactly once, and its limit', 'exactly-once-and-its-limit'],
    ['Events (JSON, snake_case)', 'events-json-snake_case'],
    ["The course's experiment", 'the-courses-experiment'],
    ['What `npm test` runs', 'what-npm-test-runs'],
    ['Operations: Prometheus, Grafana, alerts, the live page, logs', 'operations-prometheus-grafana-alerts-the-live-page-logs'],
    ['kafkajs against Kafka 4.1.2', 'kafkajs-against-kafka-412'],
    ['With Docker: the compose stack and Kafka UI', 'with-docker-the-compose-stack-and-kafka-ui'],
    ['Payment → order — email', 'payment--order--email'],
    ['Reading the [DLQ](docs/x.md) again', 'reading-the-dlq-again'],
    ['Café au lait', 'café-au-lait'],
  ])('%s → #%s', (heading, anchor) => {
    expect(slug(heading)).toBe(anchor);
  });

  it('numbers repeated headings -1, -2, … and ignores headings inside fences', () => {
    const page = ['# Notes', '## Run', '## Run', '```sh', '# Run', '```', '## Run', '## Run-1', '### Closing #'].join('\n');
    expect([...anchorsOf(page)]).toEqual(['notes', 'run', 'run-1', 'run-2', 'run-1-1', 'closing']);
  });
});

describe('links of a page', () => {
  const page = [
    'See [the design](docs/design.md#topics-and-groups) and ![a picture](docs/live-page.png "title").',
    '`[not a link](nowhere.md)` and a [site](https://example.com) and [mail](mailto:a@b.c).',
    '```md',
    '[in a fence](nowhere.md)',
    '```',
    '[spread',
    'over two lines](README.md#configuration)',
    '[ref]: bench/RESULTS.md',
  ].join('\n');

  it('are found outside code, with their lines', () => {
    expect(linksOf(page).map(({ line, target }) => [line, target])).toEqual([
      [1, 'docs/design.md#topics-and-groups'],
      [1, 'docs/live-page.png'],
      [2, 'https://example.com'],
      [2, 'mailto:a@b.c'],
      [6, 'README.md#configuration'],
      [8, 'bench/RESULTS.md'],
    ]);
  });

  it('are told apart: a missing file, a missing anchor, a folder with an anchor; other schemes are not checked', () => {
    expect(problemOf(ROOT, 'README.md', 'docs/design.md#topics-and-groups')).toBeUndefined();
    expect(problemOf(ROOT, 'docs/design.md', '#topics-and-groups')).toBeUndefined();
    expect(problemOf(ROOT, 'docs/design.md', '../README.md')).toBeUndefined();
    expect(problemOf(ROOT, 'README.md', 'https://example.com/nowhere.md#x')).toBeUndefined();
    expect(problemOf(ROOT, 'README.md', 'docs/nowhere.md')).toBe('no such file: docs/nowhere.md');
    expect(problemOf(ROOT, 'README.md', 'docs/design.md#nowhere')).toBe('no heading of docs/design.md makes the anchor #nowhere');
    expect(problemOf(ROOT, 'README.md', 'docs#x')).toBe('docs is a folder: it has no anchor #x');
  });
});

describe('every relative link of the markdown pages resolves', () => {
  const pages = markdownPages();

  it('reads the README and the pages of docs/ and bench/', () => {
    expect(pages).toEqual(expect.arrayContaining(['README.md', join('docs', 'design.md'), join('bench', 'RESULTS.md')]));
  });

  it.each(pages)('%s', (page) => {
    const broken = linksOf(readFileSync(join(ROOT, page), 'utf8')).flatMap(({ line, text, target }) => {
      const problem = problemOf(ROOT, page, target);
      return problem ? [`${page}:${line} [${text}](${target}): ${problem}`] : [];
    });
    expect(broken).toEqual([]);
  });
});
