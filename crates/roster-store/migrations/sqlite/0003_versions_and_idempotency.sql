-- The versions behind ETags: every change of a user or a device moves its own on.
ALTER TABLE users ADD COLUMN version INTEGER NOT NULL DEFAULT 1;

ALTER TABLE devices ADD COLUMN version INTEGER NOT NULL DEFAULT 1;

-- The first answer of a create sent with an Idempotency-Key, replayed for a retry of the
-- same request; written in the create's own transaction.
CREATE TABLE idempotency_keys (
    account_sid TEXT NOT NULL REFERENCES accounts (sid) ON DELETE CASCADE,
    idempotency_key TEXT NOT NULL,
    fingerprint BLOB NOT NULL,
    answer BLOB NOT NULL,
    date_created INTEGER NOT NULL,
    PRIMARY KEY (account_sid, idempotency_key)
);

CREATE INDEX idempotency_keys_by_age ON idempotency_keys (account_sid, date_created);
