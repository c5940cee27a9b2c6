import { randomUUID } from 'node:crypto';
import { mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { DLQ_TOPICS, MAX_CART_ITEMS, MAX_PRICE, MAX_QUANTITY, TOPICS, type DeadLetterRecord } from '@app/contracts';
import { REPO_ROOT } from '../scripts/lib/services';
import { waitFor } from '../scripts/lib/wait';
import { urlOf } from './support/environment';
import { analytics, CHAIN_DEADLINE_MS, freshUserId, payment } from './support/http';
import { chainQuiet, connectedProducer } from './support/kafka';
import { readTopics } from './support/topic-reader';

/** Debian's chromium (npm test installs it); playwright-core drives it and downloads no browser. */
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
/** Where the test leaves its screenshot of the page. */
const SCREENSHOT = join(REPO_ROOT, 'test-results', 'live-page.png');

interface Shown {
  status: string;
  payments: number;
  orders: number;
  emails: number;
  revenue: number;
  products: string[];
  lagRows: number;
  lagPartitions: number;
  deadLetters: number;
  deadLettersByTopic: string;
  rateNow: string;
}

describe('the live page (GET / on analytics)', () => {
  let browser: Browser;
  beforeAll(async () => {
    // As root, Chromium runs only without its sandbox.
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  });
  afterAll(async () => {
    await browser?.close();
  });

  it('shows the chain live on a phone: a payment posted during the test appears without a reload', async () => {
    const context = await browser.newContext({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true, locale: 'en-US' });
    const page = await context.newPage();
    const problems: string[] = [];
    page.on('pageerror', (error) => problems.push(error.message));
    page.on('console', (message) => void (message.type() === 'error' && problems.push(message.text())));
    const token = process.env.READ_TOKEN ? `?token=${encodeURIComponent(process.env.READ_TOKEN)}` : '';
    await page.goto(`${urlOf('analytics')}/${token}`);

    const text = async (selector: string) => (await page.locator(selector).textContent()) ?? '';
    const number = async (selector: string) => Number((await text(selector)).replace(/,/g, ''));
    const shown = async (): Promise<Shown> => ({
      status: await text('#status'),
      payments: await number('#payments'),
      orders: await number('#orders'),
      emails: await number('#emails'),
      revenue: await number('#revenue'),
      products: await page.locator('#top-products li').allTextContents(),
      lagRows: await page.locator('#lag tr').count(),
      lagPartitions: await page.locator('#lag .partition').count(),
      deadLetters: await number('#dead-letters'),
      deadLettersByTopic: await text('#dead-letters-by-topic'),
      rateNow: await text('#rate-now'),
    });
    const before = await waitFor(async () => {
      const now = await shown();
      if (now.status !== 'live') throw new Error(JSON.stringify(now));
      return now;
    }, { timeoutMs: 30_000, what: 'the page live' });
    // The page's totals are the service's own statistics, each of them: once the chain is quiet they stop moving,
    // and the page, redrawn every second, shows exactly what the API answers.
    await chainQuiet();
    const api = (await analytics().get('/analytics').expect(200)).body;
    const cents = (revenue: number) => Math.round(revenue * 100);
    const expected = { payments: api.total_payments, orders: api.total_orders, emails: api.total_emails, cents: cents(api.revenue) };
    await waitFor(async () => {
      const now = await shown();
      const totals = { payments: now.payments, orders: now.orders, emails: now.emails, cents: cents(now.revenue) };
      if (JSON.stringify(totals) !== JSON.stringify(expected)) throw new Error(`the page shows ${JSON.stringify(totals)}`);
      return totals;
    }, { timeoutMs: 10_000, what: `the page to show the API's totals ${JSON.stringify(expected)}` });
    // A row per group and topic (order and email read one topic, analytics three), three partitions each.
    expect(before.lagRows).toBe(1 + 1 + 3);
    expect(before.lagPartitions).toBe(3 * 5);

    // A marker on the document: a reload would drop it.
    await page.evaluate('window.sameDocument = true');
    const product = `Live page ${randomUUID().slice(0, 8)}`;
    // The largest cart there is: 100 lines of 1,000 at the highest price. 100,000 sold puts it among the top
    // products, and its revenue of 100 billion is a figure as wide as any the page must fit on a phone.
    const cart = Array.from({ length: MAX_CART_ITEMS }, () => ({ name: product, price: MAX_PRICE, quantity: MAX_QUANTITY }));
    await payment().post('/payment').send({ user_id: freshUserId(), cart }).expect(200);

    // And a record that is bad in itself, which order and analytics each move to dlq-payment.
    const poison = `not json ${randomUUID()}`;
    const producer = await connectedProducer();
    await producer.send({ topic: TOPICS.paymentSuccessful, acks: -1, messages: [{ key: 'live-page', value: poison }] }).finally(() => producer.disconnect());

    const after = await waitFor(async () => {
      const now = await shown();
      const arrived = now.payments >= before.payments + 1 && now.orders >= before.orders + 1 && now.emails >= before.emails + 1;
      if (!arrived || !now.products.some((p) => p.startsWith(`${product}:`))) throw new Error(JSON.stringify(now));
      return now;
    }, { timeoutMs: CHAIN_DEADLINE_MS, what: 'the payment, its order, its email and its product on the page' });
    expect(await page.evaluate('window.sameDocument')).toBe(true);
    // In cents: the figures are read off the page as floating-point numbers.
    expect(Math.round((after.revenue - before.revenue) * 100)).toBeGreaterThanOrEqual(100_000_000_000_00);
    expect(after.products).toContain(`${product}: 100,000 sold, 100,000,000,000.00`);
    expect(after.status).toBe('live');

    // The dead letters shown are those the DLQ topics hold, counted here by reading them (read_committed).
    const dlqTopics = Object.values(DLQ_TOPICS);
    const poisoned = (letter: DeadLetterRecord) => letter.original_message === poison;
    let letters = 0;
    let ours = 0;
    await waitFor(async () => {
      letters = 0;
      ours = 0;
      await readTopics(dlqTopics, (_topic, message) => {
        letters += 1;
        if (poisoned(JSON.parse(String(message.value)))) ours += 1;
      });
      return ours === 2;
    }, { timeoutMs: CHAIN_DEADLINE_MS, what: 'the bad record in dlq-payment, from order and from analytics' });
    await waitFor(async () => {
      const now = await shown();
      if (now.deadLetters !== letters) throw new Error(`${now.deadLetters} shown, ${letters} in the DLQ topics`);
      return true;
    }, { timeoutMs: 15_000, what: `the page to show ${letters} dead letters` });
    for (const topic of dlqTopics) expect((await shown()).deadLettersByTopic).toContain(topic);

    // Readable on a phone: nothing wider than the screen.
    expect(await page.evaluate('document.documentElement.scrollWidth')).toBeLessThanOrEqual(390);
    mkdirSync(join(REPO_ROOT, 'test-results'), { recursive: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    expect(statSync(SCREENSHOT).size).toBeGreaterThan(10_000);
    expect(problems).toEqual([]);
    await context.close();
  });
});
