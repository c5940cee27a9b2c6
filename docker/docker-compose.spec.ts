import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_DATABASE_URL } from '../scripts/lib/postgres';

const COMPOSE_FILE = join(__dirname, 'docker-compose.yml');

/** `docker-compose config` validates the file without a Docker engine (Debian's docker-compose package). */
function composeConfig(...args: string[]): string {
  return execFileSync('docker-compose', ['-f', COMPOSE_FILE, 'config', ...args], { encoding: 'utf8' });
}

describe('docker/docker-compose.yml', () => {
  it('is a valid compose file', () => {
    expect(() => composeConfig('-q')).not.toThrow();
  });

  let rendered: string | undefined;
  /** One service's block of the rendered configuration (docker-compose 1.29 prints it as YAML, keys sorted). */
  function service(name: string): string {
    rendered ??= composeConfig();
    const match = new RegExp(`^  ${name}:\\n((?:    .*\\n|\\s*\\n)*)`, 'm').exec(rendered);
    if (!match) throw new Error(`no service ${name}`);
    return match[1];
  }

  it('runs Kafka, Kafka UI, PostgreSQL, Prometheus and Grafana, and three Kafka nodes with their own Kafka UI in the cluster profile', () => {
    expect(composeConfig('--services').trim().split('\n').sort()).toEqual(
      ['grafana', 'kafka', 'kafka-1', 'kafka-2', 'kafka-3', 'kafka-ui', 'kafka-ui-cluster', 'postgres', 'prometheus'],
    );
    expect(composeConfig('--profiles').trim()).toBe('cluster');
    for (const name of ['kafka-1', 'kafka-2', 'kafka-3', 'kafka-ui-cluster']) expect(service(name)).toMatch(/profiles:\n    - cluster\n/);
    for (const name of ['kafka', 'kafka-ui', 'postgres']) expect(service(name)).not.toMatch(/profiles:/);
  });

  it('makes the cluster three voters with three copies, two in sync, each node published on its own port', () => {
    for (const id of [1, 2, 3]) {
      const node = service(`kafka-${id}`);
      expect(node).toMatch(/KAFKA_CONTROLLER_QUORUM_VOTERS: 1@kafka-1:29093,2@kafka-2:29093,3@kafka-3:29093/);
      expect(node).toMatch(new RegExp(`KAFKA_NODE_ID: ${id}\\n`));
      expect(node).toMatch(new RegExp(`KAFKA_ADVERTISED_LISTENERS: PLAINTEXT://kafka-${id}:19092,PLAINTEXT_HOST://localhost:${9091 + id}`));
      expect(node).toMatch(new RegExp(`published: ${9091 + id}\\n`));
      for (const setting of ['KAFKA_DEFAULT_REPLICATION_FACTOR: 3', 'KAFKA_MIN_INSYNC_REPLICAS: 2', 'KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR: 3', 'KAFKA_TRANSACTION_STATE_LOG_MIN_ISR: 2']) {
        expect(node).toContain(setting);
      }
    }
    expect(service('kafka-ui-cluster')).toMatch(/KAFKA_CLUSTERS_0_BOOTSTRAPSERVERS: kafka-1:19092,kafka-2:19092,kafka-3:19092/);
  });

  it("mounts Prometheus' configuration folder, and Grafana's provisioned data source and dashboard", () => {
    const prometheus = service('prometheus');
    expect(prometheus).toMatch(/- \S+\/docker\/prometheus:\/etc\/prometheus:ro\n/);
    const grafana = service('grafana');
    expect(grafana).toMatch(/- \S+\/docker\/grafana\/provisioning:\/etc\/grafana\/provisioning:ro\n/);
    expect(grafana).toMatch(/- \S+\/docker\/grafana\/dashboards:\/var\/lib\/grafana\/dashboards:ro\n/);
    // The dashboard provider reads where the dashboards are mounted.
    expect(readFileSync(join(__dirname, 'grafana/provisioning/dashboards/chain.yml'), 'utf8')).toMatch(/^\s+path: \/var\/lib\/grafana\/dashboards$/m);
  });

  it("runs PostgreSQL as the services' default DATABASE_URL expects it: trust auth, user postgres, database blackfriday, port 5432", () => {
    const postgres = service('postgres');
    expect(postgres).toMatch(/POSTGRES_HOST_AUTH_METHOD: trust\n/);
    expect(postgres).toMatch(/POSTGRES_USER: postgres\n/);
    expect(postgres).toMatch(/POSTGRES_DB: blackfriday\n/);
    expect(postgres).toMatch(/published: 5432\n\s+target: 5432\n/);
    expect(DEFAULT_DATABASE_URL).toBe('postgres://postgres@127.0.0.1:5432/blackfriday');
  });

  it('wires Kafka UI to the broker and exposes the broker and Kafka UI to the host', () => {
    const config = composeConfig();
    expect(config).toMatch(/KAFKA_CLUSTERS_0_BOOTSTRAPSERVERS: kafka:19092/);
    expect(config).toMatch(/KAFKA_ADVERTISED_LISTENERS: PLAINTEXT:\/\/kafka:19092,PLAINTEXT_HOST:\/\/localhost:9092/);
    expect(config).toMatch(/published: 8080/);
    expect(config).toMatch(/published: 9092/);
  });
});
