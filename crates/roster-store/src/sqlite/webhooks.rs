//! Webhooks and their deliveries in SQLite.

use jiff::Timestamp;
use roster_domain::{AccountSid, Delivery, Webhook};
use rusqlite::{Connection, OptionalExtension, Row};

use super::backend;
use super::rows::write_error;
use crate::webhooks::{DeliveryRow, WebhookRow, DELIVERY_COLUMNS, WEBHOOK_COLUMNS};
use crate::StoreError;

/// Adds a receiver whose deliveries start after the account's newest event.
pub(super) fn add(conn: &Connection, hook: &Webhook) -> Result<Webhook, StoreError> {
    let newest: i64 = conn
        .prepare_cached("SELECT last_event_id FROM accounts WHERE sid = ?1")
        .and_then(|mut s| s.query_row([hook.account.as_str()], |row| row.get(0)))
        .map_err(backend)?;
    conn.prepare_cached(
        "INSERT INTO webhooks (account_sid, id, url, secret, last_event_id, date_created)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )
    .and_then(|mut s| {
        s.execute((
            hook.account.as_str(),
            &hook.id,
            &hook.url,
            &hook.secret,
            newest,
            hook.date_created.as_microsecond(),
        ))
    })
    .map_err(write_error)?;
    let mut added = hook.clone();
    added.cursor = u64::try_from(newest).unwrap_or(0);
    Ok(added)
}

pub(super) fn list(
    conn: &Connection,
    account: Option<&AccountSid>,
) -> Result<Vec<Webhook>, StoreError> {
    let sql = format!(
        "SELECT {WEBHOOK_COLUMNS} FROM webhooks WHERE ?1 IS NULL OR account_sid = ?1
         ORDER BY account_sid, date_created, id"
    );
    let mut statement = conn.prepare_cached(&sql).map_err(backend)?;
    let rows = statement
        .query_map([account.map(AccountSid::as_str)], read_webhook)
        .map_err(backend)?;
    rows.map(|row| row.map_err(backend).and_then(WebhookRow::into_webhook))
        .collect()
}

pub(super) fn remove(
    conn: &Connection,
    account: &AccountSid,
    id: &str,
) -> Result<bool, StoreError> {
    let removed = conn
        .execute(
            "DELETE FROM webhooks WHERE account_sid = ?1 AND id = ?2",
            (account.as_str(), id),
        )
        .map_err(write_error)?;
    Ok(removed == 1)
}

/// Takes the lease for `owner` when it is free, expired or already `owner`'s.
pub(super) fn lease(
    conn: &Connection,
    account: &AccountSid,
    id: &str,
    owner: &str,
    now: Timestamp,
    until: Timestamp,
) -> Result<Option<Webhook>, StoreError> {
    let taken = conn
        .prepare_cached(
            "UPDATE webhooks SET lease_owner = ?3, lease_until = ?5
             WHERE account_sid = ?1 AND id = ?2
               AND (lease_owner IS NULL OR lease_owner = ?3 OR lease_until < ?4)",
        )
        .and_then(|mut s| {
            s.execute((
                account.as_str(),
                id,
                owner,
                now.as_microsecond(),
                until.as_microsecond(),
            ))
        })
        .map_err(write_error)?;
    if taken == 0 {
        return Ok(None);
    }
    let sql = format!("SELECT {WEBHOOK_COLUMNS} FROM webhooks WHERE account_sid = ?1 AND id = ?2");
    let row = conn
        .prepare_cached(&sql)
        .and_then(|mut s| s.query_row((account.as_str(), id), read_webhook).optional())
        .map_err(backend)?;
    row.map(WebhookRow::into_webhook).transpose()
}

/// Moves the receiver's cursor to `cursor` and records `delivery`, while `owner` holds
/// the lease; `false` when it does not any more.
pub(super) fn advance(
    conn: &Connection,
    account: &AccountSid,
    id: &str,
    owner: &str,
    cursor: u64,
    delivery: Option<&Delivery>,
) -> Result<bool, StoreError> {
    let moved = conn
        .prepare_cached(
            "UPDATE webhooks SET last_event_id = ?4
             WHERE account_sid = ?1 AND id = ?2 AND lease_owner = ?3",
        )
        .and_then(|mut s| {
            s.execute((
                account.as_str(),
                id,
                owner,
                i64::try_from(cursor).unwrap_or(i64::MAX),
            ))
        })
        .map_err(write_error)?;
    if moved == 0 {
        return Ok(false);
    }
    if let Some(delivery) = delivery {
        conn.prepare_cached(
            "INSERT INTO webhook_deliveries (account_sid, webhook_id, event_id, status,
                 attempts, last_status, last_error, at_micros)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
             ON CONFLICT (account_sid, webhook_id, event_id) DO UPDATE SET
                 status = excluded.status, attempts = excluded.attempts,
                 last_status = excluded.last_status, last_error = excluded.last_error,
                 at_micros = excluded.at_micros",
        )
        .and_then(|mut s| {
            s.execute((
                delivery.account.as_str(),
                &delivery.webhook_id,
                i64::try_from(delivery.event_id).unwrap_or(i64::MAX),
                delivery.status.as_str(),
                i64::from(delivery.attempts),
                delivery.last_status.map(i64::from),
                &delivery.last_error,
                delivery.at.as_microsecond(),
            ))
        })
        .map_err(write_error)?;
    }
    Ok(true)
}

/// The account's latest deliveries, newest first.
pub(super) fn deliveries(
    conn: &Connection,
    account: &AccountSid,
    limit: u32,
) -> Result<Vec<Delivery>, StoreError> {
    let sql = format!(
        "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries WHERE account_sid = ?1
         ORDER BY at_micros DESC, event_id DESC LIMIT ?2"
    );
    let mut statement = conn.prepare_cached(&sql).map_err(backend)?;
    let rows = statement
        .query_map((account.as_str(), limit), |row| {
            Ok(DeliveryRow {
                account: row.get(0)?,
                webhook_id: row.get(1)?,
                event_id: row.get(2)?,
                status: row.get(3)?,
                attempts: row.get(4)?,
                last_status: row.get(5)?,
                last_error: row.get(6)?,
                at_micros: row.get(7)?,
            })
        })
        .map_err(backend)?;
    rows.map(|row| row.map_err(backend).and_then(DeliveryRow::into_delivery))
        .collect()
}

fn read_webhook(row: &Row<'_>) -> rusqlite::Result<WebhookRow> {
    Ok(WebhookRow {
        account: row.get(0)?,
        id: row.get(1)?,
        url: row.get(2)?,
        secret: row.get(3)?,
        last_event_id: row.get(4)?,
        date_created: row.get(5)?,
    })
}
