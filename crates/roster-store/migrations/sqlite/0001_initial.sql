-- Accounts, their API keys, users and devices. Invariants live here so they hold for every
-- process that writes: one ON device per user, one email and one number per account.
CREATE TABLE roster_secrets (
    name TEXT PRIMARY KEY,
    value BLOB NOT NULL
);

CREATE TABLE accounts (
    sid TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    region TEXT NOT NULL,
    timezone TEXT NOT NULL,
    voip_enabled INTEGER NOT NULL,
    trial INTEGER NOT NULL,
    kyc_complete INTEGER NOT NULL,
    rate_limit_per_minute INTEGER NOT NULL,
    date_created INTEGER NOT NULL,
    date_updated INTEGER NOT NULL
);

CREATE TABLE api_keys (
    key TEXT PRIMARY KEY,
    account_sid TEXT NOT NULL REFERENCES accounts (sid) ON DELETE CASCADE,
    token_hash BLOB NOT NULL,
    date_created INTEGER NOT NULL,
    date_revoked INTEGER
);

CREATE TABLE users (
    account_sid TEXT NOT NULL REFERENCES accounts (sid) ON DELETE CASCADE,
    id TEXT NOT NULL,
    first_name TEXT NOT NULL,
    last_name TEXT NOT NULL,
    email TEXT,
    email_folded TEXT,
    email_verified INTEGER NOT NULL,
    role TEXT NOT NULL,
    date_created INTEGER NOT NULL,
    date_updated INTEGER NOT NULL,
    last_login INTEGER,
    PRIMARY KEY (account_sid, id)
);

CREATE UNIQUE INDEX users_email_unique ON users (account_sid, email_folded);

CREATE INDEX users_by_creation ON users (account_sid, date_created, id);

CREATE TABLE devices (
    account_sid TEXT NOT NULL,
    id INTEGER NOT NULL,
    user_id TEXT NOT NULL,
    contact_uri TEXT NOT NULL,
    name TEXT NOT NULL,
    verified INTEGER NOT NULL,
    available INTEGER,
    busy INTEGER NOT NULL,
    date_created INTEGER NOT NULL,
    PRIMARY KEY (account_sid, id),
    FOREIGN KEY (account_sid, user_id) REFERENCES users (account_sid, id) ON DELETE CASCADE
);

CREATE UNIQUE INDEX devices_id_unique ON devices (id);

CREATE UNIQUE INDEX devices_contact_unique ON devices (account_sid, contact_uri);

CREATE INDEX devices_by_user ON devices (account_sid, user_id, id);

CREATE UNIQUE INDEX devices_one_on_per_user ON devices (account_sid, user_id) WHERE available = 1;
