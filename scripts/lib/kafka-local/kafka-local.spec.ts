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
    const properties = serverProperties(layout, { id: 1, host: '127.0.0.1', port: 29092, controllerPort: 29093 }).split('\n');
    expect(properties).toEqual(expect.arrayContaining([
      'log.dirs=/srv/kafka-a/data',
      'listeners=PLAINTEXT://127.0.0.1:29092,CONTROLLER://127.0.0.1:29093',
      'controller.quorum.voters=1@127.0.0.1:29093',
      'auto.create.topics.enable=false',
    ]));
  });

  it('writes three nodes that vote together and keep three copies, two in sync, internal topics included', () => {
    const voters = [1, 2, 3].map((id) => ({ id, host: '127.0.0.1', port: 9091 + id, controllerPort: 9191 + id }));
    const properties = serverProperties(brokerLayout('/srv/node-2'), voters[1], voters).split('\n');
    expect(properties).toEqual(expect.arrayContaining([
      'node.id=2',
      'controller.quorum.voters=1@127.0.0.1:9192,2@127.0.0.1:9193,3@127.0.0.1:9194',
      'listeners=PLAINTEXT://127.0.0.1:9093,CONTROLLER://127.0.0.1:9193',
      'default.replication.factor=3',
      'min.insync.replicas=2',
      'offsets.topic.replication.factor=3',
      'transaction.state.log.replication.factor=3',
      'transaction.state.log.min.isr=2',
      'offsets.topic.num.partitions=12',
      'transaction.state.log.num.partitions=12',
    ]));
    // One node keeps one copy: Kafka's defaults, which a single broker can meet.
    const single = serverProperties(brokerLayout('/srv/one'), voters[0]).split('\n');
    expect(single).toEqual(expect.arrayContaining(['default.replication.factor=1', 'min.insync.replicas=1', 'transaction.state.log.min.isr=1']));
    expect(single.filter((line) => line.includes('num.partitions=12'))).toEqual([]);
  });
});
