//! Webhooks and their deliveries in PostgreSQL.

use jiff::Timestamp;
use roster_domain::{AccountSid, Delivery, Webhook};
use tokio_postgres::Row;

use super::{pg, Db};
use crate::webhooks::{DeliveryRow, WebhookRow, DELIVERY_COLUMNS, WEBHOOK_COLUMNS};
use crate::StoreError;

/// Adds a receiver whose deliveries start after the account's newest event.
pub(super) async fn add(db: &impl Db, hook: &Webhook) -> Result<Webhook, StoreError> {
    let row = db
        .row(
            "INSERT INTO webhooks (account_sid, id, url, secret, last_event_id, date_created)
             SELECT sid, $2, $3, $4, last_event_id, $5 FROM accounts WHERE sid = $1
             RETURNING last_event_id",
            &[
                &hook.account.as_str(),
                &hook.id,
                &hook.url,
                &hook.secret,
                &hook.date_created.as_microsecond(),
            ],
        )
        .await?
        .ok_or_else(|| StoreError::corrupt(format!("no account {}", hook.account)))?;
    let newest: i64 = row.try_get(0).map_err(pg)?;
    let mut added = hook.clone();
    added.cursor = u64::try_from(newest).unwrap_or(0);
    Ok(added)
}

pub(super) async fn list(
    db: &impl Db,
    account: Option<&AccountSid>,
) -> Result<Vec<Webhook>, StoreError> {
    let sql = format!(
        "SELECT {WEBHOOK_COLUMNS} FROM webhooks WHERE $1::text IS NULL OR account_sid = $1
         ORDER BY account_sid, date_created, id"
    );
    let rows = db.rows(&sql, &[&account.map(AccountSid::as_str)]).await?;
    rows.iter()
        .map(|row| read_webhook(row)?.into_webhook())
        .collect()
}

pub(super) async fn remove(
    db: &impl Db,
    account: &AccountSid,
    id: &str,
) -> Result<bool, StoreError> {
    let removed = db
        .run(
            "DELETE FROM webhooks WHERE account_sid = $1 AND id = $2",
            &[&account.as_str(), &id],
        )
        .await?;
    Ok(removed == 1)
}

/// Takes the lease for `owner` when it is free, expired or already `owner`'s.
pub(super) async fn lease(
    db: &impl Db,
    account: &AccountSid,
    id: &str,
    owner: &str,
    now: Timestamp,
    until: Timestamp,
) -> Result<Option<Webhook>, StoreError> {
    let sql = format!(
        "UPDATE webhooks SET lease_owner = $3, lease_until = $5
         WHERE account_sid = $1 AND id = $2
           AND (lease_owner IS NULL OR lease_owner = $3 OR lease_until < $4)
         RETURNING {WEBHOOK_COLUMNS}"
    );
    let row = db
        .row(
            &sql,
            &[
                &account.as_str(),
                &id,
                &owner,
                &now.as_microsecond(),
                &until.as_microsecond(),
            ],
        )
        .await?;
    row.map(|row| read_webhook(&row)?.into_webhook())
        .transpose()
}

/// Moves the receiver's cursor to `cursor` and records `delivery`, while `owner` holds
/// the lease; `false` when it does not any more.
pub(super) async fn advance(
    db: &impl Db,
    account: &AccountSid,
    id: &str,
    owner: &str,
    cursor: u64,
    delivery: Option<&Delivery>,
) -> Result<bool, StoreError> {
    let moved = db
        .run(
            "UPDATE webhooks SET last_event_id = $4
             WHERE account_sid = $1 AND id = $2 AND lease_owner = $3",
            &[
                &account.as_str(),
                &id,
                &owner,
                &i64::try_from(cursor).unwrap_or(i64::MAX),
            ],
        )
        .await?;
    if moved == 0 {
        return Ok(false);
    }
    if let Some(delivery) = delivery {
        db.run(
            "INSERT INTO webhook_deliveries (account_sid, webhook_id, event_id, status,
                 attempts, last_status, last_error, at_micros)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
             ON CONFLICT (account_sid, webhook_id, event_id) DO UPDATE SET
                 status = excluded.status, attempts = excluded.attempts,
                 last_status = excluded.last_status, last_error = excluded.last_error,
                 at_micros = excluded.at_micros",
            &[
                &delivery.account.as_str(),
                &delivery.webhook_id,
                &i64::try_from(delivery.event_id).unwrap_or(i64::MAX),
                &delivery.status.as_str(),
                &i64::from(delivery.attempts),
                &delivery.last_status.map(i64::from),
                &delivery.last_error,
                &delivery.at.as_microsecond(),
            ],
        )
        .await?;
    }
    Ok(true)
}

/// The account's latest deliveries, newest first.
pub(super) async fn deliveries(
    db: &impl Db,
    account: &AccountSid,
    limit: u32,
) -> Result<Vec<Delivery>, StoreError> {
    let sql = format!(
        "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries WHERE account_sid = $1
         ORDER BY at_micros DESC, event_id DESC LIMIT $2"
    );
    let rows = db
        .rows(&sql, &[&account.as_str(), &i64::from(limit)])
        .await?;
    rows.iter()
        .map(|row| {
            DeliveryRow {
                account: row.try_get(0).map_err(pg)?,
                webhook_id: row.try_get(1).map_err(pg)?,
                event_id: row.try_get(2).map_err(pg)?,
                status: row.try_get(3).map_err(pg)?,
                attempts: row.try_get(4).map_err(pg)?,
                last_status: row.try_get(5).map_err(pg)?,
                last_error: row.try_get(6).map_err(pg)?,
                at_micros: row.try_get(7).map_err(pg)?,
            }
            .into_delivery()
        })
        .collect()
}

fn read_webhook(row: &Row) -> Result<WebhookRow, StoreError> {
    Ok(WebhookRow {
        account: row.try_get(0).map_err(pg)?,
        id: row.try_get(1).map_err(pg)?,
        url: row.try_get(2).map_err(pg)?,
        secret: row.try_get(3).map_err(pg)?,
        last_event_id: row.try_get(4).map_err(pg)?,
        date_created: row.try_get(5).map_err(pg)?,
    })
}
