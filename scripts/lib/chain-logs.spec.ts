import { chainLogPrinter } from './chain-logs';

describe('chainLogPrinter (npm start)', () => {
  const json = JSON.stringify({ level: 'info', time: '2026-11-26T10:00:00.000Z', service: 'order', instance: '2', pid: 7, msg: 'payment p-1 handled', payment_id: 'p-1' });
  const print = (pretty: boolean) => {
    let out = '';
    const sink = chainLogPrinter({ labels: ['payment', 'order-2'], pretty, write: (text) => (out += text) });
    sink('order-2', json);
    sink('order-2', 'Error: boom (a crash printed by node)');
    return out.split('\n').filter(Boolean);
  };

  it('piped: the JSON lines as they are, and other lines wrapped in JSON', () => {
    const lines = print(false);
    expect(lines[0]).toBe(json);
    expect(JSON.parse(lines[1])).toMatchObject({ service: 'order-2', raw: true, msg: 'Error: boom (a crash printed by node)' });
    expect(lines.every((l) => JSON.parse(l))).toBe(true);
  });

  it('on a terminal: readable lines behind the service name', () => {
    const lines = print(true);
    expect(lines[0]).toMatch(/^order-2 \| \[\d\d:\d\d:\d\d\.000\] INFO: payment p-1 handled$/);
    expect(lines[1]).toBe('order-2 |     payment_id: "p-1"');
    expect(lines[2]).toBe('order-2 | Error: boom (a crash printed by node)');
    expect(lines.join('\n')).not.toContain('{"level"');
  });
});
