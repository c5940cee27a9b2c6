import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

const COMPOSE_FILE = join(__dirname, 'docker-compose.yml');

/** `docker-compose config` validates the file without a Docker engine (Debian's docker-compose package). */
function composeConfig(...args: string[]): string {
  return execFileSync('docker-compose', ['-f', COMPOSE_FILE, 'config', ...args], { encoding: 'utf8' });
}

describe('docker/docker-compose.yml', () => {
  it('is a valid compose file', () => {
    expect(() => composeConfig('-q')).not.toThrow();
  });

  it('runs Kafka, Kafka UI, PostgreSQL, Prometheus and Grafana', () => {
    expect(composeConfig('--services').trim().split('\n').sort()).toEqual(['grafana', 'kafka', 'kafka-ui', 'postgres', 'prometheus']);
  });

  it('wires Kafka UI to the broker and exposes the broker and Kafka UI to the host', () => {
    const config = composeConfig();
    expect(config).toMatch(/KAFKA_CLUSTERS_0_BOOTSTRAPSERVERS: kafka:19092/);
    expect(config).toMatch(/KAFKA_ADVERTISED_LISTENERS: PLAINTEXT:\/\/kafka:19092,PLAINTEXT_HOST:\/\/localhost:9092/);
    expect(config).toMatch(/published: 8080/);
    expect(config).toMatch(/published: 9092/);
  });
});
