//! Dashboard sessions and presence through the directory, over a SQLite file: what a
//! cookie opens, what ends a session, and when presence is sampled.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code fails loudly on purpose"
)]

use std::sync::Arc;
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jiff::{SignedDuration, Timestamp};
use roster_domain::{
    Account, AccountSettings, AccountSid, ApiKeyId, Field, ManualClock, Presence, RuleError,
    UserFields,
};
use roster_service::{
    CreateUser, Directory, DirectoryOptions, IssuedKey, OpenedSession, ServiceError, TokenHasher,
    UserFilter,
};
use roster_store::{DashboardSession, SqliteStore, Store};

const PEPPER: &[u8] = b"test-pepper";

fn at() -> Timestamp {
    "2021-07-26T12:57:24Z".parse().unwrap()
}

struct Harness {
    directory: Directory,
    store: Arc<dyn Store>,
    clock: Arc<ManualClock>,
    acme: Arc<Account>,
    key: IssuedKey,
    other_key: IssuedKey,
    _dir: tempfile::TempDir,
}

impl Harness {
    async fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn Store> =
            Arc::new(SqliteStore::open(&dir.path().join("roster.db")).unwrap());
        let clock = Arc::new(ManualClock::new(at()));
        let directory = Directory::new(
            store.clone(),
            clock.clone(),
            TokenHasher::new(PEPPER),
            DirectoryOptions::default(),
        );
        for sid in ["acme", "other"] {
            let settings = AccountSettings::default();
            directory.create_account(sid, settings).await.unwrap();
        }
        Self {
            key: directory.issue_key("acme").await.unwrap(),
            other_key: directory.issue_key("other").await.unwrap(),
            acme: directory.require_account("acme").await.unwrap(),
            directory,
            store,
            clock,
            _dir: dir,
        }
    }

    async fn open(&self, lifetime: SignedDuration) -> OpenedSession {
        self.directory
            .open_session(&self.acme.sid, &self.key.key.id, lifetime)
            .await
            .unwrap()
    }

    /// Stores a session for `account` acting with `key`, as no honest caller could make
    /// it, and returns its cookie.
    async fn plant(&self, account: &str, key: &ApiKeyId) -> String {
        let token = URL_SAFE_NO_PAD.encode([9u8; 32]);
        let session = DashboardSession {
            account: AccountSid::parse(account).unwrap(),
            token_hash: TokenHasher::new(PEPPER).hash(&token),
            api_key: key.clone(),
            csrf_token: "csrf".to_owned(),
            created_at: at(),
            expires_at: at() + SignedDuration::from_hours(1),
        };
        self.store.create_session(&session).await.unwrap();
        format!("{account}.{token}")
    }

    async fn add_asha(&self) {
        let input = CreateUser {
            first_name: Some("Asha".to_owned()),
            last_name: Some("Rao".to_owned()),
            device_contact_uri: Some("+919812345678".to_owned()),
            ..CreateUser::default()
        };
        self.directory.create_user(&self.acme, input).await.unwrap();
    }
}

#[tokio::test]
async fn a_cookie_opens_its_session_until_the_moment_it_expires() {
    let harness = Harness::start().await;

    let opened = harness.open(SignedDuration::from_hours(1)).await;
    let found = harness.directory.session(&opened.cookie).await.unwrap();
    harness.clock.advance(3599);
    let last_second = harness.directory.session(&opened.cookie).await.unwrap();
    harness.clock.advance(1);
    let expired = harness.directory.session(&opened.cookie).await.unwrap();

    let (sid, token) = opened.cookie.split_once('.').unwrap();
    assert_eq!(sid, "acme");
    assert_eq!(URL_SAFE_NO_PAD.decode(token).unwrap().len(), 32);
    let csrf = URL_SAFE_NO_PAD.decode(&opened.session.csrf_token).unwrap();
    assert_eq!(csrf.len(), 32);
    let an_hour_on = at() + SignedDuration::from_hours(1);
    assert_eq!(opened.session.expires_at, an_hour_on);
    assert_eq!(found, Some(opened.session.clone()));
    assert_eq!(last_second, Some(opened.session.clone()));
    assert_eq!(expired, None);
    assert!(!format!("{opened:?}").contains(token));
}

#[tokio::test]
async fn a_revoked_key_ends_its_sessions() {
    let harness = Harness::start().await;
    let opened = harness.open(SignedDuration::from_hours(1)).await;

    let key = harness.key.key.id.as_str();
    harness.directory.revoke_key(key).await.unwrap();
    let after = harness.directory.session(&opened.cookie).await.unwrap();

    assert_eq!(after, None);
}

#[tokio::test]
async fn a_key_revoked_by_another_node_ends_its_sessions_within_a_second() {
    let harness = Harness::start().await;
    let opened = harness.open(SignedDuration::from_hours(1)).await;
    let before = harness.directory.session(&opened.cookie).await.unwrap();

    let key = &harness.key.key.id;
    harness.store.revoke_api_key(key, at()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let after = harness.directory.session(&opened.cookie).await.unwrap();

    assert!(before.is_some());
    assert_eq!(after, None);
}

#[tokio::test]
async fn a_session_whose_key_is_unknown_or_of_another_account_is_refused() {
    let harness = Harness::start().await;
    let others = harness.plant("acme", &harness.other_key.key.id).await;
    let unknown = harness.plant("other", &ApiKeyId::generate()).await;

    let with_others = harness.directory.session(&others).await.unwrap();
    let with_unknown = harness.directory.session(&unknown).await.unwrap();
    let lifetime = SignedDuration::from_hours(1);
    let other_key = &harness.other_key.key.id;
    let opened = harness
        .directory
        .open_session(&harness.acme.sid, other_key, lifetime)
        .await;

    assert_eq!(with_others, None);
    assert_eq!(with_unknown, None);
    assert!(matches!(opened, Err(ServiceError::Unauthenticated)));
}

#[tokio::test]
async fn malformed_cookies_open_nothing_and_close_nothing() {
    let harness = Harness::start().await;
    let opened = harness.open(SignedDuration::from_hours(1)).await;
    let (_, token) = opened.cookie.split_once('.').unwrap();
    let long = "a".repeat(100_000);
    let accented = token.replace(|c: char| c.is_ascii_alphabetic(), "é");
    let cookies = [
        String::new(),
        ".".to_owned(),
        "acme".to_owned(),
        "acme.".to_owned(),
        format!(".{token}"),
        format!("other.{token}"),
        format!("ac me.{token}"),
        format!("acme.{token}="),
        format!("acme.{token}x"),
        format!("acme.{}", &token[1..]),
        format!("acme.{token}.{token}"),
        format!("acme.{accented}"),
        format!("acme.{}", URL_SAFE_NO_PAD.encode([0u8; 31])),
        format!("acme.{long}"),
        format!("{long}.{token}"),
    ];

    for cookie in &cookies {
        let found = harness.directory.session(cookie).await;
        let closed = harness.directory.close_session(cookie).await;

        assert!(matches!(found, Ok(None)), "{cookie:.60}");
        assert!(closed.is_ok(), "{cookie:.60}");
    }
    let still = harness.directory.session(&opened.cookie).await.unwrap();
    assert!(still.is_some());
}

#[tokio::test]
async fn a_closed_session_is_gone_and_closing_it_again_is_no_error() {
    let harness = Harness::start().await;
    let opened = harness.open(SignedDuration::from_hours(1)).await;

    harness
        .directory
        .close_session(&opened.cookie)
        .await
        .unwrap();
    let after = harness.directory.session(&opened.cookie).await.unwrap();
    let again = harness.directory.close_session(&opened.cookie).await;

    assert_eq!(after, None);
    assert!(again.is_ok());
}

#[tokio::test]
async fn presence_is_sampled_at_the_moment_floored_to_five_minutes_and_old_records_go() {
    let harness = Harness::start().await;
    harness.add_asha().await;
    let old = at() - SignedDuration::from_hours(49);
    harness.store.record_presence(old).await.unwrap();
    let short = harness.open(SignedDuration::from_mins(1)).await;
    let long = harness.open(SignedDuration::from_hours(1)).await;
    // Past the short session's expiry; still in the same five minutes.
    harness.clock.advance(61);

    let added = harness.directory.sample_presence().await.unwrap();
    let again = harness.directory.sample_presence().await.unwrap();
    let directory = &harness.directory;
    let history = directory
        .presence_history(&harness.acme, old)
        .await
        .unwrap();
    let now = directory.presence(&harness.acme).await.unwrap();

    let one_off = Presence {
        off: 1,
        ..Presence::default()
    };
    assert_eq!((added, again), (2, 0));
    assert_eq!(history.len(), 1);
    let moment: Timestamp = "2021-07-26T12:55:00Z".parse().unwrap();
    assert_eq!(history[0].taken_at, moment);
    assert_eq!(history[0].presence, one_off);
    assert_eq!(now, one_off);
    let store = &harness.store;
    let acme = &harness.acme.sid;
    let short = store
        .session(acme, &short.session.token_hash)
        .await
        .unwrap();
    let long = store.session(acme, &long.session.token_hash).await.unwrap();
    assert!(short.is_none() && long.is_some());
}

#[tokio::test]
async fn list_search_is_trimmed_and_refused_past_100_characters() {
    let harness = Harness::start().await;
    harness.add_asha().await;
    let list = |text: &str| {
        let filter = UserFilter {
            search: Some(text.to_owned()),
            ..UserFilter::default()
        };
        harness
            .directory
            .list_users(&harness.acme, filter, UserFields::default(), 0, 20)
    };

    let found = list("  hA R  ").await.unwrap();
    let blank = list(" ").await.unwrap();
    let missed = list("ha  r").await.unwrap();
    let too_long = list(&"a".repeat(101)).await;

    assert_eq!((found.total, found.users.len()), (1, 1));
    assert_eq!(blank.total, 1);
    assert_eq!(missed.total, 0);
    let Err(ServiceError::Rule(rule)) = too_long else {
        panic!("expected a refusal, got {too_long:?}");
    };
    assert!(matches!(
        rule,
        RuleError::Invalid {
            field: Field::Search,
            ..
        }
    ));
}
