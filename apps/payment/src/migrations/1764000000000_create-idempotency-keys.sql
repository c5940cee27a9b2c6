-- Up Migration
-- One row per Idempotency-Key: the payment it stands for and the hash of the request that made it, so that a
-- retry gets the same payment and another request with the key is refused. The primary key decides between
-- concurrent requests. Rows count for 24 hours (the service's KEY_LIFETIME_HOURS), then are replaced or purged.
CREATE TABLE idempotency_keys (
  key text PRIMARY KEY,
  request_sha256 text NOT NULL,
  payment_id uuid NOT NULL,
  -- Null until the broker acknowledged the payment: a retry before that publishes it again, same payment_id.
  published_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX idempotency_keys_by_age ON idempotency_keys (created_at);

-- Down Migration
DROP TABLE idempotency_keys;
