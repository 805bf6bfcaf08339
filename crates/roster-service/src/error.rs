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
    /// An operator setting with a bad value, named by its setting.
    #[error("invalid {setting}: {reason}")]
    InvalidSetting {
        setting: &'static str,
        reason: String,
    },
    #[error(transparent)]
    Storage(#[from] StoreError),
}

impl ServiceError {
    pub(crate) fn setting(setting: &'static str, reason: impl Into<String>) -> Self {
        ServiceError::InvalidSetting {
            setting,
            reason: reason.into(),
        }
    }
}
