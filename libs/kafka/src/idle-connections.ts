import { createRequire } from 'node:module';

/**
 * kafkajs 2.2.4 (no longer maintained) never lets a connection it has used go quiet. After every answer its
 * request queue schedules a check of the requests waiting to be sent. With none waiting and no throttle from the
 * broker, the delay it computes is negative, so Node runs the check after 1 ms, the check schedules the next one,
 * and so on for as long as the connection lives (kafkajs issues #1556, #1604 and #1704; the fixes proposed there
 * were never released).
 *
 * Every service then woke about 900 times a second with nothing to do, about 3 % of a core each on the
 * benchmark's machine: idle, the chain's seven processes used a third to over half of a core.
 *
 * The fix keeps the queue's own logic and skips only the check that has nothing to look at: a queue with no
 * request pending schedules none. A request pushed later is sent at once or schedules its own check, as before,
 * so a throttled queue still sends what it holds once the throttle ends.
 */
interface RequestQueue {
  pending: unknown[];
  scheduleCheckPendingRequests(): void;
}

let installed = false;

/** Patches kafkajs' request queue; a no-op after the first call. kafkaClientConfig installs it. */
export function installIdleConnectionFix(): void {
  if (installed) return;
  // Node's own require (in a webpack bundle, `require` is webpack's), where kafkajs loads its modules.
  const nodeRequire = createRequire(__filename);
  const RequestQueueClass = nodeRequire('kafkajs/src/network/requestQueue/index.js') as { prototype: RequestQueue };
  const schedule = RequestQueueClass.prototype.scheduleCheckPendingRequests;
  RequestQueueClass.prototype.scheduleCheckPendingRequests = function (this: RequestQueue) {
    if (this.pending.length === 0) return;
    schedule.call(this);
  };
  installed = true;
}
