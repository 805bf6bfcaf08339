//! Roster's storage: one [`Store`] interface and its backends. Every tenant-owned query is
//! scoped by account in SQL, so another account's ids are simply not found.

mod error;
pub mod sqlite;

use async_trait::async_trait;
use jiff::Timestamp;
use roster_domain::{Account, AccountSid, ApiKey, ApiKeyId, NewUser, User, UserFields, UserId};

pub use error::{Conflict, StoreError};
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

    /// Writes the user and its devices in one transaction. Fails with
    /// [`Conflict::Email`], [`Conflict::Number`] or [`Conflict::DeviceId`].
    async fn create_user(&self, account: &AccountSid, user: &NewUser) -> Result<User, StoreError>;
    async fn user(
        &self,
        account: &AccountSid,
        id: UserId,
        fields: UserFields,
    ) -> Result<Option<User>, StoreError>;
}
