//! What an operation can fail with, before any transport decides how to say it.

use roster_domain::RuleError;
use roster_store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The request broke a rule of the Users API.
    #[error(transparent)]
    Rule(#[from] RuleError),
    /// Credentials missing, unknown, wrong or revoked.
    #[error("authentication failed")]
    Unauthenticated,
    #[error("no account with sid {0}")]
    AccountNotFound(String),
    #[error("an account with sid {0} already exists")]
    AccountExists(String),
    #[error("no api key {0}")]
    KeyNotFound(String),
    /// Something an operator named does not exist.
    #[error("{0}")]
    NotFound(String),
    /// An operator setting with a bad value, named by its setting.
    #[error("invalid {setting}: {reason}")]
    InvalidSetting {
        setting: &'static str,
        reason: String,
    },
    #[error(transparent)]
    Storage(StoreError),
}

impl From<StoreError> for ServiceError {
    fn from(error: StoreError) -> Self {
        ServiceError::from_store(error, |_| None)
    }
}

impl ServiceError {
    /// Turns a storage failure into the rule it reports, where it reports one; a unique-key
    /// clash is told by the caller, who knows which rule it means there.
    pub(crate) fn from_store(
        error: StoreError,
        conflict: impl FnOnce(roster_store::Conflict) -> Option<RuleError>,
    ) -> Self {
        match error {
            StoreError::Rule(rule) => ServiceError::Rule(rule),
            StoreError::Conflict(clash) => match conflict(clash) {
                Some(rule) => ServiceError::Rule(rule),
                None => ServiceError::Storage(StoreError::Conflict(clash)),
            },
            other => ServiceError::Storage(other),
        }
    }

    pub(crate) fn setting(setting: &'static str, reason: impl Into<String>) -> Self {
        ServiceError::InvalidSetting {
            setting,
            reason: reason.into(),
        }
    }
}
