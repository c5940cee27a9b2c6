import { Global, Module, type DynamicModule } from '@nestjs/common';
import { Environment, ServiceIdentity } from './environment';
import { Secrets } from './secrets';

/** Makes the environment validated at boot, its secrets and the service's identity injectable everywhere in a service. */
@Global()
@Module({})
export class EnvironmentModule {
  static register(env: Environment, identity: ServiceIdentity): DynamicModule {
    return {
      module: EnvironmentModule,
      providers: [
        { provide: Environment, useValue: env },
        { provide: ServiceIdentity, useValue: identity },
        { provide: Secrets, useValue: Secrets.of(env) },
      ],
      exports: [Environment, ServiceIdentity, Secrets],
    };
  }
}
