//! Accounts, API keys and deployment secrets in SQLite.

use jiff::Timestamp;
use roster_domain::{Account, AccountSid, ApiKey, ApiKeyId};
use rusqlite::{Connection, OptionalExtension, Row};

use super::backend;
use super::rows::write_error;
use crate::rows::{optional_timestamp, stored, timestamp, AccountRow};
use crate::StoreError;

const ACCOUNT_COLUMNS: &str = "sid, name, region, timezone, voip_enabled, trial, kyc_complete, \
     rate_limit_per_minute, date_created, date_updated";

pub(super) fn secret(
    conn: &Connection,
    name: &str,
    make: fn() -> Vec<u8>,
) -> Result<Vec<u8>, StoreError> {
    let existing: Option<Vec<u8>> = conn
        .query_row(
            "SELECT value FROM roster_secrets WHERE name = ?1",
            [name],
            |row| row.get(0),
        )
        .optional()
        .map_err(backend)?;
    if let Some(value) = existing {
        return Ok(value);
    }
    let value = make();
    conn.execute(
        "INSERT INTO roster_secrets (name, value) VALUES (?1, ?2)",
        (name, &value),
    )
    .map_err(write_error)?;
    Ok(value)
}

pub(super) fn insert(conn: &Connection, account: &Account) -> Result<(), StoreError> {
    let sql = format!(
        "INSERT INTO accounts ({ACCOUNT_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"
    );
    conn.execute(
        &sql,
        (
            account.sid.as_str(),
            &account.name,
            account.region.as_str(),
            account.timezone.as_str(),
            account.voip_enabled,
            account.trial,
            account.kyc_complete,
            account.rate_limit.per_minute(),
            account.date_created.as_second(),
            account.date_updated.as_second(),
        ),
    )
    .map_err(write_error)?;
    Ok(())
}

pub(super) fn update(conn: &Connection, account: &Account) -> Result<bool, StoreError> {
    let changed = conn
        .execute(
            "UPDATE accounts SET name = ?2, region = ?3, timezone = ?4, voip_enabled = ?5, trial = ?6,
                 kyc_complete = ?7, rate_limit_per_minute = ?8, date_updated = ?9
             WHERE sid = ?1",
            (
                account.sid.as_str(),
                &account.name,
                account.region.as_str(),
                account.timezone.as_str(),
                account.voip_enabled,
                account.trial,
                account.kyc_complete,
                account.rate_limit.per_minute(),
                account.date_updated.as_second(),
            ),
        )
        .map_err(write_error)?;
    Ok(changed == 1)
}

pub(super) fn find(conn: &Connection, sid: &AccountSid) -> Result<Option<Account>, StoreError> {
    let sql = format!("SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE sid = ?1");
    let mut statement = conn.prepare_cached(&sql).map_err(backend)?;
    let row = statement
        .query_row([sid.as_str()], read_account)
        .optional()
        .map_err(backend)?;
    row.map(AccountRow::into_account).transpose()
}

pub(super) fn all(conn: &Connection) -> Result<Vec<Account>, StoreError> {
    let sql = format!("SELECT {ACCOUNT_COLUMNS} FROM accounts ORDER BY sid");
    let mut statement = conn.prepare_cached(&sql).map_err(backend)?;
    let rows = statement.query_map([], read_account).map_err(backend)?;
    rows.map(|row| row.map_err(backend).and_then(AccountRow::into_account))
        .collect()
}

pub(super) fn insert_key(conn: &Connection, key: &ApiKey) -> Result<(), StoreError> {
    conn.execute(
        "INSERT INTO api_keys (key, account_sid, token_hash, date_created, date_revoked)
         VALUES (?1, ?2, ?3, ?4, ?5)",
        (
            key.id.as_str(),
            key.account.as_str(),
            &key.token_hash[..],
            key.date_created.as_second(),
            key.date_revoked.map(Timestamp::as_second),
        ),
    )
    .map_err(write_error)?;
    Ok(())
}

pub(super) fn find_key(conn: &Connection, id: &ApiKeyId) -> Result<Option<ApiKey>, StoreError> {
    let mut statement = conn
        .prepare_cached(
            "SELECT key, account_sid, token_hash, date_created, date_revoked FROM api_keys WHERE key = ?1",
        )
        .map_err(backend)?;
    let row = statement
        .query_row([id.as_str()], |row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, Vec<u8>>(2)?,
                row.get::<_, i64>(3)?,
                row.get::<_, Option<i64>>(4)?,
            ))
        })
        .optional()
        .map_err(backend)?;
    let Some((key, account, hash, created, revoked)) = row else {
        return Ok(None);
    };
    Ok(Some(ApiKey {
        id: stored("api key", ApiKeyId::parse(&key))?,
        account: stored("api key account", AccountSid::parse(&account))?,
        token_hash: hash
            .try_into()
            .map_err(|_| StoreError::corrupt("api key hash length"))?,
        date_created: timestamp(created)?,
        date_revoked: optional_timestamp(revoked)?,
    }))
}

pub(super) fn revoke_key(
    conn: &Connection,
    id: &ApiKeyId,
    at: Timestamp,
) -> Result<bool, StoreError> {
    let changed = conn
        .execute(
            "UPDATE api_keys SET date_revoked = COALESCE(date_revoked, ?2) WHERE key = ?1",
            (id.as_str(), at.as_second()),
        )
        .map_err(write_error)?;
    Ok(changed == 1)
}

pub(super) fn delete(conn: &Connection, sid: &AccountSid) -> Result<bool, StoreError> {
    let deleted = conn
        .execute("DELETE FROM accounts WHERE sid = ?1", [sid.as_str()])
        .map_err(write_error)?;
    Ok(deleted == 1)
}

pub(super) fn keys_of(conn: &Connection, sid: &AccountSid) -> Result<Vec<ApiKey>, StoreError> {
    let mut statement = conn
        .prepare_cached(
            "SELECT key FROM api_keys WHERE account_sid = ?1 ORDER BY date_created, key",
        )
        .map_err(backend)?;
    let ids = statement
        .query_map([sid.as_str()], |row| row.get::<_, String>(0))
        .map_err(backend)?
        .collect::<Result<Vec<String>, _>>()
        .map_err(backend)?;
    let mut keys = Vec::with_capacity(ids.len());
    for id in ids {
        let id = stored("api key", ApiKeyId::parse(&id))?;
        keys.extend(find_key(conn, &id)?);
    }
    Ok(keys)
}

fn read_account(row: &Row<'_>) -> rusqlite::Result<AccountRow> {
    Ok(AccountRow {
        sid: row.get(0)?,
        name: row.get(1)?,
        region: row.get(2)?,
        timezone: row.get(3)?,
        voip_enabled: row.get(4)?,
        trial: row.get(5)?,
        kyc_complete: row.get(6)?,
        rate_limit: row.get(7)?,
        date_created: row.get(8)?,
        date_updated: row.get(9)?,
    })
}
