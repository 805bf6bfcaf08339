//! `/operator/v1`, the operator's HTTP door: its token, every route, and how each action
//! shows on the Users API (`/v2`) right after.

use std::io::Write;
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::Method;
use roster::config::{ServeArgs, Settings, StorageArgs};
use roster::startup::{self, Server};
use roster_domain::ManualClock;
use serde_json::{json, Value};

use crate::helpers::{keys, Answer, Credentials, TestApp, OPERATOR_TOKEN};

/// What an account's record holds, in the order it is written.
const ACCOUNT_KEYS: [&str; 10] = [
    "date_created",
    "date_updated",
    "kyc_complete",
    "name",
    "rate_limit_per_minute",
    "region",
    "sid",
    "timezone",
    "trial",
    "voip_enabled",
];

const DEVICE_KEYS: [&str; 7] = [
    "available",
    "contact_uri",
    "id",
    "name",
    "status",
    "type",
    "verified",
];

const SIP_CREDENTIAL_KEYS: [&str; 7] = [
    "contact_uri",
    "device_id",
    "ha1_md5",
    "ha1_sha256",
    "realm",
    "user_id",
    "username",
];

/// `helpers::START` as the default zone shows it, and moments after it.
const START_KOLKATA: &str = "2021-07-26T18:27:24+05:30";
const START_PLUS_MINUTE_KOLKATA: &str = "2021-07-26T18:28:24+05:30";
const START_PLUS_HOUR_KOLKATA: &str = "2021-07-26T19:27:24+05:30";

/// The contract gives running servers a second to see an operator's change; this much
/// more covers the requests made while waiting.
const PROPAGATION: Duration = Duration::from_millis(1500);

const NO_USER: &str = "0123456789abcdef0123456789abcdef";
const NO_DEVICE: &str = "123456789";

// ---------------------------------------------------------------------------------------
// The operator token
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn every_operator_route_refuses_a_missing_or_wrong_token_with_401_1010_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let user = app.create_user(&app.acme, TestApp::new_user(1)).await;
    let routes = every_route(&app, &user);
    let basic = format!(
        "Basic {}",
        base64(&format!("{}:{}", app.acme.key, app.acme.token))
    );
    let wrong_authorizations: [Option<String>; 6] = [
        None,
        Some(format!("Bearer {}", "x".repeat(OPERATOR_TOKEN.len()))),
        Some(format!("Bearer {OPERATOR_TOKEN}x")),
        Some(format!("Bearer {}", &OPERATOR_TOKEN[1..])),
        Some(OPERATOR_TOKEN.to_owned()),
        Some(basic),
    ];

    for (method, path, body) in &routes {
        // Wrong tokens count against the address's failure budget: a new minute for each
        // route keeps every answer a 401 (security.rs tests the 429).
        app.clock.advance(60);
        for authorization in &wrong_authorizations {
            let mut request = with_body(app.client().request(method.clone(), app.url(path)), body);
            if let Some(authorization) = authorization {
                request = request.header("authorization", authorization);
            }
            let answer = app.send(request).await;
            answer.assert_error(401, Some(1010));
            assert_eq!(answer.body["method"], method.as_str(), "{path}");
        }
    }

    // Nothing the refused requests asked for happened.
    let acme = op_get(&app, "/operator/v1/accounts/acme").await;
    assert_eq!(acme.assert_success()["trial"], false);
    op_get(&app, "/operator/v1/accounts/initech")
        .await
        .assert_error(404, Some(1000));
    let fetched = app
        .get(
            &app.acme,
            &format!(
                "/v2/accounts/acme/users/{}?fields=devices,active_call,last_login",
                user["id"].as_str().unwrap()
            ),
        )
        .await;
    let fetched = fetched.assert_success();
    assert_eq!(fetched["active_call"], false);
    assert_eq!(fetched["last_login"], Value::Null);
    assert_eq!(fetched["devices"][0]["verified"], false);
    assert_eq!(keys_of(&app, "acme").await.len(), 1);
}

#[tokio::test]
async fn the_right_token_is_accepted_on_every_operator_route() {
    let app = TestApp::spawn().await;
    let user = app.create_user(&app.acme, TestApp::new_user(1)).await;

    // The same table as above, with the token: each route does its work (a 404 for the
    // SIP user, who has no softphone, is the route answering, not the gate).
    for (method, path, body) in every_route(&app, &user) {
        let request = with_body(
            app.client()
                .request(method.clone(), app.url(&path))
                .bearer_auth(OPERATOR_TOKEN),
            &body,
        );
        let answer = app.send(request).await;
        if path.contains("/sip-credentials/") {
            answer.assert_error(404, Some(1000));
        } else {
            assert_eq!(answer.status, 200, "{method} {path}: {}", answer.body);
        }
    }
}

#[tokio::test]
async fn without_an_operator_token_configured_every_operator_path_is_404_1000() {
    let app = TestApp::spawn().await;
    let user = app.create_user(&app.acme, TestApp::new_user(1)).await;
    let node = spawn_node(&app.backend.url(), app.clock.clone(), None).await;

    for (method, path, body) in every_route(&app, &user) {
        for bearer in [true, false] {
            let mut request = with_body(
                app.client()
                    .request(method.clone(), format!("http://{node}{path}")),
                &body,
            );
            if bearer {
                request = request.bearer_auth(OPERATOR_TOKEN);
            }
            app.send(request).await.assert_error(404, Some(1000));
        }
    }

    // The server itself is up and serving the Users API, and nothing was changed.
    let answer = app
        .send(
            app.client()
                .get(format!("http://{node}/v2/accounts/acme/users"))
                .basic_auth(&app.acme.key, Some(&app.acme.token)),
        )
        .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    op_get(&app, "/operator/v1/accounts/acme")
        .await
        .assert_success();
}

#[tokio::test]
async fn without_an_operator_token_configured_a_wrong_method_on_an_operator_path_is_404_too() {
    let app = TestApp::spawn().await;
    let node = spawn_node(&app.backend.url(), app.clock.clone(), None).await;

    for (method, path) in [
        (Method::PATCH, "/operator/v1/accounts"),
        (Method::POST, "/operator/v1/accounts/acme"),
        (
            Method::GET,
            "/operator/v1/keys/0000000000000000000000000000000000000000",
        ),
    ] {
        let request = app
            .client()
            .request(method, format!("http://{node}{path}"))
            .bearer_auth(OPERATOR_TOKEN);
        let answer = app.send(request).await;

        answer.assert_error(404, Some(1000));
        assert_eq!(answer.header("allow"), None, "{path}");
    }
}

#[tokio::test]
async fn a_wrong_method_on_an_operator_path_is_405_1007_with_allow() {
    let app = TestApp::spawn().await;

    let answer = app
        .send(
            app.client()
                .patch(app.url("/operator/v1/accounts"))
                .bearer_auth(OPERATOR_TOKEN),
        )
        .await;

    answer.assert_error(405, Some(1007));
    let allow = answer.header("allow").unwrap_or_default().to_owned();
    assert!(allow.contains("GET") && allow.contains("POST"), "{allow}");
}

#[tokio::test]
async fn a_wrong_method_on_an_operator_path_is_405_before_the_token_is_checked() {
    // docs/api.md: the wrong method "is decided before authentication, as routing comes
    // first"; /v2 does so, and the operator API should too.
    let app = TestApp::spawn().await;

    for (method, path) in [
        (Method::PATCH, "/operator/v1/accounts"),
        (Method::POST, "/operator/v1/accounts/acme"),
        (Method::GET, "/operator/v1/accounts/acme/verifications"),
    ] {
        let answer = app.send(app.client().request(method, app.url(path))).await;

        answer.assert_error(405, Some(1007));
        assert!(answer.header("allow").is_some(), "{path}");
    }
}

// ---------------------------------------------------------------------------------------
// Accounts
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn creating_an_account_with_only_a_sid_gives_every_default() {
    let app = TestApp::spawn().await;

    let answer = op_post(&app, "/operator/v1/accounts", &json!({ "sid": "initech" })).await;

    let account = answer.assert_success();
    assert_eq!(answer.body["method"], "POST");
    assert_eq!(keys(account), ACCOUNT_KEYS);
    assert_eq!(
        account,
        &json!({
            "date_created": START_KOLKATA,
            "date_updated": START_KOLKATA,
            "kyc_complete": true,
            "name": "initech",
            "rate_limit_per_minute": 200,
            "region": "local",
            "sid": "initech",
            "timezone": "Asia/Kolkata",
            "trial": false,
            "voip_enabled": false,
        })
    );
}

#[tokio::test]
async fn creating_an_account_with_every_setting_keeps_each_and_show_returns_the_same_record() {
    let app = TestApp::spawn().await;
    let body = json!({
        "sid": "initech",
        "name": "Initech Ltd",
        "region": "mumbai",
        "timezone": "Europe/London",
        "voip_enabled": true,
        "trial": true,
        "kyc_complete": false,
        "rate_limit_per_minute": 75,
    });

    let created = op_post(&app, "/operator/v1/accounts", &body).await;

    let account = created.assert_success().clone();
    assert_eq!(
        account,
        json!({
            // Timestamps are shown in the account's own zone: British summer time.
            "date_created": "2021-07-26T13:57:24+01:00",
            "date_updated": "2021-07-26T13:57:24+01:00",
            "kyc_complete": false,
            "name": "Initech Ltd",
            "rate_limit_per_minute": 75,
            "region": "mumbai",
            "sid": "initech",
            "timezone": "Europe/London",
            "trial": true,
            "voip_enabled": true,
        })
    );
    let shown = op_get(&app, "/operator/v1/accounts/initech").await;
    assert_eq!(shown.body["method"], "GET");
    assert_eq!(shown.assert_success(), &account);
}

#[tokio::test]
async fn listing_accounts_shows_every_account_in_sid_order_as_show_does() {
    let app = TestApp::spawn().await;
    op_post(
        &app,
        "/operator/v1/accounts",
        &json!({ "sid": "aardvark", "trial": true }),
    )
    .await
    .assert_success();

    let answer = op_get(&app, "/operator/v1/accounts").await;

    let accounts = assert_list(&answer);
    let sids: Vec<&str> = accounts
        .iter()
        .map(|a| a["sid"].as_str().unwrap())
        .collect();
    assert_eq!(sids, ["aardvark", "acme", "globex"]);
    for account in &accounts {
        assert_eq!(keys(account), ACCOUNT_KEYS);
        let shown = op_get(
            &app,
            &format!("/operator/v1/accounts/{}", account["sid"].as_str().unwrap()),
        )
        .await;
        assert_eq!(shown.assert_success(), *account);
    }
    assert_eq!(accounts[0]["trial"], true);
}

#[tokio::test]
async fn an_account_sid_already_taken_is_409_1005_and_the_existing_account_is_untouched() {
    let app = TestApp::spawn().await;
    let before = op_get(&app, "/operator/v1/accounts/acme")
        .await
        .assert_success()
        .clone();

    let answer = op_post(
        &app,
        "/operator/v1/accounts",
        &json!({ "sid": "acme", "name": "Impostor", "trial": true }),
    )
    .await;

    answer.assert_error(409, Some(1005));
    assert!(answer.description().contains("acme"), "{}", answer.body);
    let after = op_get(&app, "/operator/v1/accounts/acme").await;
    assert_eq!(after.assert_success(), &before);
    assert_eq!(keys_of(&app, "acme").await.len(), 1, "acme's key is gone");
}

#[tokio::test]
async fn a_bad_setting_on_create_is_400_1002_naming_the_setting_and_creates_nothing() {
    let app = TestApp::spawn().await;
    let cases = [
        (json!({ "sid": "bad sid!" }), "sid"),
        (json!({ "sid": "x", "name": "" }), "name"),
        (json!({ "sid": "x", "name": "   " }), "name"),
        (json!({ "sid": "x", "name": "n".repeat(101) }), "name"),
        (json!({ "sid": "x", "region": "Mumbai!" }), "region"),
        (json!({ "sid": "x", "timezone": "Mars/Base" }), "timezone"),
        (
            json!({ "sid": "x", "rate_limit_per_minute": 0 }),
            "rate_limit_per_minute",
        ),
        (
            json!({ "sid": "x", "rate_limit_per_minute": 4_294_967_296_u64 }),
            "rate_limit_per_minute",
        ),
    ];

    for (body, setting) in cases {
        let answer = op_post(&app, "/operator/v1/accounts", &body).await;

        answer.assert_error(400, Some(1002));
        assert!(
            answer.description().contains(setting),
            "{body}: the description does not name {setting}: {}",
            answer.body
        );
    }
    let listed = op_get(&app, "/operator/v1/accounts").await;
    assert_eq!(
        assert_list(&listed).len(),
        2,
        "a refused create left an account"
    );
}

#[tokio::test]
async fn a_create_without_a_sid_is_400_1001() {
    let app = TestApp::spawn().await;

    for body in [json!({}), json!({ "sid": null, "name": "Nameless" })] {
        let answer = op_post(&app, "/operator/v1/accounts", &body).await;

        answer.assert_error(400, Some(1001));
        assert!(answer.description().contains("sid"), "{}", answer.body);
    }
}

#[tokio::test]
async fn a_setting_of_the_wrong_json_type_is_400_1007_naming_it_on_create_and_update() {
    let app = TestApp::spawn().await;
    let cases = [
        (json!({ "sid": 7 }), "sid"),
        (json!({ "name": 5 }), "name"),
        (json!({ "region": true }), "region"),
        (json!({ "timezone": ["Asia/Kolkata"] }), "timezone"),
        (json!({ "voip_enabled": "true" }), "voip_enabled"),
        (json!({ "trial": 1 }), "trial"),
        (json!({ "kyc_complete": "yes" }), "kyc_complete"),
        (
            json!({ "rate_limit_per_minute": "100" }),
            "rate_limit_per_minute",
        ),
        (
            json!({ "rate_limit_per_minute": -1 }),
            "rate_limit_per_minute",
        ),
        (
            json!({ "rate_limit_per_minute": 1.5 }),
            "rate_limit_per_minute",
        ),
    ];

    for (fields, setting) in cases {
        let mut create = json!({ "sid": "initech" });
        for (name, value) in fields.as_object().unwrap() {
            create[name] = value.clone();
        }
        let mut answers = vec![op_post(&app, "/operator/v1/accounts", &create).await];
        // An update takes no sid: the path names the account.
        if setting != "sid" {
            answers.push(op_put(&app, "/operator/v1/accounts/acme", &fields).await);
        }

        for answer in answers {
            answer.assert_error(400, Some(1007));
            assert!(
                answer.description().contains(setting),
                "{fields}: the description does not name {setting}: {}",
                answer.body
            );
        }
    }
    for body in ["[]", "\"sid\"", "{", ""] {
        let request = app
            .client()
            .post(app.url("/operator/v1/accounts"))
            .bearer_auth(OPERATOR_TOKEN)
            .header("content-type", "application/json")
            .body(body);
        let answer = app.send(request).await;
        assert_eq!(answer.status, 400, "{body:?}: {}", answer.body);
    }
    assert_eq!(
        assert_list(&op_get(&app, "/operator/v1/accounts").await).len(),
        2
    );
}

#[tokio::test]
async fn updating_an_account_changes_only_the_settings_sent_and_moves_date_updated() {
    let app = TestApp::spawn().await;
    let before = op_get(&app, "/operator/v1/accounts/acme")
        .await
        .assert_success()
        .clone();
    app.clock.advance(60);

    let answer = op_put(
        &app,
        "/operator/v1/accounts/acme",
        &json!({ "name": "Acme Corp", "voip_enabled": true, "rate_limit_per_minute": 50 }),
    )
    .await;

    let updated = answer.assert_success().clone();
    assert_eq!(answer.body["method"], "PUT");
    let mut expected = before;
    expected["name"] = json!("Acme Corp");
    expected["voip_enabled"] = json!(true);
    expected["rate_limit_per_minute"] = json!(50);
    expected["date_updated"] = json!(START_PLUS_MINUTE_KOLKATA);
    assert_eq!(updated, expected);
    let shown = op_get(&app, "/operator/v1/accounts/acme").await;
    assert_eq!(shown.assert_success(), &updated);
}

#[tokio::test]
async fn an_update_with_one_bad_setting_is_400_1002_and_changes_none_of_them() {
    let app = TestApp::spawn().await;
    let before = op_get(&app, "/operator/v1/accounts/acme")
        .await
        .assert_success()
        .clone();
    app.clock.advance(60);

    let answer = op_put(
        &app,
        "/operator/v1/accounts/acme",
        &json!({ "voip_enabled": true, "name": "Acme Corp", "timezone": "Mars/Base" }),
    )
    .await;

    answer.assert_error(400, Some(1002));
    assert!(answer.description().contains("timezone"), "{}", answer.body);
    let after = op_get(&app, "/operator/v1/accounts/acme").await;
    assert_eq!(after.assert_success(), &before);
}

#[tokio::test]
async fn account_settings_changed_by_the_operator_apply_to_the_users_api_at_once() {
    let app = TestApp::spawn().await;
    let users = "/v2/accounts/acme/users";
    assert_eq!(app.get(&app.acme, users).await.status, 200);

    op_put(
        &app,
        "/operator/v1/accounts/acme",
        &json!({ "trial": true }),
    )
    .await
    .assert_success();
    app.get(&app.acme, users)
        .await
        .assert_error(403, Some(10815));

    op_put(
        &app,
        "/operator/v1/accounts/acme",
        &json!({ "kyc_complete": false }),
    )
    .await
    .assert_success();
    app.get(&app.acme, users)
        .await
        .assert_error(403, Some(10814));

    op_put(
        &app,
        "/operator/v1/accounts/acme",
        &json!({ "kyc_complete": true, "trial": false, "region": "mumbai" }),
    )
    .await
    .assert_success();
    let moved = app.get(&app.acme, users).await;
    moved.assert_error(401, Some(1010));
    assert!(moved.description().contains("mumbai"), "{}", moved.body);

    op_put(
        &app,
        "/operator/v1/accounts/acme",
        &json!({ "region": "local", "rate_limit_per_minute": 60 }),
    )
    .await
    .assert_success();
    let answer = app.get(&app.acme, users).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.header("x-ratelimit-limit"), Some("60"));
}

#[tokio::test]
async fn an_unknown_account_is_404_1000_on_every_route_that_names_one() {
    let app = TestApp::spawn().await;
    let user = app.create_user(&app.acme, TestApp::new_user(1)).await;
    let device = user["devices"][0]["id"].as_u64().unwrap();
    let user_id = user["id"].as_str().unwrap();

    for sid in ["initech", "bad%20sid!"] {
        let account = format!("/operator/v1/accounts/{sid}");
        let routes = [
            (Method::GET, account.clone(), None),
            (Method::PUT, account.clone(), Some(json!({ "trial": true }))),
            (Method::DELETE, account.clone(), None),
            (Method::GET, format!("{account}/keys"), None),
            (Method::POST, format!("{account}/keys"), None),
            (
                Method::POST,
                format!("{account}/verifications"),
                Some(json!({ "contact_uri": "+919812300001" })),
            ),
            (
                Method::POST,
                format!("{account}/devices/{device}/calls/start"),
                None,
            ),
            (
                Method::POST,
                format!("{account}/devices/{device}/calls/end"),
                None,
            ),
            (
                Method::POST,
                format!("{account}/users/{user_id}/logins"),
                None,
            ),
            (Method::GET, format!("{account}/sip-credentials/asha"), None),
        ];
        for (method, path, body) in routes {
            let answer = op(&app, method.clone(), &path, body.as_ref()).await;

            answer.assert_error(404, Some(1000));
            assert_eq!(answer.body["method"], method.as_str(), "{path}");
        }
    }
    // acme's device, named under the unknown account, was left alone.
    let fetched = app
        .get(
            &app.acme,
            &format!("/v2/accounts/acme/users/{user_id}?fields=devices"),
        )
        .await;
    assert_eq!(fetched.assert_success()["devices"][0]["status"], "free");
}

// ---------------------------------------------------------------------------------------
// Keys
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn an_issued_key_and_token_work_on_the_users_api_of_their_account_only() {
    let app = TestApp::spawn().await;

    let answer = op_post(&app, "/operator/v1/accounts/acme/keys", &json!({})).await;

    let issued = answer.assert_success();
    assert_eq!(keys(issued), ["api_key", "api_token"]);
    let key = issued["api_key"].as_str().unwrap();
    let token = issued["api_token"].as_str().unwrap();
    assert!(is_lower_hex(key, 40), "{key}");
    assert!(is_lower_hex(token, 64), "{token}");
    assert_ne!(key, app.acme.key);
    let fresh = credentials("acme", issued);
    let listed = app.get(&fresh, "/v2/accounts/acme/users").await;
    assert_eq!(listed.status, 200, "{}", listed.body);
    app.get(&fresh, "/v2/accounts/globex/users")
        .await
        .assert_error(403, Some(1003));
    let wrong = Credentials {
        token: app.acme.token.clone(),
        ..fresh.clone()
    };
    app.get(&wrong, "/v2/accounts/acme/users")
        .await
        .assert_error(401, Some(1010));
}

#[tokio::test]
async fn listing_keys_never_shows_a_token_and_shows_when_a_key_was_revoked() {
    let app = TestApp::spawn().await;
    app.clock.advance(60);
    let second = issue_key(&app, "acme").await;
    app.clock.advance(3540);
    op_delete(&app, &format!("/operator/v1/keys/{}", second.key))
        .await
        .assert_success();

    let answer = op_get(&app, "/operator/v1/accounts/acme/keys").await;

    let listed = assert_list(&answer);
    assert_eq!(
        listed,
        [
            &json!({
                "api_key": app.acme.key,
                "date_created": START_KOLKATA,
                "date_revoked": null,
            }),
            &json!({
                "api_key": second.key,
                "date_created": START_PLUS_MINUTE_KOLKATA,
                "date_revoked": START_PLUS_HOUR_KOLKATA,
            }),
        ]
    );
    for item in &listed {
        assert_eq!(keys(item), ["api_key", "date_created", "date_revoked"]);
    }
    let text = answer.body.to_string();
    assert!(
        !text.contains(&app.acme.token) && !text.contains(&second.token),
        "{text}"
    );
    let globex = assert_list(&op_get(&app, "/operator/v1/accounts/globex/keys").await)
        .into_iter()
        .map(|key| key["api_key"].as_str().unwrap().to_owned())
        .collect::<Vec<_>>();
    assert_eq!(globex, [app.globex.key.as_str()]);
}

#[tokio::test]
async fn a_key_revoked_over_http_is_refused_by_the_same_server_at_once() {
    let app = TestApp::spawn().await;
    let spare = issue_key(&app, "acme").await;
    let users = "/v2/accounts/acme/users";
    // Used once, so the server holds it in its cache.
    assert_eq!(app.get(&app.acme, users).await.status, 200);

    let answer = op_delete(&app, &format!("/operator/v1/keys/{}", app.acme.key)).await;

    assert_eq!(answer.assert_success(), &Value::Null);
    assert_eq!(answer.body["method"], "DELETE");
    let refused = app.get(&app.acme, users).await;
    refused.assert_error(401, Some(1010));
    assert_eq!(
        app.get(&spare, users).await.status,
        200,
        "the other key stopped working"
    );
    assert_eq!(
        app.get(&app.globex, "/v2/accounts/globex/users")
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn a_key_revoked_on_one_node_is_refused_by_another_within_a_second() {
    let app = TestApp::spawn().await;
    let node = spawn_node(&app.backend.url(), app.clock.clone(), Some(OPERATOR_TOKEN)).await;
    let url = format!("http://{node}/v2/accounts/acme/users");
    let on_node = || {
        app.client()
            .get(&url)
            .basic_auth(&app.acme.key, Some(&app.acme.token))
    };
    // The other node has seen the key and holds it in its cache.
    assert_eq!(app.send(on_node()).await.status, 200);

    op_delete(&app, &format!("/operator/v1/keys/{}", app.acme.key))
        .await
        .assert_success();

    let revoked = Instant::now();
    loop {
        let answer = app.send(on_node()).await;
        if answer.status == 401 {
            answer.assert_error(401, Some(1010));
            break;
        }
        assert!(
            revoked.elapsed() < PROPAGATION,
            "the other node still accepts the revoked key: {}",
            answer.body
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn revoking_an_unknown_or_malformed_key_is_404_1000() {
    let app = TestApp::spawn().await;

    for key in [
        "0".repeat(40),
        "nosuchkey".to_owned(),
        app.acme.key.to_uppercase(),
    ] {
        let answer = op_delete(&app, &format!("/operator/v1/keys/{key}")).await;

        answer.assert_error(404, Some(1000));
    }
    assert_eq!(
        app.get(&app.acme, "/v2/accounts/acme/users").await.status,
        200
    );
}

#[tokio::test]
async fn revoking_a_key_twice_keeps_the_first_revocation_time() {
    let app = TestApp::spawn().await;
    let path = format!("/operator/v1/keys/{}", app.acme.key);
    op_delete(&app, &path).await.assert_success();
    app.clock.advance(60);

    let again = op_delete(&app, &path).await;

    assert_eq!(again.status, 200, "{}", again.body);
    let listed = op_get(&app, "/operator/v1/accounts/acme/keys").await;
    assert_eq!(assert_list(&listed)[0]["date_revoked"], START_KOLKATA);
}

// ---------------------------------------------------------------------------------------
// Verification
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn verifying_a_number_makes_its_phone_verified_and_off_so_its_user_can_turn_it_on() {
    let app = TestApp::spawn().await;
    let user = app.create_user(&app.acme, TestApp::new_user(1)).await;
    let user_id = user["id"].as_str().unwrap();
    let phone = &user["devices"][0];
    let device_path = format!(
        "/v2/accounts/acme/users/{user_id}/devices/{}",
        phone["id"].as_u64().unwrap()
    );
    v2_put(&app, &app.acme, &device_path, &json!({ "available": true }))
        .await
        .assert_error(409, Some(10809));
    app.clock.advance(60);

    let answer = op_post(
        &app,
        "/operator/v1/accounts/acme/verifications",
        &json!({ "contact_uri": "+919812300001" }),
    )
    .await;

    let device = answer.assert_success();
    assert_eq!(keys(device), DEVICE_KEYS);
    let mut expected = phone.clone();
    expected["verified"] = json!(true);
    expected["available"] = json!(false);
    assert_eq!(device, &expected);
    let fetched = app
        .get(
            &app.acme,
            &format!("/v2/accounts/acme/users/{user_id}?fields=devices"),
        )
        .await;
    let fetched = fetched.assert_success();
    assert_eq!(fetched["devices"][0], expected);
    assert_eq!(fetched["date_updated"], START_PLUS_MINUTE_KOLKATA);
    let turned_on = v2_put(&app, &app.acme, &device_path, &json!({ "available": true })).await;
    assert_eq!(turned_on.assert_success()["available"], true);
}

#[tokio::test]
async fn verifying_a_number_that_is_already_verified_changes_nothing() {
    let app = TestApp::spawn().await;
    let user = app.create_user(&app.acme, TestApp::new_user(1)).await;
    let user_id = user["id"].as_str().unwrap();
    let device_path = format!(
        "/v2/accounts/acme/users/{user_id}/devices/{}",
        user["devices"][0]["id"].as_u64().unwrap()
    );
    let verify = json!({ "contact_uri": "+919812300001" });
    op_post(&app, "/operator/v1/accounts/acme/verifications", &verify)
        .await
        .assert_success();
    v2_put(&app, &app.acme, &device_path, &json!({ "available": true }))
        .await
        .assert_success();
    let user_path = format!("/v2/accounts/acme/users/{user_id}?fields=devices");
    let before = app
        .get(&app.acme, &user_path)
        .await
        .assert_success()
        .clone();
    app.clock.advance(60);

    let again = op_post(&app, "/operator/v1/accounts/acme/verifications", &verify).await;

    assert_eq!(again.assert_success(), &before["devices"][0]);
    assert_eq!(
        again.assert_success()["available"],
        true,
        "verifying again turned it off"
    );
    let after = app.get(&app.acme, &user_path).await;
    assert_eq!(
        after.assert_success(),
        &before,
        "the user's date_updated moved"
    );
}

#[tokio::test]
async fn verifying_a_number_no_device_of_the_account_has_is_404_1000() {
    let app = TestApp::spawn().await;
    let theirs = app.create_user(&app.globex, TestApp::new_user(2)).await;
    let theirs_path = format!(
        "/v2/accounts/globex/users/{}?fields=devices",
        theirs["id"].as_str().unwrap()
    );

    for number in ["+919812300099", "+919812300002", "not a number", ""] {
        let answer = op_post(
            &app,
            "/operator/v1/accounts/acme/verifications",
            &json!({ "contact_uri": number }),
        )
        .await;

        answer.assert_error(404, Some(1000));
    }
    // globex's phone, whose number acme asked about, is still unverified.
    let fetched = app.get(&app.globex, &theirs_path).await;
    assert_eq!(fetched.assert_success()["devices"][0]["verified"], false);
}

#[tokio::test]
async fn a_verification_without_a_number_is_400_1001_and_with_a_non_string_400_1007() {
    let app = TestApp::spawn().await;
    let path = "/operator/v1/accounts/acme/verifications";

    let missing = op_post(&app, path, &json!({})).await;
    let wrong_type = op_post(&app, path, &json!({ "contact_uri": 919_812_300_001_u64 })).await;

    missing.assert_error(400, Some(1001));
    assert!(
        missing.description().contains("contact_uri"),
        "{}",
        missing.body
    );
    wrong_type.assert_error(400, Some(1007));
    assert!(
        wrong_type.description().contains("contact_uri"),
        "{}",
        wrong_type.body
    );
}

// ---------------------------------------------------------------------------------------
// Calls
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn a_call_makes_the_device_busy_and_its_user_on_an_active_call_until_it_ends() {
    let app = TestApp::spawn().await;
    let user = app.create_user(&app.acme, TestApp::new_user(1)).await;
    let user_path = format!(
        "/v2/accounts/acme/users/{}?fields=active_call,devices",
        user["id"].as_str().unwrap()
    );
    let device = user["devices"][0]["id"].as_u64().unwrap();
    let calls = format!("/operator/v1/accounts/acme/devices/{device}/calls");
    let before = app.get(&app.acme, &user_path).await;
    assert_eq!(before.assert_success()["active_call"], false);
    app.clock.advance(60);

    let started = op_post(&app, &format!("{calls}/start"), &json!({})).await;

    let busy = started.assert_success();
    assert_eq!(keys(busy), DEVICE_KEYS);
    assert_eq!(busy["status"], "busy");
    assert_eq!(busy["id"], device);
    let during = app.get(&app.acme, &user_path).await;
    let during = during.assert_success();
    assert_eq!(during["active_call"], true);
    assert_eq!(during["devices"][0], *busy);
    assert_eq!(during["date_updated"], START_PLUS_MINUTE_KOLKATA);

    app.clock.advance(3540);
    let ended = op_post(&app, &format!("{calls}/end"), &json!({})).await;

    let free = ended.assert_success();
    assert_eq!(free["status"], "free");
    let after = app.get(&app.acme, &user_path).await;
    let after = after.assert_success();
    assert_eq!(after["active_call"], false);
    assert_eq!(after["devices"][0], *free);
    assert_eq!(after["date_updated"], START_PLUS_HOUR_KOLKATA);
}

#[tokio::test]
async fn starting_a_call_on_a_busy_device_or_ending_one_on_a_free_device_moves_nothing() {
    let app = TestApp::spawn().await;
    let user = app.create_user(&app.acme, TestApp::new_user(1)).await;
    let user_path = format!(
        "/v2/accounts/acme/users/{}?fields=active_call",
        user["id"].as_str().unwrap()
    );
    let calls = format!(
        "/operator/v1/accounts/acme/devices/{}/calls",
        user["devices"][0]["id"].as_u64().unwrap()
    );

    app.clock.advance(60);
    let ended = op_post(&app, &format!("{calls}/end"), &json!({})).await;
    assert_eq!(ended.assert_success()["status"], "free");
    let untouched = app.get(&app.acme, &user_path).await;
    assert_eq!(untouched.assert_success()["date_updated"], START_KOLKATA);

    op_post(&app, &format!("{calls}/start"), &json!({}))
        .await
        .assert_success();
    app.clock.advance(60);
    let again = op_post(&app, &format!("{calls}/start"), &json!({})).await;
    assert_eq!(again.assert_success()["status"], "busy");
    let still = app.get(&app.acme, &user_path).await;
    let still = still.assert_success();
    assert_eq!(still["active_call"], true);
    assert_eq!(still["date_updated"], START_PLUS_MINUTE_KOLKATA);
}

#[tokio::test]
async fn a_call_on_a_device_the_account_does_not_have_is_404_1000() {
    let app = TestApp::spawn().await;
    let theirs = app.create_user(&app.globex, TestApp::new_user(2)).await;
    let their_device = theirs["devices"][0]["id"].as_u64().unwrap().to_string();

    for device in [NO_DEVICE, "abc", "-1", their_device.as_str()] {
        for event in ["start", "end"] {
            let path = format!("/operator/v1/accounts/acme/devices/{device}/calls/{event}");
            let answer = op_post(&app, &path, &json!({})).await;

            answer.assert_error(404, Some(1000));
        }
    }
    let fetched = app
        .get(
            &app.globex,
            &format!(
                "/v2/accounts/globex/users/{}?fields=active_call",
                theirs["id"].as_str().unwrap()
            ),
        )
        .await;
    assert_eq!(fetched.assert_success()["active_call"], false);
}

// ---------------------------------------------------------------------------------------
// Logins
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn a_login_is_reported_as_last_login_at_that_moment_in_the_accounts_offset() {
    let app = TestApp::spawn().await;
    let user = app.create_user(&app.acme, TestApp::new_user(1)).await;
    let user_id = user["id"].as_str().unwrap();
    let user_path = format!("/v2/accounts/acme/users/{user_id}?fields=last_login");
    let before = app.get(&app.acme, &user_path).await;
    assert_eq!(before.assert_success()["last_login"], Value::Null);
    app.clock.advance(3600);

    let answer = op_post(
        &app,
        &format!("/operator/v1/accounts/acme/users/{user_id}/logins"),
        &json!({}),
    )
    .await;

    let logged_in = answer.assert_success();
    assert_eq!(
        keys(logged_in),
        [
            "date_created",
            "date_updated",
            "email",
            "email_verified",
            "first_name",
            "id",
            "last_login",
            "last_name",
            "role"
        ]
    );
    assert_eq!(logged_in["id"], user_id);
    assert_eq!(logged_in["last_login"], START_PLUS_HOUR_KOLKATA);
    let fetched = app.get(&app.acme, &user_path).await;
    assert_eq!(fetched.assert_success(), logged_in);
}

#[tokio::test]
async fn last_login_is_shown_in_the_zone_of_the_users_account() {
    let app = TestApp::spawn().await;
    let london = operator_account(&app, "initech", json!({ "timezone": "Europe/London" })).await;
    let user = app.create_user(&london, TestApp::new_user(1)).await;
    let user_id = user["id"].as_str().unwrap();

    let answer = op_post(
        &app,
        &format!("/operator/v1/accounts/initech/users/{user_id}/logins"),
        &json!({}),
    )
    .await;

    assert_eq!(
        answer.assert_success()["last_login"],
        "2021-07-26T13:57:24+01:00"
    );
    let fetched = app
        .get(
            &london,
            &format!("/v2/accounts/initech/users/{user_id}?fields=last_login"),
        )
        .await;
    assert_eq!(
        fetched.assert_success()["last_login"],
        "2021-07-26T13:57:24+01:00"
    );
}

#[tokio::test]
async fn a_login_of_a_user_the_account_does_not_have_is_404_1000() {
    let app = TestApp::spawn().await;
    let theirs = app.create_user(&app.globex, TestApp::new_user(2)).await;
    let their_id = theirs["id"].as_str().unwrap();

    for user in [NO_USER, "not-a-user-id", their_id] {
        let path = format!("/operator/v1/accounts/acme/users/{user}/logins");
        let answer = op_post(&app, &path, &json!({})).await;

        // docs/api.md: "an unknown account, key, device, user or number is 404 / 1000".
        answer.assert_error(404, Some(1000));
    }
    let fetched = app
        .get(
            &app.globex,
            &format!("/v2/accounts/globex/users/{their_id}?fields=last_login"),
        )
        .await;
    assert_eq!(fetched.assert_success()["last_login"], Value::Null);
}

// ---------------------------------------------------------------------------------------
// SIP credentials
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn sip_credentials_carry_the_rfc_digests_of_the_password_set_over_the_users_api() {
    let app = TestApp::spawn().await;
    let voip = operator_account(&app, "voipco", json!({ "voip_enabled": true })).await;
    let user = app.create_user(&voip, TestApp::new_user(1)).await;
    let softphone = softphone(&user);
    let uri = softphone["contact_uri"].as_str().unwrap().to_owned();
    let username = uri.strip_prefix("sip:").unwrap().to_owned();
    set_sip_password(&app, &voip, &user, "Corr3ct-Horse").await;

    let answer = op_get(
        &app,
        &format!("/operator/v1/accounts/voipco/sip-credentials/{username}"),
    )
    .await;

    let credentials = answer.assert_success().clone();
    assert_eq!(keys(&credentials), SIP_CREDENTIAL_KEYS);
    assert_eq!(credentials["contact_uri"], uri);
    assert_eq!(credentials["device_id"], softphone["id"]);
    assert_eq!(credentials["realm"], "roster");
    assert_eq!(credentials["user_id"], user["id"]);
    assert_eq!(credentials["username"], username);
    let secret = format!("{username}:roster:Corr3ct-Horse");
    assert_eq!(credentials["ha1_md5"], digest("md5sum", &secret));
    assert_eq!(credentials["ha1_sha256"], digest("sha256sum", &secret));
    assert!(!answer.body.to_string().contains("Corr3ct-Horse"));

    set_sip_password(&app, &voip, &user, "An0ther!pass").await;
    let changed = op_get(
        &app,
        &format!("/operator/v1/accounts/voipco/sip-credentials/{username}"),
    )
    .await;

    let changed = changed.assert_success();
    let secret = format!("{username}:roster:An0ther!pass");
    assert_eq!(changed["ha1_md5"], digest("md5sum", &secret));
    assert_eq!(changed["ha1_sha256"], digest("sha256sum", &secret));
    assert_ne!(changed["ha1_md5"], credentials["ha1_md5"]);
    assert_ne!(changed["ha1_sha256"], credentials["ha1_sha256"]);
    for same in ["contact_uri", "device_id", "realm", "user_id", "username"] {
        assert_eq!(
            changed[same], credentials[same],
            "{same} changed with the password"
        );
    }
}

#[tokio::test]
async fn a_softphone_whose_password_was_never_set_has_no_sip_credentials() {
    let app = TestApp::spawn().await;
    let voip = operator_account(&app, "voipco", json!({ "voip_enabled": true })).await;
    let user = app.create_user(&voip, TestApp::new_user(1)).await;
    let uri = softphone(&user)["contact_uri"].as_str().unwrap().to_owned();
    let username = uri.strip_prefix("sip:").unwrap();

    for name in [username, "nobody", uri.as_str()] {
        let answer = op_get(
            &app,
            &format!("/operator/v1/accounts/voipco/sip-credentials/{name}"),
        )
        .await;

        answer.assert_error(404, Some(1000));
    }
}

#[tokio::test]
async fn sip_credentials_are_found_only_under_their_own_account_and_go_with_their_user() {
    let app = TestApp::spawn().await;
    let voip = operator_account(&app, "voipco", json!({ "voip_enabled": true })).await;
    operator_account(&app, "othervoip", json!({ "voip_enabled": true })).await;
    let user = app.create_user(&voip, TestApp::new_user(1)).await;
    let username = softphone(&user)["contact_uri"]
        .as_str()
        .unwrap()
        .strip_prefix("sip:")
        .unwrap()
        .to_owned();
    set_sip_password(&app, &voip, &user, "Corr3ct-Horse").await;

    let elsewhere = op_get(
        &app,
        &format!("/operator/v1/accounts/othervoip/sip-credentials/{username}"),
    )
    .await;
    elsewhere.assert_error(404, Some(1000));

    let deleted = app
        .send(
            app.client()
                .delete(app.url(&format!(
                    "/v2/accounts/voipco/users/{}",
                    user["id"].as_str().unwrap()
                )))
                .basic_auth(&voip.key, Some(&voip.token)),
        )
        .await;
    deleted.assert_success();
    let gone = op_get(
        &app,
        &format!("/operator/v1/accounts/voipco/sip-credentials/{username}"),
    )
    .await;
    gone.assert_error(404, Some(1000));
}

#[tokio::test]
async fn a_softphone_address_is_its_digest_user_name_so_one_with_a_host_is_refused() {
    let app = TestApp::spawn().await;
    let voip = operator_account(&app, "voipco", json!({ "voip_enabled": true })).await;
    let first = app.create_user(&voip, TestApp::new_user(1)).await;
    let second = app.create_user(&voip, TestApp::new_user(2)).await;
    let devices = |user: &Value| {
        format!(
            "/v2/accounts/voipco/users/{}/devices",
            user["id"].as_str().unwrap()
        )
    };

    let with_host = app
        .post(
            &voip,
            &devices(&first),
            &json!({ "contact_uri": "sip:frontdesk@a.example.com" }),
        )
        .await;
    let plain = app
        .post(
            &voip,
            &devices(&first),
            &json!({ "contact_uri": "sip:frontdesk" }),
        )
        .await;
    let again = app
        .post(
            &voip,
            &devices(&second),
            &json!({ "contact_uri": "sip:frontdesk" }),
        )
        .await;

    with_host.assert_error(400, Some(1401));
    let phone = plain.assert_success()["id"].as_u64().unwrap();
    again.assert_error(409, Some(10812));
    let path = format!("{}/{phone}/password", devices(&first));
    v2_put(&app, &voip, &path, &json!({ "password": "Corr3ct-Horse" }))
        .await
        .assert_success();
    let found = op_get(
        &app,
        "/operator/v1/accounts/voipco/sip-credentials/frontdesk",
    )
    .await;
    assert_eq!(found.assert_success()["device_id"], phone);
}

// ---------------------------------------------------------------------------------------
// Deleting an account
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn deleting_an_account_removes_it_with_its_users_devices_and_keys() {
    let app = TestApp::spawn().await;
    let user = app.create_user(&app.acme, TestApp::new_user(1)).await;
    let user_id = user["id"].as_str().unwrap();

    let answer = op_delete(&app, "/operator/v1/accounts/acme").await;

    assert_eq!(answer.assert_success(), &Value::Null);
    assert_eq!(answer.body["method"], "DELETE");
    op_get(&app, "/operator/v1/accounts/acme")
        .await
        .assert_error(404, Some(1000));
    op_get(&app, "/operator/v1/accounts/acme/keys")
        .await
        .assert_error(404, Some(1000));
    let sids: Vec<String> = assert_list(&op_get(&app, "/operator/v1/accounts").await)
        .iter()
        .map(|a| a["sid"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(sids, ["globex"]);
    // The key went with the account: an unknown key is an authentication failure.
    let deleted = Instant::now();
    loop {
        let answer = app
            .get(&app.acme, &format!("/v2/accounts/acme/users/{user_id}"))
            .await;
        if answer.status == 401 {
            answer.assert_error(401, Some(1010));
            break;
        }
        assert!(
            deleted.elapsed() < PROPAGATION,
            "the deleted key still passes: {}",
            answer.body
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // A new account under the same sid starts empty: the old user, number, email and key
    // are gone for good.
    let reborn = operator_account(&app, "acme", json!({})).await;
    app.get(&reborn, &format!("/v2/accounts/acme/users/{user_id}"))
        .await
        .assert_error(404, Some(10801));
    app.create_user(&reborn, TestApp::new_user(1)).await;
    let listed = assert_list(&op_get(&app, "/operator/v1/accounts/acme/keys").await)
        .iter()
        .map(|key| key["api_key"].as_str().unwrap().to_owned())
        .collect::<Vec<_>>();
    assert_eq!(listed, [reborn.key.as_str()]);
    app.get(&app.acme, "/v2/accounts/acme/users")
        .await
        .assert_error(401, Some(1010));
    assert_eq!(
        app.get(&app.globex, "/v2/accounts/globex/users")
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn right_after_its_account_is_deleted_a_key_the_server_had_just_used_gets_401_1010() {
    // The same process deleted the account, so like a revocation it should show at once:
    // the key is gone, which the order of checks answers with 401 / 1010.
    let app = TestApp::spawn().await;
    assert_eq!(
        app.get(&app.acme, "/v2/accounts/acme/users").await.status,
        200
    );

    op_delete(&app, "/operator/v1/accounts/acme")
        .await
        .assert_success();

    app.get(&app.acme, "/v2/accounts/acme/users")
        .await
        .assert_error(401, Some(1010));
}

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

/// Sends an operator request with the right token and, when given, a JSON body.
async fn op(app: &TestApp, method: Method, path: &str, body: Option<&Value>) -> Answer {
    let request = app
        .client()
        .request(method, app.url(path))
        .bearer_auth(OPERATOR_TOKEN);
    app.send(with_body(request, &body.cloned())).await
}

async fn op_get(app: &TestApp, path: &str) -> Answer {
    op(app, Method::GET, path, None).await
}

async fn op_post(app: &TestApp, path: &str, body: &Value) -> Answer {
    op(app, Method::POST, path, Some(body)).await
}

async fn op_put(app: &TestApp, path: &str, body: &Value) -> Answer {
    op(app, Method::PUT, path, Some(body)).await
}

async fn op_delete(app: &TestApp, path: &str) -> Answer {
    op(app, Method::DELETE, path, None).await
}

fn with_body(request: reqwest::RequestBuilder, body: &Option<Value>) -> reqwest::RequestBuilder {
    match body {
        Some(body) => request
            .header("content-type", "application/json")
            .body(body.to_string()),
        None => request,
    }
}

/// A Users API PUT with an account's credentials.
async fn v2_put(app: &TestApp, who: &Credentials, path: &str, body: &Value) -> Answer {
    let request = app
        .client()
        .put(app.url(path))
        .basic_auth(&who.key, Some(&who.token))
        .header("content-type", "application/json")
        .body(body.to_string());
    app.send(request).await
}

/// Every operator route, aimed at acme and the user given (its phone, its id).
fn every_route(app: &TestApp, user: &Value) -> Vec<(Method, String, Option<Value>)> {
    let account = "/operator/v1/accounts/acme";
    let device = user["devices"][0]["id"].as_u64().unwrap();
    let user_id = user["id"].as_str().unwrap();
    let phone = user["devices"][0]["contact_uri"].clone();
    // Ordered so that, with the token, each one still has something to act on.
    vec![
        (Method::GET, "/operator/v1/accounts".to_owned(), None),
        (
            Method::POST,
            "/operator/v1/accounts".to_owned(),
            Some(json!({ "sid": "initech" })),
        ),
        (Method::GET, account.to_owned(), None),
        (
            Method::PUT,
            account.to_owned(),
            Some(json!({ "name": "Acme Corp" })),
        ),
        (Method::GET, format!("{account}/keys"), None),
        (Method::POST, format!("{account}/keys"), None),
        (
            Method::POST,
            format!("{account}/verifications"),
            Some(json!({ "contact_uri": phone })),
        ),
        (
            Method::POST,
            format!("{account}/devices/{device}/calls/start"),
            None,
        ),
        (
            Method::POST,
            format!("{account}/devices/{device}/calls/end"),
            None,
        ),
        (
            Method::POST,
            format!("{account}/users/{user_id}/logins"),
            None,
        ),
        (Method::GET, format!("{account}/sip-credentials/asha"), None),
        (
            Method::DELETE,
            format!("/operator/v1/keys/{}", app.acme.key),
            None,
        ),
        (Method::DELETE, account.to_owned(), None),
    ]
}

/// Checks the envelope of an unpaged list and returns each item's `data`.
fn assert_list(answer: &Answer) -> Vec<&Value> {
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(
        keys(&answer.body),
        ["request_id", "method", "http_code", "response"]
    );
    assert_eq!(answer.body["http_code"], 200);
    assert_eq!(
        answer.header("x-request-id"),
        answer.body["request_id"].as_str()
    );
    answer.body["response"]
        .as_array()
        .unwrap_or_else(|| panic!("response is not an array: {}", answer.body))
        .iter()
        .map(|item| {
            assert_eq!(keys(item), ["code", "status", "data"], "{item}");
            assert_eq!(item["code"], 200);
            assert_eq!(item["status"], "success");
            &item["data"]
        })
        .collect()
}

async fn keys_of(app: &TestApp, sid: &str) -> Vec<Value> {
    let answer = op_get(app, &format!("/operator/v1/accounts/{sid}/keys")).await;
    assert_list(&answer).into_iter().cloned().collect()
}

/// Issues a key over the operator API.
async fn issue_key(app: &TestApp, sid: &str) -> Credentials {
    let answer = op_post(
        app,
        &format!("/operator/v1/accounts/{sid}/keys"),
        &json!({}),
    )
    .await;
    credentials(sid, answer.assert_success())
}

/// Creates an account over the operator API with `settings` and issues it a key.
async fn operator_account(app: &TestApp, sid: &str, mut settings: Value) -> Credentials {
    settings["sid"] = json!(sid);
    op_post(app, "/operator/v1/accounts", &settings)
        .await
        .assert_success();
    issue_key(app, sid).await
}

fn credentials(sid: &str, issued: &Value) -> Credentials {
    Credentials {
        sid: sid.to_owned(),
        key: issued["api_key"].as_str().unwrap().to_owned(),
        token: issued["api_token"].as_str().unwrap().to_owned(),
    }
}

/// A created user's `sip` device.
fn softphone(user: &Value) -> &Value {
    user["devices"]
        .as_array()
        .unwrap()
        .iter()
        .find(|device| device["type"] == "sip")
        .unwrap_or_else(|| panic!("no softphone: {user}"))
}

async fn set_sip_password(app: &TestApp, who: &Credentials, user: &Value, password: &str) {
    let path = format!(
        "/v2/accounts/{}/users/{}/devices/{}/password",
        who.sid,
        user["id"].as_str().unwrap(),
        softphone(user)["id"].as_u64().unwrap()
    );
    v2_put(app, who, &path, &json!({ "password": password }))
        .await
        .assert_success();
}

fn is_lower_hex(text: &str, length: usize) -> bool {
    text.len() == length && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// The digest coreutils' `md5sum` or `sha256sum` prints for `text`, in lower-case hex.
fn digest(tool: &str, text: &str) -> String {
    let mut child = Command::new(tool)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {tool}: {e}"));
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{tool} did not finish within 10 s");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "{tool} failed");
    let printed = String::from_utf8(output.stdout).unwrap();
    let hex = printed
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_owned();
    assert!(
        is_lower_hex(&hex, if tool == "md5sum" { 32 } else { 64 }),
        "{printed}"
    );
    hex
}

fn base64(text: &str) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let bytes = text.as_bytes();
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0_u32, |n, (i, b)| n | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Starts another server over the same database, with the operator token given (or none,
/// which switches the operator API off), and returns its address.
pub(crate) async fn spawn_node(
    database: &str,
    clock: Arc<ManualClock>,
    operator_token: Option<&str>,
) -> SocketAddr {
    // Loaded like the program does, so settings this test does not care about take their
    // defaults; the ones that matter are then set outright.
    let storage = StorageArgs {
        database: Some(database.to_owned()),
        config: None,
    };
    let serve = ServeArgs {
        listen: Some("127.0.0.1:0".to_owned()),
        ..ServeArgs::default()
    };
    let mut settings = Settings::load(&storage, &serve).unwrap();
    settings.token_pepper = None;
    settings.sip_realm = "roster".to_owned();
    settings.operator_token = operator_token.map(str::to_owned);
    let store = startup::open_store(&settings.database).await.unwrap();
    let directory = startup::open_directory(&settings, store, clock)
        .await
        .unwrap();
    let server = Server::bind(&settings, directory).await.unwrap();
    let address = server.local_addr().unwrap();
    // The test's runtime stops the server when the test ends.
    tokio::spawn(server.run_until(std::future::pending()));
    address
}
