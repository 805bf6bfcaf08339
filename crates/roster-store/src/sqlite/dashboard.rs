//! Dashboard sessions and presence samples in SQLite.

use jiff::Timestamp;
use roster_domain::{AccountSid, Presence, PresenceSample};
use rusqlite::{Connection, OptionalExtension, Row};

use super::backend;
use super::rows::write_error;
use crate::dashboard::{PresenceRow, SessionRow, SESSION_COLUMNS};
use crate::{DashboardSession, StoreError};

/// Each user of the account with whether one of its devices is busy and one is ON.
/// `?1` is the account; the outer query counts the states.
const USER_STATES: &str = "SELECT u.account_sid,
         EXISTS (SELECT 1 FROM devices d WHERE d.account_sid = u.account_sid
                 AND d.user_id = u.id AND d.busy = 1) AS busy,
         EXISTS (SELECT 1 FROM devices d WHERE d.account_sid = u.account_sid
                 AND d.user_id = u.id AND d.available = 1) AS is_on
     FROM users u";

/// The three counts over rows of [`USER_STATES`] named `s`; an outer join's missing user
/// (`s.account_sid IS NULL`) counts nowhere.
const COUNTS: &str = "COALESCE(SUM(CASE WHEN s.is_on = 1 AND s.busy = 0 THEN 1 ELSE 0 END), 0),
     COALESCE(SUM(CASE WHEN s.busy = 1 THEN 1 ELSE 0 END), 0),
     COALESCE(SUM(CASE WHEN s.is_on = 0 AND s.busy = 0 THEN 1 ELSE 0 END), 0)";

pub(super) fn create_session(
    conn: &Connection,
    session: &DashboardSession,
) -> Result<(), StoreError> {
    conn.prepare_cached(&format!(
        "INSERT INTO dashboard_sessions ({SESSION_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"
    ))
    .and_then(|mut s| {
        s.execute((
            session.account.as_str(),
            &session.token_hash[..],
            session.api_key.as_str(),
            &session.csrf_token,
            session.created_at.as_second(),
            session.expires_at.as_second(),
        ))
    })
    .map_err(write_error)?;
    Ok(())
}

pub(super) fn session(
    conn: &Connection,
    account: &AccountSid,
    token_hash: &[u8; 32],
) -> Result<Option<DashboardSession>, StoreError> {
    let row = conn
        .prepare_cached(&format!(
            "SELECT {SESSION_COLUMNS} FROM dashboard_sessions
             WHERE account_sid = ?1 AND token_hash = ?2"
        ))
        .and_then(|mut s| {
            s.query_row((account.as_str(), &token_hash[..]), read_session)
                .optional()
        })
        .map_err(backend)?;
    row.map(SessionRow::into_session).transpose()
}

pub(super) fn delete_session(
    conn: &Connection,
    account: &AccountSid,
    token_hash: &[u8; 32],
) -> Result<bool, StoreError> {
    let deleted = conn
        .prepare_cached("DELETE FROM dashboard_sessions WHERE account_sid = ?1 AND token_hash = ?2")
        .and_then(|mut s| s.execute((account.as_str(), &token_hash[..])))
        .map_err(write_error)?;
    Ok(deleted == 1)
}

pub(super) fn purge_sessions(conn: &Connection, before: Timestamp) -> Result<u64, StoreError> {
    let purged = conn
        .prepare_cached("DELETE FROM dashboard_sessions WHERE expires_at < ?1")
        .and_then(|mut s| s.execute([before.as_second()]))
        .map_err(write_error)?;
    Ok(purged as u64)
}

pub(super) fn presence(conn: &Connection, account: &AccountSid) -> Result<Presence, StoreError> {
    let sql = format!("SELECT {COUNTS} FROM ({USER_STATES} WHERE u.account_sid = ?1) s");
    conn.prepare_cached(&sql)
        .and_then(|mut s| s.query_row([account.as_str()], read_counts))
        .map_err(backend)?
        .into_presence()
}

pub(super) fn record_presence(conn: &Connection, taken_at: Timestamp) -> Result<u64, StoreError> {
    // `WHERE true` keeps SQLite from reading the upsert's ON CONFLICT as a join's ON.
    let sql = format!(
        "INSERT INTO presence_samples (account_sid, taken_at, available, busy, off)
         SELECT a.sid, ?1, {COUNTS}
         FROM accounts a LEFT JOIN ({USER_STATES}) s ON s.account_sid = a.sid
         WHERE true GROUP BY a.sid
         ON CONFLICT (account_sid, taken_at) DO NOTHING"
    );
    let added = conn
        .prepare_cached(&sql)
        .and_then(|mut s| s.execute([taken_at.as_second()]))
        .map_err(write_error)?;
    Ok(added as u64)
}

pub(super) fn presence_samples(
    conn: &Connection,
    account: &AccountSid,
    since: Timestamp,
) -> Result<Vec<PresenceSample>, StoreError> {
    let mut statement = conn
        .prepare_cached(
            "SELECT available, busy, off, taken_at FROM presence_samples
             WHERE account_sid = ?1 AND taken_at >= ?2 ORDER BY taken_at",
        )
        .map_err(backend)?;
    let rows = statement
        .query_map((account.as_str(), since.as_second()), |row| {
            Ok((read_counts(row)?, row.get::<_, i64>(3)?))
        })
        .map_err(backend)?;
    rows.map(|row| {
        let (counts, taken_at) = row.map_err(backend)?;
        counts.into_sample(taken_at)
    })
    .collect()
}

pub(super) fn purge_presence(conn: &Connection, before: Timestamp) -> Result<u64, StoreError> {
    let purged = conn
        .prepare_cached("DELETE FROM presence_samples WHERE taken_at < ?1")
        .and_then(|mut s| s.execute([before.as_second()]))
        .map_err(write_error)?;
    Ok(purged as u64)
}

fn read_session(row: &Row<'_>) -> rusqlite::Result<SessionRow> {
    Ok(SessionRow {
        account: row.get(0)?,
        token_hash: row.get(1)?,
        api_key: row.get(2)?,
        csrf_token: row.get(3)?,
        created_at: row.get(4)?,
        expires_at: row.get(5)?,
    })
}

fn read_counts(row: &Row<'_>) -> rusqlite::Result<PresenceRow> {
    Ok(PresenceRow {
        available: row.get(0)?,
        busy: row.get(1)?,
        off: row.get(2)?,
    })
}
