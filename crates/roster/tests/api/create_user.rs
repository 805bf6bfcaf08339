//! `POST /v2/accounts/{sid}/users`: every rule of the create call.

use roster_domain::AccountSettings;
use serde_json::{json, Value};

use crate::helpers::{keys, Answer, TestApp};

async fn create(app: &TestApp, body: Value) -> Answer {
    app.post(&app.acme, "/v2/accounts/acme/users", &body).await
}

#[tokio::test]
async fn a_created_user_comes_back_with_its_phone_device() {
    let app = TestApp::spawn().await;
    let body = json!({
        "first_name": "Asha",
        "last_name": "Rao",
        "email": "Asha.Rao+Team1@Example.com",
        "device_contact_uri": "+91 (981) 234-5678",
        "device_name": "Desk phone",
        "role": "supervisor",
    });

    let answer = create(&app, body).await;

    let data = answer.assert_success();
    assert_eq!(answer.body["method"], "POST");
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
    assert_eq!(data["email"], "Asha.Rao+Team1@Example.com");
    assert_eq!(data["role"], "supervisor");
    assert_eq!(data["date_created"], "2021-07-26T18:27:24+05:30");
    let id = data["id"].as_str().unwrap();
    assert!(
        id.len() == 32
            && id
                .bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
    );
    let device = &data["devices"][0];
    assert_eq!(device["contact_uri"], "+919812345678");
    assert_eq!(device["name"], "Desk phone");
    assert_eq!(
        (&device["verified"], &device["available"], &device["status"]),
        (&json!(false), &json!(null), &json!("free"))
    );
    let fetched = app
        .get(
            &app.acme,
            &format!("/v2/accounts/acme/users/{id}?fields=devices"),
        )
        .await;
    assert_eq!(fetched.assert_success(), data);
}

#[tokio::test]
async fn the_role_defaults_to_user_and_the_email_to_null() {
    let app = TestApp::spawn().await;

    let answer = create(
        &app,
        json!({"first_name": "Ravi", "last_name": "Kumar", "device_contact_uri": "+14155550100"}),
    )
    .await;

    let data = answer.assert_success();
    assert_eq!(data["role"], "user");
    assert_eq!(data["email"], Value::Null);
}

#[tokio::test]
async fn a_voip_account_also_gets_a_verified_softphone_and_may_omit_the_number() {
    let app = TestApp::spawn().await;
    let voip = app
        .account(
            "voipco",
            AccountSettings {
                voip_enabled: Some(true),
                ..Default::default()
            },
        )
        .await;
    let path = "/v2/accounts/voipco/users";

    let with_number =
        app.post(&voip, path, &json!({"first_name": "Arjun", "last_name": "Sharma", "device_contact_uri": "+919999000001"})).await;
    let without = app
        .post(
            &voip,
            path,
            &json!({"first_name": "Mary Ann", "last_name": "O'Neil"}),
        )
        .await;

    let devices = with_number.assert_success()["devices"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(devices.len(), 2);
    let ids: Vec<u64> = devices.iter().map(|d| d["id"].as_u64().unwrap()).collect();
    assert!(ids[0] < ids[1], "devices are ordered by id: {ids:?}");
    let sip = devices.iter().find(|d| d["type"] == "sip").unwrap();
    let contact = sip["contact_uri"].as_str().unwrap();
    assert!(
        contact.starts_with("sip:arjuns") && contact.len() == "sip:arjuns".len() + 8,
        "{contact}"
    );
    assert!(contact[10..]
        .bytes()
        .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
    assert_eq!(
        (&sip["verified"], &sip["available"], &sip["status"]),
        (&json!(true), &json!(false), &json!("free"))
    );
    let only = without.assert_success()["devices"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(only.len(), 1);
    assert!(only[0]["contact_uri"]
        .as_str()
        .unwrap()
        .starts_with("sip:maryanno"));
}

#[tokio::test]
async fn missing_names_are_mandatory_parameters() {
    let app = TestApp::spawn().await;
    let cases = [
        (
            json!({"last_name": "Rao", "device_contact_uri": "+919812345678"}),
            "first_name",
        ),
        (
            json!({"first_name": "Asha", "device_contact_uri": "+919812345678"}),
            "last_name",
        ),
        (
            json!({"first_name": null, "last_name": "Rao"}),
            "first_name",
        ),
        (
            json!({"first_name": "  ", "last_name": "Rao"}),
            "first_name",
        ),
        (json!({}), "first_name"),
    ];

    for (body, field) in cases {
        let answer = create(&app, body).await;
        answer.assert_error(400, Some(1001));
        assert!(
            answer.description().contains(field),
            "{}",
            answer.description()
        );
    }
}

#[tokio::test]
async fn invalid_names_roles_and_emails_are_invalid_values_naming_the_field() {
    let app = TestApp::spawn().await;
    let base = TestApp::new_user(1);
    let cases = [
        ("first_name", json!("As")),
        ("first_name", json!("A".repeat(21))),
        ("first_name", json!(" Asha")),
        ("first_name", json!("Asha!")),
        ("first_name", json!("Åsa")),
        ("last_name", json!("R@o")),
        ("role", json!("boss")),
        ("role", json!("Admin")),
        ("email", json!("not-an-email")),
        ("email", json!("asha@localhost")),
        ("device_name", json!("x".repeat(51))),
    ];

    for (field, value) in cases {
        let mut body = base.clone();
        body[field] = value.clone();
        let answer = create(&app, body).await;
        answer.assert_error(400, Some(1002));
        assert!(
            answer.description().contains(field),
            "{field}={value}: {}",
            answer.description()
        );
    }
}

#[tokio::test]
async fn a_number_that_is_not_e164_is_refused_naming_the_field() {
    let app = TestApp::spawn().await;

    for number in [
        "9812345678",
        "+0919812345678",
        "+91981",
        "+91 98123 4567a",
        "sip:asha",
    ] {
        let mut body = TestApp::new_user(1);
        body["device_contact_uri"] = json!(number);
        let answer = create(&app, body).await;
        answer.assert_error(400, Some(1401));
        assert!(answer.description().contains("device_contact_uri"));
    }
}

#[tokio::test]
async fn a_number_is_mandatory_without_voip() {
    let app = TestApp::spawn().await;

    let answer = create(&app, json!({"first_name": "Asha", "last_name": "Rao"})).await;

    answer.assert_error(400, Some(1402));
}

#[tokio::test]
async fn a_number_or_email_already_used_in_the_account_is_a_conflict() {
    let app = TestApp::spawn().await;
    app.create_user(&app.acme, TestApp::new_user(1)).await;

    let mut same_number = TestApp::new_user(2);
    same_number["device_contact_uri"] = json!("+91 98123 00001");
    let mut same_email = TestApp::new_user(3);
    same_email["email"] = json!("ASHA1@EXAMPLE.COM");

    create(&app, same_number)
        .await
        .assert_error(409, Some(10812));
    create(&app, same_email)
        .await
        .assert_error(409, Some(10813));
}

#[tokio::test]
async fn the_same_number_and_email_are_free_in_another_account() {
    let app = TestApp::spawn().await;
    app.create_user(&app.acme, TestApp::new_user(1)).await;

    let answer = app
        .post(
            &app.globex,
            "/v2/accounts/globex/users",
            &TestApp::new_user(1),
        )
        .await;

    answer.assert_success();
}

#[tokio::test]
async fn a_failed_create_writes_nothing() {
    let app = TestApp::spawn().await;
    app.create_user(&app.acme, TestApp::new_user(1)).await;
    let mut clash = TestApp::new_user(2);
    clash["email"] = json!("asha1@example.com");

    create(&app, clash).await.assert_error(409, Some(10813));
    let retry = create(&app, TestApp::new_user(2)).await;

    // The refused create left its number free: the same number now succeeds.
    retry.assert_success();
    let users = app.backend.strings("SELECT COUNT(*) FROM users").await;
    let devices = app.backend.strings("SELECT COUNT(*) FROM devices").await;
    assert_eq!(
        (users, devices),
        (vec!["2".to_owned()], vec!["2".to_owned()])
    );
}

#[tokio::test]
async fn bodies_that_are_not_json_objects_or_have_wrong_types_are_invalid_format() {
    let app = TestApp::spawn().await;
    let bodies = [
        "[]".to_owned(),
        "\"x\"".to_owned(),
        "null".to_owned(),
        "".to_owned(),
        "{\"first_name\": \"Asha\",".to_owned(),
        json!({"first_name": 12, "last_name": "Rao"}).to_string(),
        json!({"first_name": "Asha", "last_name": "Rao", "email": ["a@b.co"]}).to_string(),
        json!({"first_name": "Asha", "last_name": "Rao", "device_contact_uri": 919812345678u64})
            .to_string(),
    ];

    for body in bodies {
        let request = app
            .client()
            .post(app.url("/v2/accounts/acme/users"))
            .basic_auth(&app.acme.key, Some(&app.acme.token))
            .header("content-type", "application/json")
            .body(body.clone());
        app.send(request).await.assert_error(400, Some(1007));
    }
}

#[tokio::test]
async fn json_is_accepted_with_charset_or_no_content_type_and_other_types_are_refused() {
    let app = TestApp::spawn().await;
    let send = |n: u32, content_type: Option<&str>| {
        let mut request = app
            .client()
            .post(app.url("/v2/accounts/acme/users"))
            .basic_auth(&app.acme.key, Some(&app.acme.token))
            .body(TestApp::new_user(n).to_string());
        if let Some(content_type) = content_type {
            request = request.header("content-type", content_type);
        }
        app.send(request)
    };

    send(1, Some("application/json; charset=UTF-8"))
        .await
        .assert_success();
    send(2, None).await.assert_success();
    send(3, Some("application/x-www-form-urlencoded"))
        .await
        .assert_error(415, Some(1011));
    send(4, Some("text/plain"))
        .await
        .assert_error(415, Some(1011));
}

#[tokio::test]
async fn unknown_fields_are_ignored_and_oversized_bodies_refused() {
    let app = TestApp::spawn().await;
    let mut body = TestApp::new_user(1);
    body["nickname"] = json!("A");
    body["id"] = json!({"nested": [1, 2, 3]});
    let mut huge = TestApp::new_user(2);
    huge["padding"] = json!("x".repeat(70 * 1024));

    create(&app, body).await.assert_success();
    create(&app, huge).await.assert_error(413, Some(1007));
}
