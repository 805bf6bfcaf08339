//! Both backends against real databases: a SQLite file, and a PostgreSQL schema made for
//! each test in the database named by `TEST_DATABASE_URL` and dropped afterwards. Every
//! test runs its body on both.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code fails loudly on purpose"
)]

#[allow(dead_code, reason = "the API tests use the rest of it")]
mod support;

use std::sync::Arc;

use jiff::Timestamp;
use roster_domain::{
    Account, AccountSettings, AccountSid, ApiKey, ApiKeyId, ContactUri, DeviceChange, DeviceId,
    DeviceName, Email, NamePolicy, NewDevice, NewUser, PersonName, Precondition, Role, UserFields,
    UserId,
};
use roster_store::{Conflict, Store, StoreError};
use support::Backend;

fn at() -> Timestamp {
    "2021-07-26T12:57:24Z".parse().unwrap()
}

fn sid(raw: &str) -> AccountSid {
    AccountSid::parse(raw).unwrap()
}

async fn store_with_account(backend: &Backend) -> Arc<dyn Store> {
    let store = backend.open().await;
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

fn conflict<T: std::fmt::Debug>(result: Result<T, StoreError>) -> Conflict {
    match result {
        Err(StoreError::Conflict(conflict)) => conflict,
        other => panic!("expected a conflict, got {other:?}"),
    }
}

#[tokio::test]
async fn written_users_survive_closing_and_reopening_the_database() {
    for backend in Backend::all().await {
        let store = store_with_account(&backend).await;
        let user = new_user(1);
        store.create_user(&sid("acme"), &user, None).await.unwrap();
        drop(store);

        let reopened = backend.open().await;
        let fields = UserFields {
            devices: true,
            ..UserFields::default()
        };
        let found = reopened
            .user(&sid("acme"), user.id, fields)
            .await
            .unwrap()
            .unwrap();

        assert_eq!(found, user.into_user(), "{}", backend.name());
    }
}

#[tokio::test]
async fn a_schema_newer_than_this_build_is_refused() {
    for backend in Backend::all().await {
        drop(backend.open().await);
        backend
            .execute("INSERT INTO roster_migrations (version, applied_at) VALUES (999, 0)")
            .await;

        let opened = backend.try_open().await;

        assert!(
            matches!(opened, Err(StoreError::SchemaTooNew { found: 999, .. })),
            "{}",
            backend.name()
        );
    }
}

#[tokio::test]
async fn opening_an_up_to_date_database_again_changes_nothing() {
    for backend in Backend::all().await {
        let store = store_with_account(&backend).await;
        drop(store);

        let again = backend.open().await;

        assert_eq!(
            again.accounts().await.unwrap().len(),
            1,
            "{}",
            backend.name()
        );
    }
}

#[tokio::test]
async fn clashing_emails_numbers_and_device_ids_are_told_apart() {
    for backend in Backend::all().await {
        let store = store_with_account(&backend).await;
        let first = new_user(1);
        store.create_user(&sid("acme"), &first, None).await.unwrap();
        let mut same_email = new_user(2);
        same_email.email = Some(Email::parse("ASHA1@example.com").unwrap());
        let mut same_number = new_user(3);
        same_number.devices[0].contact_uri = first.devices[0].contact_uri.clone();
        let mut same_device_id = new_user(4);
        same_device_id.devices[0].id = first.devices[0].id;
        let account = Account::new(sid("acme"), AccountSettings::default(), at()).unwrap();

        let clashes = [
            conflict(store.create_user(&sid("acme"), &same_email, None).await),
            conflict(store.create_user(&sid("acme"), &same_number, None).await),
            conflict(store.create_user(&sid("acme"), &same_device_id, None).await),
            conflict(store.create_account(&account).await),
        ];

        let expected = [
            Conflict::Email,
            Conflict::Number,
            Conflict::DeviceId,
            Conflict::AccountExists,
        ];
        assert_eq!(clashes, expected, "{}", backend.name());
    }
}

#[tokio::test]
async fn a_refused_user_leaves_no_devices_behind() {
    for backend in Backend::all().await {
        let store = store_with_account(&backend).await;
        let first = new_user(1);
        store.create_user(&sid("acme"), &first, None).await.unwrap();
        let mut clash = new_user(2);
        clash.devices.push(NewDevice {
            id: DeviceId::from_u64(1_000).unwrap(),
            contact_uri: first.devices[0].contact_uri.clone(),
            name: DeviceName::parse("Second").unwrap(),
        });

        let refused = store.create_user(&sid("acme"), &clash, None).await;

        assert!(refused.is_err(), "{}", backend.name());
        assert!(store
            .user(&sid("acme"), clash.id, UserFields::default())
            .await
            .unwrap()
            .is_none());
        store
            .create_user(&sid("acme"), &new_user(2), None)
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn users_of_another_account_are_not_found() {
    for backend in Backend::all().await {
        let store = store_with_account(&backend).await;
        let other = Account::new(sid("globex"), AccountSettings::default(), at()).unwrap();
        store.create_account(&other).await.unwrap();
        let user = new_user(1);
        store.create_user(&sid("acme"), &user, None).await.unwrap();

        let found = store
            .user(&sid("globex"), user.id, UserFields::default())
            .await
            .unwrap();
        let devices = store.devices(&sid("globex"), user.id).await.unwrap();

        assert!(found.is_none() && devices.is_none(), "{}", backend.name());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writes_each_succeed_or_fail_alone() {
    for backend in Backend::all().await {
        let store = store_with_account(&backend).await;
        store
            .create_user(&sid("acme"), &new_user(0), None)
            .await
            .unwrap();

        // Even n reuse user 0's email and must fail; odd n must all succeed.
        let tasks: Vec<_> = (1..=100u32)
            .map(|n| {
                let store = store.clone();
                tokio::spawn(async move {
                    let mut user = new_user(n);
                    if n % 2 == 0 {
                        user.email = Some(Email::parse("asha0@example.com").unwrap());
                    }
                    (
                        n,
                        user.id,
                        store.create_user(&sid("acme"), &user, None).await,
                    )
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
                assert!(result.is_ok(), "{} {n}: {result:?}", backend.name());
                assert!(found.is_some());
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_devices_of_one_user_are_never_on_together_under_concurrency() {
    for backend in Backend::all().await {
        let store = store_with_account(&backend).await;
        let mut user = new_user(1);
        user.devices.push(NewDevice {
            id: DeviceId::from_u64(500).unwrap(),
            contact_uri: ContactUri::parse("sip:asha1a2b3c4d").unwrap(),
            name: DeviceName::parse("Softphone").unwrap(),
        });
        store.create_user(&sid("acme"), &user, None).await.unwrap();
        let phone = user.devices[0].id;
        store
            .verify_device(&sid("acme"), &user.devices[0].contact_uri, at())
            .await
            .unwrap();
        let on = DeviceChange {
            available: Some(true),
            contact_uri: None,
        };

        let tasks: Vec<_> = (0..40)
            .map(|i| {
                let (store, on) = (store.clone(), on.clone());
                let device = if i % 2 == 0 {
                    phone
                } else {
                    DeviceId::from_u64(500).unwrap()
                };
                tokio::spawn(async move {
                    store
                        .update_device(
                            &sid("acme"),
                            user.id,
                            device,
                            &on,
                            &Precondition::None,
                            at(),
                        )
                        .await
                })
            })
            .collect();
        let mut refusals = 0;
        for task in tasks {
            match task.await.unwrap() {
                Ok(_) => {}
                Err(StoreError::Conflict(Conflict::AnotherDeviceOn)) => refusals += 1,
                Err(other) => panic!("{}: {other:?}", backend.name()),
            }
        }

        let devices = store.devices(&sid("acme"), user.id).await.unwrap().unwrap();
        let on_count = devices.iter().filter(|d| d.available == Some(true)).count();
        assert_eq!(on_count, 1, "{}", backend.name());
        assert!(
            refusals >= 20,
            "{}: only {refusals} refusals",
            backend.name()
        );
    }
}

#[tokio::test]
async fn keys_are_found_revoked_and_keep_only_their_hash() {
    for backend in Backend::all().await {
        let store = store_with_account(&backend).await;
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

        assert_eq!(found, Some(key.clone()), "{}", backend.name());
        assert!(revoked && !missing);
        assert_eq!(
            store.api_key(&key.id).await.unwrap().unwrap().date_revoked,
            Some(at())
        );
        assert_eq!(store.api_keys(&sid("acme")).await.unwrap().len(), 1);
    }
}

#[tokio::test]
async fn deleting_an_account_removes_everything_in_it() {
    for backend in Backend::all().await {
        let store = store_with_account(&backend).await;
        let user = new_user(1);
        store.create_user(&sid("acme"), &user, None).await.unwrap();

        let deleted = store.delete_account(&sid("acme")).await.unwrap();

        assert!(deleted, "{}", backend.name());
        assert!(store
            .user(&sid("acme"), user.id, UserFields::default())
            .await
            .unwrap()
            .is_none());
        let again = Account::new(sid("acme"), AccountSettings::default(), at()).unwrap();
        store.create_account(&again).await.unwrap();
        store.create_user(&sid("acme"), &user, None).await.unwrap();
    }
}

#[tokio::test]
async fn a_secret_is_made_once_and_then_kept() {
    for backend in Backend::all().await {
        let store = store_with_account(&backend).await;

        let first = store.secret("pepper", || vec![1, 2, 3]).await.unwrap();
        let second = store.secret("pepper", || vec![9]).await.unwrap();

        assert_eq!(
            (first, second),
            (vec![1, 2, 3], vec![1, 2, 3]),
            "{}",
            backend.name()
        );
    }
}

fn kept(key: &str, fingerprint: &[u8], at: Timestamp) -> roster_store::IdempotentAnswer {
    roster_store::IdempotentAnswer {
        key: key.to_owned(),
        fingerprint: fingerprint.to_vec(),
        answer: b"{\"first\":true}".to_vec(),
        at,
    }
}

#[tokio::test]
async fn an_idempotency_key_is_kept_with_its_create_and_clashes_before_any_other_write() {
    for backend in Backend::all().await {
        let store = store_with_account(&backend).await;
        let first = new_user(1);
        store
            .create_user(&sid("acme"), &first, Some(&kept("k", b"one", at())))
            .await
            .unwrap();

        // The same key with the very same user: the key clashes first, so nothing else is
        // tried (the email and number would clash too).
        let again = store
            .create_user(&sid("acme"), &first, Some(&kept("k", b"two", at())))
            .await;
        let found = store
            .idempotent_answer(&sid("acme"), "k", at())
            .await
            .unwrap();
        let late = at()
            .checked_add(jiff::SignedDuration::from_hours(24))
            .unwrap();
        let too_late = late
            .checked_add(jiff::SignedDuration::from_secs(1))
            .unwrap();
        let still = store
            .idempotent_answer(&sid("acme"), "k", late)
            .await
            .unwrap();
        let expired = store
            .idempotent_answer(&sid("acme"), "k", too_late)
            .await
            .unwrap();

        assert_eq!(
            conflict(again),
            Conflict::IdempotencyKey,
            "{}",
            backend.name()
        );
        assert_eq!(found, Some(kept("k", b"one", at())), "{}", backend.name());
        assert!(still.is_some(), "{}", backend.name());
        assert_eq!(expired, None, "{}", backend.name());
        let page = store
            .list_users(
                &sid("acme"),
                &roster_store::UserQuery {
                    limit: 50,
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        assert_eq!(page.total, 1, "{}", backend.name());

        // Once expired, the key is free: the next keyed create clears it and keeps its own.
        store
            .create_user(
                &sid("acme"),
                &new_user(2),
                Some(&kept("k", b"new", too_late)),
            )
            .await
            .unwrap();
        let replaced = store
            .idempotent_answer(&sid("acme"), "k", too_late)
            .await
            .unwrap();
        assert_eq!(replaced.map(|k| k.fingerprint), Some(b"new".to_vec()));
    }
}

#[tokio::test]
async fn a_change_against_a_stale_version_is_refused_and_writes_nothing() {
    for backend in Backend::all().await {
        let store = store_with_account(&backend).await;
        let user = new_user(1);
        let device = user.devices[0].id;
        store.create_user(&sid("acme"), &user, None).await.unwrap();
        let rename = roster_domain::UserChanges {
            first_name: Some(PersonName::parse("Ravi", NamePolicy::Exotel).unwrap()),
            ..Default::default()
        };
        let stale = Precondition::OneOf(vec![7]);
        let current = Precondition::OneOf(vec![roster_domain::FIRST_VERSION]);
        let renumber = DeviceChange {
            contact_uri: Some(roster_domain::E164::parse("+919877700001").unwrap()),
            ..Default::default()
        };

        let refused = [
            store
                .update_user(&sid("acme"), user.id, &rename, &stale, at())
                .await
                .err(),
            store
                .delete_user(&sid("acme"), user.id, &stale, at())
                .await
                .err(),
            store
                .update_device(&sid("acme"), user.id, device, &renumber, &stale, at())
                .await
                .err(),
            store
                .delete_device(&sid("acme"), user.id, device, &stale, at())
                .await
                .err(),
        ];
        let unchanged = store
            .user(&sid("acme"), user.id, UserFields::parse("devices"))
            .await
            .unwrap()
            .unwrap();
        let renamed = store
            .update_user(&sid("acme"), user.id, &rename, &current, at())
            .await
            .unwrap();

        for error in refused {
            assert!(
                matches!(
                    error,
                    Some(StoreError::Rule(
                        roster_domain::RuleError::PreconditionFailed
                    ))
                ),
                "{}: {error:?}",
                backend.name()
            );
        }
        assert_eq!(unchanged.first_name.as_str(), "Asha");
        assert_eq!(unchanged.version, roster_domain::FIRST_VERSION);
        let devices = unchanged.devices.unwrap();
        assert_eq!(devices[0].contact_uri.as_str(), "+919812300001");
        assert_eq!(devices[0].version, roster_domain::FIRST_VERSION);
        assert_eq!(renamed.version, roster_domain::FIRST_VERSION + 1);
    }
}

#[tokio::test]
async fn every_change_writes_one_event_in_its_own_transaction_and_refusals_write_none() {
    use roster_domain::{EventKind, EventRecord};
    for backend in Backend::all().await {
        let store = store_with_account(&backend).await;
        let user = new_user(1);
        let device = user.devices[0].id;
        let acme = sid("acme");
        store.create_user(&acme, &user, None).await.unwrap();
        // Refused: the same number again.
        let mut clash = new_user(2);
        clash.devices[0].contact_uri = user.devices[0].contact_uri.clone();
        assert!(store.create_user(&acme, &clash, None).await.is_err());
        let verified = store
            .verify_device(&acme, &user.devices[0].contact_uri, at())
            .await
            .unwrap()
            .unwrap();
        let on = DeviceChange {
            available: Some(true),
            ..Default::default()
        };
        store
            .update_device(&acme, user.id, device, &on, &Precondition::None, at())
            .await
            .unwrap();
        // No change, no event.
        store
            .update_device(&acme, user.id, device, &on, &Precondition::None, at())
            .await
            .unwrap();
        store
            .delete_user(&acme, user.id, &Precondition::None, at())
            .await
            .unwrap();

        let events = store.events(&acme, 0, 100).await.unwrap();
        let kinds: Vec<_> = events.iter().map(|e| (e.id, e.kind)).collect();
        let bounds = store.event_bounds(&acme).await.unwrap();
        let later = store.events(&acme, 2, 1).await.unwrap();

        assert_eq!(
            kinds,
            [
                (1, EventKind::UserCreated),
                (2, EventKind::DeviceUpdated),
                (3, EventKind::DeviceUpdated),
                (4, EventKind::UserDeleted),
            ],
            "{}",
            backend.name()
        );
        assert_eq!(events[1].record, EventRecord::Device(verified));
        let EventRecord::User(deleted) = &events[3].record else {
            panic!("{:?}", events[3]);
        };
        let devices = deleted.devices.as_ref().unwrap();
        assert_eq!(devices[0].available, Some(true), "{}", backend.name());
        assert_eq!(bounds.newest, 4);
        assert_eq!(bounds.oldest, Some(1));
        assert_eq!(later.iter().map(|e| e.id).collect::<Vec<_>>(), [3]);

        let forgotten = store
            .purge_events(
                at().checked_add(jiff::SignedDuration::from_secs(1))
                    .unwrap(),
            )
            .await
            .unwrap();
        let after_purge = store.event_bounds(&acme).await.unwrap();
        assert_eq!(forgotten, 4, "{}", backend.name());
        assert_eq!(after_purge.newest, 4);
        assert_eq!(after_purge.oldest, None);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stats_count_events_of_committed_writes_only_and_show_the_connections() {
    for backend in Backend::all().await {
        let store = store_with_account(&backend).await;
        let acme = sid("acme");
        let name = backend.name();
        assert_eq!(store.stats().events_written, 0, "{name}");
        assert_eq!(
            store.schema_version().await.unwrap(),
            store.known_schema_version(),
            "{name}"
        );

        let user = new_user(1);
        store.create_user(&acme, &user, None).await.unwrap();
        let mut clash = new_user(2);
        clash.email = user.email.clone();
        assert!(store.create_user(&acme, &clash, None).await.is_err());
        store
            .delete_user(&acme, user.id, &Precondition::None, at())
            .await
            .unwrap();
        assert_eq!(store.stats().events_written, 2, "{name}");

        // Concurrent writes: SQLite commits them in shared transactions, PostgreSQL on
        // several connections; each committed create counts once, each refused none.
        let writes = (10..30).map(|n| {
            let store = store.clone();
            let acme = acme.clone();
            let mut user = new_user(n);
            if n % 4 == 0 {
                user.email = Some(Email::parse("asha10@example.com").unwrap());
            }
            tokio::spawn(async move { store.create_user(&acme, &user, None).await.is_ok() })
        });
        let mut committed = 0;
        for write in writes {
            committed += u64::from(write.await.unwrap());
        }
        // asha10 and five more with its email: one of the six wins.
        assert_eq!(committed, 15, "{name}");
        let stats = store.stats();
        assert_eq!(stats.events_written, 2 + committed, "{name}");
        assert_eq!(stats.busy_connections, 0, "{name}");
        assert_eq!(stats.waiting, 0, "{name}");
        assert!(stats.idle_connections >= 1, "{name}: {stats:?}");
    }
}

#[tokio::test]
async fn a_batch_of_users_is_written_whole_or_not_at_all_with_one_event_each() {
    use roster_domain::EventKind;
    for backend in Backend::all().await {
        let store = store_with_account(&backend).await;
        let acme = sid("acme");
        let existing = new_user(1);
        store.create_user(&acme, &existing, None).await.unwrap();
        let mut clashes_with_stored = vec![new_user(2), new_user(3), new_user(4)];
        clashes_with_stored[2].devices[0].contact_uri = existing.devices[0].contact_uri.clone();
        let mut clashes_inside = vec![new_user(5), new_user(6)];
        clashes_inside[1].email = Some(Email::parse("Asha5@Example.com").unwrap());

        let refused_stored = conflict(store.create_users(&acme, &clashes_with_stored).await);
        let refused_inside = conflict(store.create_users(&acme, &clashes_inside).await);
        let after_refusals = store.event_bounds(&acme).await.unwrap();
        let good = vec![new_user(7), new_user(8), new_user(9)];
        let created = store.create_users(&acme, &good).await.unwrap();

        assert_eq!(refused_stored, Conflict::Number, "{}", backend.name());
        assert_eq!(refused_inside, Conflict::Email, "{}", backend.name());
        assert_eq!(after_refusals.newest, 1, "{}", backend.name());
        for user in clashes_with_stored.iter().chain(&clashes_inside) {
            let found = store.user(&acme, user.id, UserFields::default()).await;
            assert!(found.unwrap().is_none(), "{}", backend.name());
        }
        let ids: Vec<_> = created.iter().map(|u| u.id).collect();
        assert_eq!(ids, good.iter().map(|u| u.id).collect::<Vec<_>>());
        let query = roster_store::UserQuery {
            fields: UserFields {
                devices: true,
                ..UserFields::default()
            },
            limit: 100,
            ..Default::default()
        };
        let page = store.list_users(&acme, &query).await.unwrap();
        assert_eq!(page.total, 4, "{}", backend.name());
        for user in &good {
            let stored = page.users.iter().find(|u| u.id == user.id).unwrap();
            let devices = stored.devices.as_ref().unwrap();
            assert_eq!(devices.len(), 1, "{}", backend.name());
            assert_eq!(devices[0].contact_uri, user.devices[0].contact_uri);
        }
        let events = store.events(&acme, 1, 100).await.unwrap();
        let created_events: Vec<_> = events.iter().map(|e| (e.id, e.kind)).collect();
        assert_eq!(
            created_events,
            [
                (2, EventKind::UserCreated),
                (3, EventKind::UserCreated),
                (4, EventKind::UserCreated),
            ],
            "{}",
            backend.name()
        );
    }
}
