import { ServiceUnavailableException } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { HealthIndicatorService, TerminusModule } from '@nestjs/terminus';
import { CONSUMER_SILENCE_LIMIT_MS, ConsumerState, KafkaHealthIndicator, RecordRetries } from '@app/kafka';
import { Database, Secrets } from '@app/platform';
import { HealthController } from './health.controller';

const PASSWORD = 's3cr3t-health';
const DATABASE_URL = `postgres://shop:${PASSWORD}@db.example:5432/blackfriday`;

/** The controller over a consumer state of the test's, a broker that answers, and a database that fails or not. */
async function health(state: ConsumerState, database: 'up' | 'down' = 'up') {
  const ping = database === 'up' ? () => Promise.resolve() : () => Promise.reject(new Error(`cannot reach ${DATABASE_URL}`));
  const module = await Test.createTestingModule({
    imports: [TerminusModule.forRoot({ logger: false })],
    controllers: [HealthController],
    providers: [
      { provide: Secrets, useValue: Secrets.of({ DATABASE_URL }) },
      { provide: ConsumerState, useValue: state },
      {
        provide: KafkaHealthIndicator,
        inject: [HealthIndicatorService, ConsumerState],
        useFactory: (indicators: HealthIndicatorService, consumer: ConsumerState) =>
          new KafkaHealthIndicator(indicators, { ping: async () => ({ brokers: 1 }) } as never, consumer),
      },
      { provide: Database, useValue: { schema: 'order', ping } },
    ],
  }).compile();
  return module.get(HealthController);
}

function consumer(status: ConsumerState['status']): ConsumerState {
  const state = new ConsumerState(new RecordRetries({ initialMs: 100, maxMs: 1000, boundMs: 60_000 }));
  state.status = status;
  return state;
}

const failure = (work: Promise<unknown>) => work.then(() => undefined, (e: unknown) => e as ServiceUnavailableException);

describe('HealthController', () => {
  it('answers 503 naming the database error, with the password blanked', async () => {
    const error = await failure((await health(consumer('joined'), 'down')).check());
    expect(error).toBeInstanceOf(ServiceUnavailableException);
    const body = JSON.stringify(error!.getResponse());
    expect(body).toContain('cannot reach postgres://shop:***@db.example:5432/blackfriday');
    expect(body).not.toContain(PASSWORD);
  });

  it('is live but not ready while the database or the broker is away: an outage is waited out, not restarted', async () => {
    const crashed = consumer('crashed');
    const controller = await health(crashed, 'down');
    expect(await controller.live()).toMatchObject({ status: 'ok', info: { process: { status: 'up' }, consumer: { status: 'up', consumer: 'crashed' } } });
    const notReady = await failure(controller.ready());
    expect(notReady!.getResponse()).toMatchObject({ status: 'error', error: { kafka: { status: 'down' }, database: { status: 'down' } } });
  });

  it('is ready once the consumer has joined, and /health shows both sides', async () => {
    const controller = await health(consumer('joined'));
    expect(await controller.ready()).toMatchObject({ status: 'ok', info: { kafka: { status: 'up', consumer: 'joined' }, database: { status: 'up' } } });
    expect(Object.keys((await controller.check()).info ?? {}).sort()).toEqual(['consumer', 'database', 'kafka', 'process']);
  });

  it('fails liveness for a consumer silent past the limit, and not before', async () => {
    const state = consumer('joined');
    state.sign(Date.now() - CONSUMER_SILENCE_LIMIT_MS + 5000);
    const controller = await health(state);
    expect((await controller.live()).status).toBe('ok');
    state.sign(Date.now() - CONSUMER_SILENCE_LIMIT_MS - 1000);
    const dead = await failure(controller.live());
    expect(dead!.getResponse()).toMatchObject({ error: { consumer: { status: 'down', consumer: 'joined', silent_for_s: 61 } } });
    // Closing on purpose is not a death.
    state.closing = true;
    expect((await controller.live()).status).toBe('ok');
  });
});
