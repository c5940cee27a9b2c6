import { Command } from 'commander';
import { DLQ_TOPICS, type DeadLetterRecord } from '@app/contracts';
import { toolKafka } from './lib/broker';

/**
 * `npm run dlq`: prints what the dead-letter topics hold, oldest first, without joining any consumer group
 * (reading commits nothing and moves nobody's offsets).
 */
const program = new Command('dlq')
  .option('-t, --topic <topic>', 'one DLQ topic', undefined)
  .option('-n, --last <n>', 'only the last n records of each partition', (v) => Number.parseInt(v, 10), 20)
  .option('--json', 'one JSON record per line')
  .parse();

async function main(): Promise<void> {
  const { topic, last, json } = program.opts<{ topic?: string; last: number; json?: boolean }>();
  const kafka = toolKafka('dlq-cli');
  const admin = kafka.admin();
  await admin.connect();
  const topics = topic ? [topic] : Object.values(DLQ_TOPICS);
  const ranges = new Map<string, { from: bigint; to: bigint }>();
  for (const name of topics) {
    for (const p of await admin.fetchTopicOffsets(name)) {
      const to = BigInt(p.high);
      const from = to - BigInt(last) > BigInt(p.low) ? to - BigInt(last) : BigInt(p.low);
      if (to > from) ranges.set(`${name}:${p.partition}`, { from, to });
    }
  }
  await admin.disconnect();
  if (ranges.size === 0) {
    console.log(`no dead letters in ${topics.join(', ')}`);
    return;
  }
  const groupId = `dlq-cli-${process.pid}`;
  const consumer = kafka.consumer({ groupId });
  await consumer.connect();
  await consumer.subscribe({ topics: [...new Set([...ranges.keys()].map((k) => k.split(':')[0]))] });
  let remaining = ranges.size;
  await new Promise<void>((resolve) => {
    void consumer.run({
      autoCommit: false,
      eachMessage: async ({ topic: name, partition, message }) => {
        const range = ranges.get(`${name}:${partition}`);
        if (!range) return;
        const record = JSON.parse(String(message.value)) as DeadLetterRecord;
        if (json) console.log(JSON.stringify({ dlq_topic: name, dlq_offset: message.offset, ...record }));
        else {
          const kind = [record.retriable ? 'retriable' : 'bad record', record.original_encoding === 'base64' ? 'base64' : '', record.truncated ? 'truncated' : '']
            .filter(Boolean)
            .join(', ');
          console.log(
            `${name}@${message.offset}  from ${record.topic}[${record.partition}]@${record.offset} by ${record.group} #${record.instance_id} at ${record.timestamp} (${kind})\n` +
              `    error:    ${record.error}\n    original: ${record.original_message}`,
          );
        }
        if (BigInt(message.offset) + 1n >= range.to && --remaining === 0) resolve();
      },
    });
    for (const [key, range] of ranges) {
      const [name, partition] = key.split(':');
      consumer.seek({ topic: name, partition: Number(partition), offset: String(range.from) });
    }
  });
  await consumer.disconnect();
  // The reader's group holds no offsets; remove it so it does not show up in lag reports or Kafka UI.
  const cleanup = kafka.admin();
  await cleanup.connect();
  await cleanup.deleteGroups([groupId]).catch(() => undefined);
  await cleanup.disconnect();
}

main().catch((error: Error) => {
  console.error(`dlq: ${error.message}`);
  process.exit(1);
});
