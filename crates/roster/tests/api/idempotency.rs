//! `Idempotency-Key` on creates (an extension): a retry of the same request gets the first
//! answer again for 24 hours and never creates twice; the key sent with another request is
//! refused with 409 / `1008`.

use std::sync::Arc;

use serde_json::{json, Value};
use tokio::task::JoinSet;

use crate::helpers::{user_id, Answer, Credentials, TestApp};

const USERS: &str = "/v2/accounts/acme/users";

async fn post_with_key(
    app: &TestApp,
    who: &Credentials,
    path: &str,
    key: &str,
    body: &str,
) -> Answer {
    let request = app
        .client()
        .post(app.url(path))
        .basic_auth(&who.key, Some(&who.token))
        .header("content-type", "application/json")
        .header("idempotency-key", key)
        .body(body.to_owned());
    app.send(request).await
}

async fn total_users(app: &TestApp) -> Value {
    app.get(&app.acme, USERS).await.assert_page().0["total"].clone()
}

#[tokio::test]
async fn a_retry_gets_the_first_answer_again_and_creates_nothing() {
    let app = TestApp::spawn().await;
    let body = TestApp::new_user(1).to_string();

    let first = post_with_key(&app, &app.acme, USERS, "order-1", &body).await;
    let retry = post_with_key(&app, &app.acme, USERS, "order-1", &body).await;

    assert_eq!(retry.assert_success(), first.assert_success());
    assert_eq!(retry.header("idempotent-replayed"), Some("true"));
    assert_eq!(first.header("idempotent-replayed"), None);
    assert_eq!(retry.header("etag"), first.header("etag"));
    // Each request keeps an id of its own for the logs.
    assert_ne!(retry.body["request_id"], first.body["request_id"]);
    assert_eq!(total_users(&app).await, 1);
}

#[tokio::test]
async fn the_same_json_spaced_and_ordered_otherwise_is_the_same_request() {
    let app = TestApp::spawn().await;
    let body = r#"{"first_name":"Asha","last_name":"Rao","device_contact_uri":"+919812300001"}"#;
    let reordered =
        r#"{ "device_contact_uri" : "+919812300001", "last_name": "Rao", "first_name": "Asha" }"#;

    let first = post_with_key(&app, &app.acme, USERS, "k", body).await;
    let retry = post_with_key(&app, &app.acme, USERS, "k", reordered).await;

    assert_eq!(retry.assert_success(), first.assert_success());
    assert_eq!(total_users(&app).await, 1);
}

#[tokio::test]
async fn the_key_with_another_body_or_target_is_refused_and_creates_nothing() {
    let app = TestApp::spawn().await;
    let first = post_with_key(
        &app,
        &app.acme,
        USERS,
        "k",
        &TestApp::new_user(1).to_string(),
    )
    .await;
    let id = user_id(first.assert_success());

    let other_body = post_with_key(
        &app,
        &app.acme,
        USERS,
        "k",
        &TestApp::new_user(2).to_string(),
    )
    .await;
    let other_target = post_with_key(
        &app,
        &app.acme,
        &format!("{USERS}/{id}/devices"),
        "k",
        &json!({"contact_uri": "+919877700001"}).to_string(),
    )
    .await;

    other_body.assert_error(409, Some(1008));
    assert!(other_body.description().contains("Idempotency-Key"));
    other_target.assert_error(409, Some(1008));
    assert_eq!(total_users(&app).await, 1);
    let devices = app.get(&app.acme, &format!("{USERS}/{id}/devices")).await;
    assert_eq!(devices.assert_list_success().len(), 1);
}

#[tokio::test]
async fn concurrent_retries_create_one_user_and_all_get_its_answer() {
    let app = Arc::new(TestApp::spawn().await);
    let body = TestApp::new_user(1).to_string();

    let mut retries = JoinSet::new();
    for _ in 0..12 {
        let (app, body) = (app.clone(), body.clone());
        retries.spawn(async move {
            let answer = post_with_key(&app, &app.acme, USERS, "burst", &body).await;
            answer.assert_success().clone()
        });
    }
    let mut answers = Vec::new();
    while let Some(answer) = retries.join_next().await {
        answers.push(answer.unwrap());
    }

    assert_eq!(answers.len(), 12);
    assert!(answers.iter().all(|a| a == &answers[0]), "{answers:?}");
    assert_eq!(total_users(&app).await, 1);
}

#[tokio::test]
async fn an_answer_is_replayed_for_24_hours_then_the_key_is_free_again() {
    let app = TestApp::spawn().await;
    let body = TestApp::new_user(1).to_string();
    let first = post_with_key(&app, &app.acme, USERS, "daily", &body).await;
    let id = user_id(first.assert_success());
    // Deleting the user does not change what the first request was answered.
    app.delete(&app.acme, &format!("{USERS}/{id}"))
        .await
        .assert_success();

    app.clock.advance(24 * 60 * 60 - 1);
    let within = post_with_key(&app, &app.acme, USERS, "daily", &body).await;
    app.clock.advance(2);
    let after = post_with_key(&app, &app.acme, USERS, "daily", &body).await;

    assert_eq!(within.assert_success(), first.assert_success());
    assert_eq!(within.header("idempotent-replayed"), Some("true"));
    assert_ne!(user_id(after.assert_success()), id);
    assert_eq!(after.header("idempotent-replayed"), None);
    assert_eq!(total_users(&app).await, 1);
}

#[tokio::test]
async fn a_refused_create_keeps_nothing_so_the_corrected_request_can_use_the_key() {
    let app = TestApp::spawn().await;
    let mut invalid = TestApp::new_user(1);
    invalid["email"] = json!("not-an-address");

    let refused = post_with_key(&app, &app.acme, USERS, "k", &invalid.to_string()).await;
    let corrected = post_with_key(
        &app,
        &app.acme,
        USERS,
        "k",
        &TestApp::new_user(1).to_string(),
    )
    .await;

    refused.assert_error(400, Some(1002));
    corrected.assert_success();
    assert_eq!(corrected.header("idempotent-replayed"), None);
}

#[tokio::test]
async fn keys_belong_to_their_account_and_must_be_short_visible_ascii() {
    let app = TestApp::spawn().await;
    let acme = post_with_key(
        &app,
        &app.acme,
        USERS,
        "shared",
        &TestApp::new_user(1).to_string(),
    )
    .await;
    let globex = post_with_key(
        &app,
        &app.globex,
        "/v2/accounts/globex/users",
        "shared",
        &TestApp::new_user(1).to_string(),
    )
    .await;
    let too_long = post_with_key(
        &app,
        &app.acme,
        USERS,
        &"k".repeat(256),
        &TestApp::new_user(2).to_string(),
    )
    .await;
    let longest = post_with_key(
        &app,
        &app.acme,
        USERS,
        &"k".repeat(255),
        &TestApp::new_user(3).to_string(),
    )
    .await;

    assert_ne!(
        user_id(acme.assert_success()),
        user_id(globex.assert_success())
    );
    assert_eq!(globex.header("idempotent-replayed"), None);
    too_long.assert_error(400, Some(1007));
    assert!(too_long.description().contains("Idempotency-Key"));
    longest.assert_success();
}

#[tokio::test]
async fn an_added_device_is_replayed_too() {
    let app = TestApp::spawn().await;
    let id = user_id(&app.create_user(&app.acme, TestApp::new_user(1)).await);
    let path = format!("{USERS}/{id}/devices");
    let body = json!({"contact_uri": "+919877700001"}).to_string();

    let first = post_with_key(&app, &app.acme, &path, "add-phone", &body).await;
    let retry = post_with_key(&app, &app.acme, &path, "add-phone", &body).await;

    assert_eq!(retry.assert_success(), first.assert_success());
    assert_eq!(retry.header("idempotent-replayed"), Some("true"));
    let devices = app.get(&app.acme, &path).await;
    assert_eq!(devices.assert_list_success().len(), 2);
}
