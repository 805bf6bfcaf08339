-- The versions behind ETags: every change of a user or a device moves its own on.
ALTER TABLE users ADD COLUMN IF NOT EXISTS version BIGINT NOT NULL DEFAULT 1;

ALTER TABLE devices ADD COLUMN IF NOT EXISTS version BIGINT NOT NULL DEFAULT 1;

-- The first answer of a create sent with an Idempotency-Key, replayed for a retry of the
-- same request; written in the create's own transaction.
CREATE TABLE IF NOT EXISTS idempotency_keys (
    account_sid TEXT NOT NULL REFERENCES accounts (sid) ON DELETE CASCADE,
    idempotency_key TEXT NOT NULL,
    fingerprint BYTEA NOT NULL,
    answer BYTEA NOT NULL,
    date_created BIGINT NOT NULL,
    PRIMARY KEY (account_sid, idempotency_key)
);

CREATE INDEX IF NOT EXISTS idempotency_keys_by_age ON idempotency_keys (account_sid, date_created);
