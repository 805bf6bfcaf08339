-- Receivers of an account's events. `last_event_id` is the last event handled; the lease says
-- which node delivers to the receiver now, so several nodes never deliver twice at once.
CREATE TABLE webhooks (
    account_sid TEXT NOT NULL REFERENCES accounts (sid) ON DELETE CASCADE,
    id TEXT NOT NULL,
    url TEXT NOT NULL,
    secret TEXT NOT NULL,
    last_event_id INTEGER NOT NULL,
    lease_owner TEXT,
    lease_until INTEGER,
    date_created INTEGER NOT NULL,
    PRIMARY KEY (account_sid, id)
);

-- What became of each event sent to each receiver; forgotten with the events.
CREATE TABLE webhook_deliveries (
    account_sid TEXT NOT NULL,
    webhook_id TEXT NOT NULL,
    event_id INTEGER NOT NULL,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    last_status INTEGER,
    last_error TEXT,
    at_micros INTEGER NOT NULL,
    PRIMARY KEY (account_sid, webhook_id, event_id),
    FOREIGN KEY (account_sid, webhook_id) REFERENCES webhooks (account_sid, id) ON DELETE CASCADE
);
