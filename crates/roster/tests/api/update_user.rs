//! `PUT /v2/accounts/{sid}/users/{user_id}`: partial updates and their refusals.

use serde_json::{json, Value};

use crate::helpers::{user_id, Answer, Credentials, TestApp};

fn user_path(who: &Credentials, id: &str) -> String {
    format!("/v2/accounts/{}/users/{id}", who.sid)
}

/// A user of acme without an email, whose id is returned.
async fn user_without_email(app: &TestApp, n: u32) -> String {
    let mut body = TestApp::new_user(n);
    body.as_object_mut().unwrap().remove("email");
    user_id(&app.create_user(&app.acme, body).await)
}

async fn fetch(app: &TestApp, who: &Credentials, id: &str) -> Value {
    app.get(who, &user_path(who, id))
        .await
        .assert_success()
        .clone()
}

async fn update(app: &TestApp, id: &str, body: Value) -> Answer {
    app.put(&app.acme, &user_path(&app.acme, id), &body).await
}

#[tokio::test]
async fn each_field_can_be_changed_alone_and_the_others_keep_their_values() {
    let app = TestApp::spawn().await;
    let id = user_without_email(&app, 1).await;
    let before = fetch(&app, &app.acme, &id).await;

    let first = update(&app, &id, json!({"first_name": "Ravi"})).await;
    let last = update(&app, &id, json!({"last_name": "Kumar"})).await;
    let email = update(&app, &id, json!({"email": "Ravi.Kumar@Example.com"})).await;

    let after_first = first.assert_success();
    assert_eq!(first.body["method"], "PUT");
    assert_eq!(after_first["first_name"], "Ravi");
    assert_eq!(after_first["last_name"], before["last_name"]);
    assert_eq!(after_first["email"], Value::Null);
    let after_last = last.assert_success();
    assert_eq!(after_last["first_name"], "Ravi");
    assert_eq!(after_last["last_name"], "Kumar");
    let after_email = email.assert_success();
    assert_eq!(after_email["email"], "Ravi.Kumar@Example.com");
    assert_eq!(after_email["email_verified"], false);
    assert_eq!(
        (
            &after_email["first_name"],
            &after_email["last_name"],
            &after_email["role"]
        ),
        (&json!("Ravi"), &json!("Kumar"), &before["role"])
    );
    assert_eq!(after_email["id"], id.as_str());
    assert_eq!(&fetch(&app, &app.acme, &id).await, after_email);
}

#[tokio::test]
async fn date_updated_moves_with_a_change_and_date_created_does_not() {
    let app = TestApp::spawn().await;
    let id = user_without_email(&app, 1).await;
    app.clock.advance(90);

    let answer = update(&app, &id, json!({"first_name": "Ravi"})).await;

    let data = answer.assert_success();
    assert_eq!(data["date_created"], "2021-07-26T18:27:24+05:30");
    assert_eq!(data["date_updated"], "2021-07-26T18:28:54+05:30");
    assert_eq!(
        fetch(&app, &app.acme, &id).await["date_updated"],
        "2021-07-26T18:28:54+05:30"
    );
}

#[tokio::test]
async fn a_body_without_known_fields_succeeds_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let id = user_without_email(&app, 1).await;
    let before = fetch(&app, &app.acme, &id).await;
    app.clock.advance(60);

    let empty = update(&app, &id, json!({})).await;
    let unknown = update(&app, &id, json!({"nickname": "Ravi", "devices": []})).await;

    assert_eq!(empty.assert_success(), &before);
    assert_eq!(unknown.assert_success(), &before);
    assert_eq!(fetch(&app, &app.acme, &id).await, before);
}

#[tokio::test]
async fn role_and_id_cannot_be_changed_here() {
    let app = TestApp::spawn().await;
    let id = user_without_email(&app, 1).await;
    let before = fetch(&app, &app.acme, &id).await;
    let cases = [
        (json!({"role": "admin"}), "role"),
        (json!({"role": "user"}), "role"),
        (json!({"first_name": "Ravi", "role": "supervisor"}), "role"),
        (json!({"id": "9f7100ea9a484b75aadefa94303f62eb"}), "id"),
        (json!({"last_name": "Kumar", "id": id.clone()}), "id"),
    ];

    let mut answers = Vec::new();
    for (body, field) in cases {
        answers.push((field, update(&app, &id, body).await));
    }

    for (field, answer) in answers {
        answer.assert_error(400, Some(1002));
        assert!(
            answer.description().contains(field),
            "{field}: {}",
            answer.description()
        );
    }
    assert_eq!(fetch(&app, &app.acme, &id).await, before);
}

#[tokio::test]
async fn invalid_names_and_emails_are_refused_as_on_create_and_change_nothing() {
    let app = TestApp::spawn().await;
    let id = user_without_email(&app, 1).await;
    let before = fetch(&app, &app.acme, &id).await;
    let cases = [
        ("first_name", json!("As")),
        ("first_name", json!("A".repeat(21))),
        ("first_name", json!(" Asha")),
        ("first_name", json!("Asha!")),
        ("first_name", json!("Åsa")),
        ("last_name", json!("R@o")),
        ("last_name", json!("Rao ")),
        ("email", json!("not-an-email")),
        ("email", json!("asha@localhost")),
    ];

    let mut answers = Vec::new();
    for (field, value) in cases {
        // A valid change rides along: a refused request must not apply it either.
        let mut body = json!({"last_name": "Kumar"});
        body[field] = value.clone();
        answers.push((field, value, update(&app, &id, body).await));
    }

    for (field, value, answer) in answers {
        answer.assert_error(400, Some(1002));
        assert!(
            answer.description().contains(field),
            "{field}={value}: {}",
            answer.description()
        );
    }
    assert_eq!(fetch(&app, &app.acme, &id).await, before);
}

#[tokio::test]
async fn bodies_that_are_not_json_objects_or_have_wrong_types_are_invalid_format() {
    let app = TestApp::spawn().await;
    let id = user_without_email(&app, 1).await;
    let bodies = [
        "[]".to_owned(),
        "null".to_owned(),
        "{\"first_name\": \"Ravi\",".to_owned(),
        json!({"first_name": 12}).to_string(),
        json!({"email": ["a@b.co"]}).to_string(),
    ];

    for body in bodies {
        let request = app
            .client()
            .put(app.url(&user_path(&app.acme, &id)))
            .basic_auth(&app.acme.key, Some(&app.acme.token))
            .header("content-type", "application/json")
            .body(body.clone());
        let answer = app.send(request).await;
        answer.assert_error(400, Some(1007));
    }
}

#[tokio::test]
async fn an_email_can_be_set_only_while_the_user_has_none() {
    let app = TestApp::spawn().await;
    let id = user_id(&app.create_user(&app.acme, TestApp::new_user(1)).await);
    let before = fetch(&app, &app.acme, &id).await;
    app.clock.advance(60);

    let same = update(&app, &id, json!({"email": "ASHA1@Example.com"})).await;
    let different = update(&app, &id, json!({"email": "ravi@example.com"})).await;

    // The same address, compared without case, is the record sent back: nothing changes.
    assert_eq!(same.assert_success(), &before);
    different.assert_error(400, Some(1002));
    assert!(
        different.description().contains("email"),
        "{}",
        different.description()
    );
    assert_eq!(fetch(&app, &app.acme, &id).await, before);
}

#[tokio::test]
async fn an_email_used_by_another_user_of_the_account_is_a_conflict() {
    let app = TestApp::spawn().await;
    app.create_user(&app.acme, TestApp::new_user(1)).await;
    let id = user_without_email(&app, 2).await;

    let answer = update(&app, &id, json!({"email": "ASHA1@example.COM"})).await;

    answer.assert_error(409, Some(10813));
    assert_eq!(fetch(&app, &app.acme, &id).await["email"], Value::Null);
}

#[tokio::test]
async fn an_email_used_in_another_account_is_free() {
    let app = TestApp::spawn().await;
    app.create_user(&app.globex, TestApp::new_user(1)).await;
    let id = user_without_email(&app, 2).await;

    let answer = update(&app, &id, json!({"email": "asha1@example.com"})).await;

    assert_eq!(answer.assert_success()["email"], "asha1@example.com");
}

#[tokio::test]
async fn an_unknown_malformed_or_foreign_user_is_not_found() {
    let app = TestApp::spawn().await;
    let id = user_without_email(&app, 1).await;
    let before = fetch(&app, &app.acme, &id).await;

    let unknown = update(
        &app,
        "9f7100ea9a484b75aadefa94303f62eb",
        json!({"first_name": "Ravi"}),
    )
    .await;
    let malformed = update(&app, "not-an-id", json!({"first_name": "Ravi"})).await;
    let upper = update(&app, &id.to_uppercase(), json!({"first_name": "Ravi"})).await;
    let foreign = app
        .put(
            &app.globex,
            &user_path(&app.globex, &id),
            &json!({"first_name": "Ravi"}),
        )
        .await;

    unknown.assert_error(404, Some(10801));
    malformed.assert_error(404, Some(10801));
    upper.assert_error(404, Some(10801));
    foreign.assert_error(404, Some(10801));
    assert_eq!(fetch(&app, &app.acme, &id).await, before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_updates_of_different_fields_all_take_effect() {
    let app = TestApp::spawn().await;
    let who = app.roomy_account("busyco").await;
    let id = user_id(&app.create_user(&who, TestApp::new_user(1)).await);
    let path = user_path(&who, &id);

    let mut finals = Vec::new();
    for round in 0..20 {
        let first = json!({"first_name": format!("First{round}")});
        let last = json!({"last_name": format!("Last{round}")});
        let (a, b) = tokio::join!(app.put(&who, &path, &first), app.put(&who, &path, &last));
        a.assert_success();
        b.assert_success();
        finals.push((round, fetch(&app, &who, &id).await));
    }

    for (round, user) in finals {
        assert_eq!(
            (&user["first_name"], &user["last_name"]),
            (
                &json!(format!("First{round}")),
                &json!(format!("Last{round}"))
            ),
            "round {round}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn of_two_concurrent_first_emails_one_is_set_and_the_other_refused() {
    let app = TestApp::spawn().await;
    let who = app.roomy_account("busyco").await;

    for round in 0..10 {
        let mut body = TestApp::new_user(round);
        body.as_object_mut().unwrap().remove("email");
        let id = user_id(&app.create_user(&who, body).await);
        let path = user_path(&who, &id);
        let first = json!({"email": format!("a{round}@example.com")});
        let second = json!({"email": format!("b{round}@example.com")});
        let (a, b) = tokio::join!(app.put(&who, &path, &first), app.put(&who, &path, &second));

        let (winner, loser) = if a.status == 200 { (a, b) } else { (b, a) };
        let kept = winner.assert_success()["email"].clone();
        loser.assert_error(400, Some(1002));
        assert_eq!(fetch(&app, &who, &id).await["email"], kept, "round {round}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn of_two_users_claiming_one_email_at_once_exactly_one_gets_it() {
    let app = TestApp::spawn().await;
    let who = app.roomy_account("busyco").await;

    for round in 0..10 {
        let mut ids = Vec::new();
        for n in [2 * round, 2 * round + 1] {
            let mut body = TestApp::new_user(n);
            body.as_object_mut().unwrap().remove("email");
            ids.push(user_id(&app.create_user(&who, body).await));
        }
        let email = json!({"email": format!("shared{round}@example.com")});
        let (first, second) = (user_path(&who, &ids[0]), user_path(&who, &ids[1]));
        let (a, b) = tokio::join!(
            app.put(&who, &first, &email),
            app.put(&who, &second, &email)
        );

        let (winner, loser) = if a.status == 200 { (a, b) } else { (b, a) };
        winner.assert_success();
        loser.assert_error(409, Some(10813));
        let found = app
            .get(
                &who,
                &format!(
                    "/v2/accounts/{}/users?email=shared{round}@example.com",
                    who.sid
                ),
            )
            .await;
        assert_eq!(found.assert_page().0["total"], 1, "round {round}");
    }
}
