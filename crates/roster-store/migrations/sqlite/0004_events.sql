-- Where each account's event ids are counted: taken by the change's own transaction, so
-- ids follow the order changes commit in.
ALTER TABLE accounts ADD COLUMN last_event_id INTEGER NOT NULL DEFAULT 0;

-- Every change of a user or device, written in the change's own transaction; `record` is
-- the record after the change (before it, for a delete) in storage's own row format.
CREATE TABLE events (
    account_sid TEXT NOT NULL REFERENCES accounts (sid) ON DELETE CASCADE,
    id INTEGER NOT NULL,
    kind TEXT NOT NULL,
    user_id TEXT NOT NULL,
    record TEXT NOT NULL,
    at_micros INTEGER NOT NULL,
    PRIMARY KEY (account_sid, id)
);

CREATE INDEX events_by_age ON events (at_micros);
