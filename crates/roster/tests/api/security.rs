//! Who may reach what: every Users API endpoint against another account's ids, with a
//! revoked key, with the key of a deleted account and from the wrong region; the operator
//! token's failures limited like the API's; an unknown key and a wrong token alike in
//! answer and in time.
//!
//! Already elsewhere: missing credentials and another account's key on every endpoint
//! (every_endpoint.rs), the operator token on every operator route (operator.rs), secrets
//! in the real binary's logs and at rest (tests/secrets.rs).

use std::time::{Duration, Instant};

use reqwest::header::HeaderMap;
use reqwest::Method;
use roster_domain::{AccountSettings, RegionName};
use serde_json::{json, Value};

use crate::helpers::{device_of_type, user_id, Answer, Credentials, TestApp, OPERATOR_TOKEN};

/// A Users API call: method, path under `/v2/accounts/{sid}`, body.
type Call = (Method, String, Option<Value>);

/// Every Users API endpoint, naming `user`, its phone and its softphone.
fn every_call(user: &str, phone: u64, sip: u64) -> Vec<Call> {
    let user_path = format!("/users/{user}");
    vec![
        (
            Method::POST,
            "/users".to_owned(),
            Some(TestApp::new_user(90)),
        ),
        (Method::GET, "/users?fields=devices".to_owned(), None),
        (Method::GET, format!("{user_path}?fields=devices"), None),
        (
            Method::PUT,
            user_path.clone(),
            Some(json!({"first_name": "Mallory"})),
        ),
        (Method::GET, format!("{user_path}/devices"), None),
        (
            Method::POST,
            format!("{user_path}/devices"),
            Some(json!({"contact_uri": "+919999900009"})),
        ),
        (
            Method::PUT,
            format!("{user_path}/devices/{phone}"),
            Some(json!({"available": false})),
        ),
        (
            Method::PUT,
            format!("{user_path}/devices/{sip}/password"),
            Some(json!({"password": "Mall0ry-Secret"})),
        ),
        (Method::DELETE, format!("{user_path}/devices/{phone}"), None),
        (Method::DELETE, user_path, None),
    ]
}

async fn call(app: &TestApp, who: &Credentials, sid: &str, (method, path, body): &Call) -> Answer {
    let mut request = app
        .client()
        .request(
            method.clone(),
            app.url(&format!("/v2/accounts/{sid}{path}")),
        )
        .basic_auth(&who.key, Some(&who.token));
    if let Some(body) = body {
        request = request
            .header("content-type", "application/json")
            .body(body.to_string());
    }
    app.send(request).await
}

/// A user of `who` with a phone and a softphone: its id, the phone's and the softphone's.
async fn user_with_two_devices(app: &TestApp, who: &Credentials, n: u32) -> (String, u64, u64) {
    let user = app.create_user(who, TestApp::new_user(n)).await;
    let id = user_id(&user);
    let phone = device_of_type(&user, "tel");
    let softphone = app
        .post(
            who,
            &format!("/v2/accounts/{}/users/{id}/devices", who.sid),
            &json!({"contact_uri": format!("sip:{}user{n}", who.sid)}),
        )
        .await;
    let sip = softphone.assert_success()["id"].as_u64().unwrap();
    (id, phone, sip)
}

/// Everything `who` can read of its account: every user with devices, as one value.
async fn everything(app: &TestApp, who: &Credentials) -> Value {
    let answer = app
        .get(
            who,
            &format!("/v2/accounts/{}/users?fields=devices&limit=50", who.sid),
        )
        .await;
    let (_, users) = answer.assert_page();
    Value::Array(users.into_iter().cloned().collect())
}

#[tokio::test]
async fn another_accounts_users_and_devices_are_not_found_on_any_endpoint() {
    let app = TestApp::spawn().await;
    let (acme_user, acme_phone, acme_sip) = user_with_two_devices(&app, &app.acme, 1).await;
    let (globex_user, globex_phone, globex_sip) = user_with_two_devices(&app, &app.globex, 2).await;
    app.put(
        &app.acme,
        &format!("/v2/accounts/acme/users/{acme_user}/devices/{acme_sip}/password"),
        &json!({"password": "Acme-Secret-1"}),
    )
    .await
    .assert_success();
    let acme_before = everything(&app, &app.acme).await;

    // globex's key, globex's path, acme's user: no such user here.
    for call_ in every_call(&acme_user, acme_phone, acme_sip).iter().skip(2) {
        let answer = call(&app, &app.globex, "globex", call_).await;
        answer.assert_error(404, Some(10801));
        assert_eq!(answer.header("x-ratelimit-limit"), Some("200"));
    }
    // globex's own user with acme's devices: no such device of this user.
    for call_ in every_call(&globex_user, acme_phone, acme_sip)
        .iter()
        .skip(6)
        .take(3)
    {
        call(&app, &app.globex, "globex", call_)
            .await
            .assert_error(404, Some(1000));
    }
    // acme's key in globex's path, naming globex's things: the account check comes first.
    for call_ in every_call(&globex_user, globex_phone, globex_sip) {
        call(&app, &app.acme, "globex", &call_)
            .await
            .assert_error(403, Some(1003));
    }
    // The operator, asked about acme's things under globex, finds none of them.
    let op = "/operator/v1/accounts/globex";
    for (method, path, body) in [
        (Method::POST, format!("{op}/users/{acme_user}/logins"), None),
        (
            Method::POST,
            format!("{op}/devices/{acme_phone}/calls/start"),
            None,
        ),
        (Method::GET, format!("{op}/sip-credentials/acmeuser1"), None),
        (
            Method::POST,
            format!("{op}/verifications"),
            Some(json!({"contact_uri": "+919812300001"})),
        ),
    ] {
        let mut request = app
            .client()
            .request(method, app.url(&path))
            .bearer_auth(OPERATOR_TOKEN);
        if let Some(body) = body {
            request = request.json(&body);
        }
        app.send(request).await.assert_error(404, Some(1000));
    }

    assert_eq!(everything(&app, &app.acme).await, acme_before);
    let globex = everything(&app, &app.globex).await;
    assert!(!globex.to_string().contains(&acme_user), "{globex}");
    let credentials = app
        .directory
        .sip_credentials("acme", "acmeuser1")
        .await
        .unwrap();
    assert_eq!(credentials.user_id.to_string(), acme_user);
}

#[tokio::test]
async fn a_revoked_key_a_deleted_accounts_key_and_the_wrong_region_are_refused_everywhere() {
    let app = TestApp::spawn().await;
    let revoked = app.account("revoked", AccountSettings::default()).await;
    let (revoked_user, revoked_phone, revoked_sip) = user_with_two_devices(&app, &revoked, 1).await;
    let before = everything(&app, &revoked).await;
    app.directory.revoke_key(&revoked.key).await.unwrap();

    let doomed = app.account("doomed", AccountSettings::default()).await;
    let (doomed_user, doomed_phone, doomed_sip) = user_with_two_devices(&app, &doomed, 2).await;
    app.directory.delete_account("doomed").await.unwrap();

    let mumbai = AccountSettings {
        region: Some(RegionName::parse("mumbai").unwrap()),
        ..Default::default()
    };
    let mumbai = app.account("mumbaico", mumbai).await;

    for call_ in every_call(&revoked_user, revoked_phone, revoked_sip) {
        let answer = call(&app, &revoked, "revoked", &call_).await;
        answer.assert_error(401, Some(1010));
        assert_eq!(
            answer.header("www-authenticate"),
            Some("Basic realm=\"roster\"")
        );
        assert_eq!(answer.header("x-ratelimit-limit"), None);
    }
    for call_ in every_call(&doomed_user, doomed_phone, doomed_sip) {
        call(&app, &doomed, "doomed", &call_)
            .await
            .assert_error(401, Some(1010));
    }
    for call_ in every_call(&revoked_user, revoked_phone, revoked_sip) {
        let answer = call(&app, &mumbai, "mumbaico", &call_).await;
        answer.assert_error(401, Some(1010));
        assert!(answer.description().contains("mumbai"), "{}", answer.body);
    }

    // Nothing was done: a new key of the account sees it as it was, and the other
    // region's account and the deleted one hold no users.
    let issued = app.directory.issue_key("revoked").await.unwrap();
    let renewed = Credentials {
        key: issued.key.id.to_string(),
        token: issued.token.expose().to_owned(),
        ..revoked
    };
    assert_eq!(everything(&app, &renewed).await, before);
    let counts = app
        .backend
        .strings(
            "SELECT count(*) FROM users WHERE account_sid IN ('mumbaico', 'doomed') \
             UNION ALL SELECT count(*) FROM devices WHERE account_sid IN ('mumbaico', 'doomed')",
        )
        .await;
    assert_eq!(counts, ["0", "0"]);
}

#[tokio::test]
async fn wrong_operator_tokens_count_against_the_addresss_failure_budget() {
    let app = TestApp::spawn().await;
    let accounts = app.url("/operator/v1/accounts");
    let wrong = || {
        app.client()
            .get(&accounts)
            .bearer_auth("operator-token-for-tesTS")
    };
    for _ in 0..30 {
        app.send(wrong()).await.assert_error(401, Some(1010));
    }

    let limited = app.send(wrong()).await;
    let missing = app.send(app.client().get(&accounts)).await;
    let right = app
        .send(app.client().get(&accounts).bearer_auth(OPERATOR_TOKEN))
        .await;
    let users_api = app.get(&app.acme, "/v2/accounts/acme/users").await;

    limited.assert_error(429, None);
    let retry_after: i64 = limited.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry_after), "{retry_after}");
    missing.assert_error(429, None);
    assert_eq!(right.status, 200, "{}", right.body);
    assert_eq!(users_api.status, 200, "{}", users_api.body);
    app.clock.advance(60);
    app.send(wrong()).await.assert_error(401, Some(1010));
}

// ---------------------------------------------------------------------------------------
// An unknown key and a wrong token
// ---------------------------------------------------------------------------------------

/// Pairs measured per attempt, after the warm-up.
const SAMPLES: usize = 200;
const WARM_UP: usize = 20;
/// The medians may differ by this share of the smaller one, or by `FLOOR`.
const TOLERANCE: f64 = 0.25;
const FLOOR: Duration = Duration::from_micros(100);
/// Failed credentials an address may make in a minute before 429s (the test server's).
const FAILURES_PER_MINUTE: usize = 30;

#[tokio::test]
async fn an_unknown_key_and_a_wrong_token_get_the_same_answer_in_the_same_time() {
    let app = TestApp::spawn().await;
    let path = "/v2/accounts/acme/users/9f7100ea9a484b75aadefa94303f62eb";
    let wrong_token = "0".repeat(64);
    let unknown_key = "0".repeat(40);

    // The same answer, apart from the request id.
    let unknown = timed(&app, path, &unknown_key, &wrong_token).await.0;
    let wrong = timed(&app, path, &app.acme.key, &wrong_token).await.0;
    unknown.assert_error(401, Some(1010));
    assert_eq!(unknown.status, wrong.status);
    assert_eq!(unknown.body["response"], wrong.body["response"]);
    assert_eq!(comparable(&unknown.headers), comparable(&wrong.headers));

    // Sent again and again, both are answered from the key cache; each sent once, both
    // read the database (one finds the key, the other does not). Neither may tell.
    let mut report = Vec::new();
    for fresh in [false, true] {
        let mut attempts = Vec::new();
        for _ in 0..3 {
            let timing = measure(&app, path, fresh).await;
            attempts.push(format!("{timing:?}"));
            if timing.alike() {
                break;
            }
            assert!(
                attempts.len() < 3,
                "fresh keys: {fresh}; the round trips differ beyond {TOLERANCE} or \
                 {FLOOR:?} in every attempt: {attempts:?}"
            );
        }
        report.push(format!("fresh keys {fresh}: {attempts:?}"));
    }
    eprintln!("{report:#?}");
}

/// What one attempt measured, in microseconds.
#[derive(Debug)]
struct Timing {
    unknown_key: f64,
    wrong_token: f64,
    /// The median of each pair's difference, unknown key minus wrong token. Both requests
    /// of a pair go out back to back, so a burst of load elsewhere that slows both
    /// cancels out, and one that slows only one is an outlier the median ignores.
    paired_difference: f64,
}

impl Timing {
    fn alike(&self) -> bool {
        let typical = self.unknown_key.min(self.wrong_token);
        let floor = FLOOR.as_secs_f64() * 1e6;
        self.paired_difference.abs() <= floor.max(typical * TOLERANCE)
    }
}

/// `SAMPLES` interleaved pairs of round trips: an unknown key, and acme's key with a
/// wrong token. With `fresh`, every request names a key no request named before.
async fn measure(app: &TestApp, path: &str, fresh: bool) -> Timing {
    let wrong_token = "0".repeat(64);
    let mut known = Vec::new();
    let mut unknown = Vec::new();
    for _ in 0..WARM_UP + SAMPLES {
        if fresh {
            let issued = app.directory.issue_key("acme").await.unwrap();
            known.push(issued.key.id.to_string());
            unknown.push(random_key());
        } else {
            known.push(app.acme.key.clone());
            unknown.push("0".repeat(40));
        }
    }

    let mut unknown_times = Vec::new();
    let mut wrong_times = Vec::new();
    // Both kinds count as failures of this address: a new minute starts before the budget
    // runs out, so every sample is a 401 and not a 429.
    let mut failures = FAILURES_PER_MINUTE;
    for i in 0..WARM_UP + SAMPLES {
        if failures + 2 > FAILURES_PER_MINUTE {
            app.clock.advance(60);
            failures = 0;
        }
        failures += 2;
        let first_unknown = i % 2 == 0;
        let mut pair = [Duration::ZERO; 2];
        for unknown_now in [first_unknown, !first_unknown] {
            let key = if unknown_now { &unknown[i] } else { &known[i] };
            let (answer, took) = timed(app, path, key, &wrong_token).await;
            answer.assert_error(401, Some(1010));
            pair[usize::from(!unknown_now)] = took;
        }
        if i >= WARM_UP {
            unknown_times.push(pair[0]);
            wrong_times.push(pair[1]);
        }
    }
    let micros = |d: &Duration| d.as_secs_f64() * 1e6;
    let differences = unknown_times
        .iter()
        .zip(&wrong_times)
        .map(|(u, w)| micros(u) - micros(w))
        .collect();
    Timing {
        unknown_key: median(unknown_times.iter().map(micros).collect()),
        wrong_token: median(wrong_times.iter().map(micros).collect()),
        paired_difference: median(differences),
    }
}

async fn timed(app: &TestApp, path: &str, key: &str, token: &str) -> (Answer, Duration) {
    let request = app.client().get(app.url(path)).basic_auth(key, Some(token));
    let started = Instant::now();
    let answer = app.send(request).await;
    (answer, started.elapsed())
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// Headers that should not differ between two refusals: all but the request id and date.
fn comparable(headers: &HeaderMap) -> Vec<(String, String)> {
    let mut pairs: Vec<(String, String)> = headers
        .iter()
        .filter(|(name, _)| !matches!(name.as_str(), "x-request-id" | "date"))
        .map(|(name, value)| (name.to_string(), value.to_str().unwrap().to_owned()))
        .collect();
    pairs.sort();
    pairs
}

/// 40 random lower-case hex characters: a well-formed key nobody was issued.
fn random_key() -> String {
    let mut key = uuid::Uuid::new_v4().simple().to_string();
    key.push_str(&uuid::Uuid::new_v4().simple().to_string()[..8]);
    key
}
