//! `GET /v2/accounts/{sid}/users/{user_id}`: the seed page's endpoint.

use serde_json::json;

use crate::helpers::{keys, TestApp};

#[tokio::test]
async fn a_user_is_returned_field_by_field_in_the_accounts_offset() {
    let app = TestApp::spawn().await;
    let created = app.create_user(&app.acme, TestApp::new_user(1)).await;
    let id = created["id"].as_str().unwrap();

    let answer = app
        .get(&app.acme, &format!("/v2/accounts/acme/users/{id}"))
        .await;

    let data = answer.assert_success();
    assert_eq!(answer.body["method"], "GET");
    assert_eq!(
        keys(data),
        [
            "date_created",
            "date_updated",
            "email",
            "email_verified",
            "first_name",
            "id",
            "last_name",
            "role"
        ]
    );
    assert_eq!(data["date_created"], "2021-07-26T18:27:24+05:30");
    assert_eq!(data["date_updated"], "2021-07-26T18:27:24+05:30");
    assert_eq!(data["email"], "asha1@example.com");
    assert_eq!(data["email_verified"], false);
    assert_eq!(data["first_name"], "Asha");
    assert_eq!(data["id"], id);
    assert_eq!(data["last_name"], "Rao");
    assert_eq!(data["role"], "user");
}

#[tokio::test]
async fn fields_devices_adds_the_users_devices_in_alphabetical_key_order() {
    let app = TestApp::spawn().await;
    let created = app.create_user(&app.acme, TestApp::new_user(2)).await;
    let id = created["id"].as_str().unwrap();

    let answer = app
        .get(
            &app.acme,
            &format!("/v2/accounts/acme/users/{id}?fields=devices"),
        )
        .await;

    let data = answer.assert_success();
    assert_eq!(keys(data)[2], "devices");
    let devices = data["devices"].as_array().unwrap();
    assert_eq!(devices.len(), 1);
    let device = &devices[0];
    assert_eq!(
        keys(device),
        [
            "available",
            "contact_uri",
            "id",
            "name",
            "status",
            "type",
            "verified"
        ]
    );
    assert_eq!(device["available"], json!(null));
    assert_eq!(device["contact_uri"], "+919812300002");
    assert_eq!(device["id"], created["devices"][0]["id"]);
    assert_eq!(device["name"], "Phone");
    assert_eq!(device["status"], "free");
    assert_eq!(device["type"], "tel");
    assert_eq!(device["verified"], false);
    let device_id = device["id"].as_u64().unwrap();
    assert!(device_id > 0 && device_id < 1 << 53);
}

#[tokio::test]
async fn active_call_and_last_login_appear_only_when_asked_for() {
    let app = TestApp::spawn().await;
    let id = app.create_user(&app.acme, TestApp::new_user(3)).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = format!("/v2/accounts/acme/users/{id}");

    let plain = app.get(&app.acme, &path).await;
    let both = app
        .get(&app.acme, &format!("{path}?fields=active_call,last_login"))
        .await;
    let all = app
        .get(
            &app.acme,
            &format!("{path}?fields=devices%2Cactive_call%2Clast_login"),
        )
        .await;

    let plain = plain.assert_success();
    assert!(plain.get("active_call").is_none() && plain.get("last_login").is_none());
    assert!(plain.get("devices").is_none());
    let both = both.assert_success();
    assert_eq!(both["active_call"], false);
    assert_eq!(both["last_login"], json!(null));
    assert!(both.get("devices").is_none());
    let all = all.assert_success();
    assert_eq!(
        keys(all),
        [
            "active_call",
            "date_created",
            "date_updated",
            "devices",
            "email",
            "email_verified",
            "first_name",
            "id",
            "last_login",
            "last_name",
            "role"
        ]
    );
}

#[tokio::test]
async fn timestamps_follow_the_accounts_time_zone() {
    let app = TestApp::spawn().await;
    let settings = roster_domain::AccountSettings {
        timezone: Some(roster_domain::TimeZoneName::parse("America/New_York").unwrap()),
        ..Default::default()
    };
    let nyc = app.account("nyc", settings).await;
    let id = app.create_user(&nyc, TestApp::new_user(4)).await["id"]
        .as_str()
        .unwrap()
        .to_owned();

    let answer = app.get(&nyc, &format!("/v2/accounts/nyc/users/{id}")).await;

    assert_eq!(
        answer.assert_success()["date_created"],
        "2021-07-26T08:57:24-04:00"
    );
}

#[tokio::test]
async fn an_unknown_or_malformed_id_is_user_not_found() {
    let app = TestApp::spawn().await;

    for id in [
        "9f7100ea9a484b75aadefa94303f62eb",
        "not-an-id",
        "9F7100EA9A484B75AADEFA94303F62EB",
        "1",
    ] {
        let answer = app
            .get(&app.acme, &format!("/v2/accounts/acme/users/{id}"))
            .await;
        answer.assert_error(404, Some(10801));
    }
}

#[tokio::test]
async fn a_user_of_another_account_is_not_found() {
    let app = TestApp::spawn().await;
    let id = app.create_user(&app.acme, TestApp::new_user(5)).await["id"]
        .as_str()
        .unwrap()
        .to_owned();

    let answer = app
        .get(&app.globex, &format!("/v2/accounts/globex/users/{id}"))
        .await;

    answer.assert_error(404, Some(10801));
}

#[tokio::test]
async fn the_capitalised_accounts_segment_is_accepted() {
    let app = TestApp::spawn().await;
    let id = app.create_user(&app.acme, TestApp::new_user(6)).await["id"]
        .as_str()
        .unwrap()
        .to_owned();

    let answer = app
        .get(&app.acme, &format!("/v2/Accounts/acme/users/{id}"))
        .await;

    assert_eq!(answer.assert_success()["id"], id.as_str());
}

#[tokio::test]
async fn a_malformed_query_string_is_an_invalid_request_format() {
    let app = TestApp::spawn().await;
    let id = app.create_user(&app.acme, TestApp::new_user(7)).await["id"]
        .as_str()
        .unwrap()
        .to_owned();

    for query in ["fields=%zz", "fields=%FF", "fields=devices%"] {
        let answer = app
            .get(&app.acme, &format!("/v2/accounts/acme/users/{id}?{query}"))
            .await;
        answer.assert_error(400, Some(1007));
    }
}

#[tokio::test]
async fn a_body_sent_with_get_is_ignored() {
    let app = TestApp::spawn().await;
    let id = app.create_user(&app.acme, TestApp::new_user(8)).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let request = app
        .client()
        .get(app.url(&format!("/v2/accounts/acme/users/{id}")))
        .basic_auth(&app.acme.key, Some(&app.acme.token))
        .header("content-type", "text/plain")
        .body("not json at all");

    let answer = app.send(request).await;

    assert_eq!(answer.assert_success()["id"], id.as_str());
}
