//! The SQLite backend against a real database file.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code fails loudly on purpose"
)]

use std::sync::Arc;

use jiff::Timestamp;
use roster_domain::{
    Account, AccountSettings, AccountSid, ApiKey, ApiKeyId, ContactUri, DeviceId, DeviceName,
    Email, NamePolicy, NewDevice, NewUser, PersonName, Role, UserFields, UserId,
};
use roster_store::{Conflict, SqliteStore, Store, StoreError};

fn at() -> Timestamp {
    "2021-07-26T12:57:24Z".parse().unwrap()
}

fn sid(raw: &str) -> AccountSid {
    AccountSid::parse(raw).unwrap()
}

async fn store_with_account(dir: &tempfile::TempDir) -> SqliteStore {
    let store = SqliteStore::open(&dir.path().join("roster.db")).unwrap();
    let account = Account::new(sid("acme"), AccountSettings::default(), at()).unwrap();
    store.create_account(&account).await.unwrap();
    store
}

fn new_user(n: u32) -> NewUser {
    NewUser {
        id: UserId::generate(),
        first_name: PersonName::parse("Asha", NamePolicy::Exotel).unwrap(),
        last_name: PersonName::parse("Rao", NamePolicy::Exotel).unwrap(),
        email: Some(Email::parse(&format!("asha{n}@example.com")).unwrap()),
        role: Role::User,
        devices: vec![NewDevice {
            // Fixed ids: generated ones could clash, which the service retries and this
            // test of storage alone would not.
            id: DeviceId::from_u64(u64::from(n) + 1).unwrap(),
            contact_uri: ContactUri::parse(&format!("+9198123{n:05}")).unwrap(),
            name: DeviceName::parse("Phone").unwrap(),
        }],
        created_at: at(),
    }
}

#[tokio::test]
async fn written_users_survive_closing_and_reopening_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_with_account(&dir).await;
    let user = new_user(1);
    store.create_user(&sid("acme"), &user).await.unwrap();
    drop(store);

    let reopened = SqliteStore::open(&dir.path().join("roster.db")).unwrap();
    let fields = UserFields {
        devices: true,
        ..UserFields::default()
    };
    let found = reopened
        .user(&sid("acme"), user.id, fields)
        .await
        .unwrap()
        .unwrap();

    assert_eq!(found, user.into_user());
}

#[tokio::test]
async fn a_schema_newer_than_this_build_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("roster.db");
    drop(SqliteStore::open(&path).unwrap());
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute(
        "INSERT INTO roster_migrations (version, applied_at) VALUES (999, 0)",
        [],
    )
    .unwrap();
    drop(conn);

    let opened = SqliteStore::open(&path);

    assert!(matches!(
        opened,
        Err(StoreError::SchemaTooNew { found: 999, .. })
    ));
}

#[tokio::test]
async fn clashing_emails_numbers_and_device_ids_are_told_apart() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_with_account(&dir).await;
    let first = new_user(1);
    store.create_user(&sid("acme"), &first).await.unwrap();

    let mut same_email = new_user(2);
    same_email.email = Some(Email::parse("ASHA1@example.com").unwrap());
    let mut same_number = new_user(3);
    same_number.devices[0].contact_uri = first.devices[0].contact_uri.clone();
    let mut same_device_id = new_user(4);
    same_device_id.devices[0].id = first.devices[0].id;

    let conflict = |result: Result<_, StoreError>| match result {
        Err(StoreError::Conflict(conflict)) => conflict,
        other => panic!("expected a conflict, got {other:?}"),
    };
    assert_eq!(
        conflict(store.create_user(&sid("acme"), &same_email).await),
        Conflict::Email
    );
    assert_eq!(
        conflict(store.create_user(&sid("acme"), &same_number).await),
        Conflict::Number
    );
    assert_eq!(
        conflict(store.create_user(&sid("acme"), &same_device_id).await),
        Conflict::DeviceId
    );
    let account = Account::new(sid("acme"), AccountSettings::default(), at()).unwrap();
    assert!(matches!(
        store.create_account(&account).await,
        Err(StoreError::Conflict(Conflict::AccountExists))
    ));
}

#[tokio::test]
async fn a_refused_user_leaves_no_devices_behind() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_with_account(&dir).await;
    let first = new_user(1);
    store.create_user(&sid("acme"), &first).await.unwrap();
    let mut clash = new_user(2);
    clash.devices.push(NewDevice {
        id: DeviceId::from_u64(1_000).unwrap(),
        contact_uri: first.devices[0].contact_uri.clone(),
        name: DeviceName::parse("Second").unwrap(),
    });

    assert!(store.create_user(&sid("acme"), &clash).await.is_err());

    let found = store
        .user(&sid("acme"), clash.id, UserFields::default())
        .await
        .unwrap();
    assert!(found.is_none());
    let retry = new_user(2);
    store.create_user(&sid("acme"), &retry).await.unwrap();
}

#[tokio::test]
async fn users_of_another_account_are_not_found() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_with_account(&dir).await;
    let other = Account::new(sid("globex"), AccountSettings::default(), at()).unwrap();
    store.create_account(&other).await.unwrap();
    let user = new_user(1);
    store.create_user(&sid("acme"), &user).await.unwrap();

    let found = store
        .user(&sid("globex"), user.id, UserFields::default())
        .await
        .unwrap();

    assert!(found.is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writes_commit_together_and_a_failing_one_undoes_only_itself() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(store_with_account(&dir).await);
    store.create_user(&sid("acme"), &new_user(0)).await.unwrap();

    // Even n reuse user 0's email and must fail; odd n must all succeed.
    let tasks: Vec<_> = (1..=200u32)
        .map(|n| {
            let store = store.clone();
            tokio::spawn(async move {
                let mut user = new_user(n);
                if n % 2 == 0 {
                    user.email = Some(Email::parse("asha0@example.com").unwrap());
                }
                (n, user.id, store.create_user(&sid("acme"), &user).await)
            })
        })
        .collect();

    for task in tasks {
        let (n, id, result) = task.await.unwrap();
        let found = store
            .user(&sid("acme"), id, UserFields::default())
            .await
            .unwrap();
        if n % 2 == 0 {
            assert!(
                matches!(result, Err(StoreError::Conflict(Conflict::Email))),
                "{n}: {result:?}"
            );
            assert!(found.is_none());
        } else {
            assert!(result.is_ok(), "{n}: {result:?}");
            assert!(found.is_some());
        }
    }
}

#[tokio::test]
async fn keys_are_found_revoked_and_keep_only_their_hash() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_with_account(&dir).await;
    let key = ApiKey {
        id: ApiKeyId::generate(),
        account: sid("acme"),
        token_hash: [7; 32],
        date_created: at(),
        date_revoked: None,
    };
    store.create_api_key(&key).await.unwrap();

    let found = store.api_key(&key.id).await.unwrap();
    let revoked = store.revoke_api_key(&key.id, at()).await.unwrap();
    let missing = store
        .revoke_api_key(&ApiKeyId::generate(), at())
        .await
        .unwrap();

    assert_eq!(found, Some(key.clone()));
    assert!(revoked && !missing);
    assert_eq!(
        store.api_key(&key.id).await.unwrap().unwrap().date_revoked,
        Some(at())
    );
}

#[tokio::test]
async fn a_secret_is_made_once_and_then_kept() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_with_account(&dir).await;

    let first = store.secret("pepper", || vec![1, 2, 3]).await.unwrap();
    let second = store.secret("pepper", || vec![9]).await.unwrap();

    assert_eq!((first, second), (vec![1, 2, 3], vec![1, 2, 3]));
}
