export * from './config/environment';
export * from './config/config.module';
export * from './database/database';
export * from './database/database.module';
export * from './database/postgres-help';
export * from './observability/metrics';
export * from './http/validation';
export * from './http/pagination';
