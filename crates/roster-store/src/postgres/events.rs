//! Events in PostgreSQL.

use std::cell::Cell;
use std::future::Future;

use jiff::Timestamp;
use roster_domain::{AccountSid, Event, EventKind};
use tokio_postgres::Row;

use super::{pg, Db};
use crate::events::{EventBounds, EventRow, Subject};
use crate::StoreError;

tokio::task_local! {
    /// Events written by the transaction [`counting`] runs.
    static WRITTEN: Cell<u64>;
}

/// Runs a transaction's work and counts the events it writes, so only those of committed
/// transactions are counted (a transaction retried after a lost race writes them again).
pub(super) async fn counting<T>(work: impl Future<Output = T>) -> (T, u64) {
    WRITTEN
        .scope(Cell::new(0), async {
            let out = work.await;
            (out, WRITTEN.with(Cell::get))
        })
        .await
}

/// Records a change inside its transaction, under the account's next event id. Taking the
/// id locks the account's row until the transaction ends, so ids are handed out in the
/// order transactions commit: a reader never sees a later id before an earlier one.
pub(super) async fn emit(
    db: &impl Db,
    account: &AccountSid,
    kind: EventKind,
    subject: Subject<'_>,
    at: Timestamp,
) -> Result<(), StoreError> {
    let row = db
        .row(
            "UPDATE accounts SET last_event_id = last_event_id + 1 WHERE sid = $1
             RETURNING last_event_id",
            &[&account.as_str()],
        )
        .await?
        .ok_or_else(|| StoreError::corrupt(format!("no account {account} for its event")))?;
    let id: i64 = row.try_get(0).map_err(pg)?;
    db.run(
        "INSERT INTO events (account_sid, id, kind, user_id, record, at_micros)
         VALUES ($1, $2, $3, $4, $5, $6)",
        &[
            &account.as_str(),
            &id,
            &kind.as_str(),
            &subject.user_id(),
            &subject.snapshot(),
            &at.as_microsecond(),
        ],
    )
    .await?;
    // Outside `counting` there is no transaction to count for.
    let _ = WRITTEN.try_with(|written| written.set(written.get() + 1));
    Ok(())
}

pub(super) async fn after(
    db: &impl Db,
    account: &AccountSid,
    after: u64,
    limit: u32,
) -> Result<Vec<Event>, StoreError> {
    let rows = db
        .rows(
            "SELECT id, kind, record, at_micros FROM events
             WHERE account_sid = $1 AND id > $2 ORDER BY id LIMIT $3",
            &[
                &account.as_str(),
                &i64::try_from(after).unwrap_or(i64::MAX),
                &i64::from(limit),
            ],
        )
        .await?;
    rows.iter()
        .map(|row| read_event(row)?.into_event())
        .collect()
}

fn read_event(row: &Row) -> Result<EventRow, StoreError> {
    Ok(EventRow {
        id: row.try_get(0).map_err(pg)?,
        kind: row.try_get(1).map_err(pg)?,
        record: row.try_get(2).map_err(pg)?,
        at_micros: row.try_get(3).map_err(pg)?,
    })
}

pub(super) async fn bounds(db: &impl Db, account: &AccountSid) -> Result<EventBounds, StoreError> {
    let row = db
        .row(
            "SELECT a.last_event_id, (SELECT MIN(e.id) FROM events e WHERE e.account_sid = a.sid)
             FROM accounts a WHERE a.sid = $1",
            &[&account.as_str()],
        )
        .await?;
    let Some(row) = row else {
        return Ok(EventBounds::default());
    };
    let newest: i64 = row.try_get(0).map_err(pg)?;
    let oldest: Option<i64> = row.try_get(1).map_err(pg)?;
    Ok(EventBounds {
        newest: u64::try_from(newest).unwrap_or(0),
        oldest: oldest.and_then(|n| u64::try_from(n).ok()),
    })
}

pub(super) async fn purge(db: &impl Db, before: Timestamp) -> Result<u64, StoreError> {
    db.run(
        "DELETE FROM webhook_deliveries WHERE at_micros < $1",
        &[&before.as_microsecond()],
    )
    .await?;
    db.run(
        "DELETE FROM events WHERE at_micros < $1",
        &[&before.as_microsecond()],
    )
    .await
}
