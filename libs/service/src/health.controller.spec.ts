import { ServiceUnavailableException } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { TerminusModule } from '@nestjs/terminus';
import { KafkaHealthIndicator } from '@app/kafka';
import { Database, Secrets } from '@app/platform';
import { HealthController } from './health.controller';

const PASSWORD = 's3cr3t-health';
const DATABASE_URL = `postgres://shop:${PASSWORD}@db.example:5432/blackfriday`;

/** /health with the database failing with an error that quotes its URL, as a driver might. */
async function healthWithFailingDatabase() {
  const module = await Test.createTestingModule({
    imports: [TerminusModule.forRoot({ logger: false })],
    controllers: [HealthController],
    providers: [
      { provide: Secrets, useValue: Secrets.of({ DATABASE_URL }) },
      { provide: KafkaHealthIndicator, useValue: { check: async () => ({ kafka: { status: 'up', brokers: 1 } }) } },
      { provide: Database, useValue: { schema: 'order', ping: () => Promise.reject(new Error(`cannot reach ${DATABASE_URL}`)) } },
    ],
  }).compile();
  return module.get(HealthController);
}

describe('HealthController', () => {
  it('answers 503 naming the database error, with the password blanked', async () => {
    const error = await (await healthWithFailingDatabase()).check().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ServiceUnavailableException);
    const body = JSON.stringify((error as ServiceUnavailableException).getResponse());
    expect(body).toContain('cannot reach postgres://shop:***@db.example:5432/blackfriday');
    expect(body).not.toContain(PASSWORD);
  });
});
