import type { BrokerLayout } from './layout';

/** One KRaft node: broker and controller in one process. */
export interface KafkaNode {
  id: number;
  host: string;
  /** Where clients connect. */
  port: number;
  /** Where the controllers talk to each other. */
  controllerPort: number;
}

/**
 * A node's server.properties. With several voters, every replicated setting asks for three copies and two in
 * sync (`min.insync.replicas=2`), internal topics included: with acks=all, nothing is acknowledged that is not on
 * two nodes. One node keeps one copy of everything.
 */
export function serverProperties(layout: BrokerLayout, node: KafkaNode, voters: KafkaNode[] = [node]): string {
  const replicas = Math.min(3, voters.length);
  const inSync = replicas > 1 ? 2 : 1;
  return [
    '# Written by scripts/lib/kafka-local on every start: edit the script, not this file.',
    'process.roles=broker,controller',
    `node.id=${node.id}`,
    // Static voters rather than controller.quorum.bootstrap.servers + format --standalone: the quorum is
    // then described by this file alone, so a changed port in KAFKA_BROKERS needs no reformat (a dynamic
    // quorum records the controller endpoint in the formatted metadata log). Both work on 4.1.2.
    `controller.quorum.voters=${voters.map((v) => `${v.id}@${v.host}:${v.controllerPort}`).join(',')}`,
    `listeners=PLAINTEXT://${node.host}:${node.port},CONTROLLER://${node.host}:${node.controllerPort}`,
    `advertised.listeners=PLAINTEXT://${node.host}:${node.port}`,
    'controller.listener.names=CONTROLLER',
    'inter.broker.listener.name=PLAINTEXT',
    'listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT',
    `log.dirs=${layout.dataDir}`,
    'num.partitions=3',
    `default.replication.factor=${replicas}`,
    `min.insync.replicas=${inSync}`,
    `offsets.topic.replication.factor=${replicas}`,
    `transaction.state.log.replication.factor=${replicas}`,
    `transaction.state.log.min.isr=${inSync}`,
    `share.coordinator.state.topic.replication.factor=${replicas}`,
    `share.coordinator.state.topic.min.isr=${inSync}`,
    // Three nodes on one machine each hold a copy of every internal partition: twelve apiece instead of fifty
    // keep a node's start (after a SIGKILL, a recovery of every log) and its catching up short. Once the topics
    // exist the broker goes by their real partition count, so a cluster formatted with fifty keeps working.
    ...(voters.length > 1 ? ['offsets.topic.num.partitions=12', 'transaction.state.log.num.partitions=12'] : []),
    'group.initial.rebalance.delay.ms=0',
    // Topics are created by scripts/topics.ts with explicit partitions; a typo must not create one.
    'auto.create.topics.enable=false',
    '',
  ].join('\n');
}

// INFO goes to a rolling file, WARN+ to stdout (broker.out), so the console stays quiet but useful.
export const LOG4J2_XML = `<?xml version="1.0" encoding="UTF-8"?>
<Configuration status="WARN">
  <Appenders>
    <Console name="Stdout" target="SYSTEM_OUT">
      <ThresholdFilter level="WARN"/>
      <PatternLayout pattern="[%d] %p %m (%c)%n"/>
    </Console>
    <RollingFile name="Server" fileName="\${sys:kafka.logs.dir}/server.log"
                 filePattern="\${sys:kafka.logs.dir}/server.log.%i">
      <PatternLayout pattern="[%d] %p %m (%c)%n"/>
      <SizeBasedTriggeringPolicy size="50 MB"/>
      <DefaultRolloverStrategy max="3"/>
    </RollingFile>
  </Appenders>
  <Loggers>
    <Root level="INFO">
      <AppenderRef ref="Stdout"/>
      <AppenderRef ref="Server"/>
    </Root>
  </Loggers>
</Configuration>
`;
