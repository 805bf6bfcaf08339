//! Storage failures, with unique-key clashes told apart so callers can answer them.

/// Which unique key a write clashed with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Conflict {
    AccountExists,
    ApiKeyExists,
    Email,
    Number,
    DeviceId,
    AnotherDeviceOn,
    /// The account already has an answer under this idempotency key.
    IdempotencyKey,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A rule of the domain refused the change, checked inside the write's transaction.
    #[error(transparent)]
    Rule(#[from] roster_domain::RuleError),
    #[error("unique key clash: {0:?}")]
    Conflict(Conflict),
    #[error(
        "database schema version {found} is newer than this roster knows ({known}); upgrade roster"
    )]
    SchemaTooNew { found: i64, known: i64 },
    /// A transaction kept losing serialisation races to concurrent ones.
    #[error("the database was too busy with conflicting changes; try again")]
    Contention,
    #[error("stored data is malformed: {0}")]
    Corrupt(String),
    /// The cause is shown in the message rather than chained as a source, so an error
    /// report prints it once.
    #[error("storage failed: {0}")]
    Backend(Box<dyn std::error::Error + Send + Sync>),
}

impl StoreError {
    pub(crate) fn corrupt(what: impl Into<String>) -> Self {
        StoreError::Corrupt(what.into())
    }
}
