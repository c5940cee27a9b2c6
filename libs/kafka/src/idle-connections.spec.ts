import { createRequire } from 'node:module';
import { installIdleConnectionFix } from './idle-connections';

/**
 * kafkajs' own request queue, through `createRequire` as the fix reaches it: under jest both go through the test
 * file's module registry, so they see the same class, and the fake timers reach it.
 */
interface Queue {
  push(request: { entry: { correlationId: number; apiName: string; resolve: () => void; reject: () => void }; expectResponse: boolean; sendRequest: () => void }): void;
  fulfillRequest(response: { correlationId: number; payload: Buffer; size: number }): void;
  maybeThrottle(ms: number): void;
  checkPendingRequests(): void;
  destroy(): void;
}
const RequestQueue = createRequire(__filename)('kafkajs/src/network/requestQueue/index.js') as new (options: object) => Queue;
const quiet = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };

function newQueue(): { queue: Queue; sent: number[]; checks: () => number } {
  const queue = new RequestQueue({ maxInFlightRequests: 1, requestTimeout: 30_000, enforceRequestTimeout: false, clientId: 'spec', broker: 'spec:9092', logger: quiet });
  let checks = 0;
  const check = queue.checkPendingRequests.bind(queue);
  queue.checkPendingRequests = () => {
    checks++;
    check();
  };
  const sent: number[] = [];
  return { queue, sent, checks: () => checks };
}

function request(sent: number[], correlationId: number) {
  return { entry: { correlationId, apiName: 'Fetch', resolve: () => undefined, reject: () => undefined }, expectResponse: true, sendRequest: () => void sent.push(correlationId) };
}

const answer = (correlationId: number) => ({ correlationId, payload: Buffer.alloc(0), size: 0 });

describe('kafkajs connections left idle (installIdleConnectionFix)', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  it('kafkajs alone checks an empty queue every millisecond for as long as the connection lives', () => {
    // The fault the fix is for, seen on the same code: if kafkajs ever fixes it, this fails and the fix can go.
    const { queue, sent, checks } = newQueue();
    queue.push(request(sent, 1));
    queue.fulfillRequest(answer(1));
    const before = checks();
    jest.advanceTimersByTime(100);
    expect(sent).toEqual([1]);
    expect(checks() - before).toBeGreaterThanOrEqual(50);
    queue.destroy();
  });

  describe('with the fix', () => {
    beforeAll(() => installIdleConnectionFix());

    it('an answered request leaves no timer behind', () => {
      const { queue, sent, checks } = newQueue();
      queue.push(request(sent, 1));
      queue.fulfillRequest(answer(1));
      const before = checks();
      jest.advanceTimersByTime(1000);
      expect({ sent, checks: checks() - before, timers: jest.getTimerCount() }).toEqual({ sent: [1], checks: 0, timers: 0 });
    });

    it('a request waiting behind one in flight is sent once that one is answered', () => {
      const { queue, sent } = newQueue();
      queue.push(request(sent, 1));
      queue.push(request(sent, 2));
      expect(sent).toEqual([1]);
      queue.fulfillRequest(answer(1));
      expect(sent).toEqual([1, 2]);
      queue.fulfillRequest(answer(2));
      jest.advanceTimersByTime(1000);
      expect({ sent, timers: jest.getTimerCount() }).toEqual({ sent: [1, 2], timers: 0 });
    });

    it('a request held back by the broker throttling the client is sent when the throttle ends', () => {
      const { queue, sent } = newQueue();
      queue.maybeThrottle(50);
      queue.push(request(sent, 1));
      jest.advanceTimersByTime(40);
      expect(sent).toEqual([]);
      jest.advanceTimersByTime(20);
      expect(sent).toEqual([1]);
      queue.fulfillRequest(answer(1));
      jest.advanceTimersByTime(1000);
      expect(jest.getTimerCount()).toBe(0);
    });
  });
});
