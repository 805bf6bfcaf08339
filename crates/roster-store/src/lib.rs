//! Roster's storage: one [`Store`] interface and its backends. Every tenant-owned query is
//! scoped by account in SQL, so another account's ids are simply not found.

mod dashboard;
mod error;
mod events;
pub mod postgres;
mod rows;
pub mod sqlite;
mod webhooks;

use async_trait::async_trait;
use jiff::Timestamp;
use roster_domain::{
    Account, AccountSid, ApiKey, ApiKeyId, ContactUri, Delivery, Device, DeviceChange, DeviceId,
    Event, NewDevice, NewUser, Precondition, Presence, PresenceSample, SipCredentials, User,
    UserChanges, UserFields, UserId, Webhook,
};

pub use dashboard::DashboardSession;
pub use error::{Conflict, StoreError};
pub use events::EventBounds;
pub use postgres::PostgresStore;
pub use sqlite::SqliteStore;

/// Everything roster keeps, behind one interface so SQLite and PostgreSQL are
/// interchangeable. Methods never turn a storage failure into "not found".
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// A secret of the deployment kept in the database, made and saved by `make` the first
    /// time it is asked for.
    async fn secret(&self, name: &str, make: fn() -> Vec<u8>) -> Result<Vec<u8>, StoreError>;

    /// Fails with [`Conflict::AccountExists`] when the sid is taken.
    async fn create_account(&self, account: &Account) -> Result<(), StoreError>;
    /// Saves new settings of an existing account; `false` when there is no such account.
    async fn update_account(&self, account: &Account) -> Result<bool, StoreError>;
    async fn account(&self, sid: &AccountSid) -> Result<Option<Account>, StoreError>;
    async fn accounts(&self) -> Result<Vec<Account>, StoreError>;

    async fn create_api_key(&self, key: &ApiKey) -> Result<(), StoreError>;
    async fn api_key(&self, id: &ApiKeyId) -> Result<Option<ApiKey>, StoreError>;
    /// Marks a key revoked; `false` when there is no such key.
    async fn revoke_api_key(&self, id: &ApiKeyId, at: Timestamp) -> Result<bool, StoreError>;

    /// Writes the user and its devices in one transaction, with `idempotency` when given.
    /// Fails with [`Conflict::IdempotencyKey`] (checked first), [`Conflict::Email`],
    /// [`Conflict::Number`] or [`Conflict::DeviceId`].
    async fn create_user(
        &self,
        account: &AccountSid,
        user: &NewUser,
        idempotency: Option<&IdempotentAnswer>,
    ) -> Result<User, StoreError>;
    /// Writes every user with its devices and its `user.created` event in one transaction:
    /// all of them or, on the first failure, none. Fails with [`Conflict::Email`],
    /// [`Conflict::Number`] or [`Conflict::DeviceId`] when one of them clashes with a stored
    /// user or with another of them.
    async fn create_users(
        &self,
        account: &AccountSid,
        users: &[NewUser],
    ) -> Result<Vec<User>, StoreError>;
    /// The answer kept under an idempotency key, unless it is older than
    /// [`IDEMPOTENCY_WINDOW_SECONDS`] at `now`.
    async fn idempotent_answer(
        &self,
        account: &AccountSid,
        key: &str,
        now: Timestamp,
    ) -> Result<Option<IdempotentAnswer>, StoreError>;
    async fn user(
        &self,
        account: &AccountSid,
        id: UserId,
        fields: UserFields,
    ) -> Result<Option<User>, StoreError>;
    /// One page of the account's users matching `query`, with the number of all matches,
    /// both read from one snapshot.
    async fn list_users(
        &self,
        account: &AccountSid,
        query: &UserQuery,
    ) -> Result<UserPage, StoreError>;
    /// Applies `changes` with the domain's rules in one serialised transaction. Fails with
    /// `UserNotFound`, `PreconditionFailed`, the broken rule, or [`Conflict::Email`].
    async fn update_user(
        &self,
        account: &AccountSid,
        id: UserId,
        changes: &UserChanges,
        expect: &Precondition,
        at: Timestamp,
    ) -> Result<User, StoreError>;
    /// Deletes a user with its devices and their credentials; `false` when there is none.
    /// Fails with `PreconditionFailed` when the user is not at an expected version.
    async fn delete_user(
        &self,
        account: &AccountSid,
        id: UserId,
        expect: &Precondition,
        at: Timestamp,
    ) -> Result<bool, StoreError>;
    async fn record_login(
        &self,
        account: &AccountSid,
        id: UserId,
        at: Timestamp,
    ) -> Result<Option<User>, StoreError>;

    /// The user's devices by id; `None` when there is no such user.
    async fn devices(
        &self,
        account: &AccountSid,
        user: UserId,
    ) -> Result<Option<Vec<Device>>, StoreError>;
    /// Adds a device to a user, with `idempotency` when given. Fails with
    /// [`Conflict::IdempotencyKey`] (checked first), `UserNotFound`, [`Conflict::Number`] or
    /// [`Conflict::DeviceId`].
    async fn add_device(
        &self,
        account: &AccountSid,
        user: UserId,
        device: &NewDevice,
        at: Timestamp,
        idempotency: Option<&IdempotentAnswer>,
    ) -> Result<Device, StoreError>;
    /// Applies `change` with the domain's rules in one transaction. Fails with
    /// `UserNotFound`, `DeviceNotFound`, `PreconditionFailed`, the broken rule,
    /// [`Conflict::Number`], or [`Conflict::AnotherDeviceOn`] when the user already has a
    /// device ON.
    async fn update_device(
        &self,
        account: &AccountSid,
        user: UserId,
        device: DeviceId,
        change: &DeviceChange,
        expect: &Precondition,
        at: Timestamp,
    ) -> Result<Device, StoreError>;
    /// Fails with `UserNotFound`, `DeviceNotFound` or `PreconditionFailed`.
    async fn delete_device(
        &self,
        account: &AccountSid,
        user: UserId,
        device: DeviceId,
        expect: &Precondition,
        at: Timestamp,
    ) -> Result<(), StoreError>;
    /// Verifies the account's device with this number; `None` when there is none.
    async fn verify_device(
        &self,
        account: &AccountSid,
        contact: &ContactUri,
        at: Timestamp,
    ) -> Result<Option<Device>, StoreError>;
    /// Marks a device busy or free; `None` when the account has no such device.
    async fn set_device_busy(
        &self,
        account: &AccountSid,
        device: DeviceId,
        busy: bool,
        at: Timestamp,
    ) -> Result<Option<Device>, StoreError>;
    /// Replaces a softphone's digests. Fails with `DeviceNotFound`.
    async fn set_sip_credentials(
        &self,
        account: &AccountSid,
        credentials: &SipCredentials,
        at: Timestamp,
    ) -> Result<(), StoreError>;
    async fn sip_credentials(
        &self,
        account: &AccountSid,
        username: &str,
    ) -> Result<Option<SipCredentials>, StoreError>;

    /// Deletes an account with everything in it; `false` when there is none.
    async fn delete_account(&self, sid: &AccountSid) -> Result<bool, StoreError>;
    async fn api_keys(&self, account: &AccountSid) -> Result<Vec<ApiKey>, StoreError>;

    /// The account's events with ids above `after`, oldest first, at most `limit`. Every
    /// change of a user or device above wrote its event in its own transaction.
    async fn events(
        &self,
        account: &AccountSid,
        after: u64,
        limit: u32,
    ) -> Result<Vec<Event>, StoreError>;
    /// The newest event id the account has issued and the oldest it still keeps.
    async fn event_bounds(&self, account: &AccountSid) -> Result<EventBounds, StoreError>;
    /// Forgets every account's events, and webhook deliveries, from before `before`;
    /// returns how many events.
    async fn purge_events(&self, before: Timestamp) -> Result<u64, StoreError>;

    /// Adds a receiver; its deliveries start after the account's newest event, which the
    /// returned webhook's cursor holds.
    async fn add_webhook(&self, hook: &Webhook) -> Result<Webhook, StoreError>;
    /// The account's receivers, or every account's with `None`.
    async fn webhooks(&self, account: Option<&AccountSid>) -> Result<Vec<Webhook>, StoreError>;
    /// `false` when there is no such receiver.
    async fn remove_webhook(&self, account: &AccountSid, id: &str) -> Result<bool, StoreError>;
    /// Takes or renews the lease on a receiver for `owner` until `until`, unless another
    /// owner's lease runs past `now`; the receiver as it stands when taken.
    async fn lease_webhook(
        &self,
        account: &AccountSid,
        id: &str,
        owner: &str,
        now: Timestamp,
        until: Timestamp,
    ) -> Result<Option<Webhook>, StoreError>;
    /// Moves the receiver's cursor to `cursor` and records `delivery`, in one transaction,
    /// while `owner` holds the lease; `false` when it does not.
    async fn advance_webhook(
        &self,
        account: &AccountSid,
        id: &str,
        owner: &str,
        cursor: u64,
        delivery: Option<&Delivery>,
    ) -> Result<bool, StoreError>;
    /// The account's latest deliveries, newest first.
    async fn deliveries(
        &self,
        account: &AccountSid,
        limit: u32,
    ) -> Result<Vec<Delivery>, StoreError>;

    /// Fails with a backend error when a session with this hash exists, which 256 random
    /// bits make a matter of a broken generator.
    async fn create_session(&self, session: &DashboardSession) -> Result<(), StoreError>;
    /// The account's session with this token hash, expired or not: the caller judges.
    async fn session(
        &self,
        account: &AccountSid,
        token_hash: &[u8; 32],
    ) -> Result<Option<DashboardSession>, StoreError>;
    /// `false` when there is no such session.
    async fn delete_session(
        &self,
        account: &AccountSid,
        token_hash: &[u8; 32],
    ) -> Result<bool, StoreError>;
    /// Forgets every account's sessions that expired before `before`; returns how many.
    async fn purge_sessions(&self, before: Timestamp) -> Result<u64, StoreError>;

    /// The account's users counted by presence now, in one query.
    async fn presence(&self, account: &AccountSid) -> Result<Presence, StoreError>;
    /// Counts every account's users now and keeps the counts as each account's sample at
    /// `taken_at` (zeros for an account without users). A sample already kept for that
    /// moment, by this node or another, stays as it is; returns how many were added.
    async fn record_presence(&self, taken_at: Timestamp) -> Result<u64, StoreError>;
    /// The account's samples taken at or after `since`, oldest first.
    async fn presence_samples(
        &self,
        account: &AccountSid,
        since: Timestamp,
    ) -> Result<Vec<PresenceSample>, StoreError>;
    /// Forgets every account's samples taken before `before`; returns how many.
    async fn purge_presence(&self, before: Timestamp) -> Result<u64, StoreError>;

    /// The schema version the database records, read from it: a query that also proves
    /// the database answers.
    async fn schema_version(&self) -> Result<i64, StoreError>;
    /// The schema version this build's migrations bring a database to.
    fn known_schema_version(&self) -> i64;
    /// How the connections are used right now, and the events this process has written.
    /// Cheap: counters and a lock held for a length, no query.
    fn stats(&self) -> StoreStats;
}

/// A snapshot of a store's connections, for metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StoreStats {
    /// Open connections no caller is using (SQLite: read connections kept for reuse).
    pub idle_connections: usize,
    /// Connections a caller is using right now (SQLite: reads running).
    pub busy_connections: usize,
    /// Callers waiting for storage: writes queued for SQLite's writer thread, or callers
    /// waiting for a PostgreSQL connection from the pool.
    pub waiting: usize,
    /// Events written by this process in committed transactions since it started.
    pub events_written: u64,
}

/// Which users a list reads. In each filter the values are alternatives; a filter of
/// `Some(vec![])` matches nothing, `None` does not filter.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserQuery {
    /// Addresses in lower case.
    pub emails: Option<Vec<String>>,
    /// Normalised contact URIs: a user matches when one of its devices has one of them.
    pub contacts: Option<Vec<String>>,
    /// Text a user matches when it occurs in its first name, last name, "first last",
    /// email, or one of its devices' contact URIs. `%`, `_` and `\` in it are literal.
    /// Case is ignored for ASCII letters; PostgreSQL also folds other letters as its
    /// locale does, SQLite does not. No index serves it: each search reads every user of
    /// the account.
    pub search: Option<String>,
    pub fields: UserFields,
    pub offset: u64,
    pub limit: u32,
}

/// How long an idempotency key's answer is kept and replayed: 24 hours.
pub const IDEMPOTENCY_WINDOW_SECONDS: i64 = 24 * 60 * 60;

/// The first answer of a create sent with an idempotency key, kept to replay for a retry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotentAnswer {
    pub key: String,
    /// A digest of what was asked, to tell a retry from another request reusing the key.
    pub fingerprint: Vec<u8>,
    /// The answer as first sent; storage does not look inside.
    pub answer: Vec<u8>,
    pub at: Timestamp,
}

/// One page of users and the number of all that matched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserPage {
    pub total: u64,
    pub users: Vec<User>,
}
