-- Up Migration
-- Running totals, kept by the same statement that records the events, so that the statistics (read every
-- second while the live page is open) come from a few rows instead of counting every event ever seen.
-- Only events new to `events` reach them: a redelivered event changes nothing here either.
CREATE TABLE topic_totals (
  topic text PRIMARY KEY,
  events bigint NOT NULL,
  -- The sum of the events' amounts (a payment's amount, an order's total).
  amount numeric NOT NULL,
  -- Distinct users with an event of the topic; kept for payment-successful only (the customers), 0 otherwise.
  users bigint NOT NULL
);
-- Every user who has paid, once: what tells a new customer from a returning one.
CREATE TABLE payers (
  user_id integer PRIMARY KEY
);
-- Units sold and revenue per product name, over every payment.
CREATE TABLE product_sales (
  name text PRIMARY KEY,
  quantity bigint NOT NULL,
  revenue numeric NOT NULL
);
CREATE INDEX product_sales_top ON product_sales (quantity DESC, name);
-- Events per topic and second of arrival: the last minutes' figures read at most a few hundred rows of it.
CREATE TABLE event_seconds (
  second timestamptz NOT NULL,
  topic text NOT NULL,
  events bigint NOT NULL,
  PRIMARY KEY (second, topic)
);

-- What the events recorded so far add up to.
INSERT INTO payers (user_id)
SELECT DISTINCT user_id FROM events WHERE topic = 'payment-successful';
INSERT INTO topic_totals (topic, events, amount, users)
SELECT topic, count(*), coalesce(sum(amount), 0),
       CASE WHEN topic = 'payment-successful' THEN count(DISTINCT user_id) ELSE 0 END
FROM events GROUP BY topic;
INSERT INTO event_seconds (second, topic, events)
SELECT date_trunc('second', received_at), topic, count(*) FROM events GROUP BY 1, 2;
INSERT INTO product_sales (name, quantity, revenue)
SELECT item->>'name', sum((item->>'quantity')::int), sum((item->>'price')::numeric * (item->>'quantity')::int)
FROM events, jsonb_array_elements(items) AS item
WHERE topic = 'payment-successful'
GROUP BY 1;

-- Down Migration
DROP TABLE event_seconds;
DROP TABLE product_sales;
DROP TABLE payers;
DROP TABLE topic_totals;
