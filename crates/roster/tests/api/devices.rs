//! Devices: turning them ON and OFF and changing their numbers (`PUT .../devices/{id}`),
//! SIP passwords (`PUT .../devices/{id}/password`) and the device management extension
//! (`GET`/`POST .../devices`, `DELETE .../devices/{id}`).

use std::sync::Arc;

use serde_json::{json, Value};
use tokio::task::JoinSet;

use crate::helpers::{
    device_id, device_of_type, keys, logs, user_id, Answer, Credentials, TestApp,
};

const DEVICE_KEYS: [&str; 7] = [
    "available",
    "contact_uri",
    "id",
    "name",
    "status",
    "type",
    "verified",
];

fn user_path(who: &Credentials, user: &str) -> String {
    format!("/v2/accounts/{}/users/{user}", who.sid)
}

fn devices_path(who: &Credentials, user: &str) -> String {
    format!("/v2/accounts/{}/users/{user}/devices", who.sid)
}

fn device_path(who: &Credentials, user: &str, device: u64) -> String {
    format!("/v2/accounts/{}/users/{user}/devices/{device}", who.sid)
}

fn phone(n: u32) -> String {
    format!("+9198123{n:05}")
}

fn second_phone(n: u32) -> String {
    format!("+9198777{n:05}")
}

/// A user of `who` with the phone `phone(n)`, unverified: its id and the phone's id.
async fn user_with_phone(app: &TestApp, who: &Credentials, n: u32) -> (String, u64) {
    let user = app.create_user(who, TestApp::new_user(n)).await;
    (user_id(&user), device_id(&user, 0))
}

/// A user whose phone a missed call has verified, so it is OFF.
async fn user_with_verified_phone(app: &TestApp, who: &Credentials, n: u32) -> (String, u64) {
    let (user, device) = user_with_phone(app, who, n).await;
    app.directory
        .verify_device(&who.sid, &phone(n))
        .await
        .unwrap();
    (user, device)
}

/// A user with two verified phones, both OFF.
async fn user_with_two_verified_phones(
    app: &TestApp,
    who: &Credentials,
    n: u32,
) -> (String, [u64; 2]) {
    let (user, first) = user_with_verified_phone(app, who, n).await;
    let added = app
        .post(
            who,
            &devices_path(who, &user),
            &json!({"contact_uri": second_phone(n)}),
        )
        .await;
    let second = added.assert_success()["id"].as_u64().unwrap();
    app.directory
        .verify_device(&who.sid, &second_phone(n))
        .await
        .unwrap();
    (user, [first, second])
}

/// A VOIP account's user without a phone: its id and its softphone's id.
async fn user_with_softphone(app: &TestApp, voip: &Credentials) -> (String, u64) {
    let user = app
        .create_user(voip, json!({"first_name": "Arjun", "last_name": "Sharma"}))
        .await;
    (user_id(&user), device_of_type(&user, "sip"))
}

/// The user as `GET ?fields=devices` shows it.
async fn user_with_devices(app: &TestApp, who: &Credentials, user: &str) -> Value {
    app.get(who, &format!("{}?fields=devices", user_path(who, user)))
        .await
        .assert_success()
        .clone()
}

async fn device_state(app: &TestApp, who: &Credentials, user: &str, device: u64) -> Value {
    let user = user_with_devices(app, who, user).await;
    user["devices"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["id"] == device)
        .unwrap_or_else(|| panic!("no device {device}: {user}"))
        .clone()
}

async fn switch(app: &TestApp, who: &Credentials, user: &str, device: u64, on: bool) -> Answer {
    app.put(
        who,
        &device_path(who, user, device),
        &json!({"available": on}),
    )
    .await
}

/// A PUT with no body, its parameters in the query string, as some clients send it.
async fn put_query(app: &TestApp, who: &Credentials, path: &str, query: &str) -> Answer {
    let request = app
        .client()
        .put(app.url(&format!("{path}?{query}")))
        .basic_auth(&who.key, Some(&who.token));
    app.send(request).await
}

// ---- §5.6 ON and OFF ----

#[tokio::test]
async fn a_verified_device_can_be_turned_on_and_off() {
    let app = TestApp::spawn().await;
    let (user, device) = user_with_verified_phone(&app, &app.acme, 1).await;

    let on = switch(&app, &app.acme, &user, device, true).await;
    let seen_on = device_state(&app, &app.acme, &user, device).await;
    let off = switch(&app, &app.acme, &user, device, false).await;
    let seen_off = device_state(&app, &app.acme, &user, device).await;

    let data = on.assert_success();
    assert_eq!(on.body["method"], "PUT");
    assert_eq!(keys(data), DEVICE_KEYS);
    assert_eq!(
        data,
        &json!({
            "available": true,
            "contact_uri": "+919812300001",
            "id": device,
            "name": "Phone",
            "status": "free",
            "type": "tel",
            "verified": true,
        })
    );
    assert_eq!(&seen_on, data);
    assert_eq!(off.assert_success()["available"], false);
    assert_eq!(seen_off["available"], false);
    assert_eq!(seen_off["verified"], true);
}

#[tokio::test]
async fn an_unverified_device_cannot_be_turned_on() {
    let app = TestApp::spawn().await;
    let (user, device) = user_with_phone(&app, &app.acme, 1).await;

    let answer = switch(&app, &app.acme, &user, device, true).await;

    answer.assert_error(409, Some(10809));
    let state = device_state(&app, &app.acme, &user, device).await;
    assert_eq!(
        (&state["available"], &state["verified"]),
        (&Value::Null, &json!(false))
    );
}

#[tokio::test]
async fn turning_off_an_unverified_device_succeeds_and_leaves_it_unset() {
    let app = TestApp::spawn().await;
    let (user, device) = user_with_phone(&app, &app.acme, 1).await;

    let answer = switch(&app, &app.acme, &user, device, false).await;

    let data = answer.assert_success();
    assert_eq!(
        (&data["available"], &data["verified"]),
        (&Value::Null, &json!(false))
    );
    assert_eq!(
        device_state(&app, &app.acme, &user, device).await["available"],
        Value::Null
    );
}

#[tokio::test]
async fn asking_for_the_state_a_device_already_has_succeeds_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let (user, device) = user_with_verified_phone(&app, &app.acme, 1).await;
    app.clock.advance(60);
    let before = app.get(&app.acme, &user_path(&app.acme, &user)).await;
    let before = before.assert_success().clone();

    let off_again = switch(&app, &app.acme, &user, device, false).await;
    let unchanged = app.get(&app.acme, &user_path(&app.acme, &user)).await;
    switch(&app, &app.acme, &user, device, true)
        .await
        .assert_success();
    let turned_on = app.get(&app.acme, &user_path(&app.acme, &user)).await;
    app.clock.advance(60);
    let on_again = switch(&app, &app.acme, &user, device, true).await;
    let still = app.get(&app.acme, &user_path(&app.acme, &user)).await;

    assert_eq!(off_again.assert_success()["available"], false);
    assert_eq!(unchanged.assert_success(), &before);
    assert_eq!(on_again.assert_success()["available"], true);
    assert_eq!(still.assert_success(), turned_on.assert_success());
}

#[tokio::test]
async fn a_device_change_moves_its_users_date_updated() {
    let app = TestApp::spawn().await;
    let (user, device) = user_with_verified_phone(&app, &app.acme, 1).await;
    app.clock.advance(120);

    switch(&app, &app.acme, &user, device, true)
        .await
        .assert_success();
    let after_switch = app.get(&app.acme, &user_path(&app.acme, &user)).await;
    app.clock.advance(60);
    app.put(
        &app.acme,
        &device_path(&app.acme, &user, device),
        &json!({"contact_uri": "+919999900001"}),
    )
    .await
    .assert_success();
    let after_number = app.get(&app.acme, &user_path(&app.acme, &user)).await;

    let after_switch = after_switch.assert_success();
    assert_eq!(after_switch["date_created"], "2021-07-26T18:27:24+05:30");
    assert_eq!(after_switch["date_updated"], "2021-07-26T18:29:24+05:30");
    let after_number = after_number.assert_success();
    assert_eq!(after_number["date_created"], "2021-07-26T18:27:24+05:30");
    assert_eq!(after_number["date_updated"], "2021-07-26T18:30:24+05:30");
}

#[tokio::test]
async fn with_an_empty_body_the_parameters_are_read_from_the_query_string() {
    let app = TestApp::spawn().await;
    let (user, device) = user_with_verified_phone(&app, &app.acme, 1).await;
    let path = device_path(&app.acme, &user, device);
    let steps = [
        ("True", true),
        ("False", false),
        ("1", true),
        ("0", false),
        ("true", true),
        ("false", false),
    ];

    let mut answers = Vec::new();
    for (value, expected) in steps {
        let answer = put_query(&app, &app.acme, &path, &format!("available={value}")).await;
        let state = device_state(&app, &app.acme, &user, device).await;
        answers.push((value, expected, answer, state));
    }
    let whitespace = app
        .client()
        .put(app.url(&format!("{path}?available=True")))
        .basic_auth(&app.acme.key, Some(&app.acme.token))
        .header("content-type", "application/json")
        .body(" \n");
    let whitespace = app.send(whitespace).await;

    for (value, expected, answer, state) in answers {
        assert_eq!(answer.assert_success()["available"], expected, "{value}");
        assert_eq!(state["available"], expected, "{value}");
    }
    assert_eq!(whitespace.assert_success()["available"], true);
}

#[tokio::test]
async fn the_query_string_can_carry_a_new_number_with_available() {
    let app = TestApp::spawn().await;
    let (user, device) = user_with_verified_phone(&app, &app.acme, 1).await;
    let path = device_path(&app.acme, &user, device);

    let answer = put_query(
        &app,
        &app.acme,
        &path,
        "available=True&contact_uri=%2B919812345678",
    )
    .await;

    let data = answer.assert_success();
    assert_eq!(data["contact_uri"], "+919812345678");
    assert_eq!(
        (&data["available"], &data["verified"]),
        (&Value::Null, &json!(false))
    );
    assert_eq!(&device_state(&app, &app.acme, &user, device).await, data);
}

#[tokio::test]
async fn an_available_in_the_query_string_other_than_the_six_spellings_is_an_invalid_value() {
    let app = TestApp::spawn().await;
    let (user, device) = user_with_verified_phone(&app, &app.acme, 1).await;
    let path = device_path(&app.acme, &user, device);

    for value in ["yes", "TRUE", "2", "on", ""] {
        let answer = put_query(&app, &app.acme, &path, &format!("available={value}")).await;
        answer.assert_error(400, Some(1002));
        assert!(
            answer.description().contains("available"),
            "{value}: {}",
            answer.description()
        );
    }

    assert_eq!(
        device_state(&app, &app.acme, &user, device).await["available"],
        false
    );
}

#[tokio::test]
async fn a_body_wins_over_the_query_string() {
    let app = TestApp::spawn().await;
    let (user, device) = user_with_verified_phone(&app, &app.acme, 1).await;
    let path = device_path(&app.acme, &user, device);

    let answer = app
        .put(
            &app.acme,
            &format!("{path}?available=true"),
            &json!({"available": false}),
        )
        .await;

    assert_eq!(answer.assert_success()["available"], false);
    assert_eq!(
        device_state(&app, &app.acme, &user, device).await["available"],
        false
    );
}

#[tokio::test]
async fn bodies_that_are_not_objects_or_have_wrong_types_are_invalid_format() {
    let app = TestApp::spawn().await;
    let (user, device) = user_with_verified_phone(&app, &app.acme, 1).await;
    let path = device_path(&app.acme, &user, device);
    let bodies = [
        "[]".to_owned(),
        "true".to_owned(),
        "{\"available\": tru".to_owned(),
        json!({"available": "true"}).to_string(),
        json!({"available": 1}).to_string(),
        json!({"contact_uri": 919_812_345_678_u64}).to_string(),
    ];

    for body in bodies {
        let request = app
            .client()
            .put(app.url(&path))
            .basic_auth(&app.acme.key, Some(&app.acme.token))
            .header("content-type", "application/json")
            .body(body.clone());
        app.send(request).await.assert_error(400, Some(1007));
    }

    assert_eq!(
        device_state(&app, &app.acme, &user, device).await["available"],
        false
    );
}

// ---- §5.6 numbers ----

#[tokio::test]
async fn a_new_number_makes_the_device_unverified_whatever_available_was_sent() {
    let app = TestApp::spawn().await;
    let (user, device) = user_with_verified_phone(&app, &app.acme, 1).await;
    switch(&app, &app.acme, &user, device, true)
        .await
        .assert_success();

    let answer = app
        .put(
            &app.acme,
            &device_path(&app.acme, &user, device),
            &json!({"available": true, "contact_uri": "+91 99999-00001"}),
        )
        .await;

    let data = answer.assert_success();
    assert_eq!(data["contact_uri"], "+919999900001");
    assert_eq!(
        (&data["available"], &data["verified"]),
        (&Value::Null, &json!(false))
    );
    assert_eq!(&device_state(&app, &app.acme, &user, device).await, data);
    switch(&app, &app.acme, &user, device, true)
        .await
        .assert_error(409, Some(10809));
}

#[tokio::test]
async fn a_new_number_on_an_unverified_device_sent_with_available_true_is_accepted() {
    let app = TestApp::spawn().await;
    let (user, device) = user_with_phone(&app, &app.acme, 1).await;

    let answer = app
        .put(
            &app.acme,
            &device_path(&app.acme, &user, device),
            &json!({"available": true, "contact_uri": "+919999900001"}),
        )
        .await;

    let data = answer.assert_success();
    assert_eq!(data["contact_uri"], "+919999900001");
    assert_eq!(data["available"], Value::Null);
}

#[tokio::test]
async fn sending_the_devices_own_number_is_not_a_change() {
    let app = TestApp::spawn().await;
    let (user, device) = user_with_verified_phone(&app, &app.acme, 1).await;
    app.clock.advance(60);
    let before = app.get(&app.acme, &user_path(&app.acme, &user)).await;
    let before = before.assert_success().clone();

    let answer = app
        .put(
            &app.acme,
            &device_path(&app.acme, &user, device),
            &json!({"contact_uri": "+91 98123-00001"}),
        )
        .await;

    let data = answer.assert_success();
    assert_eq!(
        (&data["contact_uri"], &data["verified"], &data["available"]),
        (&json!("+919812300001"), &json!(true), &json!(false))
    );
    let after = app.get(&app.acme, &user_path(&app.acme, &user)).await;
    assert_eq!(after.assert_success(), &before);
}

#[tokio::test]
async fn a_number_that_is_not_e164_is_refused_naming_contact_uri() {
    let app = TestApp::spawn().await;
    let (user, device) = user_with_verified_phone(&app, &app.acme, 1).await;

    for number in [
        "9812345678",
        "+0919812345678",
        "+91981",
        "sip:asha1a2b3c4d",
        "phone",
    ] {
        let answer = app
            .put(
                &app.acme,
                &device_path(&app.acme, &user, device),
                &json!({"contact_uri": number}),
            )
            .await;
        answer.assert_error(400, Some(1401));
        assert!(
            answer.description().contains("contact_uri"),
            "{number}: {}",
            answer.description()
        );
    }

    let state = device_state(&app, &app.acme, &user, device).await;
    assert_eq!(
        (&state["contact_uri"], &state["verified"]),
        (&json!("+919812300001"), &json!(true))
    );
}

#[tokio::test]
async fn a_number_used_by_another_device_of_the_account_is_a_conflict() {
    let app = TestApp::spawn().await;
    let (_, _) = user_with_phone(&app, &app.acme, 1).await;
    let (user, device) = user_with_verified_phone(&app, &app.acme, 2).await;
    app.create_user(&app.globex, TestApp::new_user(3)).await;
    let path = device_path(&app.acme, &user, device);

    let taken = app
        .put(
            &app.acme,
            &path,
            &json!({"contact_uri": "+91 (981) 230-0001"}),
        )
        .await;
    let state = device_state(&app, &app.acme, &user, device).await;
    let used_elsewhere = app
        .put(&app.acme, &path, &json!({"contact_uri": "+919812300003"}))
        .await;

    taken.assert_error(409, Some(10811));
    assert_eq!(
        (
            &state["contact_uri"],
            &state["verified"],
            &state["available"]
        ),
        (&json!("+919812300002"), &json!(true), &json!(false))
    );
    assert_eq!(
        used_elsewhere.assert_success()["contact_uri"],
        "+919812300003"
    );
}

#[tokio::test]
async fn both_fields_are_applied_together_or_not_at_all() {
    let app = TestApp::spawn().await;
    user_with_phone(&app, &app.acme, 1).await;
    let (user, device) = user_with_verified_phone(&app, &app.acme, 2).await;
    let path = device_path(&app.acme, &user, device);

    let bad_number = app
        .put(
            &app.acme,
            &path,
            &json!({"available": true, "contact_uri": "phone"}),
        )
        .await;
    let taken_number = app
        .put(
            &app.acme,
            &path,
            &json!({"available": true, "contact_uri": "+919812300001"}),
        )
        .await;

    bad_number.assert_error(400, Some(1401));
    taken_number.assert_error(409, Some(10811));
    let state = device_state(&app, &app.acme, &user, device).await;
    assert_eq!(
        (
            &state["contact_uri"],
            &state["verified"],
            &state["available"]
        ),
        (&json!("+919812300002"), &json!(true), &json!(false))
    );
}

#[tokio::test]
async fn a_softphones_address_cannot_be_changed() {
    let app = TestApp::spawn().await;
    let voip = app.voip_account("voipco").await;
    let (user, sip) = user_with_softphone(&app, &voip).await;
    let before = device_state(&app, &voip, &user, sip).await;

    for contact in ["+919812345678", "sip:someoneelse", "phone"] {
        let answer = app
            .put(
                &voip,
                &device_path(&voip, &user, sip),
                &json!({"contact_uri": contact}),
            )
            .await;
        answer.assert_error(403, Some(10817));
    }

    assert_eq!(device_state(&app, &voip, &user, sip).await, before);
}

#[tokio::test]
async fn a_softphone_starts_verified_and_can_be_turned_on() {
    let app = TestApp::spawn().await;
    let voip = app.voip_account("voipco").await;
    let (user, sip) = user_with_softphone(&app, &voip).await;

    let answer = switch(&app, &voip, &user, sip, true).await;

    let data = answer.assert_success();
    assert_eq!(
        (&data["type"], &data["available"]),
        (&json!("sip"), &json!(true))
    );
}

// ---- §5.6 one device ON ----

#[tokio::test]
async fn a_second_device_cannot_be_turned_on_while_one_is_on() {
    let app = TestApp::spawn().await;
    let (user, [first, second]) = user_with_two_verified_phones(&app, &app.acme, 1).await;
    switch(&app, &app.acme, &user, first, true)
        .await
        .assert_success();

    let refused = switch(&app, &app.acme, &user, second, true).await;
    let state = device_state(&app, &app.acme, &user, second).await;
    switch(&app, &app.acme, &user, first, false)
        .await
        .assert_success();
    let allowed = switch(&app, &app.acme, &user, second, true).await;

    refused.assert_error(403, Some(10810));
    assert_eq!(state["available"], false);
    assert_eq!(allowed.assert_success()["available"], true);
    let devices = user_with_devices(&app, &app.acme, &user).await["devices"].clone();
    let on: Vec<&Value> = devices
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["available"] == true)
        .collect();
    assert_eq!(on.len(), 1);
    assert_eq!(on[0]["id"], second);
}

#[tokio::test]
async fn another_users_device_being_on_does_not_matter() {
    let app = TestApp::spawn().await;
    let (asha, asha_phone) = user_with_verified_phone(&app, &app.acme, 1).await;
    let (ravi, ravi_phone) = user_with_verified_phone(&app, &app.acme, 2).await;
    switch(&app, &app.acme, &asha, asha_phone, true)
        .await
        .assert_success();

    let answer = switch(&app, &app.acme, &ravi, ravi_phone, true).await;

    assert_eq!(answer.assert_success()["available"], true);
}

#[tokio::test]
async fn deleting_the_device_that_is_on_lets_another_be_turned_on() {
    let app = TestApp::spawn().await;
    let (user, [first, second]) = user_with_two_verified_phones(&app, &app.acme, 1).await;
    switch(&app, &app.acme, &user, first, true)
        .await
        .assert_success();

    app.delete(&app.acme, &device_path(&app.acme, &user, first))
        .await
        .assert_success();
    let answer = switch(&app, &app.acme, &user, second, true).await;

    assert_eq!(answer.assert_success()["available"], true);
}

/// Fires `requests` concurrent `{"available": true}` at the two devices (alternating, and
/// alternating between `bases`), then checks that exactly one device is ON, that every
/// success was for that device and every refusal 403 / `10810` for the other.
async fn race_to_turn_on(
    app: &Arc<TestApp>,
    who: &Credentials,
    user: &str,
    devices: [u64; 2],
    bases: &[String],
    requests: usize,
) -> u64 {
    let mut tasks = JoinSet::new();
    for i in 0..requests {
        let device = devices[i % 2];
        let base = &bases[(i / 2) % bases.len()];
        let request = app
            .client()
            .put(format!("{base}{}", device_path(who, user, device)))
            .basic_auth(&who.key, Some(&who.token))
            .header("content-type", "application/json")
            .body(json!({"available": true}).to_string());
        let app = app.clone();
        tasks.spawn(async move { (device, app.send(request).await) });
    }
    let answers = tasks.join_all().await;

    let devices_now = user_with_devices(app, who, user).await["devices"].clone();
    let on: Vec<u64> = devices_now
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["available"] == true)
        .map(|d| d["id"].as_u64().unwrap())
        .collect();
    assert_eq!(on.len(), 1, "devices ON at once: {devices_now}");
    let winner = on[0];
    let mut successes = 0;
    for (device, answer) in answers {
        if answer.status == 200 {
            assert_eq!(
                device, winner,
                "a success for the device left OFF: {}",
                answer.body
            );
            assert_eq!(answer.assert_success()["available"], true);
            successes += 1;
        } else {
            answer.assert_error(403, Some(10810));
            assert_ne!(
                device, winner,
                "a refusal for the device left ON: {}",
                answer.body
            );
        }
    }
    assert!(successes >= 1);
    winner
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_concurrent_requests_to_turn_on_two_devices_leave_exactly_one_on() {
    let app = Arc::new(TestApp::spawn().await);
    let who = app.roomy_account("callcenter").await;
    let (user, devices) = user_with_two_verified_phones(&app, &who, 1).await;
    let bases = [app.url("")];

    for _round in 0..5 {
        let winner = race_to_turn_on(&app, &who, &user, devices, &bases, 50).await;

        switch(&app, &who, &user, winner, false)
            .await
            .assert_success();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_nodes_over_one_database_never_let_two_devices_be_on() {
    let app = Arc::new(TestApp::spawn().await);
    let who = app.roomy_account("callcenter").await;
    let (user, devices) = user_with_two_verified_phones(&app, &who, 1).await;
    let bases = [app.url(""), app.second_node().await];

    for _round in 0..5 {
        let winner = race_to_turn_on(&app, &who, &user, devices, &bases, 50).await;

        switch(&app, &who, &user, winner, false)
            .await
            .assert_success();
    }
}

// ---- §5.6 not found ----

#[tokio::test]
async fn an_unknown_device_or_a_device_of_another_user_is_not_found() {
    let app = TestApp::spawn().await;
    let (asha, asha_phone) = user_with_verified_phone(&app, &app.acme, 1).await;
    let (ravi, _) = user_with_verified_phone(&app, &app.acme, 2).await;
    let on = json!({"available": true});

    let mut answers = Vec::new();
    for device in ["12345", "0", "-1", "abc", "9007199254740993", "1.5"] {
        let path = format!("{}/devices/{device}", user_path(&app.acme, &asha));
        answers.push(app.put(&app.acme, &path, &on).await);
    }
    answers.push(
        app.put(&app.acme, &device_path(&app.acme, &ravi, asha_phone), &on)
            .await,
    );

    for answer in answers {
        answer.assert_error(404, Some(1000));
    }
    assert_eq!(
        device_state(&app, &app.acme, &asha, asha_phone).await["available"],
        false
    );
}

#[tokio::test]
async fn an_unknown_user_is_not_found_before_its_device() {
    let app = TestApp::spawn().await;
    let (_, device) = user_with_verified_phone(&app, &app.acme, 1).await;
    let on = json!({"available": true});

    let unknown = app
        .put(
            &app.acme,
            &device_path(&app.acme, "9f7100ea9a484b75aadefa94303f62eb", device),
            &on,
        )
        .await;
    let malformed = app
        .put(
            &app.acme,
            &device_path(&app.acme, "not-a-user", device),
            &on,
        )
        .await;

    // A device id that cannot exist does not hide that the user does not either.
    let both = app
        .put(
            &app.acme,
            "/v2/accounts/acme/users/9f7100ea9a484b75aadefa94303f62eb/devices/abc",
            &on,
        )
        .await;

    unknown.assert_error(404, Some(10801));
    malformed.assert_error(404, Some(10801));
    both.assert_error(404, Some(10801));
}

#[tokio::test]
async fn another_accounts_users_and_devices_are_not_found() {
    let app = TestApp::spawn().await;
    let (acme_user, acme_device) = user_with_verified_phone(&app, &app.acme, 1).await;
    let (globex_user, _) = user_with_verified_phone(&app, &app.globex, 2).await;
    let on = json!({"available": true});

    let acme_user_from_globex = app
        .put(
            &app.globex,
            &device_path(&app.globex, &acme_user, acme_device),
            &on,
        )
        .await;
    let acme_device_under_globex_user = app
        .put(
            &app.globex,
            &device_path(&app.globex, &globex_user, acme_device),
            &on,
        )
        .await;

    acme_user_from_globex.assert_error(404, Some(10801));
    acme_device_under_globex_user.assert_error(404, Some(1000));
    assert_eq!(
        device_state(&app, &app.acme, &acme_user, acme_device).await["available"],
        false
    );
}

// ---- §5.7 SIP password ----

const STRONG: &str = "Kx7!mPq2vZ-rs";

async fn set_password(
    app: &TestApp,
    who: &Credentials,
    user: &str,
    device: u64,
    body: &Value,
) -> Answer {
    app.put(
        who,
        &format!("{}/password", device_path(who, user, device)),
        body,
    )
    .await
}

#[tokio::test]
async fn a_strong_password_is_accepted_and_never_shown() {
    let app = TestApp::spawn().await;
    let voip = app.voip_account("voipco").await;
    let (user, sip) = user_with_softphone(&app, &voip).await;
    let before = device_state(&app, &voip, &user, sip).await;

    let answer = set_password(&app, &voip, &user, sip, &json!({"password": STRONG})).await;
    let changed = set_password(&app, &voip, &user, sip, &json!({"password": "Another-0ne"})).await;
    let fetched = app
        .get(
            &voip,
            &format!(
                "{}?fields=devices,active_call,last_login",
                user_path(&voip, &user)
            ),
        )
        .await;
    let listed = app.get(&voip, &devices_path(&voip, &user)).await;

    let data = answer.assert_success();
    assert_eq!(keys(data), DEVICE_KEYS);
    assert_eq!(data, &before);
    assert_eq!(changed.assert_success(), &before);
    for body in [&answer.body, &changed.body, &fetched.body, &listed.body] {
        let text = body.to_string();
        assert!(
            !text.contains(STRONG) && !text.contains("Another-0ne"),
            "{text}"
        );
        assert!(
            !text.contains("password") && !text.contains("ha1"),
            "{text}"
        );
    }
}

#[tokio::test]
async fn the_password_is_kept_only_as_the_digests_a_registrar_needs() {
    let app = TestApp::spawn().await;
    let voip = app.voip_account("voipco").await;
    let (user, sip) = user_with_softphone(&app, &voip).await;
    let contact = device_state(&app, &voip, &user, sip).await["contact_uri"]
        .as_str()
        .unwrap()
        .to_owned();
    let username = contact.strip_prefix("sip:").unwrap().to_owned();

    set_password(&app, &voip, &user, sip, &json!({"password": STRONG}))
        .await
        .assert_success();

    assert_no_plaintext_stored(&app, STRONG).await;
    let credentials = app
        .directory
        .sip_credentials("voipco", &username)
        .await
        .unwrap();
    assert_eq!(credentials.realm, "roster");
    let secret = format!("{username}:roster:{STRONG}");
    assert_eq!(
        credentials.ha1_md5,
        crate::digests::md5_hex(secret.as_bytes())
    );
    assert_eq!(
        credentials.ha1_sha256,
        crate::digests::sha256_hex(secret.as_bytes())
    );
    assert!(!logs().contains(STRONG));
}

/// Scans every text and blob value of every table, and the raw database files, for the
/// password in plain text or hex.
async fn assert_no_plaintext_stored(app: &TestApp, password: &str) {
    let hex: String = password.bytes().map(|b| format!("{b:02x}")).collect();
    let needles = [
        password.as_bytes().to_vec(),
        hex.clone().into_bytes(),
        hex.to_uppercase().into_bytes(),
    ];
    let contains = |haystack: &[u8]| {
        needles.iter().any(|needle| {
            haystack
                .windows(needle.len())
                .any(|w| w == needle.as_slice())
        })
    };
    if let roster::config::Database::Sqlite(file) = &app.database {
        // The raw files too: WAL frames can hold bytes no table shows any more.
        for suffix in ["", "-wal", "-journal", "-shm"] {
            let mut path = file.clone().into_os_string();
            path.push(suffix);
            if let Ok(bytes) = std::fs::read(&path) {
                assert!(!contains(&bytes), "the password is in {path:?}");
            }
        }
    }

    let dump = app.backend.dump().await;
    assert!(
        dump.contains("ha1") || dump.contains("roster"),
        "the dump reads no credentials"
    );
    assert!(
        !contains(dump.as_bytes()),
        "the password is stored in a table"
    );
}

#[tokio::test]
async fn a_missing_password_is_a_mandatory_parameter() {
    let app = TestApp::spawn().await;
    let voip = app.voip_account("voipco").await;
    let (user, sip) = user_with_softphone(&app, &voip).await;

    for body in [
        json!({}),
        json!({"password": null}),
        json!({"passwd": STRONG}),
    ] {
        let answer = set_password(&app, &voip, &user, sip, &body).await;
        answer.assert_error(400, Some(1001));
        assert!(
            answer.description().contains("password"),
            "{}",
            answer.description()
        );
    }
}

#[tokio::test]
async fn a_weak_password_is_an_invalid_value_that_is_never_quoted() {
    let app = TestApp::spawn().await;
    let voip = app.voip_account("voipco").await;
    let (user, sip) = user_with_softphone(&app, &voip).await;

    for weak in [
        "password",
        "short1A",
        "Sh0rt!",
        "alllowercase1",
        "ALLUPPER123",
        "12345678",
        "abcdefgh!",
    ] {
        let answer = set_password(&app, &voip, &user, sip, &json!({"password": weak})).await;
        answer.assert_error(400, Some(1002));
        assert!(
            answer.description().contains("password"),
            "{}",
            answer.description()
        );
        if weak != "password" {
            assert!(!answer.body.to_string().contains(weak), "{}", answer.body);
        }
    }

    let username = device_state(&app, &voip, &user, sip).await["contact_uri"]
        .as_str()
        .unwrap()
        .trim_start_matches("sip:")
        .to_owned();
    assert!(app
        .directory
        .sip_credentials("voipco", &username)
        .await
        .is_err());
}

#[tokio::test]
async fn a_password_for_a_phone_is_an_invalid_value() {
    let app = TestApp::spawn().await;
    let voip = app.voip_account("voipco").await;
    let user = app.create_user(&voip, TestApp::new_user(1)).await;
    let tel = device_of_type(&user, "tel");

    let on_voip = set_password(
        &app,
        &voip,
        &user_id(&user),
        tel,
        &json!({"password": STRONG}),
    )
    .await;
    let (acme_user, acme_phone) = user_with_phone(&app, &app.acme, 2).await;
    let on_acme = set_password(
        &app,
        &app.acme,
        &acme_user,
        acme_phone,
        &json!({"password": STRONG}),
    )
    .await;

    on_voip.assert_error(400, Some(1002));
    on_acme.assert_error(400, Some(1002));
    assert!(!on_voip.body.to_string().contains(STRONG));
}

#[tokio::test]
async fn a_password_of_the_wrong_type_is_invalid_format() {
    let app = TestApp::spawn().await;
    let voip = app.voip_account("voipco").await;
    let (user, sip) = user_with_softphone(&app, &voip).await;

    let answer = set_password(&app, &voip, &user, sip, &json!({"password": 12_345_678})).await;

    answer.assert_error(400, Some(1007));
}

#[tokio::test]
async fn a_password_for_an_unknown_or_foreign_device_or_user_is_not_found() {
    let app = TestApp::spawn().await;
    let voip = app.voip_account("voipco").await;
    let other_voip = app.voip_account("othervoip").await;
    let (user, sip) = user_with_softphone(&app, &voip).await;
    let (other_user, other_sip) = user_with_softphone(&app, &other_voip).await;
    let body = json!({"password": STRONG});

    let unknown_device = set_password(&app, &voip, &user, 12345, &body).await;
    let other_accounts_device = set_password(&app, &voip, &user, other_sip, &body).await;
    let unknown_user =
        set_password(&app, &voip, "9f7100ea9a484b75aadefa94303f62eb", sip, &body).await;
    let from_other_account = set_password(&app, &other_voip, &user, sip, &body).await;
    let other_user_in_path = set_password(&app, &other_voip, &other_user, sip, &body).await;

    unknown_device.assert_error(404, Some(1000));
    other_accounts_device.assert_error(404, Some(1000));
    unknown_user.assert_error(404, Some(10801));
    from_other_account.assert_error(404, Some(10801));
    other_user_in_path.assert_error(404, Some(1000));
}

// ---- §5.8 device management ----

#[tokio::test]
async fn the_device_list_holds_the_users_devices_ordered_by_id() {
    let app = TestApp::spawn().await;
    let voip = app.voip_account("voipco").await;
    let user = user_id(&app.create_user(&voip, TestApp::new_user(1)).await);
    for contact in ["+919877700001", "sip:deskphone01"] {
        app.post(
            &voip,
            &devices_path(&voip, &user),
            &json!({"contact_uri": contact}),
        )
        .await
        .assert_success();
        app.clock.advance(1);
    }

    let answer = app.get(&voip, &devices_path(&voip, &user)).await;

    let items = answer.assert_list_success();
    assert_eq!(answer.body["method"], "GET");
    assert_eq!(items.len(), 4);
    let ids: Vec<u64> = items.iter().map(|d| d["id"].as_u64().unwrap()).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");
    for data in &items {
        assert_eq!(keys(data), DEVICE_KEYS);
    }
    let shown = user_with_devices(&app, &voip, &user).await["devices"].clone();
    assert_eq!(Value::Array(items.into_iter().cloned().collect()), shown);
}

#[tokio::test]
async fn a_user_without_devices_has_an_empty_list() {
    let app = TestApp::spawn().await;
    let (user, device) = user_with_phone(&app, &app.acme, 1).await;
    app.delete(&app.acme, &device_path(&app.acme, &user, device))
        .await
        .assert_success();

    let answer = app.get(&app.acme, &devices_path(&app.acme, &user)).await;

    assert!(answer.assert_list_success().is_empty());
}

#[tokio::test]
async fn a_new_phone_starts_unverified_and_a_new_softphone_verified_and_off() {
    let app = TestApp::spawn().await;
    let voip = app.voip_account("voipco").await;
    let (user, _) = user_with_softphone(&app, &voip).await;
    let path = devices_path(&voip, &user);

    let desk = app
        .post(
            &voip,
            &path,
            &json!({"contact_uri": "+91 99999-00002", "name": "Desk"}),
        )
        .await;
    let plain = app
        .post(&voip, &path, &json!({"contact_uri": "+919999900003"}))
        .await;
    let soft = app
        .post(&voip, &path, &json!({"contact_uri": "sip:deskphone01"}))
        .await;

    let desk = desk.assert_success().clone();
    assert_eq!(keys(&desk), DEVICE_KEYS);
    let id = desk["id"].as_u64().unwrap();
    assert!(id > 0 && id < 1 << 53);
    assert_eq!(
        desk,
        json!({
            "available": null,
            "contact_uri": "+919999900002",
            "id": id,
            "name": "Desk",
            "status": "free",
            "type": "tel",
            "verified": false,
        })
    );
    assert_eq!(plain.assert_success()["name"], "Phone");
    let soft = soft.assert_success();
    assert_eq!(
        (
            &soft["type"],
            &soft["verified"],
            &soft["available"],
            &soft["name"],
            &soft["status"]
        ),
        (
            &json!("sip"),
            &json!(true),
            &json!(false),
            &json!("Softphone"),
            &json!("free")
        )
    );
    assert_eq!(soft["contact_uri"], "sip:deskphone01");
    let listed = app.get(&voip, &path).await;
    assert_eq!(listed.assert_list_success().len(), 4);
}

#[tokio::test]
async fn a_new_device_needs_a_contact_uri() {
    let app = TestApp::spawn().await;
    let (user, _) = user_with_phone(&app, &app.acme, 1).await;

    for body in [
        json!({}),
        json!({"name": "Desk"}),
        json!({"contact_uri": null}),
    ] {
        let answer = app
            .post(&app.acme, &devices_path(&app.acme, &user), &body)
            .await;
        answer.assert_error(400, Some(1001));
        assert!(
            answer.description().contains("contact_uri"),
            "{}",
            answer.description()
        );
    }
}

#[tokio::test]
async fn a_new_device_with_a_bad_contact_or_name_is_refused_naming_the_field() {
    let app = TestApp::spawn().await;
    let (user, _) = user_with_phone(&app, &app.acme, 1).await;
    let path = devices_path(&app.acme, &user);
    let cases = [
        (json!({"contact_uri": "9812345678"}), 1401, "contact_uri"),
        (json!({"contact_uri": "asha"}), 1401, "contact_uri"),
        (
            json!({"contact_uri": "+0919812345678"}),
            1401,
            "contact_uri",
        ),
        (json!({"contact_uri": "sip:"}), 1401, "contact_uri"),
        (
            json!({"contact_uri": "+919999900001", "name": "x".repeat(51)}),
            1002,
            "name",
        ),
    ];

    for (body, code, field) in cases {
        let answer = app.post(&app.acme, &path, &body).await;
        answer.assert_error(400, Some(code));
        assert!(
            answer.description().contains(field),
            "{body}: {}",
            answer.description()
        );
    }

    let listed = app.get(&app.acme, &path).await;
    assert_eq!(listed.assert_list_success().len(), 1);
}

#[tokio::test]
async fn a_new_device_of_the_wrong_json_type_is_invalid_format() {
    let app = TestApp::spawn().await;
    let (user, _) = user_with_phone(&app, &app.acme, 1).await;

    for body in [
        json!([]),
        json!({"contact_uri": 919_999_900_001_u64}),
        json!({"contact_uri": "+919999900001", "name": 5}),
    ] {
        app.post(&app.acme, &devices_path(&app.acme, &user), &body)
            .await
            .assert_error(400, Some(1007));
    }
}

#[tokio::test]
async fn a_new_device_with_a_contact_used_in_the_account_is_a_conflict() {
    let app = TestApp::spawn().await;
    let voip = app.voip_account("voipco").await;
    let other = app.create_user(&voip, TestApp::new_user(1)).await;
    let other_sip = other["devices"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["type"] == "sip")
        .unwrap()["contact_uri"]
        .clone();
    let (user, _) = user_with_softphone(&app, &voip).await;
    app.create_user(&app.globex, TestApp::new_user(2)).await;
    let path = devices_path(&voip, &user);

    let number = app
        .post(&voip, &path, &json!({"contact_uri": "+91 98123-00001"}))
        .await;
    let sip = app
        .post(&voip, &path, &json!({"contact_uri": other_sip}))
        .await;
    let other_accounts_number = app
        .post(&voip, &path, &json!({"contact_uri": "+919812300002"}))
        .await;

    number.assert_error(409, Some(10812));
    sip.assert_error(409, Some(10812));
    other_accounts_number.assert_success();
}

#[tokio::test]
async fn a_deleted_device_is_gone_and_its_number_free_at_once() {
    let app = TestApp::spawn().await;
    let (user, device) = user_with_verified_phone(&app, &app.acme, 1).await;
    let (other, _) = user_with_phone(&app, &app.acme, 2).await;
    let path = device_path(&app.acme, &user, device);

    let deleted = app.delete(&app.acme, &path).await;
    let switched = switch(&app, &app.acme, &user, device, true).await;
    let again = app.delete(&app.acme, &path).await;
    let listed = app.get(&app.acme, &devices_path(&app.acme, &user)).await;
    let reused = app
        .post(
            &app.acme,
            &devices_path(&app.acme, &other),
            &json!({"contact_uri": phone(1)}),
        )
        .await;

    assert_eq!(deleted.assert_success(), &Value::Null);
    assert_eq!(deleted.body["method"], "DELETE");
    switched.assert_error(404, Some(1000));
    again.assert_error(404, Some(1000));
    assert!(listed.assert_list_success().is_empty());
    let reused = reused.assert_success();
    assert_eq!(
        (&reused["contact_uri"], &reused["verified"]),
        (&json!(phone(1)), &json!(false))
    );
}

#[tokio::test]
async fn another_users_or_accounts_devices_cannot_be_listed_added_or_deleted() {
    let app = TestApp::spawn().await;
    let (asha, asha_phone) = user_with_phone(&app, &app.acme, 1).await;
    let (ravi, _) = user_with_phone(&app, &app.acme, 2).await;
    let (globex_user, _) = user_with_phone(&app, &app.globex, 3).await;
    let new_device = json!({"contact_uri": "+919999900001"});

    let other_users_device = app
        .delete(&app.acme, &device_path(&app.acme, &ravi, asha_phone))
        .await;
    let listed_from_globex = app
        .get(&app.globex, &devices_path(&app.globex, &asha))
        .await;
    let added_from_globex = app
        .post(&app.globex, &devices_path(&app.globex, &asha), &new_device)
        .await;
    let deleted_from_globex = app
        .delete(&app.globex, &device_path(&app.globex, &asha, asha_phone))
        .await;
    let deleted_under_globex_user = app
        .delete(
            &app.globex,
            &device_path(&app.globex, &globex_user, asha_phone),
        )
        .await;
    let unknown_user = app
        .get(
            &app.acme,
            &devices_path(&app.acme, "9f7100ea9a484b75aadefa94303f62eb"),
        )
        .await;

    other_users_device.assert_error(404, Some(1000));
    listed_from_globex.assert_error(404, Some(10801));
    added_from_globex.assert_error(404, Some(10801));
    deleted_from_globex.assert_error(404, Some(10801));
    deleted_under_globex_user.assert_error(404, Some(1000));
    unknown_user.assert_error(404, Some(10801));
    let listed = app.get(&app.acme, &devices_path(&app.acme, &asha)).await;
    let ids: Vec<u64> = listed
        .assert_list_success()
        .iter()
        .map(|d| d["id"].as_u64().unwrap())
        .collect();
    assert_eq!(ids, [asha_phone]);
    let globex_devices = app
        .get(&app.globex, &devices_path(&app.globex, &globex_user))
        .await;
    assert_eq!(globex_devices.assert_list_success().len(), 1);
}

// ---- edges and races ----

#[tokio::test]
async fn a_number_of_another_device_of_the_same_user_is_a_conflict_too() {
    let app = TestApp::spawn().await;
    let (user, [first, second]) = user_with_two_verified_phones(&app, &app.acme, 1).await;

    let answer = app
        .put(
            &app.acme,
            &device_path(&app.acme, &user, second),
            &json!({"contact_uri": phone(1)}),
        )
        .await;

    answer.assert_error(409, Some(10811));
    assert_eq!(
        device_state(&app, &app.acme, &user, first).await["contact_uri"],
        phone(1)
    );
    assert_eq!(
        device_state(&app, &app.acme, &user, second).await["contact_uri"],
        second_phone(1)
    );
}

#[tokio::test]
async fn resending_its_own_number_does_not_let_an_unverified_device_be_turned_on() {
    let app = TestApp::spawn().await;
    let (user, device) = user_with_phone(&app, &app.acme, 1).await;

    let answer = app
        .put(
            &app.acme,
            &device_path(&app.acme, &user, device),
            &json!({"available": true, "contact_uri": phone(1)}),
        )
        .await;

    answer.assert_error(409, Some(10809));
    let state = device_state(&app, &app.acme, &user, device).await;
    assert_eq!(
        (&state["available"], &state["verified"]),
        (&Value::Null, &json!(false))
    );
}

#[tokio::test]
async fn a_body_of_an_empty_object_is_not_empty_so_the_query_string_is_not_read() {
    let app = TestApp::spawn().await;
    let (user, device) = user_with_verified_phone(&app, &app.acme, 1).await;
    let path = device_path(&app.acme, &user, device);

    let answer = app
        .put(&app.acme, &format!("{path}?available=true"), &json!({}))
        .await;

    assert_eq!(answer.assert_success()["available"], false);
    assert_eq!(
        device_state(&app, &app.acme, &user, device).await["available"],
        false
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_devices_taking_one_number_at_once_end_with_one_holder() {
    let app = TestApp::spawn().await;
    let who = app.roomy_account("busyco").await;

    for round in 0..10 {
        let (asha, asha_phone) = user_with_phone(&app, &who, 2 * round).await;
        let (ravi, ravi_phone) = user_with_phone(&app, &who, 2 * round + 1).await;
        let number = json!({"contact_uri": format!("+9199999{round:05}")});
        let (a_path, r_path) = (
            device_path(&who, &asha, asha_phone),
            device_path(&who, &ravi, ravi_phone),
        );

        let (a, b) = tokio::join!(
            app.put(&who, &a_path, &number),
            app.put(&who, &r_path, &number)
        );

        let (winner, loser) = if a.status == 200 { (a, b) } else { (b, a) };
        assert_eq!(
            winner.assert_success()["contact_uri"],
            number["contact_uri"]
        );
        loser.assert_error(409, Some(10811));
        let holders = app
            .get(
                &who,
                &format!("/v2/accounts/busyco/users?devices.contact_uri=%2B9199999{round:05}"),
            )
            .await;
        assert_eq!(holders.assert_page().0["total"], 1, "round {round}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_new_devices_with_one_number_at_once_are_one_added_and_one_refused() {
    let app = TestApp::spawn().await;
    let who = app.roomy_account("busyco").await;

    for round in 0..10 {
        let (asha, _) = user_with_phone(&app, &who, 2 * round).await;
        let (ravi, _) = user_with_phone(&app, &who, 2 * round + 1).await;
        let number = json!({"contact_uri": format!("+9199999{round:05}")});
        let (a_path, r_path) = (devices_path(&who, &asha), devices_path(&who, &ravi));

        let (a, b) = tokio::join!(
            app.post(&who, &a_path, &number),
            app.post(&who, &r_path, &number)
        );

        let (winner, loser) = if a.status == 200 { (a, b) } else { (b, a) };
        assert_eq!(winner.assert_success()["verified"], false);
        loser.assert_error(409, Some(10812));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_password_set_racing_the_devices_deletion_never_leaves_credentials_behind() {
    let app = TestApp::spawn().await;
    let voip = app.voip_account("voipco").await;

    for _round in 0..10 {
        let (user, sip) = user_with_softphone(&app, &voip).await;
        let path = device_path(&voip, &user, sip);
        let password_path = format!("{path}/password");
        let body = json!({"password": STRONG});

        let (set, deleted) = tokio::join!(
            app.put(&voip, &password_path, &body),
            app.delete(&voip, &path)
        );

        assert_eq!(deleted.assert_success(), &Value::Null);
        if set.status != 200 {
            set.assert_error(404, Some(1000));
        }
    }

    let orphans = app
        .backend
        .strings(
            "SELECT COUNT(*) FROM sip_credentials c WHERE NOT EXISTS
                 (SELECT 1 FROM devices d WHERE d.account_sid = c.account_sid AND d.id = c.device_id)",
        )
        .await;
    let credentials = app
        .backend
        .strings("SELECT COUNT(*) FROM sip_credentials")
        .await;
    assert_eq!(
        (orphans, credentials),
        (vec!["0".to_owned()], vec!["0".to_owned()])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_device_change_racing_its_users_deletion_is_a_success_or_not_found() {
    let app = TestApp::spawn().await;
    let who = app.roomy_account("busyco").await;

    for round in 0..10 {
        let (user, device) = user_with_verified_phone(&app, &who, round).await;
        let (path, on) = (device_path(&who, &user, device), json!({"available": true}));
        let user_path = user_path(&who, &user);
        let (device_change, deleted) =
            tokio::join!(app.put(&who, &path, &on), app.delete(&who, &user_path));

        deleted.assert_success();
        if device_change.status != 200 {
            device_change.assert_error(404, Some(10801));
        }
    }

    let listed = app.get(&who, "/v2/accounts/busyco/users").await;
    assert_eq!(listed.assert_page().0["total"], 0);
}

#[tokio::test]
async fn a_taken_number_sent_with_available_true_is_a_number_conflict_not_unverified() {
    let app = TestApp::spawn().await;
    user_with_phone(&app, &app.acme, 1).await;
    let (user, device) = user_with_phone(&app, &app.acme, 2).await;

    let answer = app
        .put(
            &app.acme,
            &device_path(&app.acme, &user, device),
            &json!({"available": true, "contact_uri": phone(1)}),
        )
        .await;

    answer.assert_error(409, Some(10811));
}

#[tokio::test]
async fn a_new_number_sent_with_available_true_while_another_device_is_on_is_accepted() {
    let app = TestApp::spawn().await;
    let (user, [first, second]) = user_with_two_verified_phones(&app, &app.acme, 1).await;
    switch(&app, &app.acme, &user, first, true)
        .await
        .assert_success();

    let answer = app
        .put(
            &app.acme,
            &device_path(&app.acme, &user, second),
            &json!({"available": true, "contact_uri": "+919999900009"}),
        )
        .await;

    let data = answer.assert_success();
    assert_eq!(
        (&data["contact_uri"], &data["available"], &data["verified"]),
        (&json!("+919999900009"), &Value::Null, &json!(false))
    );
    assert_eq!(
        device_state(&app, &app.acme, &user, first).await["available"],
        true
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn reads_racing_a_users_deletion_see_the_user_whole_or_not_at_all() {
    let app = TestApp::spawn().await;
    let who = app.roomy_account("busyco").await;

    for round in 0..20 {
        let (user, device) = user_with_phone(&app, &who, round).await;
        let (list, single, path) = (
            devices_path(&who, &user),
            format!("{}?fields=devices", user_path(&who, &user)),
            user_path(&who, &user),
        );

        let (listed, fetched, deleted) = tokio::join!(
            app.get(&who, &list),
            app.get(&who, &single),
            app.delete(&who, &path)
        );

        deleted.assert_success();
        // Never the user without the device it had until it was deleted with it.
        if listed.status == 200 {
            let ids: Vec<&Value> = listed
                .assert_list_success()
                .iter()
                .map(|d| &d["id"])
                .collect();
            assert_eq!(ids, [&json!(device)], "round {round}");
        } else {
            listed.assert_error(404, Some(10801));
        }
        if fetched.status == 200 {
            assert_eq!(
                fetched.assert_success()["devices"][0]["id"],
                device,
                "round {round}"
            );
        } else {
            fetched.assert_error(404, Some(10801));
        }
    }
}
