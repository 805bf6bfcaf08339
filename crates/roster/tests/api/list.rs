//! `GET /v2/accounts/{sid}/users`: paging, order, filters and their refusals.

use std::collections::HashSet;

use serde_json::{json, Value};

use crate::helpers::{keys, user_id, Answer, Credentials, TestApp};

const USER_KEYS: [&str; 8] = [
    "date_created",
    "date_updated",
    "email",
    "email_verified",
    "first_name",
    "id",
    "last_name",
    "role",
];

async fn list(app: &TestApp, who: &Credentials, query: &str) -> Answer {
    app.get(who, &format!("/v2/accounts/{}/users?{query}", who.sid))
        .await
}

/// Creates users `first..=last` of `TestApp::new_user`, one second apart, and returns
/// their ids in creation order.
async fn create_users(
    app: &TestApp,
    who: &Credentials,
    numbers: std::ops::RangeInclusive<u32>,
) -> Vec<String> {
    let mut ids = Vec::new();
    for n in numbers {
        ids.push(user_id(&app.create_user(who, TestApp::new_user(n)).await));
        app.clock.advance(1);
    }
    ids
}

fn ids_of(items: &[&Value]) -> Vec<String> {
    items.iter().map(|data| user_id(data)).collect()
}

#[tokio::test]
async fn a_page_reports_total_count_offset_and_limit_and_holds_the_users_as_get_shows_them() {
    let app = TestApp::spawn().await;
    let ids = create_users(&app, &app.acme, 1..=5).await;

    let answer = list(&app, &app.acme, "offset=1&limit=2").await;

    let (metadata, items) = answer.assert_page();
    assert_eq!(answer.body["method"], "GET");
    assert_eq!(
        metadata,
        &json!({"total": 5, "count": 2, "offset": 1, "limit": 2})
    );
    assert_eq!(ids_of(&items), ids[1..3]);
    for data in items {
        assert_eq!(keys(data), USER_KEYS);
        let single = app
            .get(
                &app.acme,
                &format!("/v2/accounts/acme/users/{}", data["id"].as_str().unwrap()),
            )
            .await;
        assert_eq!(single.assert_success(), data);
    }
}

#[tokio::test]
async fn without_paging_parameters_the_first_twenty_users_are_listed() {
    let app = TestApp::spawn().await;
    let ids = create_users(&app, &app.acme, 1..=25).await;

    let answer = list(&app, &app.acme, "").await;

    let (metadata, items) = answer.assert_page();
    assert_eq!(
        metadata,
        &json!({"total": 25, "count": 20, "offset": 0, "limit": 20})
    );
    assert_eq!(ids_of(&items), ids[..20]);
}

#[tokio::test]
async fn the_last_page_counts_only_the_users_it_holds() {
    let app = TestApp::spawn().await;
    let ids = create_users(&app, &app.acme, 1..=5).await;

    let answer = list(&app, &app.acme, "offset=3&limit=50").await;

    let (metadata, items) = answer.assert_page();
    assert_eq!(
        metadata,
        &json!({"total": 5, "count": 2, "offset": 3, "limit": 50})
    );
    assert_eq!(ids_of(&items), ids[3..]);
}

#[tokio::test]
async fn an_offset_at_or_past_the_end_gives_an_empty_page_with_the_true_total() {
    let app = TestApp::spawn().await;
    create_users(&app, &app.acme, 1..=3).await;

    let at_end = list(&app, &app.acme, "offset=3").await;
    let past_end = list(&app, &app.acme, "offset=1000&limit=1").await;

    let (metadata, items) = at_end.assert_page();
    assert_eq!(
        metadata,
        &json!({"total": 3, "count": 0, "offset": 3, "limit": 20})
    );
    assert!(items.is_empty());
    assert_eq!(past_end.body["response"], json!([]));
    assert_eq!(
        past_end.assert_page().0,
        &json!({"total": 3, "count": 0, "offset": 1000, "limit": 1})
    );
}

#[tokio::test]
async fn offsets_far_past_the_end_are_whole_numbers_like_any_other() {
    let app = TestApp::spawn().await;
    create_users(&app, &app.acme, 1..=2).await;

    let beyond_u32 = list(&app, &app.acme, "offset=4294967296").await;
    let i64_max = list(&app, &app.acme, "offset=9223372036854775807").await;
    let u64_max = list(&app, &app.acme, "offset=18446744073709551615").await;

    for (answer, offset) in [
        (beyond_u32, 4_294_967_296_u64),
        (i64_max, 9_223_372_036_854_775_807),
        (u64_max, u64::MAX),
    ] {
        let (metadata, items) = answer.assert_page();
        assert!(items.is_empty());
        assert_eq!(
            metadata,
            &json!({"total": 2, "count": 0, "offset": offset, "limit": 20})
        );
    }
}

#[tokio::test]
async fn limits_outside_one_to_fifty_and_offsets_that_are_not_whole_numbers_are_invalid_values() {
    let app = TestApp::spawn().await;
    create_users(&app, &app.acme, 1..=2).await;
    let cases = [
        ("limit=0", "limit"),
        ("limit=51", "limit"),
        ("limit=-1", "limit"),
        ("limit=abc", "limit"),
        ("limit=", "limit"),
        ("limit=%2B5", "limit"),
        ("limit=5.0", "limit"),
        ("limit=1e1", "limit"),
        ("limit=99999999999999999999999", "limit"),
        ("offset=-1", "offset"),
        ("offset=abc", "offset"),
        ("offset=", "offset"),
        ("offset=%2B5", "offset"),
        ("offset=1.5", "offset"),
        ("offset=0x10", "offset"),
        ("offset=2&limit=x", "limit"),
    ];

    let mut answers = Vec::new();
    for (query, parameter) in cases {
        answers.push((query, parameter, list(&app, &app.acme, query).await));
    }

    for (query, parameter, answer) in answers {
        answer.assert_error(400, Some(1002));
        assert!(
            answer.body.get("metadata").is_none(),
            "{query}: {}",
            answer.body
        );
        assert!(
            answer.description().contains(parameter),
            "{query}: {}",
            answer.description()
        );
    }
}

#[tokio::test]
async fn the_smallest_and_largest_limits_are_accepted() {
    let app = TestApp::spawn().await;
    let ids = create_users(&app, &app.acme, 1..=3).await;

    let one = list(&app, &app.acme, "limit=1&offset=2").await;
    let fifty = list(&app, &app.acme, "limit=50&offset=0").await;

    let (metadata, items) = one.assert_page();
    assert_eq!(
        metadata,
        &json!({"total": 3, "count": 1, "offset": 2, "limit": 1})
    );
    assert_eq!(ids_of(&items), ids[2..]);
    assert_eq!(
        fifty.assert_page().0,
        &json!({"total": 3, "count": 3, "offset": 0, "limit": 50})
    );
}

#[tokio::test]
async fn when_a_paging_parameter_is_repeated_the_last_value_counts() {
    let app = TestApp::spawn().await;
    create_users(&app, &app.acme, 1..=3).await;

    let answer = list(&app, &app.acme, "limit=50&limit=2&offset=0&offset=1").await;

    assert_eq!(
        answer.assert_page().0,
        &json!({"total": 3, "count": 2, "offset": 1, "limit": 2})
    );
}

#[tokio::test]
async fn users_are_ordered_by_date_created_then_by_id() {
    let app = TestApp::spawn().await;
    // Written out of time order, as nodes with slightly different clocks may do.
    app.clock.advance(100);
    let newest = user_id(&app.create_user(&app.acme, TestApp::new_user(1)).await);
    app.clock.advance(-100);
    let oldest = user_id(&app.create_user(&app.acme, TestApp::new_user(2)).await);
    app.clock.advance(50);
    let mut same_second = Vec::new();
    for n in 3..=6 {
        same_second.push(user_id(
            &app.create_user(&app.acme, TestApp::new_user(n)).await,
        ));
    }
    same_second.sort();

    let answer = list(&app, &app.acme, "").await;

    let (_, items) = answer.assert_page();
    let mut expected = vec![oldest];
    expected.extend(same_second);
    expected.push(newest);
    assert_eq!(ids_of(&items), expected);
    let dates: Vec<&str> = items
        .iter()
        .map(|d| d["date_created"].as_str().unwrap())
        .collect();
    assert_eq!(
        dates,
        [
            "2021-07-26T18:27:24+05:30",
            "2021-07-26T18:28:14+05:30",
            "2021-07-26T18:28:14+05:30",
            "2021-07-26T18:28:14+05:30",
            "2021-07-26T18:28:14+05:30",
            "2021-07-26T18:29:04+05:30",
        ]
    );
}

#[tokio::test]
async fn the_email_filter_takes_alternatives_and_ignores_case() {
    let app = TestApp::spawn().await;
    let ids = create_users(&app, &app.acme, 1..=4).await;
    let mut plus = TestApp::new_user(5);
    plus["email"] = json!("Asha.Rao+Team@Example.COM");
    let plus = user_id(&app.create_user(&app.acme, plus).await);
    let cases = [
        (
            "email=ASHA1@example.com,asha3@EXAMPLE.COM",
            vec![ids[0].clone(), ids[2].clone()],
        ),
        ("email=asha.rao%2Bteam@example.com", vec![plus.clone()]),
        ("email=asha2@example.com,not-an-email", vec![ids[1].clone()]),
        (
            "email=asha1@example.com,,asha4@example.com",
            vec![ids[0].clone(), ids[3].clone()],
        ),
        ("email=nobody@example.com", vec![]),
    ];

    let mut answers = Vec::new();
    for (query, expected) in cases {
        answers.push((query, expected, list(&app, &app.acme, query).await));
    }
    let no_items = list(&app, &app.acme, "email=").await;

    for (query, expected, answer) in answers {
        let (metadata, items) = answer.assert_page();
        assert_eq!(ids_of(&items), expected, "{query}");
        assert_eq!(metadata["total"], expected.len(), "{query}");
    }
    assert_eq!(no_items.assert_page().0["total"], 5);
}

#[tokio::test]
async fn the_phone_filter_reads_encoded_unencoded_and_formatted_numbers() {
    let app = TestApp::spawn().await;
    let mut body = TestApp::new_user(1);
    body["device_contact_uri"] = json!("+919812345678");
    let wanted = user_id(&app.create_user(&app.acme, body).await);
    let other = user_id(&app.create_user(&app.acme, TestApp::new_user(2)).await);
    let queries = [
        "devices.contact_uri=%2B919812345678",
        // An unencoded `+` reaches the server as a space.
        "devices.contact_uri=+919812345678",
        "devices.contact_uri=%2B91%2098123-45678",
        "devices.contact_uri=+91%2098123-45678",
        "devices.contact_uri=%2B91%20(981)%20234.5678",
        "devices.contact_uri=%2B14155550100,%2B919812345678",
    ];

    let mut answers = Vec::new();
    for query in queries {
        answers.push((query, list(&app, &app.acme, query).await));
    }
    let both = list(
        &app,
        &app.acme,
        "devices.contact_uri=+919812345678,+919812300002",
    )
    .await;

    for (query, answer) in answers {
        let (metadata, items) = answer.assert_page();
        assert_eq!(ids_of(&items), std::slice::from_ref(&wanted), "{query}");
        assert_eq!(metadata["total"], 1, "{query}");
    }
    let (_, items) = both.assert_page();
    let found: HashSet<String> = ids_of(&items).into_iter().collect();
    assert_eq!(found, HashSet::from([wanted, other]));
}

#[tokio::test]
async fn the_phone_filter_finds_a_softphone_by_its_sip_uri() {
    let app = TestApp::spawn().await;
    let voip = app.voip_account("voipco").await;
    let asha = app.create_user(&voip, TestApp::new_user(1)).await;
    app.create_user(&voip, TestApp::new_user(2)).await;
    let sip = asha["devices"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["type"] == "sip")
        .unwrap()["contact_uri"]
        .as_str()
        .unwrap()
        .to_owned();

    let answer = list(&app, &voip, &format!("devices.contact_uri={sip}")).await;

    let (metadata, items) = answer.assert_page();
    assert_eq!(ids_of(&items), [user_id(&asha)]);
    assert_eq!(metadata["total"], 1);
}

#[tokio::test]
async fn a_phone_filter_value_that_is_neither_e164_nor_sip_is_refused_naming_the_parameter() {
    let app = TestApp::spawn().await;
    app.create_user(&app.acme, TestApp::new_user(1)).await;

    for value in [
        "9812345678",
        "asha",
        "%2B0919812345678",
        "%2B91981",
        "tel:%2B919812345678",
        "%2B919812300001,asha",
    ] {
        let answer = list(&app, &app.acme, &format!("devices.contact_uri={value}")).await;
        answer.assert_error(400, Some(1401));
        assert!(answer.body.get("metadata").is_none());
        assert!(
            answer.description().contains("devices.contact_uri"),
            "{value}: {}",
            answer.description()
        );
    }
}

#[tokio::test]
async fn different_filters_must_all_hold_while_values_of_one_are_alternatives() {
    let app = TestApp::spawn().await;
    let ids = create_users(&app, &app.acme, 1..=3).await;

    let both = list(
        &app,
        &app.acme,
        "email=asha1@example.com,asha2@example.com&devices.contact_uri=%2B919812300002,%2B919812300003",
    )
    .await;
    let neither = list(
        &app,
        &app.acme,
        "email=asha1@example.com&devices.contact_uri=%2B919812300002",
    )
    .await;
    let paged = list(
        &app,
        &app.acme,
        "email=asha1@example.com,asha2@example.com,asha3@example.com&devices.contact_uri=%2B919812300001,%2B919812300003&limit=1&offset=1",
    )
    .await;

    let (metadata, items) = both.assert_page();
    assert_eq!(ids_of(&items), [ids[1].clone()]);
    assert_eq!(metadata["total"], 1);
    let (metadata, items) = neither.assert_page();
    assert!(items.is_empty());
    assert_eq!(metadata["total"], 0);
    let (metadata, items) = paged.assert_page();
    assert_eq!(
        metadata,
        &json!({"total": 2, "count": 1, "offset": 1, "limit": 1})
    );
    assert_eq!(ids_of(&items), [ids[2].clone()]);
}

#[tokio::test]
async fn a_filter_holds_at_most_fifty_values() {
    let app = TestApp::spawn().await;
    app.create_user(&app.acme, TestApp::new_user(1)).await;
    let emails = |n: u32| {
        (1..=n)
            .map(|i| format!("asha{i}@example.com"))
            .collect::<Vec<_>>()
            .join(",")
    };
    let numbers = |n: u32| {
        (1..=n)
            .map(|i| format!("%2B9198123{i:05}"))
            .collect::<Vec<_>>()
            .join(",")
    };

    let fifty_emails = list(&app, &app.acme, &format!("email={}", emails(50))).await;
    let fifty_numbers = list(
        &app,
        &app.acme,
        &format!("devices.contact_uri={}", numbers(50)),
    )
    .await;
    let too_many_emails = list(&app, &app.acme, &format!("email={}", emails(51))).await;
    let too_many_numbers = list(
        &app,
        &app.acme,
        &format!("devices.contact_uri={}", numbers(51)),
    )
    .await;

    assert_eq!(fifty_emails.assert_page().0["total"], 1);
    assert_eq!(fifty_numbers.assert_page().0["total"], 1);
    too_many_emails.assert_error(400, Some(1002));
    assert!(
        too_many_emails.description().contains("email"),
        "{}",
        too_many_emails.description()
    );
    too_many_numbers.assert_error(400, Some(1002));
    assert!(
        too_many_numbers
            .description()
            .contains("devices.contact_uri"),
        "{}",
        too_many_numbers.description()
    );
}

#[tokio::test]
async fn fields_adds_devices_and_call_state_to_every_listed_user() {
    let app = TestApp::spawn().await;
    let first = app.create_user(&app.acme, TestApp::new_user(1)).await;
    app.clock.advance(1);
    let second = app.create_user(&app.acme, TestApp::new_user(2)).await;

    let plain = list(&app, &app.acme, "").await;
    let devices = list(&app, &app.acme, "fields=devices").await;
    let all = list(&app, &app.acme, "fields=devices,active_call,last_login").await;

    for data in plain.assert_page().1 {
        assert_eq!(keys(data), USER_KEYS);
    }
    let (_, items) = devices.assert_page();
    assert_eq!(items[0]["devices"], first["devices"]);
    assert_eq!(items[1]["devices"], second["devices"]);
    for data in items {
        assert_eq!(
            keys(data),
            [
                "date_created",
                "date_updated",
                "devices",
                "email",
                "email_verified",
                "first_name",
                "id",
                "last_name",
                "role"
            ]
        );
    }
    for data in all.assert_page().1 {
        assert_eq!(keys(data)[0], "active_call");
        assert_eq!(data["active_call"], false);
        assert_eq!(data["last_login"], Value::Null);
        assert!(data["devices"].is_array());
    }
}

#[tokio::test]
async fn a_crm_that_pages_by_fifty_sees_every_user_exactly_once() {
    let app = TestApp::spawn().await;
    let crm = app.roomy_account("crmco").await;
    let mut created = Vec::new();
    for n in 0..120 {
        // Seven users a second, so many share a `date_created` and the id decides.
        if n % 7 == 0 {
            app.clock.advance(1);
        }
        let id = user_id(&app.create_user(&crm, TestApp::new_user(n)).await);
        created.push((n / 7, id));
    }
    created.sort();
    let expected: Vec<String> = created.into_iter().map(|(_, id)| id).collect();

    let mut seen = Vec::new();
    let mut counts = Vec::new();
    let mut offset = 0;
    loop {
        let answer = list(&app, &crm, &format!("limit=50&offset={offset}")).await;
        let (metadata, items) = answer.assert_page();
        assert_eq!(metadata["total"], 120);
        assert_eq!(metadata["offset"], offset);
        let count = metadata["count"].as_u64().unwrap();
        counts.push(count);
        seen.extend(ids_of(&items));
        offset += count;
        if count == 0 || offset >= 120 {
            break;
        }
    }

    assert_eq!(counts, [50, 50, 20]);
    assert_eq!(seen, expected);
    assert_eq!(seen.iter().collect::<HashSet<_>>().len(), 120);
}

#[tokio::test]
async fn a_list_never_shows_another_accounts_users() {
    let app = TestApp::spawn().await;
    let acme_ids = create_users(&app, &app.acme, 1..=2).await;
    let globex_id = user_id(&app.create_user(&app.globex, TestApp::new_user(3)).await);
    let empty = app.account("emptyco", Default::default()).await;

    let globex_all = list(&app, &app.globex, "").await;
    let globex_by_acme_email = list(&app, &app.globex, "email=asha1@example.com").await;
    let globex_by_acme_number =
        list(&app, &app.globex, "devices.contact_uri=%2B919812300001").await;
    let acme_all = list(&app, &app.acme, "").await;
    let nobody = list(&app, &empty, "").await;

    let (metadata, items) = globex_all.assert_page();
    assert_eq!(ids_of(&items), [globex_id]);
    assert_eq!(metadata["total"], 1);
    assert_eq!(globex_by_acme_email.assert_page().0["total"], 0);
    assert_eq!(globex_by_acme_number.assert_page().0["total"], 0);
    assert_eq!(ids_of(&acme_all.assert_page().1), acme_ids);
    assert_eq!(
        nobody.assert_page().0,
        &json!({"total": 0, "count": 0, "offset": 0, "limit": 20})
    );
}

#[tokio::test]
async fn a_user_matched_by_several_of_its_devices_is_listed_once_with_all_its_devices() {
    let app = TestApp::spawn().await;
    let voip = app.voip_account("voipco").await;
    let asha = app.create_user(&voip, TestApp::new_user(1)).await;
    app.clock.advance(1);
    let ravi = app.create_user(&voip, TestApp::new_user(2)).await;
    let sip = asha["devices"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["type"] == "sip")
        .unwrap()["contact_uri"]
        .as_str()
        .unwrap()
        .to_owned();
    let query =
        format!("fields=devices&limit=1&devices.contact_uri=%2B919812300001,{sip},%2B919812300002");

    let first = list(&app, &voip, &query).await;
    let second = list(&app, &voip, &format!("{query}&offset=1")).await;

    let (metadata, items) = first.assert_page();
    assert_eq!(
        metadata,
        &json!({"total": 2, "count": 1, "offset": 0, "limit": 1})
    );
    assert_eq!(items[0]["devices"], asha["devices"]);
    let (_, items) = second.assert_page();
    assert_eq!(ids_of(&items), [user_id(&ravi)]);
    assert_eq!(items[0]["devices"], ravi["devices"]);
}

#[tokio::test]
async fn a_malformed_escape_in_a_filter_is_an_invalid_request_format() {
    let app = TestApp::spawn().await;
    app.create_user(&app.acme, TestApp::new_user(1)).await;

    let mut answers = Vec::new();
    for query in [
        // `%+1` is not two hex digits, however leniently a number parser reads "+1".
        "email=asha1%+1@example.com",
        "email=asha1%zz@example.com",
        "devices.contact_uri=%2",
        "devices.contact_uri=%-1919812300001",
        "limit=%FF",
    ] {
        answers.push((query, list(&app, &app.acme, query).await));
    }

    for (query, answer) in answers {
        assert_eq!(answer.status, 400, "{query}: {}", answer.body);
        answer.assert_error(400, Some(1007));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_page_read_while_users_come_and_go_is_one_consistent_snapshot() {
    let app = TestApp::spawn().await;
    let who = app.roomy_account("churnco").await;
    let mut ids = Vec::new();
    for n in 0..10 {
        ids.push(user_id(&app.create_user(&who, TestApp::new_user(n)).await));
    }

    let churn = async {
        let mut live = std::collections::VecDeque::from(ids);
        for n in 10..40 {
            live.push_back(user_id(&app.create_user(&who, TestApp::new_user(n)).await));
            let gone = live.pop_front().unwrap();
            app.delete(&who, &format!("/v2/accounts/churnco/users/{gone}"))
                .await
                .assert_success();
        }
    };
    let read = async {
        let mut pages = Vec::new();
        for _ in 0..40 {
            pages.push(list(&app, &who, "fields=devices&limit=50").await);
        }
        pages
    };
    let ((), pages) = tokio::join!(churn, read);

    // Ten or eleven users at any moment, all on one page: a page that is one snapshot
    // counts exactly its total, and every user in it still has its phone.
    for answer in pages {
        let (metadata, items) = answer.assert_page();
        assert_eq!(metadata["count"], metadata["total"], "{}", answer.body);
        assert!((10..=11).contains(&items.len()), "{}", answer.body);
        for data in items {
            assert_eq!(data["devices"].as_array().map(Vec::len), Some(1), "{data}");
        }
    }
}
