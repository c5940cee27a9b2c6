import { Global, Module, type DynamicModule } from '@nestjs/common';
import { Environment } from '../config/environment';
import { Database } from './database';

@Global()
@Module({})
export class DatabaseModule {
  static forService(options: { schema: string; migrationsDir: string }): DynamicModule {
    return {
      module: DatabaseModule,
      providers: [
        {
          provide: Database,
          inject: [Environment],
          useFactory: (env: Environment) => Database.open({ url: env.DATABASE_URL, statementTimeoutMs: env.DATABASE_STATEMENT_TIMEOUT_MS, ...options }),
        },
      ],
      exports: [Database],
    };
  }
}
