//! Answers kept under idempotency keys in PostgreSQL.

use jiff::Timestamp;
use roster_domain::AccountSid;

use super::{pg, Db};
use crate::rows::timestamp;
use crate::{IdempotentAnswer, StoreError, IDEMPOTENCY_WINDOW_SECONDS};

/// Keeps `answer` under its key; called inside the create's transaction and before its
/// other writes, so a concurrent retry with the same key waits on this row, then clashes
/// with it and writes nothing. Clears the account's expired keys on the way, which is also
/// what frees an expired key for reuse.
pub(super) async fn record(
    db: &impl Db,
    account: &AccountSid,
    answer: &IdempotentAnswer,
) -> Result<(), StoreError> {
    let expired = answer.at.as_second() - IDEMPOTENCY_WINDOW_SECONDS;
    db.run(
        "DELETE FROM idempotency_keys WHERE account_sid = $1 AND date_created < $2",
        &[&account.as_str(), &expired],
    )
    .await?;
    db.run(
        "INSERT INTO idempotency_keys (account_sid, idempotency_key, fingerprint, answer,
             date_created)
         VALUES ($1, $2, $3, $4, $5)",
        &[
            &account.as_str(),
            &answer.key,
            &answer.fingerprint,
            &answer.answer,
            &answer.at.as_second(),
        ],
    )
    .await?;
    Ok(())
}

pub(super) async fn find(
    db: &impl Db,
    account: &AccountSid,
    key: &str,
    now: Timestamp,
) -> Result<Option<IdempotentAnswer>, StoreError> {
    let expired = now.as_second() - IDEMPOTENCY_WINDOW_SECONDS;
    let row = db
        .row(
            "SELECT fingerprint, answer, date_created FROM idempotency_keys
             WHERE account_sid = $1 AND idempotency_key = $2 AND date_created >= $3",
            &[&account.as_str(), &key, &expired],
        )
        .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    Ok(Some(IdempotentAnswer {
        key: key.to_owned(),
        fingerprint: row.try_get(0).map_err(pg)?,
        answer: row.try_get(1).map_err(pg)?,
        at: timestamp(row.try_get(2).map_err(pg)?)?,
    }))
}
