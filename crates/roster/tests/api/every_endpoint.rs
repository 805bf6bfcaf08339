//! What §3 and §6 require of every endpoint, checked on the list, update, delete and
//! device endpoints: the gate in its order, the budget headers, both spellings of
//! `accounts`, and wrong methods.

use reqwest::Method;
use roster_domain::AccountSettings;
use serde_json::{json, Value};

use crate::helpers::{device_id, user_id, Answer, Credentials, TestApp};

/// An id no user has; the gate must answer before the id is ever looked at.
const NO_USER: &str = "9f7100ea9a484b75aadefa94303f62eb";

/// What the calls of `endpoints` answer, in order, for a fresh user with one phone.
const EXPECTED_STATUSES: [u16; 8] = [200, 200, 200, 200, 200, 400, 200, 200];

/// The endpoints under test, as (method, path under `/v2/accounts/{sid}`, body).
fn endpoints(user: &str, device: u64) -> Vec<(Method, String, Option<Value>)> {
    vec![
        (Method::GET, "/users?limit=5".to_owned(), None),
        (
            Method::PUT,
            format!("/users/{user}"),
            Some(json!({"first_name": "Ravi"})),
        ),
        (Method::GET, format!("/users/{user}/devices"), None),
        (
            Method::POST,
            format!("/users/{user}/devices"),
            Some(json!({"contact_uri": "+919999900001"})),
        ),
        (
            Method::PUT,
            format!("/users/{user}/devices/{device}"),
            Some(json!({"available": false})),
        ),
        (
            Method::PUT,
            format!("/users/{user}/devices/{device}/password"),
            Some(json!({"password": "Str0ng-Secret"})),
        ),
        (
            Method::DELETE,
            format!("/users/{user}/devices/{device}"),
            None,
        ),
        (Method::DELETE, format!("/users/{user}"), None),
    ]
}

async fn call(
    app: &TestApp,
    who: Option<&Credentials>,
    segment: &str,
    sid: &str,
    (method, path, body): &(Method, String, Option<Value>),
) -> Answer {
    let url = app.url(&format!("/v2/{segment}/{sid}{path}"));
    let mut request = app.client().request(method.clone(), url);
    if let Some(who) = who {
        request = request.basic_auth(&who.key, Some(&who.token));
    }
    if let Some(body) = body {
        request = request
            .header("content-type", "application/json")
            .body(body.to_string());
    }
    app.send(request).await
}

#[tokio::test]
async fn every_endpoint_reports_the_budget_and_counts_every_answer() {
    let app = TestApp::spawn().await;
    let user = app.create_user(&app.acme, TestApp::new_user(1)).await;
    let endpoints = endpoints(&user_id(&user), device_id(&user, 0));

    let mut answers = Vec::new();
    for endpoint in &endpoints {
        answers.push(call(&app, Some(&app.acme), "accounts", "acme", endpoint).await);
    }

    let statuses: Vec<u16> = answers.iter().map(|a| a.status.as_u16()).collect();
    assert_eq!(statuses, EXPECTED_STATUSES, "{answers:?}");
    // The create spent one request; each call after it spends one more, whatever it answers.
    for (spent, (answer, (method, path, _))) in answers.iter().zip(&endpoints).enumerate() {
        assert_eq!(
            answer.header("x-ratelimit-limit"),
            Some("200"),
            "{method} {path}"
        );
        let remaining = (198 - spent).to_string();
        assert_eq!(
            answer.header("x-ratelimit-remaining"),
            Some(remaining.as_str()),
            "{method} {path}: {}",
            answer.body
        );
        assert!(
            answer.header("x-ratelimit-reset").is_some(),
            "{method} {path}"
        );
    }
}

#[tokio::test]
async fn every_endpoint_answers_under_both_spellings_of_accounts() {
    let app = TestApp::spawn().await;
    let user = app.create_user(&app.acme, TestApp::new_user(1)).await;
    let endpoints = endpoints(&user_id(&user), device_id(&user, 0));

    let mut answers = Vec::new();
    for endpoint in &endpoints {
        answers.push(call(&app, Some(&app.acme), "Accounts", "acme", endpoint).await);
    }

    let statuses: Vec<u16> = answers.iter().map(|a| a.status.as_u16()).collect();
    // The password is refused only because the user's device is a phone.
    assert_eq!(statuses, EXPECTED_STATUSES, "{answers:?}");
    answers[5].assert_error(400, Some(1002));
}

#[tokio::test]
async fn every_endpoint_refuses_missing_credentials_and_another_accounts_key() {
    let app = TestApp::spawn().await;
    let user = app.create_user(&app.acme, TestApp::new_user(1)).await;
    let endpoints = endpoints(&user_id(&user), device_id(&user, 0));

    for endpoint in &endpoints {
        call(&app, None, "accounts", "acme", endpoint)
            .await
            .assert_error(401, Some(1010));
        call(&app, Some(&app.globex), "accounts", "acme", endpoint)
            .await
            .assert_error(403, Some(1003));
    }

    let still = app
        .get(
            &app.acme,
            &format!("/v2/accounts/acme/users/{}?fields=devices", user_id(&user)),
        )
        .await;
    assert_eq!(still.assert_success(), &user);
}

#[tokio::test]
async fn every_endpoint_refuses_accounts_without_kyc_and_trial_accounts() {
    let app = TestApp::spawn().await;
    let pending = app
        .account(
            "pending",
            AccountSettings {
                kyc_complete: Some(false),
                trial: Some(true),
                ..Default::default()
            },
        )
        .await;
    let trial = app
        .account(
            "trial",
            AccountSettings {
                trial: Some(true),
                ..Default::default()
            },
        )
        .await;
    let endpoints = endpoints(NO_USER, 12345);

    for endpoint in &endpoints {
        call(&app, Some(&pending), "accounts", "pending", endpoint)
            .await
            .assert_error(403, Some(10814));
        call(&app, Some(&trial), "accounts", "trial", endpoint)
            .await
            .assert_error(403, Some(10815));
    }
}

#[tokio::test]
async fn wrong_methods_on_the_new_routes_are_refused_with_the_allowed_ones() {
    let app = TestApp::spawn().await;
    let base = format!("/users/{NO_USER}");
    let cases = [
        (Method::POST, base.clone(), vec!["GET", "PUT", "DELETE"]),
        (Method::PUT, format!("{base}/devices"), vec!["GET", "POST"]),
        (
            Method::GET,
            format!("{base}/devices/12345"),
            vec!["PUT", "DELETE"],
        ),
        (
            Method::DELETE,
            format!("{base}/devices/12345/password"),
            vec!["PUT"],
        ),
        (Method::PUT, "/users".to_owned(), vec!["GET", "POST"]),
    ];

    for (method, path, allowed) in cases {
        let answer = call(
            &app,
            Some(&app.acme),
            "accounts",
            "acme",
            &(method.clone(), path.clone(), None),
        )
        .await;
        answer.assert_error(405, Some(1007));
        let header: Vec<&str> = answer
            .header("allow")
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .collect();
        for expected in &allowed {
            assert!(header.contains(expected), "{method} {path}: {header:?}");
        }
        assert!(
            !header.contains(&method.as_str()),
            "{method} {path}: {header:?}"
        );
    }
}
