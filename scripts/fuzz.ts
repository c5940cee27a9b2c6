import { randomInt } from 'node:crypto';
import { Command } from 'commander';
import { positiveInt } from './lib/cli-args';
import { runCampaign, summarise } from './lib/fuzz-campaign';
import { toolKafka } from './lib/kafka-local';
import { databaseUrlFromEnv, queryDatabase } from './lib/postgres';

/**
 * `npm run fuzz`: a campaign of generated hostile records (scripts/lib/hostile-records.ts) into the consumed
 * topics of a running chain (`npm start`), each followed by a good record of its key. Every hostile record must
 * be dead-lettered once per group, as its own fault, and the good one behind it handled. A new seed each run;
 * `--seed` replays one. Exits 1, printing the seed and the failed records, if any record fared otherwise.
 */
const program = new Command('fuzz')
  .option('--seed <n>', 'the seed to replay (default: a new one)', positiveInt)
  .option('--runs <n>', 'generated records per consumed topic', positiveInt, 200)
  .option('--timeout <s>', 'how long the chain has to handle the campaign, in seconds', positiveInt, 300)
  .parse();

async function main(): Promise<number> {
  const opts = program.opts<{ seed?: number; runs: number; timeout: number }>();
  const seed = opts.seed ?? randomInt(1, 2 ** 31 - 1);
  const databaseUrl = databaseUrlFromEnv();
  const kafka = toolKafka('fuzz-cli');
  const admin = kafka.admin();
  await admin.connect();
  console.log(`fuzz: seed ${seed}, ${opts.runs} records per topic (replay with: npm run fuzz -- --seed ${seed} --runs ${opts.runs})`);
  try {
    const results = await runCampaign({
      kafka,
      admin,
      query: (text, values) => queryDatabase(databaseUrl, text, values),
      seed,
      runs: opts.runs,
      // Users far above those of the flood and the course's clients, a new range each run.
      firstUserId: randomInt(1_000_000_000, 2_000_000_000),
      timeoutMs: opts.timeout * 1000,
    });
    console.log(summarise(results).join('\n'));
    const failed = results.filter((r) => r.problems.length > 0);
    for (const r of failed) {
      console.log(`FAILED ${r.record.topic}[${r.partition}]@${r.offset} (${r.record.kind}): ${r.problems.join('; ')}`);
      console.log(`  value: ${r.record.value === null ? 'null' : r.record.value.toString('base64').slice(0, 400)} (base64)`);
    }
    console.log(failed.length === 0 ? `fuzz: all ${results.length} records dead-lettered once per group (seed ${seed})` : `fuzz: ${failed.length} of ${results.length} failed, seed ${seed}`);
    return failed.length === 0 ? 0 : 1;
  } catch (error) {
    // A record the chain never finished with (its good neighbour never handled, a group that never committed).
    console.error(`fuzz: ${(error as Error).message}; seed ${seed}`);
    return 1;
  } finally {
    await admin.disconnect();
  }
}

main().then(
  (status) => process.exit(status),
  (error: Error) => {
    console.error(`fuzz: ${error.message}`);
    process.exit(1);
  },
);
