import { formatTraceLine, traceLines } from './trace';

const line = (time: string, service: string, msg: string, fields: Record<string, unknown> = {}) =>
  JSON.stringify({ level: 'info', time: `2026-11-26T10:00:${time}Z`, service, instance: '1', msg, ...fields });

describe('traceLines (npm run trace)', () => {
  const logs = [
    line('01.000', 'payment', 'request completed', { request_id: 'req-1', res: { status: 200 } }),
    line('00.900', 'payment', 'payment p-1 accepted', { request_id: 'req-1', payment_id: 'p-1' }),
    line('01.200', 'order', '[Instance #1] [Partition 0] [Offset 5] User 42', { request_id: 'req-1', payment_id: 'p-1', topic: 'payment-successful', partition: 0, offset: '5' }),
    line('01.500', 'email', 'confirmation of order o-1 sent', { order_id: 'o-1', payment_id: 'p-1', email_id: 'e-1' }),
    line('01.600', 'analytics', 'counted email e-1', { email_id: 'e-1', order_id: 'o-1' }),
    // Another payment, of the same user: not on the path.
    line('01.300', 'order', '[Instance #1] [Partition 0] [Offset 6] User 42', { request_id: 'req-2', payment_id: 'p-2', user_id: 42 }),
    'not a log line',
  ].join('\n');

  it("follows a request id to the payment, its order and its email, in time order, and nothing else", () => {
    const trace = traceLines(logs, 'req-1');
    expect(trace.lines.map((l) => `${l.service} ${l.msg}`)).toEqual([
      'payment payment p-1 accepted',
      'payment request completed',
      'order [Instance #1] [Partition 0] [Offset 5] User 42',
      'email confirmation of order o-1 sent',
      'analytics counted email e-1',
    ]);
    expect(trace.ids.sort()).toEqual(['e-1', 'o-1', 'p-1', 'req-1']);
    expect(trace.skipped).toBe(1);
  });

  it('finds the same path from the payment id or the email id', () => {
    expect(traceLines(logs, 'p-1').lines).toHaveLength(5);
    expect(traceLines(logs, 'e-1').lines).toHaveLength(5);
    expect(traceLines(logs, 'nothing').lines).toEqual([]);
  });

  it('prints a line with its time, service, level, message and record', () => {
    const [, , order] = traceLines(logs, 'req-1').lines;
    expect(formatTraceLine(order)).toBe('10:00:01.200  order-1   info  [Instance #1] [Partition 0] [Offset 5] User 42  (payment-successful[0]@5)');
  });
});
