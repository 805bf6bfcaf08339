//! `ETag` on single users and devices, and `If-Match` on their `PUT` and `DELETE` (an
//! extension): a write made against a stale version is refused with 412 and changes
//! nothing.

use reqwest::Method;
use serde_json::{json, Value};
use tokio::task::JoinSet;

use crate::helpers::{device_id, user_id, Answer, Credentials, TestApp};

fn user_path(who: &Credentials, user: &str) -> String {
    format!("/v2/accounts/{}/users/{user}", who.sid)
}

fn device_path(who: &Credentials, user: &str, device: u64) -> String {
    format!("/v2/accounts/{}/users/{user}/devices/{device}", who.sid)
}

/// Sends `method` to `path` with `If-Match: if_match` and an optional JSON body.
async fn send_if_match(
    app: &TestApp,
    method: Method,
    path: &str,
    if_match: &str,
    body: Option<Value>,
) -> Answer {
    let mut request = app
        .client()
        .request(method, app.url(path))
        .basic_auth(&app.acme.key, Some(&app.acme.token))
        .header("if-match", if_match);
    if let Some(body) = body {
        request = request
            .header("content-type", "application/json")
            .body(body.to_string());
    }
    app.send(request).await
}

fn etag(answer: &Answer) -> String {
    answer
        .header("etag")
        .unwrap_or_else(|| panic!("no ETag: {:?}", answer.headers))
        .to_owned()
}

#[tokio::test]
async fn every_change_of_a_user_moves_its_etag_and_reads_agree_with_writes() {
    let app = TestApp::spawn().await;
    let created = app
        .post(&app.acme, "/v2/accounts/acme/users", &TestApp::new_user(1))
        .await;
    let id = user_id(created.assert_success());
    let path = user_path(&app.acme, &id);

    let read = app.get(&app.acme, &path).await;
    let renamed = app
        .put(&app.acme, &path, &json!({"first_name": "Ravi"}))
        .await;
    let read_again = app.get(&app.acme, &format!("{path}?fields=devices")).await;
    let unchanged = app
        .put(&app.acme, &path, &json!({"first_name": "Ravi"}))
        .await;

    assert_eq!(etag(&created), etag(&read));
    assert!(etag(&created).starts_with('"') && etag(&created).ends_with('"'));
    assert_ne!(etag(&renamed), etag(&read));
    assert_eq!(etag(&read_again), etag(&renamed));
    // A write that changes nothing is no new version.
    assert_eq!(etag(&unchanged), etag(&renamed));
}

#[tokio::test]
async fn a_stale_if_match_is_refused_with_412_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let id = user_id(&app.create_user(&app.acme, TestApp::new_user(1)).await);
    let path = user_path(&app.acme, &id);
    let first = etag(&app.get(&app.acme, &path).await);
    let second = etag(
        &app.put(&app.acme, &path, &json!({"first_name": "Ravi"}))
            .await,
    );

    let stale_put = send_if_match(
        &app,
        Method::PUT,
        &path,
        &first,
        Some(json!({"first_name": "Meera"})),
    )
    .await;
    let stale_delete = send_if_match(&app, Method::DELETE, &path, &first, None).await;
    let weak = send_if_match(
        &app,
        Method::PUT,
        &path,
        &format!("W/{second}"),
        Some(json!({"first_name": "Meera"})),
    )
    .await;
    let after = app.get(&app.acme, &path).await;

    stale_put.assert_error(412, Some(1009));
    stale_delete.assert_error(412, Some(1009));
    // HTTP compares If-Match strongly: a weak tag never matches.
    weak.assert_error(412, Some(1009));
    assert_eq!(after.assert_success()["first_name"], "Ravi");
    assert_eq!(etag(&after), second);
}

#[tokio::test]
async fn a_current_if_match_or_a_star_lets_the_write_through() {
    let app = TestApp::spawn().await;
    let id = user_id(&app.create_user(&app.acme, TestApp::new_user(1)).await);
    let path = user_path(&app.acme, &id);
    let current = etag(&app.get(&app.acme, &path).await);

    let listed = send_if_match(
        &app,
        Method::PUT,
        &path,
        &format!("\"999\", {current}"),
        Some(json!({"first_name": "Ravi"})),
    )
    .await;
    let star = send_if_match(
        &app,
        Method::PUT,
        &path,
        "*",
        Some(json!({"last_name": "Iyer"})),
    )
    .await;
    let deleted = send_if_match(&app, Method::DELETE, &path, &etag(&star), None).await;

    assert_eq!(listed.assert_success()["first_name"], "Ravi");
    assert_eq!(star.assert_success()["last_name"], "Iyer");
    assert_ne!(etag(&star), etag(&listed));
    assert_eq!(deleted.assert_success(), &Value::Null);
    app.get(&app.acme, &path)
        .await
        .assert_error(404, Some(10801));
}

#[tokio::test]
async fn not_found_comes_before_the_precondition_and_the_precondition_before_the_body() {
    let app = TestApp::spawn().await;
    let id = user_id(&app.create_user(&app.acme, TestApp::new_user(1)).await);
    let path = user_path(&app.acme, &id);
    let unknown = user_path(&app.acme, "0123456789abcdef0123456789abcdef");

    let missing = send_if_match(
        &app,
        Method::PUT,
        &unknown,
        "\"1\"",
        Some(json!({"first_name": "Ravi"})),
    )
    .await;
    let missing_delete = send_if_match(&app, Method::DELETE, &unknown, "\"1\"", None).await;
    let stale_and_invalid = send_if_match(
        &app,
        Method::PUT,
        &path,
        "\"7\"",
        Some(json!({"first_name": "R4vi", "role": "admin"})),
    )
    .await;
    let malformed = send_if_match(
        &app,
        Method::PUT,
        &path,
        "1",
        Some(json!({"first_name": "Ravi"})),
    )
    .await;

    missing.assert_error(404, Some(10801));
    missing_delete.assert_error(404, Some(10801));
    stale_and_invalid.assert_error(412, Some(1009));
    malformed.assert_error(400, Some(1007));
    assert!(
        malformed.description().contains("If-Match"),
        "{}",
        malformed.body
    );
}

#[tokio::test]
async fn of_two_writes_made_against_the_same_version_exactly_one_lands() {
    let app = TestApp::spawn().await;
    let id = user_id(&app.create_user(&app.acme, TestApp::new_user(1)).await);
    let path = user_path(&app.acme, &id);
    let current = etag(&app.get(&app.acme, &path).await);

    let app = std::sync::Arc::new(app);
    let mut writes = JoinSet::new();
    for name in ["Ravi", "Meera", "Kabir", "Isha", "Tara", "Vikram"] {
        let (app, path, current) = (app.clone(), path.clone(), current.clone());
        writes.spawn(async move {
            let body = json!({ "first_name": name });
            let answer = send_if_match(&app, Method::PUT, &path, &current, Some(body)).await;
            (name, answer.status.as_u16())
        });
    }
    let mut landed = Vec::new();
    let mut refused = 0;
    while let Some(result) = writes.join_next().await {
        match result.unwrap() {
            (name, 200) => landed.push(name),
            (_, 412) => refused += 1,
            (name, status) => panic!("{name}: unexpected {status}"),
        }
    }
    let after = app.get(&app.acme, &path).await;

    assert_eq!(landed.len(), 1, "{landed:?}");
    assert_eq!(refused, 5);
    assert_eq!(after.assert_success()["first_name"], landed[0]);
}

#[tokio::test]
async fn devices_carry_their_own_etag_and_their_changes_move_the_users_too() {
    let app = TestApp::spawn().await;
    let user = app.create_user(&app.acme, TestApp::new_user(1)).await;
    let (id, phone) = (user_id(&user), device_id(&user, 0));
    app.directory
        .verify_device("acme", "+919812300001")
        .await
        .unwrap();
    let user_path = user_path(&app.acme, &id);
    let path = device_path(&app.acme, &id, phone);
    let user_before = etag(&app.get(&app.acme, &user_path).await);

    let on = app.put(&app.acme, &path, &json!({"available": true})).await;
    let user_after = etag(&app.get(&app.acme, &user_path).await);
    let stale_off = send_if_match(
        &app,
        Method::PUT,
        &path,
        "\"1\"",
        Some(json!({"available": false})),
    )
    .await;
    let stale_delete = send_if_match(&app, Method::DELETE, &path, "\"1\"", None).await;
    let devices = app
        .get(&app.acme, &format!("{user_path}?fields=devices"))
        .await;
    let off = send_if_match(
        &app,
        Method::PUT,
        &path,
        &etag(&on),
        Some(json!({"available": false})),
    )
    .await;
    let deleted = send_if_match(&app, Method::DELETE, &path, &etag(&off), None).await;

    assert_eq!(on.assert_success()["available"], true);
    assert_ne!(user_after, user_before);
    stale_off.assert_error(412, Some(1009));
    stale_delete.assert_error(412, Some(1009));
    assert_eq!(
        devices.assert_success()["devices"][0]["available"],
        true,
        "a refused write changed the device"
    );
    assert_eq!(off.assert_success()["available"], false);
    assert_ne!(etag(&off), etag(&on));
    assert_eq!(deleted.assert_success(), &Value::Null);
}
