-- Accounts, their API keys, users and devices. Invariants live here so they hold for every
-- node that writes: one ON device per user, one email and one number per account. Every
-- statement can run again without harm, so a migration cut short can simply be retried.
CREATE TABLE IF NOT EXISTS roster_secrets (
    name TEXT PRIMARY KEY,
    value BYTEA NOT NULL
);

CREATE TABLE IF NOT EXISTS accounts (
    sid TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    region TEXT NOT NULL,
    timezone TEXT NOT NULL,
    voip_enabled BOOLEAN NOT NULL,
    trial BOOLEAN NOT NULL,
    kyc_complete BOOLEAN NOT NULL,
    rate_limit_per_minute BIGINT NOT NULL,
    date_created BIGINT NOT NULL,
    date_updated BIGINT NOT NULL
);

CREATE TABLE IF NOT EXISTS api_keys (
    key TEXT PRIMARY KEY,
    account_sid TEXT NOT NULL REFERENCES accounts (sid) ON DELETE CASCADE,
    token_hash BYTEA NOT NULL,
    date_created BIGINT NOT NULL,
    date_revoked BIGINT
);

CREATE INDEX IF NOT EXISTS api_keys_by_account ON api_keys (account_sid);

CREATE TABLE IF NOT EXISTS users (
    account_sid TEXT NOT NULL REFERENCES accounts (sid) ON DELETE CASCADE,
    id TEXT NOT NULL,
    first_name TEXT NOT NULL,
    last_name TEXT NOT NULL,
    email TEXT,
    email_folded TEXT,
    email_verified BOOLEAN NOT NULL,
    role TEXT NOT NULL,
    date_created BIGINT NOT NULL,
    date_updated BIGINT NOT NULL,
    last_login BIGINT,
    PRIMARY KEY (account_sid, id)
);

CREATE UNIQUE INDEX IF NOT EXISTS users_email_unique ON users (account_sid, email_folded);

CREATE INDEX IF NOT EXISTS users_by_creation ON users (account_sid, date_created, id);

CREATE TABLE IF NOT EXISTS devices (
    account_sid TEXT NOT NULL,
    id BIGINT NOT NULL,
    user_id TEXT NOT NULL,
    contact_uri TEXT NOT NULL,
    name TEXT NOT NULL,
    verified BOOLEAN NOT NULL,
    available BOOLEAN,
    busy BOOLEAN NOT NULL,
    date_created BIGINT NOT NULL,
    PRIMARY KEY (account_sid, id),
    FOREIGN KEY (account_sid, user_id) REFERENCES users (account_sid, id) ON DELETE CASCADE
);

CREATE UNIQUE INDEX IF NOT EXISTS devices_id_unique ON devices (id);

CREATE UNIQUE INDEX IF NOT EXISTS devices_contact_unique ON devices (account_sid, contact_uri);

CREATE INDEX IF NOT EXISTS devices_by_user ON devices (account_sid, user_id, id);

CREATE UNIQUE INDEX IF NOT EXISTS devices_one_on_per_user ON devices (account_sid, user_id) WHERE available;
