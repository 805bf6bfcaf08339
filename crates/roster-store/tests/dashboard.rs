//! Dashboard sessions, presence counts and samples, and user search, on both backends.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code fails loudly on purpose"
)]

#[allow(dead_code, reason = "the API tests use the rest of it")]
mod support;

use std::sync::Arc;

use jiff::{SignedDuration, Timestamp};
use roster_domain::{
    Account, AccountSettings, AccountSid, ApiKeyId, ContactUri, DeviceChange, DeviceId, DeviceName,
    Email, NamePolicy, NewDevice, NewUser, PersonName, Precondition, Presence, Role, UserId,
};
use roster_store::{DashboardSession, Store, UserQuery};
use support::Backend;

fn at() -> Timestamp {
    "2021-07-26T12:55:00Z".parse().unwrap()
}

fn later(minutes: i64) -> Timestamp {
    at() + SignedDuration::from_mins(minutes)
}

fn sid(raw: &str) -> AccountSid {
    AccountSid::parse(raw).unwrap()
}

async fn store_with_accounts(backend: &Backend, sids: &[&str]) -> Arc<dyn Store> {
    let store = backend.open().await;
    for raw in sids {
        let account = Account::new(sid(raw), AccountSettings::default(), at()).unwrap();
        store.create_account(&account).await.unwrap();
    }
    store
}

fn session(account: &str, hash: u8, expires_at: Timestamp) -> DashboardSession {
    DashboardSession {
        account: sid(account),
        token_hash: [hash; 32],
        api_key: ApiKeyId::generate(),
        csrf_token: format!("csrf-{hash}"),
        created_at: at(),
        expires_at,
    }
}

#[tokio::test]
async fn sessions_are_read_back_within_their_account_and_deleted_once() {
    for backend in Backend::all().await {
        let store = store_with_accounts(&backend, &["acme", "other"]).await;
        let kept = session("acme", 1, later(60));
        store.create_session(&kept).await.unwrap();

        let found = store.session(&sid("acme"), &[1; 32]).await.unwrap();
        let elsewhere = store.session(&sid("other"), &[1; 32]).await.unwrap();
        let unknown = store.session(&sid("acme"), &[2; 32]).await.unwrap();
        let deleted = store.delete_session(&sid("acme"), &[1; 32]).await.unwrap();
        let deleted_again = store.delete_session(&sid("acme"), &[1; 32]).await.unwrap();

        let name = backend.name();
        assert_eq!(found, Some(kept), "{name}");
        assert_eq!(elsewhere, None, "{name}");
        assert_eq!(unknown, None, "{name}");
        assert!(deleted && !deleted_again, "{name}");
        assert_eq!(store.session(&sid("acme"), &[1; 32]).await.unwrap(), None);
    }
}

#[tokio::test]
async fn only_sessions_expired_before_the_cut_are_purged() {
    for backend in Backend::all().await {
        let store = store_with_accounts(&backend, &["acme", "other"]).await;
        store
            .create_session(&session("acme", 1, later(60)))
            .await
            .unwrap();
        store
            .create_session(&session("other", 2, later(60)))
            .await
            .unwrap();
        store
            .create_session(&session("acme", 3, later(120)))
            .await
            .unwrap();

        let at_expiry = store.purge_sessions(later(60)).await.unwrap();
        let after_expiry = store.purge_sessions(later(90)).await.unwrap();

        let name = backend.name();
        assert_eq!((at_expiry, after_expiry), (0, 2), "{name}");
        assert!(store
            .session(&sid("acme"), &[1; 32])
            .await
            .unwrap()
            .is_none());
        assert!(store
            .session(&sid("other"), &[2; 32])
            .await
            .unwrap()
            .is_none());
        assert!(store
            .session(&sid("acme"), &[3; 32])
            .await
            .unwrap()
            .is_some());
    }
}

#[tokio::test]
async fn sessions_and_samples_go_with_their_account() {
    for backend in Backend::all().await {
        let store = store_with_accounts(&backend, &["acme", "other"]).await;
        store
            .create_session(&session("acme", 1, later(60)))
            .await
            .unwrap();
        store
            .create_session(&session("other", 2, later(60)))
            .await
            .unwrap();
        store.record_presence(at()).await.unwrap();

        store.delete_account(&sid("acme")).await.unwrap();
        let again = Account::new(sid("acme"), AccountSettings::default(), at()).unwrap();
        store.create_account(&again).await.unwrap();

        let name = backend.name();
        assert!(
            store
                .session(&sid("acme"), &[1; 32])
                .await
                .unwrap()
                .is_none(),
            "{name}"
        );
        assert!(store
            .presence_samples(&sid("acme"), at())
            .await
            .unwrap()
            .is_empty());
        assert!(store
            .session(&sid("other"), &[2; 32])
            .await
            .unwrap()
            .is_some());
        assert_eq!(
            store
                .presence_samples(&sid("other"), at())
                .await
                .unwrap()
                .len(),
            1
        );
    }
}

/// The users of the presence and search tests, made in `acme`:
/// - Asha Rao: an unverified phone, so off;
/// - Bilal Khan: a softphone switched ON, so available;
/// - Chitra Iyer: a softphone ON and a phone on a call, so busy (and counted once);
/// - Dev Patel: no device, so off.
struct Directory {
    store: Arc<dyn Store>,
    bilal: (UserId, DeviceId),
}

/// A user created `order` minutes after [`at`], so lists show them in that order.
fn person(
    order: i64,
    (first, last): (&str, &str),
    email: Option<&str>,
    devices: Vec<NewDevice>,
) -> NewUser {
    NewUser {
        id: UserId::generate(),
        first_name: PersonName::parse(first, NamePolicy::Exotel).unwrap(),
        last_name: PersonName::parse(last, NamePolicy::Exotel).unwrap(),
        email: email.map(|e| Email::parse(e).unwrap()),
        role: Role::User,
        devices,
        created_at: later(order),
    }
}

fn device(id: u64, contact: &str) -> NewDevice {
    NewDevice {
        id: DeviceId::from_u64(id).unwrap(),
        contact_uri: ContactUri::parse(contact).unwrap(),
        name: DeviceName::parse("Phone").unwrap(),
    }
}

async fn switch_on(store: &dyn Store, user: UserId, device: DeviceId) {
    let on = DeviceChange {
        available: Some(true),
        contact_uri: None,
    };
    store
        .update_device(&sid("acme"), user, device, &on, &Precondition::None, at())
        .await
        .unwrap();
}

async fn directory(backend: &Backend) -> Directory {
    let store = store_with_accounts(backend, &["acme", "other", "empty"]).await;
    let acme = sid("acme");
    let asha = person(
        1,
        ("Asha", "Rao"),
        Some("Asha.Rao@Example.com"),
        vec![device(1, "+919812300001")],
    );
    let bilal = person(
        2,
        ("Bilal", "Khan"),
        Some("bilal_k@example.com"),
        vec![device(2, "sip:bilalk01")],
    );
    let chitra = person(
        3,
        ("Chitra", "Iyer"),
        Some("100%chitra@example.com"),
        vec![device(3, "+919812300003"), device(4, "sip:chitrai01")],
    );
    let dev = person(4, ("Dev", "Patel"), None, vec![]);
    for user in [&asha, &bilal, &chitra, &dev] {
        store.create_user(&acme, user, None).await.unwrap();
    }
    let stranger = person(1, ("Asha", "Rao"), None, vec![]);
    store
        .create_user(&sid("other"), &stranger, None)
        .await
        .unwrap();

    let (bilal_phone, chitra_phone, chitra_softphone) = (
        DeviceId::from_u64(2).unwrap(),
        DeviceId::from_u64(3).unwrap(),
        DeviceId::from_u64(4).unwrap(),
    );
    switch_on(store.as_ref(), bilal.id, bilal_phone).await;
    switch_on(store.as_ref(), chitra.id, chitra_softphone).await;
    store
        .set_device_busy(&acme, chitra_phone, true, at())
        .await
        .unwrap()
        .unwrap();
    Directory {
        store,
        bilal: (bilal.id, bilal_phone),
    }
}

#[tokio::test]
async fn presence_counts_each_user_once_by_its_busiest_device() {
    for backend in Backend::all().await {
        let directory = directory(&backend).await;
        let store = directory.store.as_ref();

        let acme = store.presence(&sid("acme")).await.unwrap();
        let other = store.presence(&sid("other")).await.unwrap();
        let empty = store.presence(&sid("empty")).await.unwrap();
        let unknown = store.presence(&sid("nobody")).await.unwrap();

        let name = backend.name();
        let expected = Presence {
            available: 1,
            busy: 1,
            off: 2,
        };
        assert_eq!(acme, expected, "{name}");
        let one_off = Presence {
            off: 1,
            ..Presence::default()
        };
        assert_eq!(other, one_off, "{name}");
        assert_eq!(empty, Presence::default(), "{name}");
        assert_eq!(unknown, Presence::default(), "{name}");
    }
}

#[tokio::test]
async fn recording_a_moment_twice_keeps_the_first_sample_and_adds_none() {
    for backend in Backend::all().await {
        let directory = directory(&backend).await;
        let store = directory.store.as_ref();

        let first = store.record_presence(at()).await.unwrap();
        let (user, device) = directory.bilal;
        let off = DeviceChange {
            available: Some(false),
            contact_uri: None,
        };
        store
            .update_device(&sid("acme"), user, device, &off, &Precondition::None, at())
            .await
            .unwrap();
        let second = store.record_presence(at()).await.unwrap();

        let name = backend.name();
        assert_eq!((first, second), (3, 0), "{name}");
        let samples = store.presence_samples(&sid("acme"), at()).await.unwrap();
        assert_eq!(samples.len(), 1, "{name}");
        assert_eq!(samples[0].taken_at, at(), "{name}");
        assert_eq!(samples[0].presence.available, 1, "{name}");
        let empty = store.presence_samples(&sid("empty"), at()).await.unwrap();
        assert_eq!(empty.len(), 1, "{name}");
        assert_eq!(empty[0].presence, Presence::default(), "{name}");
    }
}

#[tokio::test]
async fn samples_are_read_oldest_first_from_a_moment_and_purged_before_one() {
    for backend in Backend::all().await {
        let directory = directory(&backend).await;
        let store = directory.store.as_ref();
        store.record_presence(at()).await.unwrap();
        let (user, device) = directory.bilal;
        let off = DeviceChange {
            available: Some(false),
            contact_uri: None,
        };
        store
            .update_device(&sid("acme"), user, device, &off, &Precondition::None, at())
            .await
            .unwrap();
        store.record_presence(later(5)).await.unwrap();
        store.record_presence(later(10)).await.unwrap();

        let all = store.presence_samples(&sid("acme"), at()).await.unwrap();
        let recent = store
            .presence_samples(&sid("acme"), later(5))
            .await
            .unwrap();
        let purged = store.purge_presence(later(5)).await.unwrap();
        let left = store.presence_samples(&sid("acme"), at()).await.unwrap();

        let name = backend.name();
        let times: Vec<_> = all.iter().map(|s| s.taken_at).collect();
        assert_eq!(times, vec![at(), later(5), later(10)], "{name}");
        assert_eq!(all[0].presence.available, 1, "{name}");
        assert_eq!(all[1].presence.available, 0, "{name}");
        assert_eq!(all[1].presence.off, 3, "{name}");
        assert_eq!(recent, all[1..].to_vec(), "{name}");
        // One sample of each of the three accounts was taken before the cut.
        assert_eq!(purged, 3, "{name}");
        assert_eq!(left, all[1..].to_vec(), "{name}");
    }
}

/// The first names of the users a search finds, in list order, and the total.
async fn search(store: &dyn Store, text: &str, limit: u32) -> (Vec<String>, u64) {
    let query = UserQuery {
        search: Some(text.to_owned()),
        limit,
        ..UserQuery::default()
    };
    let page = store.list_users(&sid("acme"), &query).await.unwrap();
    let names = page
        .users
        .iter()
        .map(|u| u.first_name.as_str().to_owned())
        .collect();
    (names, page.total)
}

#[tokio::test]
async fn search_finds_text_in_names_emails_and_numbers_ignoring_case() {
    for backend in Backend::all().await {
        let directory = directory(&backend).await;
        let store = directory.store.as_ref();
        let cases: &[(&str, &[&str])] = &[
            ("rao", &["Asha"]),
            ("ASHA RAO", &["Asha"]),
            ("sha ra", &["Asha"]),
            ("kHaN", &["Bilal"]),
            ("asha.rao@example", &["Asha"]),
            ("EXAMPLE.com", &["Asha", "Bilal", "Chitra"]),
            ("98123000", &["Asha", "Chitra"]),
            ("300003", &["Chitra"]),
            ("sip:bilal", &["Bilal"]),
            ("pat", &["Dev"]),
            ("nobody", &[]),
        ];

        for (text, expected) in cases {
            let (names, total) = search(store, text, 50).await;

            assert_eq!(names, *expected, "{} {text:?}", backend.name());
            assert_eq!(total, expected.len() as u64, "{} {text:?}", backend.name());
        }
    }
}

#[tokio::test]
async fn wildcards_in_search_text_match_only_themselves() {
    for backend in Backend::all().await {
        let directory = directory(&backend).await;
        let store = directory.store.as_ref();
        let cases: &[(&str, &[&str])] = &[
            ("%", &["Chitra"]),
            ("0%c", &["Chitra"]),
            ("_", &["Bilal"]),
            ("l_k", &["Bilal"]),
            ("a_r", &[]),
            ("\\", &[]),
        ];

        for (text, expected) in cases {
            let (names, total) = search(store, text, 50).await;

            assert_eq!(names, *expected, "{} {text:?}", backend.name());
            assert_eq!(total, expected.len() as u64, "{} {text:?}", backend.name());
        }
    }
}

#[tokio::test]
async fn search_narrows_the_other_filters_and_the_total_counts_every_match() {
    for backend in Backend::all().await {
        let directory = directory(&backend).await;
        let store = directory.store.as_ref();
        let narrowed = UserQuery {
            search: Some("example".to_owned()),
            emails: Some(vec![
                "bilal_k@example.com".to_owned(),
                "nobody@x.org".to_owned(),
            ]),
            limit: 50,
            ..UserQuery::default()
        };
        let missed = UserQuery {
            search: Some("asha".to_owned()),
            contacts: Some(vec!["sip:bilalk01".to_owned()]),
            limit: 50,
            ..UserQuery::default()
        };

        let (first_page, total) = search(store, "example.com", 2).await;
        let narrowed = store.list_users(&sid("acme"), &narrowed).await.unwrap();
        let missed = store.list_users(&sid("acme"), &missed).await.unwrap();

        let name = backend.name();
        assert_eq!(first_page, vec!["Asha", "Bilal"], "{name}");
        assert_eq!(total, 3, "{name}");
        assert_eq!(narrowed.total, 1, "{name}");
        assert_eq!(narrowed.users[0].first_name.as_str(), "Bilal", "{name}");
        assert_eq!((missed.total, missed.users.len()), (0, 0), "{name}");
    }
}
