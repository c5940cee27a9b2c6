import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';
import { RecordFault } from '@app/contracts';
import { loadEnvironment } from '@app/platform';
import { Mailer, RecipientRefused } from './mailer';

const ORDER_ID = '7c9e6679-7425-40de-944b-e07fc1f90ae7';
const message = { orderId: ORDER_ID, to: 'user7@example.com', subject: 'Your order', text: 'Thank you.' };

/** A server answering MAIL FROM and RCPT TO with the given replies (null: accepted). */
async function refusingServer(replies: { sender?: [number, string]; recipient?: [number, string] }): Promise<SMTPServer> {
  const refuse = (reply: [number, string] | undefined, callback: (error?: Error | null) => void) =>
    callback(reply ? Object.assign(new Error(reply[1]), { responseCode: reply[0] }) : null);
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    disableReverseLookup: true,
    logger: false,
    onMailFrom: (_address, _session, callback) => refuse(replies.sender, callback),
    onRcptTo: (_address, _session, callback) => refuse(replies.recipient, callback),
    onData: (stream, _session, callback) => stream.on('end', () => callback()).resume(),
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server;
}

async function sendThrough(server: SMTPServer): Promise<unknown> {
  const port = (server.server.address() as AddressInfo).port;
  const mailer = new Mailer(loadEnvironment({ PORT: '1', SMTP_URL: `smtp://127.0.0.1:${port}` }));
  try {
    return await mailer.send(message);
  } catch (error) {
    return error;
  } finally {
    mailer.onApplicationShutdown();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

describe('Mailer', () => {
  it('names the message after the order, at every attempt', async () => {
    const mailer = new Mailer(loadEnvironment({ PORT: '1' }));
    const receipts = [await mailer.send(message), await mailer.send(message)];
    expect(receipts.map((r) => r.messageId)).toEqual([`<order-${ORDER_ID}@shop.example>`, `<order-${ORDER_ID}@shop.example>`]);
    expect(receipts[0].output).toContain(`order-${ORDER_ID}@shop.example`);
  });

  it('takes a permanent refusal of the recipient (5xx to RCPT TO) as the record at fault', async () => {
    const error = await sendThrough(await refusingServer({ recipient: [550, 'no such user'] }));
    expect(error).toBeInstanceOf(RecipientRefused);
    expect((error as Error).message).toMatch(/^the mail server refused user7@example\.com: .*550 no such user/);
  });

  it.each([
    ['a deferred recipient (451)', { recipient: [451, 'greylisted'] as [number, string] }],
    ['a refused sender (550 to MAIL FROM): the shop is misconfigured, not the order', { sender: [550, 'sender not allowed'] as [number, string] }],
  ])('leaves %s to be retried', async (_case, replies) => {
    const error = await sendThrough(await refusingServer(replies));
    expect(error).toBeInstanceOf(Error);
    expect(error).not.toBeInstanceOf(RecordFault);
  });
});
