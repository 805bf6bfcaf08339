//! What real clients do with the API, end to end.

use std::collections::HashSet;
use std::sync::Arc;

use serde_json::{json, Value};
use tokio::task::JoinSet;

use crate::helpers::{device_id, user_id, Credentials, TestApp};

/// What an agent app does to move a user's calls to `target`: every other device that is
/// ON is turned OFF, then `target` ON. Returns the devices as listed afterwards.
async fn move_calls_to(app: &TestApp, who: &Credentials, user: &str, target: u64) -> Vec<Value> {
    let devices_path = format!("/v2/accounts/{}/users/{user}/devices", who.sid);
    let listed = app.get(who, &devices_path).await;
    let devices: Vec<Value> = listed.assert_list_success().into_iter().cloned().collect();
    for device in devices {
        let id = device["id"].as_u64().unwrap();
        if id != target && device["available"] == true {
            app.put(
                who,
                &format!("{devices_path}/{id}"),
                &json!({"available": false}),
            )
            .await
            .assert_success();
        }
    }
    app.put(
        who,
        &format!("{devices_path}/{target}"),
        &json!({"available": true}),
    )
    .await
    .assert_success();
    let listed = app.get(who, &devices_path).await;
    listed.assert_list_success().into_iter().cloned().collect()
}

fn devices_on(devices: &[Value]) -> Vec<u64> {
    devices
        .iter()
        .filter(|d| d["available"] == true)
        .map(|d| d["id"].as_u64().unwrap())
        .collect()
}

#[tokio::test]
async fn an_agent_app_moves_calls_between_devices_by_turning_the_others_off_first() {
    let app = TestApp::spawn().await;
    let user = app.create_user(&app.acme, TestApp::new_user(1)).await;
    let id = user_id(&user);
    let mut devices = vec![device_id(&user, 0)];
    for number in ["+919877700001", "+919877700002"] {
        let added = app
            .post(
                &app.acme,
                &format!("/v2/accounts/acme/users/{id}/devices"),
                &json!({"contact_uri": number}),
            )
            .await;
        devices.push(added.assert_success()["id"].as_u64().unwrap());
    }
    for number in ["+919812300001", "+919877700001", "+919877700002"] {
        app.directory.verify_device("acme", number).await.unwrap();
    }

    let first = move_calls_to(&app, &app.acme, &id, devices[0]).await;
    let second = move_calls_to(&app, &app.acme, &id, devices[2]).await;
    let third = move_calls_to(&app, &app.acme, &id, devices[1]).await;
    let same_again = move_calls_to(&app, &app.acme, &id, devices[1]).await;

    assert_eq!(devices_on(&first), [devices[0]]);
    assert_eq!(devices_on(&second), [devices[2]]);
    assert_eq!(devices_on(&third), [devices[1]]);
    assert_eq!(devices_on(&same_again), [devices[1]]);
    assert_eq!(third.len(), 3);
}

#[tokio::test]
async fn a_bulk_onboarding_script_finds_every_user_again_by_lower_case_email() {
    let app = TestApp::spawn().await;
    let who = app.roomy_account("onboardco").await;
    let mut created = Vec::new();
    for n in 0..200 {
        let email = format!("Agent.{n}+Team@Example.COM");
        let body = json!({
            "first_name": "Agent",
            "last_name": format!("Number {n}"),
            "email": email,
            "device_contact_uri": format!("+9198100{n:05}"),
        });
        created.push((email, user_id(&app.create_user(&who, body).await)));
        if n % 10 == 9 {
            app.clock.advance(1);
        }
    }

    let mut found = Vec::new();
    for (email, _) in &created {
        let query = email.to_lowercase().replace('+', "%2B");
        found.push(
            app.get(&who, &format!("/v2/accounts/onboardco/users?email={query}"))
                .await,
        );
    }
    let batch: Vec<String> = created[..50]
        .iter()
        .map(|(email, _)| email.to_lowercase().replace('+', "%2B"))
        .collect();
    let batch = app
        .get(
            &who,
            &format!(
                "/v2/accounts/onboardco/users?limit=50&email={}",
                batch.join(",")
            ),
        )
        .await;

    for ((email, id), answer) in created.iter().zip(&found) {
        let (metadata, items) = answer.assert_page();
        assert_eq!(metadata["total"], 1, "{email}");
        assert_eq!(items[0]["id"], id.as_str());
        assert_eq!(items[0]["email"], email.as_str());
    }
    let (metadata, items) = batch.assert_page();
    assert_eq!(metadata["total"], 50);
    let ids: HashSet<&str> = items.iter().map(|d| d["id"].as_str().unwrap()).collect();
    let expected: HashSet<&str> = created[..50].iter().map(|(_, id)| id.as_str()).collect();
    assert_eq!(ids, expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_poller_firing_a_hundred_concurrent_reads_gets_a_hundred_answers() {
    let app = Arc::new(TestApp::spawn().await);
    let who = app.roomy_account("pollco").await;
    let mut ids = Vec::new();
    for n in 0..10 {
        ids.push(user_id(&app.create_user(&who, TestApp::new_user(n)).await));
    }

    let mut tasks = JoinSet::new();
    for i in 0..100 {
        let app = app.clone();
        let who = who.clone();
        let id = ids[i % ids.len()].clone();
        tasks.spawn(async move {
            let answer = app
                .get(
                    &who,
                    &format!("/v2/accounts/pollco/users/{id}?fields=devices"),
                )
                .await;
            (id, answer)
        });
    }
    let answers = tasks.join_all().await;

    let mut request_ids = HashSet::new();
    for (id, answer) in &answers {
        let data = answer.assert_success();
        assert_eq!(data["id"], id.as_str());
        assert_eq!(data["devices"].as_array().unwrap().len(), 1);
        request_ids.insert(answer.body["request_id"].as_str().unwrap().to_owned());
    }
    assert_eq!(answers.len(), 100);
    assert_eq!(request_ids.len(), 100);
}

#[tokio::test]
async fn a_crm_that_sends_the_users_fields_back_with_one_change_succeeds() {
    let app = TestApp::spawn().await;
    let mut body = TestApp::new_user(1);
    body["email"] = json!("Asha.Rao@Example.com");
    let id = user_id(&app.create_user(&app.acme, body).await);
    let path = format!("/v2/accounts/acme/users/{id}");
    let record = app.get(&app.acme, &path).await.assert_success().clone();

    let answer = app
        .put(
            &app.acme,
            &path,
            &json!({
                "first_name": "Asha Devi",
                "last_name": record["last_name"],
                "email": record["email"].as_str().unwrap().to_lowercase(),
            }),
        )
        .await;

    let data = answer.assert_success();
    assert_eq!(data["first_name"], "Asha Devi");
    assert_eq!(data["email"], "Asha.Rao@Example.com");
    assert_eq!(data["last_name"], record["last_name"]);
}
