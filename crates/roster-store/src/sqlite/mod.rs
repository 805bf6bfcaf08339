//! The embedded backend: one SQLite file in WAL mode, a writer thread that commits queued
//! writes together, and a small pool of read-only connections used inline by callers.

mod accounts;
mod dashboard;
mod devices;
mod events;
mod idempotency;
mod migrate;
mod rows;
mod users;
mod webhooks;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use async_trait::async_trait;
use jiff::Timestamp;
use roster_domain::{
    Account, AccountSid, ApiKey, ApiKeyId, ContactUri, Delivery, Device, DeviceChange, DeviceId,
    Event, NewDevice, NewUser, Precondition, Presence, PresenceSample, SipCredentials, User,
    UserChanges, UserFields, UserId, Webhook,
};
use rusqlite::{Connection, OpenFlags};

use crate::{
    DashboardSession, EventBounds, IdempotentAnswer, Store, StoreError, StoreStats, UserPage,
    UserQuery,
};
use writer::Writer;

pub use migrate::KNOWN_VERSION;

/// Idle read connections kept for reuse; more are opened under load and closed after.
const IDLE_READERS: usize = 16;

/// A roster database in one SQLite file.
pub struct SqliteStore {
    path: PathBuf,
    writer: Writer,
    readers: Mutex<Vec<Connection>>,
    /// Reads running now, for metrics.
    reading: AtomicUsize,
}

impl SqliteStore {
    /// Opens (creating when absent) the database at `path` and brings its schema up to
    /// date. Fails on a schema newer than this build knows.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let mut conn = Connection::open(path).map_err(backend)?;
        configure(&conn)?;
        migrate::apply(&mut conn)?;
        // Every write statement and the transaction control around it stay prepared.
        conn.set_prepared_statement_cache_capacity(64);
        let writer = Writer::spawn(conn).map_err(|e| StoreError::Backend(e.into()))?;
        Ok(Self {
            path: path.to_owned(),
            writer,
            readers: Mutex::new(Vec::new()),
            reading: AtomicUsize::new(0),
        })
    }

    /// Runs `read` on a pooled read-only connection, on the caller's thread: a point read
    /// takes microseconds, less than a hop to another thread would.
    fn read<T>(
        &self,
        read: impl FnOnce(&Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let pooled = self.readers.lock().map_err(|_| poisoned())?.pop();
        let conn = match pooled {
            Some(conn) => conn,
            None => self.open_reader()?,
        };
        self.reading.fetch_add(1, Ordering::Relaxed);
        let result = read(&conn);
        self.reading.fetch_sub(1, Ordering::Relaxed);
        let mut idle = self.readers.lock().map_err(|_| poisoned())?;
        if idle.len() < IDLE_READERS {
            idle.push(conn);
        }
        result
    }

    fn open_reader(&self) -> Result<Connection, StoreError> {
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(&self.path, flags).map_err(backend)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(backend)?;
        conn.set_prepared_statement_cache_capacity(32);
        // Pages through a memory map and a larger cache: a point read then costs no
        // system call once the file is in the page cache.
        conn.execute_batch("PRAGMA mmap_size = 1073741824; PRAGMA cache_size = -16384;")
            .map_err(backend)?;
        Ok(conn)
    }
}

fn configure(conn: &Connection) -> Result<(), StoreError> {
    // FULL makes every commit durable in WAL mode; NORMAL could lose the last commits on
    // power loss, and an answered write must survive.
    conn.execute_batch(
        "PRAGMA journal_mode = WAL;
         PRAGMA synchronous = FULL;
         PRAGMA foreign_keys = ON;",
    )
    .map_err(backend)?;
    conn.busy_timeout(std::time::Duration::from_secs(5))
        .map_err(backend)?;
    Ok(())
}

pub(crate) fn backend(cause: rusqlite::Error) -> StoreError {
    StoreError::Backend(Box::new(cause))
}

fn poisoned() -> StoreError {
    StoreError::Backend("the sqlite reader pool lock is poisoned".into())
}

#[async_trait]
impl Store for SqliteStore {
    async fn secret(&self, name: &str, make: fn() -> Vec<u8>) -> Result<Vec<u8>, StoreError> {
        let name = name.to_owned();
        self.writer
            .write(move |conn| accounts::secret(conn, &name, make))
            .await
    }

    async fn create_account(&self, account: &Account) -> Result<(), StoreError> {
        let account = account.clone();
        self.writer
            .write(move |conn| accounts::insert(conn, &account))
            .await
    }

    async fn update_account(&self, account: &Account) -> Result<bool, StoreError> {
        let account = account.clone();
        self.writer
            .write(move |conn| accounts::update(conn, &account))
            .await
    }

    async fn account(&self, sid: &AccountSid) -> Result<Option<Account>, StoreError> {
        self.read(|conn| accounts::find(conn, sid))
    }

    async fn accounts(&self) -> Result<Vec<Account>, StoreError> {
        self.read(accounts::all)
    }

    async fn create_api_key(&self, key: &ApiKey) -> Result<(), StoreError> {
        let key = key.clone();
        self.writer
            .write(move |conn| accounts::insert_key(conn, &key))
            .await
    }

    async fn api_key(&self, id: &ApiKeyId) -> Result<Option<ApiKey>, StoreError> {
        self.read(|conn| accounts::find_key(conn, id))
    }

    async fn revoke_api_key(&self, id: &ApiKeyId, at: Timestamp) -> Result<bool, StoreError> {
        let id = id.clone();
        self.writer
            .write(move |conn| accounts::revoke_key(conn, &id, at))
            .await
    }

    async fn create_user(
        &self,
        account: &AccountSid,
        user: &NewUser,
        idempotency: Option<&IdempotentAnswer>,
    ) -> Result<User, StoreError> {
        let (account, user, idempotency) = (account.clone(), user.clone(), idempotency.cloned());
        self.writer
            .write(move |conn| {
                if let Some(answer) = &idempotency {
                    idempotency::record(conn, &account, answer)?;
                }
                users::insert(conn, &account, user)
            })
            .await
    }

    async fn create_users(
        &self,
        account: &AccountSid,
        users: &[NewUser],
    ) -> Result<Vec<User>, StoreError> {
        let (account, users) = (account.clone(), users.to_vec());
        // One job is one savepoint: a failing user undoes the users written before it.
        self.writer
            .write(move |conn| {
                users
                    .into_iter()
                    .map(|user| users::insert(conn, &account, user))
                    .collect()
            })
            .await
    }

    async fn idempotent_answer(
        &self,
        account: &AccountSid,
        key: &str,
        now: Timestamp,
    ) -> Result<Option<IdempotentAnswer>, StoreError> {
        self.read(|conn| idempotency::find(conn, account, key, now))
    }

    async fn user(
        &self,
        account: &AccountSid,
        id: UserId,
        fields: UserFields,
    ) -> Result<Option<User>, StoreError> {
        self.read(|conn| users::find(conn, account, id, fields))
    }

    async fn list_users(
        &self,
        account: &AccountSid,
        query: &UserQuery,
    ) -> Result<UserPage, StoreError> {
        self.read(|conn| users::list(conn, account, query))
    }

    async fn update_user(
        &self,
        account: &AccountSid,
        id: UserId,
        changes: &UserChanges,
        expect: &Precondition,
        at: Timestamp,
    ) -> Result<User, StoreError> {
        let (account, changes, expect) = (account.clone(), changes.clone(), expect.clone());
        self.writer
            .write(move |conn| users::update(conn, &account, id, &changes, &expect, at))
            .await
    }

    async fn delete_user(
        &self,
        account: &AccountSid,
        id: UserId,
        expect: &Precondition,
        at: Timestamp,
    ) -> Result<bool, StoreError> {
        let (account, expect) = (account.clone(), expect.clone());
        self.writer
            .write(move |conn| users::delete(conn, &account, id, &expect, at))
            .await
    }

    async fn record_login(
        &self,
        account: &AccountSid,
        id: UserId,
        at: Timestamp,
    ) -> Result<Option<User>, StoreError> {
        let account = account.clone();
        self.writer
            .write(move |conn| users::record_login(conn, &account, id, at))
            .await
    }

    async fn devices(
        &self,
        account: &AccountSid,
        user: UserId,
    ) -> Result<Option<Vec<Device>>, StoreError> {
        self.read(|conn| devices::list(conn, account, user))
    }

    async fn add_device(
        &self,
        account: &AccountSid,
        user: UserId,
        device: &NewDevice,
        at: Timestamp,
        idempotency: Option<&IdempotentAnswer>,
    ) -> Result<Device, StoreError> {
        let (account, device, idempotency) =
            (account.clone(), device.clone(), idempotency.cloned());
        self.writer
            .write(move |conn| {
                if let Some(answer) = &idempotency {
                    idempotency::record(conn, &account, answer)?;
                }
                devices::add(conn, &account, user, &device, at)
            })
            .await
    }

    async fn update_device(
        &self,
        account: &AccountSid,
        user: UserId,
        device: DeviceId,
        change: &DeviceChange,
        expect: &Precondition,
        at: Timestamp,
    ) -> Result<Device, StoreError> {
        let (account, change, expect) = (account.clone(), change.clone(), expect.clone());
        self.writer
            .write(move |conn| devices::update(conn, &account, user, device, &change, &expect, at))
            .await
    }

    async fn delete_device(
        &self,
        account: &AccountSid,
        user: UserId,
        device: DeviceId,
        expect: &Precondition,
        at: Timestamp,
    ) -> Result<(), StoreError> {
        let (account, expect) = (account.clone(), expect.clone());
        self.writer
            .write(move |conn| devices::delete(conn, &account, user, device, &expect, at))
            .await
    }

    async fn verify_device(
        &self,
        account: &AccountSid,
        contact: &ContactUri,
        at: Timestamp,
    ) -> Result<Option<Device>, StoreError> {
        let (account, contact) = (account.clone(), contact.clone());
        self.writer
            .write(move |conn| devices::verify(conn, &account, &contact, at))
            .await
    }

    async fn set_device_busy(
        &self,
        account: &AccountSid,
        device: DeviceId,
        busy: bool,
        at: Timestamp,
    ) -> Result<Option<Device>, StoreError> {
        let account = account.clone();
        self.writer
            .write(move |conn| devices::set_busy(conn, &account, device, busy, at))
            .await
    }

    async fn set_sip_credentials(
        &self,
        account: &AccountSid,
        credentials: &SipCredentials,
        at: Timestamp,
    ) -> Result<(), StoreError> {
        let (account, credentials) = (account.clone(), credentials.clone());
        self.writer
            .write(move |conn| devices::set_credentials(conn, &account, &credentials, at))
            .await
    }

    async fn sip_credentials(
        &self,
        account: &AccountSid,
        username: &str,
    ) -> Result<Option<SipCredentials>, StoreError> {
        self.read(|conn| devices::credentials(conn, account, username))
    }

    async fn delete_account(&self, sid: &AccountSid) -> Result<bool, StoreError> {
        let sid = sid.clone();
        self.writer
            .write(move |conn| accounts::delete(conn, &sid))
            .await
    }

    async fn api_keys(&self, account: &AccountSid) -> Result<Vec<ApiKey>, StoreError> {
        self.read(|conn| accounts::keys_of(conn, account))
    }

    async fn events(
        &self,
        account: &AccountSid,
        after: u64,
        limit: u32,
    ) -> Result<Vec<Event>, StoreError> {
        self.read(|conn| events::after(conn, account, after, limit))
    }

    async fn event_bounds(&self, account: &AccountSid) -> Result<EventBounds, StoreError> {
        self.read(|conn| events::bounds(conn, account))
    }

    async fn purge_events(&self, before: Timestamp) -> Result<u64, StoreError> {
        self.writer
            .write(move |conn| events::purge(conn, before))
            .await
    }

    async fn add_webhook(&self, hook: &Webhook) -> Result<Webhook, StoreError> {
        let hook = hook.clone();
        self.writer
            .write(move |conn| webhooks::add(conn, &hook))
            .await
    }

    async fn webhooks(&self, account: Option<&AccountSid>) -> Result<Vec<Webhook>, StoreError> {
        self.read(|conn| webhooks::list(conn, account))
    }

    async fn remove_webhook(&self, account: &AccountSid, id: &str) -> Result<bool, StoreError> {
        let (account, id) = (account.clone(), id.to_owned());
        self.writer
            .write(move |conn| webhooks::remove(conn, &account, &id))
            .await
    }

    async fn lease_webhook(
        &self,
        account: &AccountSid,
        id: &str,
        owner: &str,
        now: Timestamp,
        until: Timestamp,
    ) -> Result<Option<Webhook>, StoreError> {
        let (account, id, owner) = (account.clone(), id.to_owned(), owner.to_owned());
        self.writer
            .write(move |conn| webhooks::lease(conn, &account, &id, &owner, now, until))
            .await
    }

    async fn advance_webhook(
        &self,
        account: &AccountSid,
        id: &str,
        owner: &str,
        cursor: u64,
        delivery: Option<&Delivery>,
    ) -> Result<bool, StoreError> {
        let (account, id, owner) = (account.clone(), id.to_owned(), owner.to_owned());
        let delivery = delivery.cloned();
        self.writer
            .write(move |conn| {
                webhooks::advance(conn, &account, &id, &owner, cursor, delivery.as_ref())
            })
            .await
    }

    async fn deliveries(
        &self,
        account: &AccountSid,
        limit: u32,
    ) -> Result<Vec<Delivery>, StoreError> {
        self.read(|conn| webhooks::deliveries(conn, account, limit))
    }

    async fn create_session(&self, session: &DashboardSession) -> Result<(), StoreError> {
        let session = session.clone();
        self.writer
            .write(move |conn| dashboard::create_session(conn, &session))
            .await
    }

    async fn session(
        &self,
        account: &AccountSid,
        token_hash: &[u8; 32],
    ) -> Result<Option<DashboardSession>, StoreError> {
        self.read(|conn| dashboard::session(conn, account, token_hash))
    }

    async fn delete_session(
        &self,
        account: &AccountSid,
        token_hash: &[u8; 32],
    ) -> Result<bool, StoreError> {
        let (account, token_hash) = (account.clone(), *token_hash);
        self.writer
            .write(move |conn| dashboard::delete_session(conn, &account, &token_hash))
            .await
    }

    async fn purge_sessions(&self, before: Timestamp) -> Result<u64, StoreError> {
        self.writer
            .write(move |conn| dashboard::purge_sessions(conn, before))
            .await
    }

    async fn presence(&self, account: &AccountSid) -> Result<Presence, StoreError> {
        self.read(|conn| dashboard::presence(conn, account))
    }

    async fn record_presence(&self, taken_at: Timestamp) -> Result<u64, StoreError> {
        self.writer
            .write(move |conn| dashboard::record_presence(conn, taken_at))
            .await
    }

    async fn presence_samples(
        &self,
        account: &AccountSid,
        since: Timestamp,
    ) -> Result<Vec<PresenceSample>, StoreError> {
        self.read(|conn| dashboard::presence_samples(conn, account, since))
    }

    async fn purge_presence(&self, before: Timestamp) -> Result<u64, StoreError> {
        self.writer
            .write(move |conn| dashboard::purge_presence(conn, before))
            .await
    }

    async fn schema_version(&self) -> Result<i64, StoreError> {
        self.read(migrate::current_version)
    }

    fn known_schema_version(&self) -> i64 {
        KNOWN_VERSION
    }

    fn stats(&self) -> StoreStats {
        let writer = self.writer.stats();
        StoreStats {
            // A poisoned lock only means a reader panicked; the length is still right.
            idle_connections: self
                .readers
                .lock()
                .map_or_else(|poisoned| poisoned.into_inner().len(), |idle| idle.len()),
            busy_connections: self.reading.load(Ordering::Relaxed),
            waiting: writer.queued.load(Ordering::Relaxed),
            events_written: writer.events.load(Ordering::Relaxed),
        }
    }
}
