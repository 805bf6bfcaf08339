-- Digests a SIP registrar needs to check a softphone's password; the password itself is
-- never stored.
CREATE TABLE IF NOT EXISTS sip_credentials (
    account_sid TEXT NOT NULL,
    device_id BIGINT NOT NULL,
    username TEXT NOT NULL,
    realm TEXT NOT NULL,
    ha1_md5 TEXT NOT NULL,
    ha1_sha256 TEXT NOT NULL,
    date_updated BIGINT NOT NULL,
    PRIMARY KEY (account_sid, device_id),
    FOREIGN KEY (account_sid, device_id) REFERENCES devices (account_sid, id) ON DELETE CASCADE
);

CREATE UNIQUE INDEX IF NOT EXISTS sip_credentials_by_username ON sip_credentials (account_sid, username);
