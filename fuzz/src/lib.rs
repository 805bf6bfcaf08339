//! What the fuzz targets share: the real application (router, gate, handlers, directory)
//! over a small fixed store held in memory, and the checks every answer must pass.
//!
//! The store never changes, so one input always gets the same answer: a crash found once
//! is found again from its file. It keeps no idempotency key, no event and no webhook, and
//! its records stay at their fixed versions, against which `If-Match` is checked. It checks what the service hands it (limits, normalised
//! numbers, valid names...) and panics on a value that should never reach storage; the
//! fuzzer's panic hook turns that into a crash even inside the app's panic-catching layer.

use std::sync::{Arc, OnceLock};

use async_trait::async_trait;
use axum::body::Body;
use axum::http::{header, HeaderName, HeaderValue, Method, Request, StatusCode};
use axum::Router;
use base64::Engine;
use jiff::Timestamp;
use roster_api::{AppState, FailedAuthLimiter};
use roster_domain::{
    Account, AccountSid, ApiKey, ApiKeyId, ContactUri, Delivery, Device, DeviceChange, DeviceId,
    DeviceKind, DeviceName, DeviceStatus, Email, Event, ManualClock, NamePolicy, NewDevice,
    NewUser, PersonName, Precondition, Presence, PresenceSample, RateLimit, RegionName, Role, RuleError, SipCredentials,
    SipUri, TimeZoneName, User, UserChanges, UserFields, UserId, Webhook, E164, FIRST_VERSION,
};
use roster_service::{Directory, DirectoryOptions, RateDecision, RateLimiter, TokenHasher};
use roster_store::{
    Conflict, DashboardSession, EventBounds, IdempotentAnswer, Store, StoreError, UserPage, UserQuery,
};
use serde_json::Value;
use tower::ServiceExt;

/// The account without VOIP, and the one with it.
pub const PLAIN: &str = "plain";
pub const VOIP: &str = "voip";
/// A user without an email (devices 11, 12, 13) and one with (devices 21, 22).
pub const USER_A: &str = "0123456789abcdef0123456789abcdef";
pub const USER_B: &str = "fedcba9876543210fedcba9876543210";
/// The users' fixed versions, and their devices'. All differ, so a check against the
/// wrong record's version shows.
pub const USER_A_VERSION: u64 = 4;
pub const USER_B_VERSION: u64 = 7;
pub const DEVICE_VERSIONS: [(u64, u64); 5] = [(11, 2), (12, 1), (13, 3), (21, 5), (22, 6)];
/// Values the store reports as already used in the account.
pub const TAKEN_NUMBER: &str = "+919800000000";
pub const TAKEN_EMAIL: &str = "taken@example.com";
pub const OPERATOR_TOKEN: &str = "operator-secret";
/// Marks seeded SIP passwords: no answer may ever contain it.
pub const PASSWORD_MARK: &str = "Zq9!";

const TOKEN: &str = "token";
const PEPPER: &[u8] = b"fuzz-pepper";

fn at() -> Timestamp {
    Timestamp::from_second(1_700_000_000).unwrap_or(Timestamp::UNIX_EPOCH)
}

fn key_of(sid: &str) -> String {
    format!("{sid}key")
}

fn account(sid: &str, voip: bool) -> Account {
    Account {
        sid: AccountSid::parse(sid).expect("fixed sid"),
        name: sid.to_owned(),
        region: RegionName::parse("local").expect("fixed region"),
        timezone: TimeZoneName::parse("Asia/Kolkata").expect("fixed zone"),
        voip_enabled: voip,
        trial: false,
        kyc_complete: true,
        rate_limit: RateLimit::DEFAULT,
        date_created: at(),
        date_updated: at(),
    }
}

/// The fixed version of device `id`, or of no device.
pub fn device_version(id: u64) -> Option<u64> {
    DEVICE_VERSIONS
        .iter()
        .find(|&&(device, _)| device == id)
        .map(|&(_, version)| version)
}

fn device(user: UserId, id: u64, contact: &str, verified: bool, on: Option<bool>) -> Device {
    let contact_uri = ContactUri::parse(contact).expect("fixed contact");
    Device {
        version: device_version(id).expect("a fixed device"),
        id: DeviceId::from_u64(id).expect("fixed device id"),
        user_id: user,
        name: DeviceName::default_for(contact_uri.kind()),
        contact_uri,
        verified,
        available: on,
        status: DeviceStatus::Free,
    }
}

fn user(id: &str, fields: UserFields) -> Option<User> {
    let user_id = UserId::parse(id).ok()?;
    let (first, last, email, devices, version) = if id == USER_A {
        let devices = vec![
            device(user_id, 11, "+919812345678", true, Some(false)),
            device(user_id, 12, "+919812345679", false, None),
            device(user_id, 13, "sip:ashar1a2b3c4d", true, Some(false)),
        ];
        ("Asha", "Rao", None, devices, USER_A_VERSION)
    } else if id == USER_B {
        let devices = vec![
            device(user_id, 21, "+14155550100", true, Some(false)),
            device(user_id, 22, "sip:ravik0a1b2c3d", true, Some(true)),
        ];
        (
            "Ravi",
            "Kumar",
            Some("ravi@example.com"),
            devices,
            USER_B_VERSION,
        )
    } else {
        return None;
    };
    Some(User {
        id: user_id,
        first_name: PersonName::parse(first, NamePolicy::Exotel).ok()?,
        last_name: PersonName::parse(last, NamePolicy::Exotel).ok()?,
        email: email.and_then(|e| Email::parse(e).ok()),
        email_verified: false,
        role: Role::User,
        date_created: at(),
        date_updated: at(),
        last_login: None,
        devices: fields.needs_devices().then_some(devices),
        version,
    })
}

fn all_devices(id: UserId) -> Option<Vec<Device>> {
    let all = UserFields {
        devices: true,
        ..UserFields::default()
    };
    user(&id.to_string(), all).and_then(|u| u.devices)
}

/// Panics unless `contact` is a contact in the form storage keeps.
fn assert_canonical_contact(contact: &ContactUri) {
    let again = ContactUri::parse(contact.as_str());
    assert_eq!(
        again.as_ref(),
        Ok(contact),
        "stored contact is not canonical"
    );
    if let ContactUri::Tel(number) = contact {
        assert_canonical_number(number);
    }
}

fn assert_canonical_number(number: &E164) {
    let text = number.as_str();
    let digits = text.strip_prefix('+').expect("E.164 starts with +");
    assert!(
        (8..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit()),
        "number {text:?} is not normalised"
    );
    assert!(!digits.starts_with('0'), "number {text:?} starts with 0");
}

fn assert_valid_name(name: &PersonName) {
    assert!(
        PersonName::parse(name.as_str(), NamePolicy::Exotel).is_ok(),
        "name {:?} reached storage",
        name.as_str()
    );
}

fn assert_valid_device(device: &NewDevice) {
    assert_canonical_contact(&device.contact_uri);
    assert!(
        DeviceName::parse(device.name.as_str()).is_ok(),
        "device name {:?} reached storage",
        device.name.as_str()
    );
    assert!((1..DeviceId::LIMIT).contains(&device.id.get()));
}

/// Panics unless `key` is an idempotency key as the API accepts them.
fn assert_valid_key(key: &str) {
    assert!(
        (1..=255).contains(&key.len()) && key.bytes().all(|b| (0x20..0x7f).contains(&b)),
        "idempotency key {key:?} reached storage"
    );
    assert_eq!(key, key.trim(), "idempotency key kept with its spaces");
}

/// Panics unless `kept` is what a create keeps for its retries: a valid key, a SHA-256
/// fingerprint, the clock's time, and the answer of the very record being written (`id`
/// as the answer shows it: a user's a string, a device's a number).
fn assert_kept_answer(kept: &IdempotentAnswer, id: Value, version: u64) {
    assert_valid_key(&kept.key);
    assert_eq!(kept.fingerprint.len(), 32, "fingerprint is not a SHA-256");
    assert_eq!(kept.at, at(), "kept answer not stamped with the clock");
    let answer: Value = serde_json::from_slice(&kept.answer).expect("a kept answer is JSON");
    assert_eq!(answer["data"]["id"], id, "kept answer is another record's");
    assert_eq!(
        version, FIRST_VERSION,
        "a new record not at the first version"
    );
}

/// The fixed store: two accounts, two users with their devices, nothing ever written.
pub struct FixedStore {
    keys: Vec<ApiKey>,
}

impl FixedStore {
    fn new(hasher: &TokenHasher) -> Self {
        let keys = [PLAIN, VOIP]
            .iter()
            .map(|sid| ApiKey {
                id: ApiKeyId::parse(&key_of(sid)).expect("fixed key"),
                account: AccountSid::parse(sid).expect("fixed sid"),
                token_hash: hasher.hash(TOKEN),
                date_created: at(),
                date_revoked: None,
            })
            .collect();
        Self { keys }
    }
}

fn known_account(sid: &AccountSid) -> Option<Account> {
    match sid.as_str() {
        PLAIN => Some(account(PLAIN, false)),
        VOIP => Some(account(VOIP, true)),
        _ => None,
    }
}

#[async_trait]
impl Store for FixedStore {
    async fn create_users(
        &self,
        _sid: &AccountSid,
        users: &[NewUser],
    ) -> Result<Vec<User>, StoreError> {
        // The fixed store never grows: a batch is answered as made (no route reaches it).
        Ok(users.iter().cloned().map(NewUser::into_user).collect())
    }

    async fn schema_version(&self) -> Result<i64, StoreError> {
        Ok(self.known_schema_version())
    }

    fn known_schema_version(&self) -> i64 {
        roster_store::sqlite::KNOWN_VERSION
    }

    fn stats(&self) -> roster_store::StoreStats {
        roster_store::StoreStats::default()
    }

    async fn secret(&self, _name: &str, make: fn() -> Vec<u8>) -> Result<Vec<u8>, StoreError> {
        Ok(make())
    }

    async fn create_account(&self, account: &Account) -> Result<(), StoreError> {
        assert!(AccountSid::parse(account.sid.as_str()).is_ok());
        assert!(TimeZoneName::parse(account.timezone.as_str()).is_ok());
        assert!(RegionName::parse(account.region.as_str()).is_ok());
        assert!(RateLimit::new(account.rate_limit.per_minute()).is_ok());
        match known_account(&account.sid) {
            Some(_) => Err(StoreError::Conflict(Conflict::AccountExists)),
            None => Ok(()),
        }
    }

    async fn update_account(&self, account: &Account) -> Result<bool, StoreError> {
        assert!(TimeZoneName::parse(account.timezone.as_str()).is_ok());
        assert!(RegionName::parse(account.region.as_str()).is_ok());
        Ok(known_account(&account.sid).is_some())
    }

    async fn account(&self, sid: &AccountSid) -> Result<Option<Account>, StoreError> {
        Ok(known_account(sid))
    }

    async fn accounts(&self) -> Result<Vec<Account>, StoreError> {
        Ok(vec![account(PLAIN, false), account(VOIP, true)])
    }

    async fn create_api_key(&self, _key: &ApiKey) -> Result<(), StoreError> {
        Ok(())
    }

    async fn api_key(&self, id: &ApiKeyId) -> Result<Option<ApiKey>, StoreError> {
        Ok(self.keys.iter().find(|k| k.id == *id).cloned())
    }

    async fn revoke_api_key(&self, id: &ApiKeyId, _at: Timestamp) -> Result<bool, StoreError> {
        Ok(self.keys.iter().any(|k| k.id == *id))
    }

    async fn create_user(
        &self,
        sid: &AccountSid,
        new: &NewUser,
        idempotency: Option<&IdempotentAnswer>,
    ) -> Result<User, StoreError> {
        assert_valid_name(&new.first_name);
        assert_valid_name(&new.last_name);
        if let Some(email) = &new.email {
            assert!(
                Email::parse(email.as_str()).is_ok(),
                "email reached storage"
            );
        }
        let voip = sid.as_str() == VOIP;
        let tel = new
            .devices
            .iter()
            .filter(|d| d.contact_uri.kind() == DeviceKind::Tel);
        let sip = new
            .devices
            .iter()
            .filter(|d| d.contact_uri.kind() == DeviceKind::Sip);
        assert_eq!(sip.count(), usize::from(voip), "softphones made on create");
        assert!(
            voip || tel.count() == 1,
            "a user without VOIP needs its phone"
        );
        for device in &new.devices {
            assert_valid_device(device);
            if device.contact_uri.as_str() == TAKEN_NUMBER {
                return Err(StoreError::Conflict(Conflict::Number));
            }
        }
        if new
            .email
            .as_ref()
            .is_some_and(|e| e.folded() == TAKEN_EMAIL)
        {
            return Err(StoreError::Conflict(Conflict::Email));
        }
        let created = new.clone().into_user();
        if let Some(kept) = idempotency {
            assert_kept_answer(kept, created.id.to_string().into(), created.version);
        }
        Ok(created)
    }

    async fn idempotent_answer(
        &self,
        _sid: &AccountSid,
        key: &str,
        now: Timestamp,
    ) -> Result<Option<IdempotentAnswer>, StoreError> {
        assert_valid_key(key);
        assert_eq!(now, at());
        Ok(None)
    }

    async fn user(
        &self,
        _sid: &AccountSid,
        id: UserId,
        fields: UserFields,
    ) -> Result<Option<User>, StoreError> {
        Ok(user(&id.to_string(), fields))
    }

    async fn list_users(
        &self,
        _sid: &AccountSid,
        query: &UserQuery,
    ) -> Result<UserPage, StoreError> {
        assert!(
            (1..=50).contains(&query.limit),
            "limit {} reached storage",
            query.limit
        );
        for email in query.emails.iter().flatten() {
            assert_eq!(
                *email,
                email.to_ascii_lowercase(),
                "email filter not folded"
            );
            assert!(
                Email::parse(email).is_ok(),
                "invalid email filter reached storage"
            );
        }
        for contact in query.contacts.iter().flatten() {
            let parsed = ContactUri::parse(contact).expect("contact filter reached storage");
            assert_eq!(parsed.as_str(), contact, "contact filter not normalised");
        }
        assert!(query.search.is_none(), "the public API has no search");
        assert!(query.emails.as_ref().is_none_or(|v| v.len() <= 50));
        assert!(query.contacts.as_ref().is_none_or(|v| v.len() <= 50));
        let users = if query.offset == 0 {
            user(USER_A, query.fields).into_iter().collect()
        } else {
            Vec::new()
        };
        Ok(UserPage { total: 1, users })
    }

    async fn update_user(
        &self,
        _sid: &AccountSid,
        id: UserId,
        changes: &UserChanges,
        expect: &Precondition,
        _at: Timestamp,
    ) -> Result<User, StoreError> {
        changes.first_name.iter().for_each(assert_valid_name);
        changes.last_name.iter().for_each(assert_valid_name);
        let current =
            user(&id.to_string(), UserFields::default()).ok_or(RuleError::UserNotFound)?;
        expect.check(current.version)?;
        if let Some(email) = &changes.email {
            assert!(
                Email::parse(email.as_str()).is_ok(),
                "email reached storage"
            );
            if email.folded() == TAKEN_EMAIL {
                return Err(StoreError::Conflict(Conflict::Email));
            }
        }
        let mut next = current.apply(changes)?;
        // As the backends do: a change that changes nothing is no new version.
        if next != current {
            next.version = current.version + 1;
        }
        Ok(next)
    }

    async fn delete_user(
        &self,
        _sid: &AccountSid,
        id: UserId,
        expect: &Precondition,
        _at: Timestamp,
    ) -> Result<bool, StoreError> {
        match user(&id.to_string(), UserFields::default()) {
            Some(current) => {
                expect.check(current.version)?;
                Ok(true)
            }
            None => Ok(false),
        }
    }

    async fn record_login(
        &self,
        _sid: &AccountSid,
        id: UserId,
        _at: Timestamp,
    ) -> Result<Option<User>, StoreError> {
        Ok(user(&id.to_string(), UserFields::default()))
    }

    async fn devices(
        &self,
        _sid: &AccountSid,
        user: UserId,
    ) -> Result<Option<Vec<Device>>, StoreError> {
        Ok(all_devices(user))
    }

    async fn add_device(
        &self,
        _sid: &AccountSid,
        user: UserId,
        device: &NewDevice,
        _at: Timestamp,
        idempotency: Option<&IdempotentAnswer>,
    ) -> Result<Device, StoreError> {
        assert_valid_device(device);
        let devices = all_devices(user).ok_or(RuleError::UserNotFound)?;
        let taken = devices.iter().any(|d| d.contact_uri == device.contact_uri)
            || device.contact_uri.as_str() == TAKEN_NUMBER;
        if taken {
            return Err(StoreError::Conflict(Conflict::Number));
        }
        let added = device.clone().into_device(user);
        if let Some(kept) = idempotency {
            assert_kept_answer(kept, added.id.get().into(), added.version);
        }
        Ok(added)
    }

    async fn update_device(
        &self,
        _sid: &AccountSid,
        user: UserId,
        id: DeviceId,
        change: &DeviceChange,
        expect: &Precondition,
        _at: Timestamp,
    ) -> Result<Device, StoreError> {
        if let Some(number) = &change.contact_uri {
            assert_canonical_number(number);
        }
        let devices = all_devices(user).ok_or(RuleError::UserNotFound)?;
        let current = devices
            .iter()
            .find(|d| d.id == id)
            .ok_or(RuleError::DeviceNotFound)?;
        expect.check(current.version)?;
        let mut next = current.apply(change)?;
        assert!(
            next.available != Some(true) || next.verified,
            "an unverified device was turned on"
        );
        if next.contact_uri != current.contact_uri && next.contact_uri.as_str() == TAKEN_NUMBER {
            return Err(StoreError::Conflict(Conflict::Number));
        }
        let another_on = devices
            .iter()
            .any(|d| d.id != id && d.available == Some(true));
        if next.available == Some(true) && current.available != Some(true) && another_on {
            return Err(StoreError::Conflict(Conflict::AnotherDeviceOn));
        }
        if next != *current {
            next.version = current.version + 1;
        }
        Ok(next)
    }

    async fn delete_device(
        &self,
        _sid: &AccountSid,
        user: UserId,
        id: DeviceId,
        expect: &Precondition,
        _at: Timestamp,
    ) -> Result<(), StoreError> {
        let devices = all_devices(user).ok_or(RuleError::UserNotFound)?;
        let current = devices
            .iter()
            .find(|d| d.id == id)
            .ok_or(RuleError::DeviceNotFound)?;
        Ok(expect.check(current.version)?)
    }

    async fn verify_device(
        &self,
        _sid: &AccountSid,
        contact: &ContactUri,
        _at: Timestamp,
    ) -> Result<Option<Device>, StoreError> {
        let mut devices = UserId::parse(USER_A)
            .ok()
            .and_then(all_devices)
            .unwrap_or_default();
        devices.retain(|d| d.contact_uri == *contact && d.kind() == DeviceKind::Tel);
        Ok(devices.pop().map(|d| d.verified()))
    }

    async fn set_device_busy(
        &self,
        _sid: &AccountSid,
        _id: DeviceId,
        _busy: bool,
        _at: Timestamp,
    ) -> Result<Option<Device>, StoreError> {
        Ok(None)
    }

    async fn set_sip_credentials(
        &self,
        _sid: &AccountSid,
        credentials: &SipCredentials,
        _at: Timestamp,
    ) -> Result<(), StoreError> {
        let hex = |text: &str, len: usize| {
            text.len() == len && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        };
        assert!(
            hex(&credentials.ha1_md5, 32),
            "MD5 HA1 is not 32 hex digits"
        );
        assert!(
            hex(&credentials.ha1_sha256, 64),
            "SHA-256 HA1 is not 64 hex digits"
        );
        assert!(SipUri::parse(credentials.contact_uri.as_str()).is_ok());
        Ok(())
    }

    async fn sip_credentials(
        &self,
        _sid: &AccountSid,
        _username: &str,
    ) -> Result<Option<SipCredentials>, StoreError> {
        Ok(None)
    }

    async fn delete_account(&self, sid: &AccountSid) -> Result<bool, StoreError> {
        Ok(known_account(sid).is_some())
    }

    async fn api_keys(&self, sid: &AccountSid) -> Result<Vec<ApiKey>, StoreError> {
        Ok(self
            .keys
            .iter()
            .filter(|k| k.account == *sid)
            .cloned()
            .collect())
    }

    async fn events(
        &self,
        _sid: &AccountSid,
        _after: u64,
        _limit: u32,
    ) -> Result<Vec<Event>, StoreError> {
        Ok(Vec::new())
    }

    async fn event_bounds(&self, _sid: &AccountSid) -> Result<EventBounds, StoreError> {
        Ok(EventBounds::default())
    }

    async fn purge_events(&self, _before: Timestamp) -> Result<u64, StoreError> {
        Ok(0)
    }

    /// Accepted with its cursor at the newest event, 0 here, and then not kept.
    async fn add_webhook(&self, hook: &Webhook) -> Result<Webhook, StoreError> {
        assert!(
            Webhook::check_url(&hook.url).is_ok(),
            "webhook URL reached storage"
        );
        Ok(Webhook {
            cursor: 0,
            ..hook.clone()
        })
    }

    async fn webhooks(&self, _sid: Option<&AccountSid>) -> Result<Vec<Webhook>, StoreError> {
        Ok(Vec::new())
    }

    async fn remove_webhook(&self, _sid: &AccountSid, _id: &str) -> Result<bool, StoreError> {
        Ok(false)
    }

    async fn lease_webhook(
        &self,
        _sid: &AccountSid,
        _id: &str,
        _owner: &str,
        _now: Timestamp,
        _until: Timestamp,
    ) -> Result<Option<Webhook>, StoreError> {
        Ok(None)
    }

    async fn advance_webhook(
        &self,
        _sid: &AccountSid,
        _id: &str,
        _owner: &str,
        _cursor: u64,
        _delivery: Option<&Delivery>,
    ) -> Result<bool, StoreError> {
        Ok(false)
    }

    async fn deliveries(
        &self,
        _sid: &AccountSid,
        _limit: u32,
    ) -> Result<Vec<Delivery>, StoreError> {
        Ok(Vec::new())
    }

    // The Users API opens no dashboard session and reads no presence.
    async fn create_session(&self, _session: &DashboardSession) -> Result<(), StoreError> {
        Ok(())
    }

    async fn session(
        &self,
        _sid: &AccountSid,
        _token_hash: &[u8; 32],
    ) -> Result<Option<DashboardSession>, StoreError> {
        Ok(None)
    }

    async fn delete_session(
        &self,
        _sid: &AccountSid,
        _token_hash: &[u8; 32],
    ) -> Result<bool, StoreError> {
        Ok(false)
    }

    async fn purge_sessions(&self, _before: Timestamp) -> Result<u64, StoreError> {
        Ok(0)
    }

    async fn presence(&self, _sid: &AccountSid) -> Result<Presence, StoreError> {
        Ok(Presence::default())
    }

    async fn record_presence(&self, _taken_at: Timestamp) -> Result<u64, StoreError> {
        Ok(0)
    }

    async fn presence_samples(
        &self,
        _sid: &AccountSid,
        _since: Timestamp,
    ) -> Result<Vec<PresenceSample>, StoreError> {
        Ok(Vec::new())
    }

    async fn purge_presence(&self, _before: Timestamp) -> Result<u64, StoreError> {
        Ok(0)
    }
}

/// Lets every request through: budgets are not what is fuzzed, and a refused request
/// would hide the handler behind it.
struct Unlimited;

#[async_trait]
impl RateLimiter for Unlimited {
    async fn acquire(
        &self,
        _account: &AccountSid,
        limit: RateLimit,
        now: Timestamp,
    ) -> RateDecision {
        RateDecision {
            allowed: true,
            limit: limit.per_minute(),
            remaining: limit.per_minute(),
            reset: now.as_second() + 60,
        }
    }
}

/// The application and the runtime that drives it, made once per process.
pub struct App {
    runtime: tokio::runtime::Runtime,
    router: Router,
    /// Held so the server never reads as stopping.
    _stopping: tokio::sync::watch::Sender<bool>,
}

/// What an answer said, read back from its envelope.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    /// `error_data.code` of a failure.
    pub code: Option<u32>,
    pub description: String,
    /// The `ETag` header, when there was one.
    pub etag: Option<String>,
    /// The whole envelope.
    pub envelope: Value,
    /// The envelope's text.
    pub text: String,
}

impl Answer {
    /// `(status, code)`: `(200, None)` for a success.
    pub fn outcome(&self) -> (u16, Option<u32>) {
        (self.status, self.code)
    }
}

pub fn app() -> &'static App {
    static APP: OnceLock<App> = OnceLock::new();
    APP.get_or_init(|| {
        let hasher = TokenHasher::new(PEPPER);
        let store = Arc::new(FixedStore::new(&hasher));
        let clock = Arc::new(ManualClock::new(at()));
        let directory = Directory::new(store, clock, hasher, DirectoryOptions::default());
        let (stopping_tx, stopping) = tokio::sync::watch::channel(false);
        let state = AppState {
            directory: Arc::new(directory),
            rate_limiter: Arc::new(Unlimited),
            failed_auth: Arc::new(FailedAuthLimiter::new(10)),
            region: Arc::new(RegionName::parse("local").expect("fixed region")),
            operator_token: Some(Arc::from(OPERATOR_TOKEN)),
            stopping,
            metrics: Arc::new(roster_api::Metrics::new()),
        };
        // Timers: the body reader bounds how long a body may take to arrive.
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .expect("a current-thread runtime");
        App {
            runtime,
            router: roster_api::router(state),
            _stopping: stopping_tx,
        }
    })
}

impl App {
    /// Sends one request as `sid`'s key (or the operator for `/operator` paths), with
    /// `Content-Type: application/json` when there is a body, and checks the envelope.
    /// `None` when `uri` is not one an HTTP client could send.
    pub fn send(&self, method: Method, sid: &str, uri: &str, body: &[u8]) -> Option<Answer> {
        self.send_with(method, sid, uri, &[], body)
    }

    /// [`App::send`] with more headers, in order (a name may come more than once). `None`
    /// when `uri` or a header value is not one an HTTP client could send.
    pub fn send_with(
        &self,
        method: Method,
        sid: &str,
        uri: &str,
        headers: &[(HeaderName, &[u8])],
        body: &[u8],
    ) -> Option<Answer> {
        let mut request = Request::builder().method(method.clone()).uri(uri);
        for (name, value) in headers {
            request = request.header(name, HeaderValue::from_bytes(value).ok()?);
        }
        let auth = if uri.starts_with("/operator/") {
            format!("Bearer {OPERATOR_TOKEN}")
        } else {
            let pair = format!("{}:{TOKEN}", key_of(sid));
            let encoded = base64::engine::general_purpose::STANDARD.encode(pair);
            format!("Basic {encoded}")
        };
        request = request.header(header::AUTHORIZATION, auth);
        if !body.is_empty() {
            request = request.header(header::CONTENT_TYPE, "application/json");
        }
        let request = request.body(Body::from(body.to_vec())).ok()?;
        let response = self
            .runtime
            .block_on(self.router.clone().oneshot(request))
            .unwrap_or_else(|never| match never {});
        let status = response.status();
        let etag = response
            .headers()
            .get(header::ETAG)
            .map(|v| v.to_str().expect("an ETag is ASCII").to_owned());
        let bytes = self
            .runtime
            .block_on(axum::body::to_bytes(response.into_body(), usize::MAX))
            .expect("an in-memory body reads");
        let text = String::from_utf8(bytes.to_vec()).expect("answers are UTF-8");
        let mut answer = check_envelope(status, &method, text);
        answer.etag = etag;
        Some(answer)
    }
}

/// The envelope every `/v2` and `/operator/v1` answer has, whatever went wrong.
fn check_envelope(status: StatusCode, method: &Method, text: String) -> Answer {
    assert!(
        status != StatusCode::INTERNAL_SERVER_ERROR,
        "500 answered: {text}"
    );
    assert!(
        text.starts_with("{\"request_id\":\""),
        "envelope does not start with request_id: {text}"
    );
    let envelope: Value = serde_json::from_str(&text).expect("the envelope is JSON");
    let id = envelope["request_id"].as_str().unwrap_or_default();
    assert!(
        id.len() == 32 && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')),
        "request_id {id:?}"
    );
    assert_eq!(envelope["method"].as_str(), Some(method.as_str()));
    assert_eq!(
        envelope["http_code"].as_u64(),
        Some(u64::from(status.as_u16()))
    );
    let response = &envelope["response"];
    let (code, description) = if response.is_array() {
        assert!(status.is_success(), "a list answer with status {status}");
        (None, String::new())
    } else {
        assert_eq!(response["code"].as_u64(), Some(u64::from(status.as_u16())));
        let error = &response["error_data"];
        if status.is_success() {
            assert!(error.is_null(), "error_data on a success: {text}");
            assert_eq!(response["status"].as_str(), Some("success"));
        } else {
            assert_eq!(response["status"].as_str(), Some("failure"));
            assert!(response["data"].is_null(), "data on a failure: {text}");
            assert!(envelope.get("metadata").is_none(), "metadata on a failure");
        }
        let code = error["code"]
            .as_u64()
            .map(|c| u32::try_from(c).expect("small code"));
        let description = error["description"].as_str().unwrap_or_default().to_owned();
        (code, description)
    };
    Answer {
        status: status.as_u16(),
        code,
        description,
        etag: None,
        envelope,
        text,
    }
}

/// Panics unless `answer` is a success or one of `allowed` refusals; a refusal with code
/// 1001, 1002 or 1401 must name one of `fields` by its wire name.
pub fn assert_outcome(answer: &Answer, allowed: &[(u16, u32)], fields: &[&str], what: &str) {
    let outcome = answer.outcome();
    if outcome == (200, None) {
        return;
    }
    let listed = allowed
        .iter()
        .any(|&(status, code)| outcome == (status, Some(code)));
    assert!(
        listed,
        "{what}: unexpected answer {outcome:?}: {}",
        answer.text
    );
    if matches!(answer.code, Some(1001 | 1002 | 1401)) {
        assert!(
            fields.iter().any(|f| answer.description.contains(f)),
            "{what}: description names no field: {:?}",
            answer.description
        );
    }
}
