/**
 * A local Kafka broker run from Maven Central's jars, and the tools' client to it. One file per concern:
 * settings (what the environment says, read when asked), client (the tools' kafkajs client, the probe),
 * classpath (the jars), config-files (server.properties, log4j), layout (the state directory's files),
 * processes (pids), lifecycle (start, stop, purge).
 */
export { brokerAnswers, toolKafka } from './client';
export { localBrokerPid, purgeLocalBroker, startLocalBroker, stopLocalBroker, type LocalBrokerOptions } from './lifecycle';
export { brokersFromEnv, SHORT_LIVED_BROKER_JVM_OPTIONS, stateDirFromEnv } from './settings';
