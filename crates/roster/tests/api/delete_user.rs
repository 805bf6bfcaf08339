//! `DELETE /v2/accounts/{sid}/users/{user_id}`: permanent, and frees the email and numbers.

use serde_json::{json, Value};

use crate::helpers::{device_of_type, user_id, Credentials, TestApp};

fn user_path(who: &Credentials, id: &str) -> String {
    format!("/v2/accounts/{}/users/{id}", who.sid)
}

#[tokio::test]
async fn a_deleted_user_answers_data_null_and_is_gone() {
    let app = TestApp::spawn().await;
    let id = user_id(&app.create_user(&app.acme, TestApp::new_user(1)).await);

    let deleted = app.delete(&app.acme, &user_path(&app.acme, &id)).await;
    let fetched = app.get(&app.acme, &user_path(&app.acme, &id)).await;
    let again = app.delete(&app.acme, &user_path(&app.acme, &id)).await;
    let updated = app
        .put(
            &app.acme,
            &user_path(&app.acme, &id),
            &json!({"first_name": "Ravi"}),
        )
        .await;

    assert_eq!(deleted.assert_success(), &Value::Null);
    assert_eq!(deleted.body["method"], "DELETE");
    fetched.assert_error(404, Some(10801));
    again.assert_error(404, Some(10801));
    updated.assert_error(404, Some(10801));
}

#[tokio::test]
async fn the_deleted_users_email_and_number_are_free_at_once_and_the_list_forgets_it() {
    let app = TestApp::spawn().await;
    let id = user_id(&app.create_user(&app.acme, TestApp::new_user(1)).await);
    let kept = user_id(&app.create_user(&app.acme, TestApp::new_user(2)).await);

    app.delete(&app.acme, &user_path(&app.acme, &id))
        .await
        .assert_success();
    let listed = app.get(&app.acme, "/v2/accounts/acme/users").await;
    let by_email = app
        .get(&app.acme, "/v2/accounts/acme/users?email=asha1@example.com")
        .await;
    let by_number = app
        .get(
            &app.acme,
            "/v2/accounts/acme/users?devices.contact_uri=%2B919812300001",
        )
        .await;
    let mut again = TestApp::new_user(1);
    again["email"] = json!("ASHA1@example.com");
    let recreated = app.post(&app.acme, "/v2/accounts/acme/users", &again).await;

    let (metadata, items) = listed.assert_page();
    assert_eq!(metadata["total"], 1);
    assert_eq!(items.iter().map(|d| user_id(d)).collect::<Vec<_>>(), [kept]);
    assert_eq!(by_email.assert_page().0["total"], 0);
    assert_eq!(by_number.assert_page().0["total"], 0);
    let recreated = recreated.assert_success();
    assert_ne!(recreated["id"], id.as_str());
    assert_eq!(recreated["devices"][0]["contact_uri"], "+919812300001");
}

#[tokio::test]
async fn a_deleted_users_devices_go_with_it() {
    let app = TestApp::spawn().await;
    let voip = app.voip_account("voipco").await;
    let user = app.create_user(&voip, TestApp::new_user(1)).await;
    let id = user_id(&user);
    let sip = device_of_type(&user, "sip");
    let sip_path = format!("/v2/accounts/voipco/users/{id}/devices/{sip}");
    app.put(
        &voip,
        &format!("{sip_path}/password"),
        &json!({"password": "Str0ng-Secret"}),
    )
    .await
    .assert_success();

    app.delete(&voip, &user_path(&voip, &id))
        .await
        .assert_success();
    let device = app.put(&voip, &sip_path, &json!({"available": true})).await;

    device.assert_error(404, Some(10801));
    let devices = app
        .backend
        .strings(&format!(
            "SELECT COUNT(*) FROM devices WHERE user_id = '{id}'"
        ))
        .await;
    let credentials = app
        .backend
        .strings("SELECT COUNT(*) FROM sip_credentials")
        .await;
    assert_eq!(
        (devices, credentials),
        (vec!["0".to_owned()], vec!["0".to_owned()])
    );
}

#[tokio::test]
async fn a_user_of_another_account_is_not_found_and_stays() {
    let app = TestApp::spawn().await;
    let id = user_id(&app.create_user(&app.acme, TestApp::new_user(1)).await);

    let foreign = app.delete(&app.globex, &user_path(&app.globex, &id)).await;

    foreign.assert_error(404, Some(10801));
    app.get(&app.acme, &user_path(&app.acme, &id))
        .await
        .assert_success();
}

#[tokio::test]
async fn an_unknown_or_malformed_id_is_not_found() {
    let app = TestApp::spawn().await;
    let id = user_id(&app.create_user(&app.acme, TestApp::new_user(1)).await);

    for other in [
        "9f7100ea9a484b75aadefa94303f62eb",
        "not-an-id",
        &id.to_uppercase(),
    ] {
        app.delete(&app.acme, &user_path(&app.acme, other))
            .await
            .assert_error(404, Some(10801));
    }

    app.get(&app.acme, &user_path(&app.acme, &id))
        .await
        .assert_success();
}

#[tokio::test]
async fn a_body_sent_with_delete_is_ignored() {
    let app = TestApp::spawn().await;
    let id = user_id(&app.create_user(&app.acme, TestApp::new_user(1)).await);
    let request = app
        .client()
        .delete(app.url(&user_path(&app.acme, &id)))
        .basic_auth(&app.acme.key, Some(&app.acme.token))
        .header("content-type", "text/plain")
        .body("not json at all");

    let answer = app.send(request).await;

    assert_eq!(answer.assert_success(), &Value::Null);
    app.get(&app.acme, &user_path(&app.acme, &id))
        .await
        .assert_error(404, Some(10801));
}
