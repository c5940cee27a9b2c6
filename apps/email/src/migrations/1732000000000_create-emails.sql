-- Up Migration
-- One email per order: the unique order_id makes a redelivered order send nothing new.
CREATE TABLE emails (
  email_id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  order_id uuid NOT NULL UNIQUE,
  user_id integer NOT NULL,
  email_to text NOT NULL,
  subject text NOT NULL,
  body text NOT NULL,
  status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent')),
  message_id text,
  -- What the transport produced: the full message when no SMTP server is configured.
  transport_output text,
  created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
  sent_at timestamptz
);
CREATE INDEX emails_newest_first ON emails (created_at DESC, email_id DESC);
CREATE INDEX emails_by_user ON emails (user_id, created_at DESC);

-- Down Migration
DROP TABLE emails;
