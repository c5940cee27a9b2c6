import type { BrokerLayout } from './layout';

/** The broker's server.properties: one KRaft node, broker and controller, listening where KAFKA_BROKERS says. */
export function serverProperties(layout: BrokerLayout, host: string, port: number): string {
  const controllerPort = port + 1;
  return [
    '# Written by scripts/lib/kafka-local on every start: edit the script, not this file.',
    'process.roles=broker,controller',
    'node.id=1',
    // Static voters rather than controller.quorum.bootstrap.servers + format --standalone: the quorum is
    // then described by this file alone, so a changed port in KAFKA_BROKERS needs no reformat (a dynamic
    // quorum records the controller endpoint in the formatted metadata log). Both work on 4.1.2.
    `controller.quorum.voters=1@${host}:${controllerPort}`,
    `listeners=PLAINTEXT://${host}:${port},CONTROLLER://${host}:${controllerPort}`,
    `advertised.listeners=PLAINTEXT://${host}:${port}`,
    'controller.listener.names=CONTROLLER',
    'inter.broker.listener.name=PLAINTEXT',
    'listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT',
    `log.dirs=${layout.dataDir}`,
    'num.partitions=3',
    'offsets.topic.replication.factor=1',
    'transaction.state.log.replication.factor=1',
    'transaction.state.log.min.isr=1',
    'share.coordinator.state.topic.replication.factor=1',
    'share.coordinator.state.topic.min.isr=1',
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
