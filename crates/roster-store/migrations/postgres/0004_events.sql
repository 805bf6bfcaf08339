-- Where each account's event ids are counted: taken by the change's own transaction, whose
-- lock on the account row then makes ids follow the order changes commit in.
ALTER TABLE accounts ADD COLUMN IF NOT EXISTS last_event_id BIGINT NOT NULL DEFAULT 0;

-- Every change of a user or device, written in the change's own transaction; `record` is
-- the record after the change (before it, for a delete) in storage's own row format.
CREATE TABLE IF NOT EXISTS events (
    account_sid TEXT NOT NULL REFERENCES accounts (sid) ON DELETE CASCADE,
    id BIGINT NOT NULL,
    kind TEXT NOT NULL,
    user_id TEXT NOT NULL,
    record TEXT NOT NULL,
    at_micros BIGINT NOT NULL,
    PRIMARY KEY (account_sid, id)
);

CREATE INDEX IF NOT EXISTS events_by_age ON events (at_micros);
