//! Answers kept under idempotency keys in SQLite.

use jiff::Timestamp;
use roster_domain::AccountSid;
use rusqlite::{Connection, OptionalExtension};

use super::backend;
use super::rows::write_error;
use crate::rows::timestamp;
use crate::{IdempotentAnswer, StoreError, IDEMPOTENCY_WINDOW_SECONDS};

/// Keeps `answer` under its key; called inside the create's transaction and before its
/// other writes, so a concurrent retry with the same key clashes here and writes nothing.
/// Clears the account's expired keys on the way, which is also what frees an expired key
/// for reuse.
pub(super) fn record(
    conn: &Connection,
    account: &AccountSid,
    answer: &IdempotentAnswer,
) -> Result<(), StoreError> {
    let expired = answer.at.as_second() - IDEMPOTENCY_WINDOW_SECONDS;
    conn.prepare_cached(
        "DELETE FROM idempotency_keys WHERE account_sid = ?1 AND date_created < ?2",
    )
    .and_then(|mut s| s.execute((account.as_str(), expired)))
    .map_err(write_error)?;
    conn.prepare_cached(
        "INSERT INTO idempotency_keys (account_sid, idempotency_key, fingerprint, answer,
             date_created)
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )
    .and_then(|mut s| {
        s.execute((
            account.as_str(),
            &answer.key,
            &answer.fingerprint,
            &answer.answer,
            answer.at.as_second(),
        ))
    })
    .map_err(write_error)?;
    Ok(())
}

pub(super) fn find(
    conn: &Connection,
    account: &AccountSid,
    key: &str,
    now: Timestamp,
) -> Result<Option<IdempotentAnswer>, StoreError> {
    let expired = now.as_second() - IDEMPOTENCY_WINDOW_SECONDS;
    let row = conn
        .prepare_cached(
            "SELECT fingerprint, answer, date_created FROM idempotency_keys
             WHERE account_sid = ?1 AND idempotency_key = ?2 AND date_created >= ?3",
        )
        .and_then(|mut s| {
            s.query_row((account.as_str(), key, expired), |row| {
                Ok((row.get(0)?, row.get(1)?, row.get::<_, i64>(2)?))
            })
            .optional()
        })
        .map_err(backend)?;
    row.map(|(fingerprint, answer, at)| {
        Ok(IdempotentAnswer {
            key: key.to_owned(),
            fingerprint,
            answer,
            at: timestamp(at)?,
        })
    })
    .transpose()
}
