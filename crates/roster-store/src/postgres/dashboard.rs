//! Dashboard sessions and presence samples in PostgreSQL.

use jiff::Timestamp;
use roster_domain::{AccountSid, Presence, PresenceSample};
use tokio_postgres::Row;

use super::{pg, Db};
use crate::dashboard::{PresenceRow, SessionRow, SESSION_COLUMNS};
use crate::{DashboardSession, StoreError};

/// Each user with whether one of its devices is busy and one is ON.
const USER_STATES: &str = "SELECT u.account_sid,
         EXISTS (SELECT 1 FROM devices d WHERE d.account_sid = u.account_sid
                 AND d.user_id = u.id AND d.busy) AS busy,
         EXISTS (SELECT 1 FROM devices d WHERE d.account_sid = u.account_sid
                 AND d.user_id = u.id AND d.available) AS is_on
     FROM users u";

/// The three counts over rows of [`USER_STATES`] named `s`; an outer join's missing user
/// has NULL states, which no filter passes.
const COUNTS: &str = "COUNT(*) FILTER (WHERE s.is_on AND NOT s.busy),
     COUNT(*) FILTER (WHERE s.busy),
     COUNT(*) FILTER (WHERE NOT s.is_on AND NOT s.busy)";

pub(super) async fn create_session(
    db: &impl Db,
    session: &DashboardSession,
) -> Result<(), StoreError> {
    let sql = format!(
        "INSERT INTO dashboard_sessions ({SESSION_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6)"
    );
    db.run(
        &sql,
        &[
            &session.account.as_str(),
            &&session.token_hash[..],
            &session.api_key.as_str(),
            &session.csrf_token,
            &session.created_at.as_second(),
            &session.expires_at.as_second(),
        ],
    )
    .await?;
    Ok(())
}

pub(super) async fn session(
    db: &impl Db,
    account: &AccountSid,
    token_hash: &[u8; 32],
) -> Result<Option<DashboardSession>, StoreError> {
    let sql = format!(
        "SELECT {SESSION_COLUMNS} FROM dashboard_sessions WHERE account_sid = $1 AND token_hash = $2"
    );
    let row = db.row(&sql, &[&account.as_str(), &&token_hash[..]]).await?;
    row.map(|row| read_session(&row)?.into_session())
        .transpose()
}

pub(super) async fn delete_session(
    db: &impl Db,
    account: &AccountSid,
    token_hash: &[u8; 32],
) -> Result<bool, StoreError> {
    let deleted = db
        .run(
            "DELETE FROM dashboard_sessions WHERE account_sid = $1 AND token_hash = $2",
            &[&account.as_str(), &&token_hash[..]],
        )
        .await?;
    Ok(deleted == 1)
}

pub(super) async fn purge_sessions(db: &impl Db, before: Timestamp) -> Result<u64, StoreError> {
    db.run(
        "DELETE FROM dashboard_sessions WHERE expires_at < $1",
        &[&before.as_second()],
    )
    .await
}

pub(super) async fn presence(db: &impl Db, account: &AccountSid) -> Result<Presence, StoreError> {
    let sql = format!("SELECT {COUNTS} FROM ({USER_STATES} WHERE u.account_sid = $1) s");
    let row = db.row(&sql, &[&account.as_str()]).await?;
    let row = row.ok_or_else(|| StoreError::corrupt("a count returned no row"))?;
    read_counts(&row)?.into_presence()
}

pub(super) async fn record_presence(db: &impl Db, taken_at: Timestamp) -> Result<u64, StoreError> {
    let sql = format!(
        "INSERT INTO presence_samples (account_sid, taken_at, available, busy, off)
         SELECT a.sid, $1::BIGINT, {COUNTS}
         FROM accounts a LEFT JOIN ({USER_STATES}) s ON s.account_sid = a.sid
         GROUP BY a.sid
         ON CONFLICT (account_sid, taken_at) DO NOTHING"
    );
    db.run(&sql, &[&taken_at.as_second()]).await
}

pub(super) async fn presence_samples(
    db: &impl Db,
    account: &AccountSid,
    since: Timestamp,
) -> Result<Vec<PresenceSample>, StoreError> {
    let rows = db
        .rows(
            "SELECT available, busy, off, taken_at FROM presence_samples
             WHERE account_sid = $1 AND taken_at >= $2 ORDER BY taken_at",
            &[&account.as_str(), &since.as_second()],
        )
        .await?;
    rows.iter()
        .map(|row| read_counts(row)?.into_sample(row.try_get(3).map_err(pg)?))
        .collect()
}

pub(super) async fn purge_presence(db: &impl Db, before: Timestamp) -> Result<u64, StoreError> {
    db.run(
        "DELETE FROM presence_samples WHERE taken_at < $1",
        &[&before.as_second()],
    )
    .await
}

fn read_session(row: &Row) -> Result<SessionRow, StoreError> {
    Ok(SessionRow {
        account: row.try_get(0).map_err(pg)?,
        token_hash: row.try_get(1).map_err(pg)?,
        api_key: row.try_get(2).map_err(pg)?,
        csrf_token: row.try_get(3).map_err(pg)?,
        created_at: row.try_get(4).map_err(pg)?,
        expires_at: row.try_get(5).map_err(pg)?,
    })
}

fn read_counts(row: &Row) -> Result<PresenceRow, StoreError> {
    Ok(PresenceRow {
        available: row.try_get(0).map_err(pg)?,
        busy: row.try_get(1).map_err(pg)?,
        off: row.try_get(2).map_err(pg)?,
    })
}
