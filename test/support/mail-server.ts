import type { AddressInfo } from 'node:net';
import { SMTPServer, type SMTPServerDataStream, type SMTPServerSession } from 'smtp-server';

/** A message the server accepted (answered 250 to its data). */
export interface AcceptedMail {
  messageId: string;
  to: string[];
  subject: string;
  acceptedAt: number;
}

/** What the server does to mail for one recipient; anything not listed is accepted. */
export type Fault =
  /** 550 to RCPT TO, every time: the address does not exist. */
  | { kind: 'refuse-recipient' }
  /** 451 to RCPT TO, the first `times` attempts: greylisting, a full queue. */
  | { kind: 'defer'; times: number }
  /** Reads the message, then closes the connection without answering, the first `times` attempts. */
  | { kind: 'drop'; times: number }
  /** Reads the message and never answers it. */
  | { kind: 'hang' };

export const MAIL_USER = 'shop';
export const MAIL_PASSWORD = 'mail-server-secret';

/**
 * A real SMTP server (nodemailer's smtp-server) in the test process, requiring a login, that records every
 * message it accepts and plays the faults it is told to, per recipient.
 */
export class TestMailServer {
  readonly accepted: AcceptedMail[] = [];
  /** Messages read but never answered (dropped or hung), by recipient. */
  readonly unanswered: string[] = [];
  /** RCPT TO attempts, by recipient. */
  readonly attempts = new Map<string, number>();
  readonly faults = new Map<string, Fault>();
  logins = { accepted: 0, refused: 0 };
  /** Logins still to refuse with 535. */
  refuseLogins = 0;
  private readonly server: SMTPServer;

  private constructor() {
    this.server = new SMTPServer({
      disabledCommands: ['STARTTLS'],
      allowInsecureAuth: true,
      disableReverseLookup: true,
      logger: false,
      closeTimeout: 1000,
      onAuth: (auth, _session, callback) => {
        if (this.refuseLogins > 0 || auth.username !== MAIL_USER || auth.password !== MAIL_PASSWORD) {
          this.refuseLogins = Math.max(0, this.refuseLogins - 1);
          this.logins.refused += 1;
          return callback(Object.assign(new Error('Authentication credentials invalid'), { responseCode: 535 }));
        }
        this.logins.accepted += 1;
        callback(null, { user: auth.username });
      },
      onRcptTo: ({ address }, _session, callback) => {
        const attempt = (this.attempts.get(address) ?? 0) + 1;
        this.attempts.set(address, attempt);
        const fault = this.faults.get(address);
        if (fault?.kind === 'refuse-recipient') return callback(Object.assign(new Error(`${address}: no such user`), { responseCode: 550 }));
        if (fault?.kind === 'defer' && attempt <= fault.times) return callback(Object.assign(new Error('Greylisted, try again later'), { responseCode: 451 }));
        callback();
      },
      onData: (stream, session, callback) => void this.receive(stream, session, callback),
    });
    // A client killed mid-message resets its connection: that message was never accepted, and that is all.
    this.server.on('error', () => undefined);
  }

  static async start(): Promise<TestMailServer> {
    const mail = new TestMailServer();
    await new Promise<void>((resolve) => mail.server.listen(0, '127.0.0.1', resolve));
    return mail;
  }

  /** `smtp://` URL with the login the server accepts. */
  get url(): string {
    return `smtp://${MAIL_USER}:${MAIL_PASSWORD}@127.0.0.1:${(this.server.server.address() as AddressInfo).port}`;
  }

  /** Messages accepted with this Message-ID. */
  acceptedWithId(messageId: string): AcceptedMail[] {
    return this.accepted.filter((m) => m.messageId === messageId);
  }

  acceptedFor(address: string): AcceptedMail[] {
    return this.accepted.filter((m) => m.to.includes(address));
  }

  /** Ends every open client connection, so the next message needs a new one (and a new login). */
  dropConnections(): number {
    const open = [...this.server.connections];
    for (const connection of open) connection.close();
    return open.length;
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.server.close(resolve));
  }

  private async receive(stream: SMTPServerDataStream, session: SMTPServerSession, answer: (error?: Error | null) => void): Promise<void> {
    const chunks: Buffer[] = [];
    try {
      for await (const chunk of stream) chunks.push(chunk as Buffer);
    } catch {
      return; // the connection ended before the message did
    }
    const to = session.envelope.rcptTo.map((r) => r.address);
    const fault = to.map((address) => this.faults.get(address)).find((f) => f?.kind === 'drop' || f?.kind === 'hang');
    const attempt = Math.max(...to.map((address) => this.attempts.get(address) ?? 0));
    if (fault?.kind === 'hang' || (fault?.kind === 'drop' && attempt <= fault.times)) {
      this.unanswered.push(...to);
      if (fault.kind === 'drop') [...this.server.connections].find((c) => c.session.id === session.id)?.close();
      return;
    }
    const headers = Buffer.concat(chunks).toString('utf8').split('\r\n\r\n')[0].replace(/\r\n[ \t]+/g, ' ');
    const header = (name: string) => new RegExp(`^${name}: (.*)$`, 'im').exec(headers)?.[1].trim() ?? '';
    this.accepted.push({ messageId: header('Message-ID'), to, subject: header('Subject'), acceptedAt: Date.now() });
    answer();
  }
}
