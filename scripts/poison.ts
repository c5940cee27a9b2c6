import { randomUUID } from 'node:crypto';
import { Command } from 'commander';
import { Partitioners } from 'kafkajs';
import { TOPICS } from '@app/contracts';
import { toolKafka } from './lib/kafka-local';
import { poisonPills } from './lib/poison';
import { readCurl } from './lib/read-token';

/**
 * `npm run poison`: writes the poison-pill set to payment-successful, then one good payment behind it on the
 * same partition. The consumers should dead-letter the pills (see `npm run dlq`) and still make the order.
 */
const program = new Command('poison').option('-u, --user <id>', 'user id (the key: all records land on one partition)', '999').parse();

async function main(): Promise<void> {
  const userId = Number(program.opts<{ user: string }>().user);
  const marker = randomUUID();
  const producer = toolKafka('poison-cli').producer({
    createPartitioner: Partitioners.DefaultPartitioner,
  });
  await producer.connect();
  try {
    const pills = poisonPills(userId, marker);
    const good = { payment_id: `after-poison-${marker}`, user_id: userId, cart: [{ name: 'Dyson V15', price: 649, quantity: 1 }], amount: 649, timestamp: Math.floor(Date.now() / 1000) };
    const [sent] = await producer.send({
      topic: TOPICS.paymentSuccessful,
      messages: [...pills.map(({ value }) => ({ key: String(userId), value })), { key: String(userId), value: JSON.stringify(good) }],
    });
    const first = BigInt(sent.baseOffset ?? '0');
    pills.forEach((pill, i) => console.log(`poison  ${TOPICS.paymentSuccessful}[${sent.partition}]@${first + BigInt(i)}  ${pill.why}`));
    console.log(`good    ${TOPICS.paymentSuccessful}[${sent.partition}]@${first + BigInt(pills.length)}  payment ${good.payment_id}`);
    console.log(`Expect ${pills.length} dead letters per consumer group in dlq-payment (npm run dlq), and an order for user ${userId} (${readCurl(`localhost:8001/orders?user_id=${userId}`)}).`);
  } finally {
    await producer.disconnect();
  }
}

main().catch((error: Error) => {
  console.error(`poison: ${error.message}`);
  process.exit(1);
});
