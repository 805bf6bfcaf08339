//! The PostgreSQL backend, for several roster nodes sharing one database. It keeps to SQL
//! that CockroachDB and YugabyteDB also accept: no advisory locks, no triggers, no
//! `LISTEN/NOTIFY`; invariants are unique and partial unique indexes; transactions that
//! lose a serialisation race are retried.

mod accounts;
mod dashboard;
mod devices;
mod events;
mod idempotency;
mod migrate;
mod users;
mod webhooks;

use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use jiff::Timestamp;
use roster_domain::{
    Account, AccountSid, ApiKey, ApiKeyId, ContactUri, Delivery, Device, DeviceChange, DeviceId,
    Event, NewDevice, NewUser, Precondition, Presence, PresenceSample, SipCredentials, User,
    UserChanges, UserFields, UserId, Webhook,
};
use tokio_postgres::error::SqlState;
use tokio_postgres::types::ToSql;
use tokio_postgres::{NoTls, Row};

use crate::{
    Conflict, DashboardSession, EventBounds, IdempotentAnswer, Store, StoreError, StoreStats,
    UserPage, UserQuery,
};

pub use migrate::KNOWN_VERSION;

/// Connections kept open per node.
const POOL_SIZE: usize = 16;
/// Attempts of a transaction that keeps losing serialisation races.
const ATTEMPTS: usize = 5;

/// A roster database in PostgreSQL (or an engine speaking its protocol).
pub struct PostgresStore {
    pool: Pool,
    /// Events written by committed transactions of this process, for metrics.
    events_written: AtomicU64,
}

impl PostgresStore {
    /// Connects to `url` (`postgres://user@host:port/db`, libpq's `options` included, so
    /// `?options=-c%20search_path%3Dname` selects a schema). Does not migrate.
    pub fn connect(url: &str) -> Result<Self, StoreError> {
        let config = tokio_postgres::Config::from_str(url).map_err(pg)?;
        let manager = Manager::from_config(
            config,
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(POOL_SIZE)
            .build()
            .map_err(|e| StoreError::Backend(e.to_string().into()))?;
        Ok(Self {
            pool,
            events_written: AtomicU64::new(0),
        })
    }

    /// Connects and brings the schema up to date, refusing a schema newer than this build.
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        let store = Self::connect(url)?;
        store.migrate().await?;
        Ok(store)
    }

    /// Applies the migrations the database lacks; returns the schema version.
    pub async fn migrate(&self) -> Result<i64, StoreError> {
        let client = self.client().await?;
        migrate::apply(&client).await
    }

    async fn client(&self) -> Result<deadpool_postgres::Client, StoreError> {
        self.pool
            .get()
            .await
            .map_err(|e| StoreError::Backend(format!("no database connection: {e}").into()))
    }
}

/// Runs `$body` in a transaction on `$tx`, committing on `Ok` and retrying the whole
/// transaction when it loses a serialisation race.
macro_rules! in_transaction {
    ($store:expr, |$tx:ident| $body:expr) => {{
        let mut attempt = 0;
        loop {
            attempt += 1;
            let mut client = $store.client().await?;
            let $tx = client.transaction().await.map_err(crate::postgres::pg)?;
            let (result, events) = events::counting(async { $body }).await;
            let result = match result {
                Ok(value) => $tx
                    .commit()
                    .await
                    .map(|()| value)
                    .map_err(crate::postgres::pg),
                Err(error) => Err(error),
            };
            if result.is_ok() {
                $store.events_written.fetch_add(events, Ordering::Relaxed);
            }
            match result {
                Err(StoreError::Contention) if attempt < ATTEMPTS => continue,
                other => break other,
            }
        }
    }};
}

/// What query helpers need of a connection or transaction: cached statements.
#[async_trait]
pub(crate) trait Db: Send + Sync {
    async fn rows(&self, sql: &str, params: &[&(dyn ToSql + Sync)])
        -> Result<Vec<Row>, StoreError>;
    async fn run(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<u64, StoreError>;

    async fn row(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Option<Row>, StoreError> {
        Ok(self.rows(sql, params).await?.into_iter().next())
    }
}

/// The same statements on a pooled connection and inside a transaction: both have their
/// own `prepare_cached`, `query` and `execute`, with no trait of theirs in common.
macro_rules! impl_db {
    ($($client:ty),+) => {$(
        #[async_trait]
        impl Db for $client {
            async fn rows(
                &self,
                sql: &str,
                params: &[&(dyn ToSql + Sync)],
            ) -> Result<Vec<Row>, StoreError> {
                let statement = self.prepare_cached(sql).await.map_err(pg)?;
                self.query(&statement, params).await.map_err(pg)
            }

            async fn run(
                &self,
                sql: &str,
                params: &[&(dyn ToSql + Sync)],
            ) -> Result<u64, StoreError> {
                let statement = self.prepare_cached(sql).await.map_err(pg)?;
                self.execute(&statement, params).await.map_err(pg)
            }
        }
    )+};
}

impl_db!(
    deadpool_postgres::Client,
    deadpool_postgres::Transaction<'_>
);

/// Maps a PostgreSQL failure: unique-key clashes by the index they hit, lost races to
/// [`StoreError::Contention`], the rest to a backend failure.
pub(crate) fn pg(error: tokio_postgres::Error) -> StoreError {
    let Some(db) = error.as_db_error() else {
        let cause = std::error::Error::source(&error)
            .map(|s| format!(": {s}"))
            .unwrap_or_default();
        return StoreError::Backend(format!("{error}{cause}").into());
    };
    let code = db.code();
    if *code == SqlState::T_R_SERIALIZATION_FAILURE || *code == SqlState::T_R_DEADLOCK_DETECTED {
        return StoreError::Contention;
    }
    if *code == SqlState::UNIQUE_VIOLATION {
        let clash = match db.constraint() {
            Some("accounts_pkey") => Some(Conflict::AccountExists),
            Some("api_keys_pkey") => Some(Conflict::ApiKeyExists),
            Some("users_email_unique") => Some(Conflict::Email),
            Some("devices_contact_unique") => Some(Conflict::Number),
            Some("devices_pkey" | "devices_id_unique") => Some(Conflict::DeviceId),
            Some("devices_one_on_per_user") => Some(Conflict::AnotherDeviceOn),
            Some("idempotency_keys_pkey") => Some(Conflict::IdempotencyKey),
            _ => None,
        };
        if let Some(clash) = clash {
            return StoreError::Conflict(clash);
        }
    }
    StoreError::Backend(format!("{} (SQLSTATE {})", db.message(), code.code()).into())
}

#[async_trait]
impl Store for PostgresStore {
    async fn secret(&self, name: &str, make: fn() -> Vec<u8>) -> Result<Vec<u8>, StoreError> {
        let client = self.client().await?;
        accounts::secret(&client, name, make).await
    }

    async fn create_account(&self, account: &Account) -> Result<(), StoreError> {
        accounts::insert(&self.client().await?, account).await
    }

    async fn update_account(&self, account: &Account) -> Result<bool, StoreError> {
        accounts::update(&self.client().await?, account).await
    }

    async fn account(&self, sid: &AccountSid) -> Result<Option<Account>, StoreError> {
        accounts::find(&self.client().await?, sid).await
    }

    async fn accounts(&self) -> Result<Vec<Account>, StoreError> {
        accounts::all(&self.client().await?).await
    }

    async fn create_api_key(&self, key: &ApiKey) -> Result<(), StoreError> {
        accounts::insert_key(&self.client().await?, key).await
    }

    async fn api_key(&self, id: &ApiKeyId) -> Result<Option<ApiKey>, StoreError> {
        accounts::find_key(&self.client().await?, id).await
    }

    async fn revoke_api_key(&self, id: &ApiKeyId, at: Timestamp) -> Result<bool, StoreError> {
        accounts::revoke_key(&self.client().await?, id, at).await
    }

    async fn create_user(
        &self,
        account: &AccountSid,
        user: &NewUser,
        idempotency: Option<&IdempotentAnswer>,
    ) -> Result<User, StoreError> {
        in_transaction!(self, |tx| {
            if let Some(answer) = idempotency {
                idempotency::record(&tx, account, answer).await?;
            }
            users::insert(&tx, account, user.clone()).await
        })
    }

    async fn create_users(
        &self,
        account: &AccountSid,
        users: &[NewUser],
    ) -> Result<Vec<User>, StoreError> {
        in_transaction!(self, |tx| {
            let mut created = Vec::with_capacity(users.len());
            for user in users {
                created.push(users::insert(&tx, account, user.clone()).await?);
            }
            Ok(created)
        })
    }

    async fn idempotent_answer(
        &self,
        account: &AccountSid,
        key: &str,
        now: Timestamp,
    ) -> Result<Option<IdempotentAnswer>, StoreError> {
        idempotency::find(&self.client().await?, account, key, now).await
    }

    async fn user(
        &self,
        account: &AccountSid,
        id: UserId,
        fields: UserFields,
    ) -> Result<Option<User>, StoreError> {
        users::find(&self.client().await?, account, id, fields).await
    }

    async fn list_users(
        &self,
        account: &AccountSid,
        query: &UserQuery,
    ) -> Result<UserPage, StoreError> {
        let mut client = self.client().await?;
        // One snapshot for the count and the page.
        let tx = client
            .build_transaction()
            .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .await
            .map_err(pg)?;
        let page = users::list(&tx, account, query).await?;
        tx.commit().await.map_err(pg)?;
        Ok(page)
    }

    async fn update_user(
        &self,
        account: &AccountSid,
        id: UserId,
        changes: &UserChanges,
        expect: &Precondition,
        at: Timestamp,
    ) -> Result<User, StoreError> {
        in_transaction!(self, |tx| users::update(
            &tx, account, id, changes, expect, at
        )
        .await)
    }

    async fn delete_user(
        &self,
        account: &AccountSid,
        id: UserId,
        expect: &Precondition,
        at: Timestamp,
    ) -> Result<bool, StoreError> {
        in_transaction!(self, |tx| users::delete(&tx, account, id, expect, at).await)
    }

    async fn record_login(
        &self,
        account: &AccountSid,
        id: UserId,
        at: Timestamp,
    ) -> Result<Option<User>, StoreError> {
        in_transaction!(self, |tx| users::record_login(&tx, account, id, at).await)
    }

    async fn devices(
        &self,
        account: &AccountSid,
        user: UserId,
    ) -> Result<Option<Vec<Device>>, StoreError> {
        devices::list(&self.client().await?, account, user).await
    }

    async fn add_device(
        &self,
        account: &AccountSid,
        user: UserId,
        device: &NewDevice,
        at: Timestamp,
        idempotency: Option<&IdempotentAnswer>,
    ) -> Result<Device, StoreError> {
        in_transaction!(self, |tx| {
            if let Some(answer) = idempotency {
                idempotency::record(&tx, account, answer).await?;
            }
            devices::add(&tx, account, user, device, at).await
        })
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
        in_transaction!(self, |tx| devices::update(
            &tx, account, user, device, change, expect, at
        )
        .await)
    }

    async fn delete_device(
        &self,
        account: &AccountSid,
        user: UserId,
        device: DeviceId,
        expect: &Precondition,
        at: Timestamp,
    ) -> Result<(), StoreError> {
        in_transaction!(self, |tx| devices::delete(
            &tx, account, user, device, expect, at
        )
        .await)
    }

    async fn verify_device(
        &self,
        account: &AccountSid,
        contact: &ContactUri,
        at: Timestamp,
    ) -> Result<Option<Device>, StoreError> {
        in_transaction!(self, |tx| devices::verify(&tx, account, contact, at).await)
    }

    async fn set_device_busy(
        &self,
        account: &AccountSid,
        device: DeviceId,
        busy: bool,
        at: Timestamp,
    ) -> Result<Option<Device>, StoreError> {
        in_transaction!(self, |tx| devices::set_busy(&tx, account, device, busy, at)
            .await)
    }

    async fn set_sip_credentials(
        &self,
        account: &AccountSid,
        credentials: &SipCredentials,
        at: Timestamp,
    ) -> Result<(), StoreError> {
        in_transaction!(self, |tx| devices::set_credentials(
            &tx,
            account,
            credentials,
            at
        )
        .await)
    }

    async fn sip_credentials(
        &self,
        account: &AccountSid,
        username: &str,
    ) -> Result<Option<SipCredentials>, StoreError> {
        devices::credentials(&self.client().await?, account, username).await
    }

    async fn delete_account(&self, sid: &AccountSid) -> Result<bool, StoreError> {
        in_transaction!(self, |tx| accounts::delete(&tx, sid).await)
    }

    async fn api_keys(&self, account: &AccountSid) -> Result<Vec<ApiKey>, StoreError> {
        accounts::keys_of(&self.client().await?, account).await
    }

    async fn events(
        &self,
        account: &AccountSid,
        after: u64,
        limit: u32,
    ) -> Result<Vec<Event>, StoreError> {
        events::after(&self.client().await?, account, after, limit).await
    }

    async fn event_bounds(&self, account: &AccountSid) -> Result<EventBounds, StoreError> {
        events::bounds(&self.client().await?, account).await
    }

    async fn purge_events(&self, before: Timestamp) -> Result<u64, StoreError> {
        events::purge(&self.client().await?, before).await
    }

    async fn add_webhook(&self, hook: &Webhook) -> Result<Webhook, StoreError> {
        webhooks::add(&self.client().await?, hook).await
    }

    async fn webhooks(&self, account: Option<&AccountSid>) -> Result<Vec<Webhook>, StoreError> {
        webhooks::list(&self.client().await?, account).await
    }

    async fn remove_webhook(&self, account: &AccountSid, id: &str) -> Result<bool, StoreError> {
        webhooks::remove(&self.client().await?, account, id).await
    }

    async fn lease_webhook(
        &self,
        account: &AccountSid,
        id: &str,
        owner: &str,
        now: Timestamp,
        until: Timestamp,
    ) -> Result<Option<Webhook>, StoreError> {
        webhooks::lease(&self.client().await?, account, id, owner, now, until).await
    }

    async fn advance_webhook(
        &self,
        account: &AccountSid,
        id: &str,
        owner: &str,
        cursor: u64,
        delivery: Option<&Delivery>,
    ) -> Result<bool, StoreError> {
        in_transaction!(self, |tx| webhooks::advance(
            &tx, account, id, owner, cursor, delivery
        )
        .await)
    }

    async fn deliveries(
        &self,
        account: &AccountSid,
        limit: u32,
    ) -> Result<Vec<Delivery>, StoreError> {
        webhooks::deliveries(&self.client().await?, account, limit).await
    }

    async fn create_session(&self, session: &DashboardSession) -> Result<(), StoreError> {
        dashboard::create_session(&self.client().await?, session).await
    }

    async fn session(
        &self,
        account: &AccountSid,
        token_hash: &[u8; 32],
    ) -> Result<Option<DashboardSession>, StoreError> {
        dashboard::session(&self.client().await?, account, token_hash).await
    }

    async fn delete_session(
        &self,
        account: &AccountSid,
        token_hash: &[u8; 32],
    ) -> Result<bool, StoreError> {
        dashboard::delete_session(&self.client().await?, account, token_hash).await
    }

    async fn purge_sessions(&self, before: Timestamp) -> Result<u64, StoreError> {
        dashboard::purge_sessions(&self.client().await?, before).await
    }

    async fn presence(&self, account: &AccountSid) -> Result<Presence, StoreError> {
        dashboard::presence(&self.client().await?, account).await
    }

    async fn record_presence(&self, taken_at: Timestamp) -> Result<u64, StoreError> {
        dashboard::record_presence(&self.client().await?, taken_at).await
    }

    async fn presence_samples(
        &self,
        account: &AccountSid,
        since: Timestamp,
    ) -> Result<Vec<PresenceSample>, StoreError> {
        dashboard::presence_samples(&self.client().await?, account, since).await
    }

    async fn purge_presence(&self, before: Timestamp) -> Result<u64, StoreError> {
        dashboard::purge_presence(&self.client().await?, before).await
    }

    async fn schema_version(&self) -> Result<i64, StoreError> {
        migrate::current_version(&self.client().await?).await
    }

    fn known_schema_version(&self) -> i64 {
        KNOWN_VERSION
    }

    fn stats(&self) -> StoreStats {
        let pool = self.pool.status();
        StoreStats {
            idle_connections: pool.available,
            busy_connections: pool.size.saturating_sub(pool.available),
            waiting: pool.waiting,
            events_written: self.events_written.load(Ordering::Relaxed),
        }
    }
}
