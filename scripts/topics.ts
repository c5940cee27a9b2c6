import { Command } from 'commander';
import { describeTopicReport, ensureTopics, topicPlan } from '@app/kafka';
import { toolKafka } from './lib/kafka-local';

/**
 * `npm run topics`: creates the chain's topics, reports each with its partitions, and with
 * `--partitions N` grows short topics to N (partitions can only be added; keys may then move).
 */
const program = new Command('topics')
  .option('-p, --partitions <n>', 'partitions of the event topics', (v) => Number.parseInt(v, 10), Number(process.env.TOPIC_PARTITIONS || 3))
  .option('--grow', 'add partitions to event topics that have fewer than --partitions')
  .parse();

async function main(): Promise<void> {
  const { partitions, grow } = program.opts<{ partitions: number; grow?: boolean }>();
  const admin = toolKafka('topics-cli').admin();
  await admin.connect();
  try {
    let report = await ensureTopics(admin, partitions);
    if (grow && report.short.length > 0) {
      await admin.createPartitions({ topicPartitions: report.short.map((s) => ({ topic: s.topic, count: s.wanted })) });
      report = await ensureTopics(admin, partitions);
    }
    const { topics } = await admin.fetchTopicMetadata({ topics: topicPlan(partitions).map((t) => t.topic) });
    for (const topic of topics) {
      const created = report.created.includes(topic.name) ? ' (created)' : '';
      const copies = Math.min(...topic.partitions.map((p) => p.replicas.length));
      console.log(`${topic.name.padEnd(20)} ${topic.partitions.length} partition(s), ${copies} replica(s) each${created}`);
    }
    for (const warning of describeTopicReport(report)) console.warn(warning);
  } finally {
    await admin.disconnect();
  }
}

main().catch((error: Error) => {
  console.error(`topics: ${error.message}`);
  process.exit(1);
});
