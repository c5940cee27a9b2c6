-- Up Migration
-- Every event seen, once: the primary key drops redeliveries, and the statistics are read from here, so
-- they survive restarts and count each event exactly once.
CREATE TABLE events (
  topic text NOT NULL,
  event_id text NOT NULL,
  user_id integer NOT NULL,
  amount numeric(14, 2),
  items jsonb,
  received_at timestamptz NOT NULL DEFAULT clock_timestamp(),
  PRIMARY KEY (topic, event_id)
);
CREATE INDEX events_received_at ON events (received_at);

-- Down Migration
DROP TABLE events;
