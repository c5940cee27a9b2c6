import { serverProperties } from './config-files';
import { brokerLayout } from './layout';
import { brokersFromEnv, parseAddress, stateDirFromEnv } from './settings';

describe('the local broker module', () => {
  const saved = { brokers: process.env.KAFKA_BROKERS, stateDir: process.env.KAFKA_STATE_DIR };
  afterEach(() => {
    for (const [name, value] of [['KAFKA_BROKERS', saved.brokers], ['KAFKA_STATE_DIR', saved.stateDir]] as const) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  });

  it('reads the environment when asked, not when loaded', () => {
    process.env.KAFKA_BROKERS = ' 127.0.0.1:29092 , 127.0.0.1:29093,';
    process.env.KAFKA_STATE_DIR = '.kafka-elsewhere';
    expect(brokersFromEnv()).toEqual(['127.0.0.1:29092', '127.0.0.1:29093']);
    expect(stateDirFromEnv()).toMatch(/\/\.kafka-elsewhere$/);
    process.env.KAFKA_BROKERS = '';
    expect(brokersFromEnv()).toEqual(['127.0.0.1:9092']);
  });

  it('reads a host and port, and refuses an address without a usable port', () => {
    expect(parseAddress('127.0.0.1:9093')).toEqual({ host: '127.0.0.1', port: 9093 });
    expect(parseAddress('kafka')).toEqual({ host: 'kafka', port: 9092 });
    expect(() => parseAddress('127.0.0.1:http')).toThrow(/cannot read a port from "127.0.0.1:http"/);
  });

  it('writes a node that keeps its data in the state directory it is given, and listens where it is told', () => {
    const layout = brokerLayout('/srv/kafka-a');
    expect(layout).toMatchObject({ dataDir: '/srv/kafka-a/data', pidFile: '/srv/kafka-a/broker.pid', brokerOut: '/srv/kafka-a/logs/broker.out' });
    const properties = serverProperties(layout, '127.0.0.1', 29092).split('\n');
    expect(properties).toEqual(expect.arrayContaining([
      'log.dirs=/srv/kafka-a/data',
      'listeners=PLAINTEXT://127.0.0.1:29092,CONTROLLER://127.0.0.1:29093',
      'controller.quorum.voters=1@127.0.0.1:29093',
      'auto.create.topics.enable=false',
    ]));
  });
});
