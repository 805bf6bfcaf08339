//! The one place where a SQLite unique-key clash is told apart from other failures.

use rusqlite::ErrorCode;

use super::backend;
use crate::{Conflict, StoreError};

/// Maps a failed write to the unique key it clashed with, when it did, by the columns that
/// SQLite names in its message.
pub(crate) fn write_error(cause: rusqlite::Error) -> StoreError {
    let clash = match &cause {
        rusqlite::Error::SqliteFailure(err, Some(message))
            if err.code == ErrorCode::ConstraintViolation =>
        {
            conflict_named_by(message)
        }
        _ => None,
    };
    match clash {
        Some(conflict) => StoreError::Conflict(conflict),
        None => backend(cause),
    }
}

fn conflict_named_by(message: &str) -> Option<Conflict> {
    let columns = message.strip_prefix("UNIQUE constraint failed: ")?;
    Some(match columns {
        "accounts.sid" => Conflict::AccountExists,
        "api_keys.key" => Conflict::ApiKeyExists,
        "users.account_sid, users.email_folded" => Conflict::Email,
        "devices.account_sid, devices.contact_uri" => Conflict::Number,
        "devices.id" | "devices.account_sid, devices.id" => Conflict::DeviceId,
        "devices.account_sid, devices.user_id" => Conflict::AnotherDeviceOn,
        "idempotency_keys.account_sid, idempotency_keys.idempotency_key" => {
            Conflict::IdempotencyKey
        }
        _ => return None,
    })
}
