//! Events in SQLite.

use std::cell::Cell;

use jiff::Timestamp;
use roster_domain::{AccountSid, Event, EventKind};
use rusqlite::{Connection, OptionalExtension};

use super::backend;
use super::rows::write_error;
use crate::events::{EventBounds, EventRow, Subject};
use crate::StoreError;

thread_local! {
    /// Events written on this thread (the writer's) since the writer last took the count:
    /// the writer keeps those of jobs that committed and drops those of jobs undone.
    static WRITTEN: Cell<u64> = const { Cell::new(0) };
}

/// How many events this thread has written since the last [`take_written`].
pub(super) fn written() -> u64 {
    WRITTEN.with(Cell::get)
}

/// Forgets events counted after `count`, when the job that wrote them was undone.
pub(super) fn unwrite_to(count: u64) {
    WRITTEN.with(|written| written.set(count));
}

/// The events counted since the last call, and starts counting afresh.
pub(super) fn take_written() -> u64 {
    WRITTEN.with(|written| written.replace(0))
}

/// Records a change inside its transaction, under the account's next event id.
pub(super) fn emit(
    conn: &Connection,
    account: &AccountSid,
    kind: EventKind,
    subject: Subject<'_>,
    at: Timestamp,
) -> Result<(), StoreError> {
    let id: i64 = conn
        .prepare_cached(
            "UPDATE accounts SET last_event_id = last_event_id + 1 WHERE sid = ?1
             RETURNING last_event_id",
        )
        .and_then(|mut s| s.query_row([account.as_str()], |row| row.get(0)))
        .map_err(write_error)?;
    conn.prepare_cached(
        "INSERT INTO events (account_sid, id, kind, user_id, record, at_micros)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )
    .and_then(|mut s| {
        s.execute((
            account.as_str(),
            id,
            kind.as_str(),
            subject.user_id(),
            subject.snapshot(),
            at.as_microsecond(),
        ))
    })
    .map_err(write_error)?;
    WRITTEN.with(|written| written.set(written.get() + 1));
    Ok(())
}

pub(super) fn after(
    conn: &Connection,
    account: &AccountSid,
    after: u64,
    limit: u32,
) -> Result<Vec<Event>, StoreError> {
    let mut statement = conn
        .prepare_cached(
            "SELECT id, kind, record, at_micros FROM events
             WHERE account_sid = ?1 AND id > ?2 ORDER BY id LIMIT ?3",
        )
        .map_err(backend)?;
    let rows = statement
        .query_map(
            (
                account.as_str(),
                i64::try_from(after).unwrap_or(i64::MAX),
                limit,
            ),
            |row| {
                Ok(EventRow {
                    id: row.get(0)?,
                    kind: row.get(1)?,
                    record: row.get(2)?,
                    at_micros: row.get(3)?,
                })
            },
        )
        .map_err(backend)?;
    rows.map(|row| row.map_err(backend).and_then(EventRow::into_event))
        .collect()
}

pub(super) fn bounds(conn: &Connection, account: &AccountSid) -> Result<EventBounds, StoreError> {
    let newest: Option<i64> = conn
        .prepare_cached("SELECT last_event_id FROM accounts WHERE sid = ?1")
        .and_then(|mut s| s.query_row([account.as_str()], |row| row.get(0)).optional())
        .map_err(backend)?;
    let oldest: Option<i64> = conn
        .prepare_cached("SELECT MIN(id) FROM events WHERE account_sid = ?1")
        .and_then(|mut s| s.query_row([account.as_str()], |row| row.get(0)))
        .map_err(backend)?;
    Ok(EventBounds {
        newest: newest.and_then(|n| u64::try_from(n).ok()).unwrap_or(0),
        oldest: oldest.and_then(|n| u64::try_from(n).ok()),
    })
}

pub(super) fn purge(conn: &Connection, before: Timestamp) -> Result<u64, StoreError> {
    conn.prepare_cached("DELETE FROM webhook_deliveries WHERE at_micros < ?1")
        .and_then(|mut s| s.execute([before.as_microsecond()]))
        .map_err(write_error)?;
    let purged = conn
        .prepare_cached("DELETE FROM events WHERE at_micros < ?1")
        .and_then(|mut s| s.execute([before.as_microsecond()]))
        .map_err(write_error)?;
    Ok(purged as u64)
}
