import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PROMETHEUS_CONFIG_DIR, scrapeTargets, writeLocalConfig } from '../../scripts/lib/prometheus';
import { chainSpecs } from '../../scripts/lib/services';

/** promtool, from Debian's prometheus package (npm test installs it). */
function promtool(args: string[], cwd: string): string {
  return execFileSync('promtool', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

describe('docker/prometheus', () => {
  it("is a valid configuration, with its rules, as `npm run prometheus` writes it for the local chain", () => {
    const dir = mkdtempSync(join(tmpdir(), 'prometheus-config-'));
    try {
      const config = writeLocalConfig(dir, scrapeTargets('127.0.0.1', chainSpecs()));
      const out = promtool(['check', 'config', config], dir);
      expect(out).toMatch(/SUCCESS: 1 rule files found/);
      expect(out).toMatch(/SUCCESS: 7 rules found/);
      expect(out).not.toMatch(/WARNING/);
      const targets = JSON.parse(readFileSync(join(dir, 'config/targets/services.json'), 'utf8'));
      expect(targets).toEqual([
        { targets: ['127.0.0.1:8000'], labels: { service: 'payment' } },
        { targets: ['127.0.0.1:8001', '127.0.0.1:8004', '127.0.0.1:8005'], labels: { service: 'order' } },
        { targets: ['127.0.0.1:8002'], labels: { service: 'email' } },
        { targets: ['127.0.0.1:8003'], labels: { service: 'analytics' } },
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("scrapes, in Docker, every service of the chain `npm start` runs, through the host's gateway", () => {
    const committed = JSON.parse(readFileSync(join(PROMETHEUS_CONFIG_DIR, 'targets/services.json'), 'utf8'));
    expect(committed).toEqual(scrapeTargets('host.docker.internal', chainSpecs()));
    expect(committed.flatMap((group: { targets: string[] }) => group.targets)).toHaveLength(6);
  });

  it('fires each alert on its test series, and only then (promtool test rules alerts.test.yml)', () => {
    const out = promtool(['test', 'rules', 'alerts.test.yml'], PROMETHEUS_CONFIG_DIR);
    expect(out).toMatch(/SUCCESS/);
    // Every alert of alerts.yml has a test that expects it to fire.
    const alerts = [...readFileSync(join(PROMETHEUS_CONFIG_DIR, 'alerts.yml'), 'utf8').matchAll(/^\s+- alert: (\w+)$/gm)].map((m) => m[1]);
    expect(alerts).toHaveLength(6);
    const tests = readFileSync(join(PROMETHEUS_CONFIG_DIR, 'alerts.test.yml'), 'utf8');
    for (const alert of alerts) expect(tests).toMatch(new RegExp(`alertname: ${alert}\\n\\s+exp_alerts:\\n\\s+- exp_labels`));
  });
});
