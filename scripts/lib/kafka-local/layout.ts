import * as path from 'node:path';

/** Where a local broker keeps its data, logs, pid and generated configuration: all under one state directory. */
export interface BrokerLayout {
  stateDir: string;
  dataDir: string;
  logsDir: string;
  pidFile: string;
  serverProperties: string;
  log4jConfig: string;
  brokerOut: string;
  serverLog: string;
}

export function brokerLayout(stateDir: string): BrokerLayout {
  const logsDir = path.join(stateDir, 'logs');
  return {
    stateDir,
    dataDir: path.join(stateDir, 'data'),
    logsDir,
    pidFile: path.join(stateDir, 'broker.pid'),
    serverProperties: path.join(stateDir, 'server.properties'),
    log4jConfig: path.join(stateDir, 'log4j2.xml'),
    brokerOut: path.join(logsDir, 'broker.out'),
    serverLog: path.join(logsDir, 'server.log'),
  };
}
