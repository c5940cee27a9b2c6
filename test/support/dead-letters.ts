import { randomUUID } from 'node:crypto';
import type { DeadLetterRecord } from '@app/contracts';
import type { Consumer } from 'kafkajs';
import { waitFor } from '../../scripts/lib/wait';
import { testKafka } from './kafka';

/** Reads a DLQ topic from its beginning in a group of its own, keeping every letter it sees. */
export class DeadLetterReader {
  readonly letters: DeadLetterRecord[] = [];
  private constructor(private readonly consumer: Consumer) {}

  static async start(topic: string): Promise<DeadLetterReader> {
    const consumer = testKafka().consumer({ groupId: `e2e-dlq-reader-${randomUUID()}`, maxBytesPerPartition: 4 * 1024 * 1024 });
    const reader = new DeadLetterReader(consumer);
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({ eachMessage: async ({ message }) => void reader.letters.push(JSON.parse(String(message.value))) });
    return reader;
  }

  /** Waits until the letters matching `match` number `count`, and returns them. */
  waitFor(match: (letter: DeadLetterRecord) => boolean, count: number, what: string, timeoutMs = 30_000): Promise<DeadLetterRecord[]> {
    return waitFor(() => {
      const found = this.letters.filter(match);
      return found.length >= count ? found : undefined;
    }, { timeoutMs, what });
  }

  stop(): Promise<void> {
    return this.consumer.disconnect();
  }
}
