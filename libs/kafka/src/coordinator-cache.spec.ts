import { createRequire } from 'node:module';
import { KafkaJSConnectionError, KafkaJSProtocolError } from 'kafkajs';
import { cacheCoordinators, coordinatorMayHaveMoved, type CoordinatorLookup } from './coordinator-cache';

/** kafkajs' error for a code of Kafka's protocol, as a broker's answer gives it. */
const protocolError = (code: number) => new KafkaJSProtocolError(createRequire(__filename)('kafkajs/src/protocol/error.js').createErrorFromCode(code));

/**
 * Stand-ins for kafkajs' Cluster and Connection, each a class of its own per spec (the cache wraps their
 * prototypes): the cluster asks its "broker" for a coordinator, the connection sends what it is told to.
 */
function fakes() {
  const asked: string[] = [];
  let node = 1;
  class Cluster {
    async findGroupCoordinatorMetadata({ groupId, coordinatorType = 0 }: CoordinatorLookup) {
      asked.push(`${coordinatorType}:${groupId}`);
      return { coordinator: { nodeId: node } };
    }

    async findGroupCoordinator(lookup: CoordinatorLookup) {
      const { coordinator } = (await this.findGroupCoordinatorMetadata(lookup)) as { coordinator: { nodeId: number } };
      if (coordinator.nodeId === 99) throw new Error('broker 99 not found');
      return `broker ${coordinator.nodeId}`;
    }
  }
  class Connection {
    refuseConnect?: Error;

    async send(request: unknown) {
      if (request instanceof Error) throw request;
      return request;
    }

    async connect() {
      if (this.refuseConnect) throw this.refuseConnect;
    }
  }
  cacheCoordinators(Cluster, Connection);
  return { Cluster, Connection, asked, moveTo: (to: number) => (node = to) };
}

const TRANSACTION = 1;

describe('coordinators kept until they may have moved (installCoordinatorCache)', () => {
  it('asks once per client and group or transactional id, however many steps follow', async () => {
    const { Cluster, asked } = fakes();
    const producer = new Cluster();
    for (let step = 0; step < 4; step++) {
      await expect(producer.findGroupCoordinator({ groupId: 'order.t.0', coordinatorType: TRANSACTION })).resolves.toBe('broker 1');
      await expect(producer.findGroupCoordinator({ groupId: 'order' })).resolves.toBe('broker 1');
    }
    expect(asked).toEqual(['1:order.t.0', '0:order']);
    // Another client asks for itself (kafkajs gives each its own cluster).
    await new Cluster().findGroupCoordinator({ groupId: 'order' });
    expect(asked).toEqual(['1:order.t.0', '0:order', '0:order']);
  });

  it('asks again once a request is answered "not the coordinator" or a connection fails, and not for other errors', async () => {
    const { Cluster, Connection, asked, moveTo } = fakes();
    const producer = new Cluster();
    const connection = new Connection();
    await producer.findGroupCoordinator({ groupId: 'order' });
    await expect(connection.send(protocolError(1))).rejects.toThrow(); // OFFSET_OUT_OF_RANGE: nothing moved
    await producer.findGroupCoordinator({ groupId: 'order' });
    expect(asked).toHaveLength(1);

    moveTo(2);
    await expect(connection.send(protocolError(16))).rejects.toMatchObject({ type: 'NOT_COORDINATOR_FOR_GROUP' });
    await expect(producer.findGroupCoordinator({ groupId: 'order' })).resolves.toBe('broker 2');
    moveTo(3);
    await expect(connection.send(new KafkaJSConnectionError('Connection error: ECONNREFUSED'))).rejects.toThrow('ECONNREFUSED');
    await expect(producer.findGroupCoordinator({ groupId: 'order' })).resolves.toBe('broker 3');
    expect(asked).toEqual(['0:order', '0:order', '0:order']);
  });

  it('asks again once connecting to a node fails', async () => {
    const { Cluster, Connection, asked } = fakes();
    const producer = new Cluster();
    await producer.findGroupCoordinator({ groupId: 'order' });
    const connection = new Connection();
    connection.refuseConnect = new KafkaJSConnectionError('Connection error: connect ECONNREFUSED 127.0.0.1:9093');
    await expect(connection.connect()).rejects.toThrow('ECONNREFUSED');
    await producer.findGroupCoordinator({ groupId: 'order' });
    expect(asked).toEqual(['0:order', '0:order']);
    await expect(new Connection().connect()).resolves.toBeUndefined();
  });

  it('asks again after finding the coordinator failed (its node not known)', async () => {
    const { Cluster, asked, moveTo } = fakes();
    const producer = new Cluster();
    moveTo(99);
    await expect(producer.findGroupCoordinator({ groupId: 'order' })).rejects.toThrow('broker 99 not found');
    moveTo(4);
    await expect(producer.findGroupCoordinator({ groupId: 'order' })).resolves.toBe('broker 4');
    expect(asked).toEqual(['0:order', '0:order']);
  });

  it('passes answers and errors of requests through as they are', async () => {
    const { Connection } = fakes();
    await expect(new Connection().send('answer')).resolves.toBe('answer');
    const refused = protocolError(10);
    await expect(new Connection().send(refused)).rejects.toBe(refused);
  });

  it('tells which errors say a coordinator may have moved', () => {
    expect(coordinatorMayHaveMoved(protocolError(15))).toBe(true); // GROUP_COORDINATOR_NOT_AVAILABLE
    expect(coordinatorMayHaveMoved(protocolError(16))).toBe(true); // NOT_COORDINATOR_FOR_GROUP
    expect(coordinatorMayHaveMoved(protocolError(51))).toBe(false); // CONCURRENT_TRANSACTIONS
    expect(coordinatorMayHaveMoved(new KafkaJSConnectionError('Connection timeout'))).toBe(true);
    expect(coordinatorMayHaveMoved(undefined)).toBe(false);
    expect(coordinatorMayHaveMoved('NOT_COORDINATOR_FOR_GROUP')).toBe(false);
  });
});
