-- Signed-in dashboard users. The cookie holds the token; only its keyed hash is kept. A
-- session acts with its API key's rights, so it is refused once that key is revoked.
CREATE TABLE dashboard_sessions (
    account_sid TEXT NOT NULL REFERENCES accounts (sid) ON DELETE CASCADE,
    token_hash BLOB NOT NULL,
    api_key_id TEXT NOT NULL,
    csrf_token TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (account_sid, token_hash)
);

CREATE INDEX dashboard_sessions_by_expiry ON dashboard_sessions (expires_at);

-- How many of each account's users were available, busy and off, sampled every few
-- minutes by whichever nodes run; a sample already taken for a moment is kept as it is.
CREATE TABLE presence_samples (
    account_sid TEXT NOT NULL REFERENCES accounts (sid) ON DELETE CASCADE,
    taken_at INTEGER NOT NULL,
    available INTEGER NOT NULL,
    busy INTEGER NOT NULL,
    off INTEGER NOT NULL,
    PRIMARY KEY (account_sid, taken_at)
);

CREATE INDEX presence_samples_by_age ON presence_samples (taken_at);
