import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stale } from './build';
import { SERVICE_NAMES } from './services';

describe('stale (whether npm start and npm test must build again)', () => {
  let root: string;
  const at = (path: string, seconds: number) => utimesSync(path, seconds, seconds);
  const write = (path: string, seconds: number) => {
    mkdirSync(join(path, '..'), { recursive: true });
    writeFileSync(path, 'x');
    at(path, seconds);
  };
  const source = () => join(root, 'libs', 'kafka', 'src', 'consume.ts');

  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'build-spec-'));
    write(source(), 1000);
    for (const dir of ['libs/kafka/src', 'libs/kafka', 'libs']) at(join(root, dir), 1000);
    write(join(root, 'package-lock.json'), 1000);
    // Bundles webpack left as they were are older than the build; the stamp says when it began.
    for (const name of SERVICE_NAMES) write(join(root, 'dist', 'apps', name, 'main.js'), 500);
    write(join(root, 'dist', '.built'), 2000);
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it('is not when the last build began after every change to what a build reads', () => {
    expect(stale(root)).toBe(false);
  });

  it('is when no build has finished there', () => {
    rmSync(join(root, 'dist', '.built'));
    expect(stale(root)).toBe(true);
  });

  it('is when a bundle is missing', () => {
    rmSync(join(root, 'dist', 'apps', 'email', 'main.js'));
    expect(stale(root)).toBe(true);
  });

  it('is when a source changed since the last build began', () => {
    at(source(), 2100);
    expect(stale(root)).toBe(true);
  });

  it('is when a file was added or removed beside the sources', () => {
    at(join(root, 'libs', 'kafka', 'src'), 2500);
    expect(stale(root)).toBe(true);
  });

  it('is when the dependencies changed', () => {
    at(join(root, 'package-lock.json'), 2500);
    expect(stale(root)).toBe(true);
  });
});
