//! Roster's operations: creating users, issuing keys, authenticating requests, gating
//! accounts. HTTP handlers and CLI commands both call these, so an action behaves the same
//! from every door.

mod accounts;
mod cache;
mod credentials;
mod dashboard;
mod devices;
mod error;
mod events;
mod health;
mod idempotency;
mod import;
mod operator;
mod rate_limit;
mod users;
mod users_csv;
mod webhooks;

use std::sync::Arc;

use roster_domain::{Account, AccountSid, Clock, NamePolicy};
use roster_store::Store;

pub use accounts::{AccountSettingsInput, AccountStatus};
pub use credentials::{ApiToken, IssuedKey, TokenHasher};
pub use dashboard::{random_token, OpenedSession, PRESENCE_KEEP_HOURS, PRESENCE_SAMPLE_SECONDS};
pub use devices::{AddDevice, UpdateDevice};
pub use error::ServiceError;
pub use events::EVENT_PAGE;
pub use idempotency::{Created, Idempotency};
pub use import::{CheckedImport, ImportError, ImportRow, RowError, RowProblem, IMPORT_MAX_ROWS};
pub use operator::CallEvent;
pub use rate_limit::{LocalRateLimiter, RateDecision, RateLimiter, SharedRateLimiter};
pub use roster_store::{DashboardSession, EventBounds, StoreStats};
pub use users::{CreateUser, UpdateUser, UserFilter};
pub use users_csv::{
    read_users_csv, write_users_csv, CsvError, CsvImport, ImportOutcome, ImportStage, ReportLine,
    USERS_CSV_COLUMNS,
};

use cache::TtlCache;

/// How long a looked-up key or account is trusted before it is read again. Changes made
/// by the CLI or another node therefore reach every server within this time, which stays
/// under the second the contract allows with room for the request that notices.
const CACHE_TTL: std::time::Duration = std::time::Duration::from_millis(750);

/// Options of the directory that come from the deployment's configuration.
#[derive(Debug, Clone)]
pub struct DirectoryOptions {
    pub names: NamePolicy,
    /// The realm SIP digests are computed in; registrars must use the same.
    pub sip_realm: String,
}

impl Default for DirectoryOptions {
    fn default() -> Self {
        Self {
            names: NamePolicy::default(),
            sip_realm: "roster".to_owned(),
        }
    }
}

/// The directory of every account in one deployment: the entry point to every operation.
pub struct Directory {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    hasher: TokenHasher,
    options: DirectoryOptions,
    keys: TtlCache<String, Option<Arc<roster_domain::ApiKey>>>,
    accounts: TtlCache<AccountSid, Option<Arc<Account>>>,
}

impl Directory {
    pub fn new(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        hasher: TokenHasher,
        options: DirectoryOptions,
    ) -> Self {
        Self {
            store,
            clock,
            hasher,
            options,
            keys: TtlCache::new(CACHE_TTL),
            accounts: TtlCache::new(CACHE_TTL),
        }
    }

    pub fn clock(&self) -> &dyn Clock {
        self.clock.as_ref()
    }
}
