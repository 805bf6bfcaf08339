//! Accounts, API keys and deployment secrets in PostgreSQL.

use jiff::Timestamp;
use roster_domain::{Account, AccountSid, ApiKey, ApiKeyId};
use tokio_postgres::Row;

use super::{pg, Db};
use crate::rows::{optional_timestamp, stored, timestamp, AccountRow};
use crate::StoreError;

const ACCOUNT_COLUMNS: &str = "sid, name, region, timezone, voip_enabled, trial, kyc_complete, \
     rate_limit_per_minute, date_created, date_updated";

pub(super) async fn secret(
    db: &impl Db,
    name: &str,
    make: fn() -> Vec<u8>,
) -> Result<Vec<u8>, StoreError> {
    // Insert-if-absent then read, so nodes starting together agree on one value.
    let made = make();
    db.run(
        "INSERT INTO roster_secrets (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
        &[&name, &made],
    )
    .await?;
    let row = db
        .row("SELECT value FROM roster_secrets WHERE name = $1", &[&name])
        .await?;
    let row = row.ok_or_else(|| StoreError::corrupt("secret vanished after insert"))?;
    row.try_get(0).map_err(pg)
}

pub(super) async fn insert(db: &impl Db, account: &Account) -> Result<(), StoreError> {
    let sql = format!(
        "INSERT INTO accounts ({ACCOUNT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
    );
    db.run(&sql, &AccountValues::of(account).params()).await?;
    Ok(())
}

pub(super) async fn update(db: &impl Db, account: &Account) -> Result<bool, StoreError> {
    let changed = db
        .run(
            "UPDATE accounts SET name = $2, region = $3, timezone = $4, voip_enabled = $5, trial = $6,
                 kyc_complete = $7, rate_limit_per_minute = $8, date_created = $9, date_updated = $10
             WHERE sid = $1",
            &AccountValues::of(account).params(),
        )
        .await?;
    Ok(changed == 1)
}

pub(super) async fn find(db: &impl Db, sid: &AccountSid) -> Result<Option<Account>, StoreError> {
    let sql = format!("SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE sid = $1");
    let row = db.row(&sql, &[&sid.as_str()]).await?;
    row.map(|row| read_account(&row)?.into_account())
        .transpose()
}

pub(super) async fn all(db: &impl Db) -> Result<Vec<Account>, StoreError> {
    let sql = format!("SELECT {ACCOUNT_COLUMNS} FROM accounts ORDER BY sid");
    let rows = db.rows(&sql, &[]).await?;
    rows.iter()
        .map(|row| read_account(row)?.into_account())
        .collect()
}

pub(super) async fn delete(db: &impl Db, sid: &AccountSid) -> Result<bool, StoreError> {
    // Every change locks its user, then its device, then the account's row (for its event
    // id); locking the users first here keeps that order, so no change deadlocks with it.
    db.rows(
        "SELECT 1 FROM users WHERE account_sid = $1 ORDER BY id FOR UPDATE",
        &[&sid.as_str()],
    )
    .await?;
    Ok(db
        .run("DELETE FROM accounts WHERE sid = $1", &[&sid.as_str()])
        .await?
        == 1)
}

pub(super) async fn insert_key(db: &impl Db, key: &ApiKey) -> Result<(), StoreError> {
    db.run(
        "INSERT INTO api_keys (key, account_sid, token_hash, date_created, date_revoked)
         VALUES ($1, $2, $3, $4, $5)",
        &[
            &key.id.as_str(),
            &key.account.as_str(),
            &&key.token_hash[..],
            &key.date_created.as_second(),
            &key.date_revoked.map(Timestamp::as_second),
        ],
    )
    .await?;
    Ok(())
}

const KEY_COLUMNS: &str = "key, account_sid, token_hash, date_created, date_revoked";

pub(super) async fn find_key(db: &impl Db, id: &ApiKeyId) -> Result<Option<ApiKey>, StoreError> {
    let sql = format!("SELECT {KEY_COLUMNS} FROM api_keys WHERE key = $1");
    let row = db.row(&sql, &[&id.as_str()]).await?;
    row.map(|row| read_key(&row)).transpose()
}

pub(super) async fn keys_of(db: &impl Db, sid: &AccountSid) -> Result<Vec<ApiKey>, StoreError> {
    let sql = format!(
        "SELECT {KEY_COLUMNS} FROM api_keys WHERE account_sid = $1 ORDER BY date_created, key"
    );
    let rows = db.rows(&sql, &[&sid.as_str()]).await?;
    rows.iter().map(read_key).collect()
}

pub(super) async fn revoke_key(
    db: &impl Db,
    id: &ApiKeyId,
    at: Timestamp,
) -> Result<bool, StoreError> {
    let changed = db
        .run(
            "UPDATE api_keys SET date_revoked = COALESCE(date_revoked, $2) WHERE key = $1",
            &[&id.as_str(), &at.as_second()],
        )
        .await?;
    Ok(changed == 1)
}

fn read_key(row: &Row) -> Result<ApiKey, StoreError> {
    let hash: Vec<u8> = row.try_get(2).map_err(pg)?;
    Ok(ApiKey {
        id: stored("api key", ApiKeyId::parse(row.try_get(0).map_err(pg)?))?,
        account: stored(
            "api key account",
            AccountSid::parse(row.try_get(1).map_err(pg)?),
        )?,
        token_hash: hash
            .try_into()
            .map_err(|_| StoreError::corrupt("api key hash length"))?,
        date_created: timestamp(row.try_get(3).map_err(pg)?)?,
        date_revoked: optional_timestamp(row.try_get(4).map_err(pg)?)?,
    })
}

fn read_account(row: &Row) -> Result<AccountRow, StoreError> {
    Ok(AccountRow {
        sid: row.try_get(0).map_err(pg)?,
        name: row.try_get(1).map_err(pg)?,
        region: row.try_get(2).map_err(pg)?,
        timezone: row.try_get(3).map_err(pg)?,
        voip_enabled: row.try_get(4).map_err(pg)?,
        trial: row.try_get(5).map_err(pg)?,
        kyc_complete: row.try_get(6).map_err(pg)?,
        rate_limit: row.try_get(7).map_err(pg)?,
        date_created: row.try_get(8).map_err(pg)?,
        date_updated: row.try_get(9).map_err(pg)?,
    })
}

/// An account's values in [`ACCOUNT_COLUMNS`] order, owned so they can be bound by reference.
struct AccountValues<'a> {
    sid: &'a str,
    name: &'a str,
    region: &'a str,
    timezone: &'a str,
    voip_enabled: bool,
    trial: bool,
    kyc_complete: bool,
    rate_limit: i64,
    date_created: i64,
    date_updated: i64,
}

impl<'a> AccountValues<'a> {
    fn of(account: &'a Account) -> Self {
        Self {
            sid: account.sid.as_str(),
            name: &account.name,
            region: account.region.as_str(),
            timezone: account.timezone.as_str(),
            voip_enabled: account.voip_enabled,
            trial: account.trial,
            kyc_complete: account.kyc_complete,
            rate_limit: i64::from(account.rate_limit.per_minute()),
            date_created: account.date_created.as_second(),
            date_updated: account.date_updated.as_second(),
        }
    }

    fn params(&self) -> [&(dyn tokio_postgres::types::ToSql + Sync); 10] {
        [
            &self.sid,
            &self.name,
            &self.region,
            &self.timezone,
            &self.voip_enabled,
            &self.trial,
            &self.kyc_complete,
            &self.rate_limit,
            &self.date_created,
            &self.date_updated,
        ]
    }
}
