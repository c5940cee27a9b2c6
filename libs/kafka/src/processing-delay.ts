import type { KafkaContext } from '@nestjs/microservices';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Waits `ms` like a slow step would, heartbeating at least every second: kafkajs heartbeats only between
 * messages, so a handler slower than the session timeout would otherwise be thrown out of its group.
 */
export async function simulateSlowStep(ms: number, ctx: KafkaContext): Promise<void> {
  const heartbeat = ctx.getHeartbeat();
  for (let left = ms; left > 0; left -= 1000) {
    await sleep(Math.min(left, 1000));
    await heartbeat();
  }
}
