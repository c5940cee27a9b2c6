-- Up Migration
-- One order per payment: the unique payment_id makes a redelivered payment create nothing new.
CREATE TABLE orders (
  order_id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  payment_id text NOT NULL UNIQUE,
  user_id integer NOT NULL,
  items jsonb NOT NULL,
  total numeric(14, 2) NOT NULL,
  status text NOT NULL DEFAULT 'confirmed',
  instance_id text NOT NULL,
  source_partition integer NOT NULL,
  source_offset bigint NOT NULL,
  created_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX orders_newest_first ON orders (created_at DESC, order_id DESC);
CREATE INDEX orders_by_user ON orders (user_id, created_at DESC);

-- Down Migration
DROP TABLE orders;
