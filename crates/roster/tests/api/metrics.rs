//! `/metrics`, `/healthz` and `/readyz`: the counters move with the traffic the test sends,
//! the probes answer without credentials, and readiness fails when storage is not right.

use std::collections::HashMap;
use std::time::Duration;

use reqwest::StatusCode;
use roster_domain::{AccountSettings, RateLimit};
use serde_json::{json, Value};
use tokio::time::Instant;

use crate::helpers::{user_id, TestApp};
use crate::webhooks::{Receiver, SECRET};

const USER_ROUTE: &str = "/v2/accounts/{sid}/users/{user_id}";
const LIST_ROUTE: &str = "/v2/accounts/{sid}/users";

/// One scrape: every sample by its series (name and labels, as written).
struct Scrape(HashMap<String, f64>);

impl Scrape {
    async fn take(app: &TestApp) -> Self {
        // No credentials: the endpoint is open, as docs/api.md says.
        let response = app.client().get(app.url("/metrics")).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let content_type = response.headers()["content-type"].to_str().unwrap();
        assert!(
            content_type.starts_with("text/plain; version=0.0.4"),
            "{content_type}"
        );
        let text = response.text().await.unwrap();
        let samples = text
            .lines()
            .filter(|line| !line.starts_with('#'))
            .map(|line| {
                let (series, value) = line.rsplit_once(' ').unwrap();
                (series.to_owned(), value.parse().unwrap())
            })
            .collect();
        Self(samples)
    }

    /// A sample's value; 0 for a series not yet written.
    fn get(&self, series: &str) -> f64 {
        self.0.get(series).copied().unwrap_or(0.0)
    }

    fn requests(&self, route: &str, method: &str, status: u16) -> f64 {
        self.get(&format!(
            "roster_http_requests_total{{route=\"{route}\",method=\"{method}\",status=\"{status}\"}}"
        ))
    }

    fn latency(&self, route: &str, method: &str, part: &str) -> f64 {
        let labels = format!("route=\"{route}\",method=\"{method}\"");
        let series = match part.strip_prefix("le=") {
            Some(le) => {
                format!("roster_http_request_duration_seconds_bucket{{{labels},le=\"{le}\"}}")
            }
            None => format!("roster_http_request_duration_seconds_{part}{{{labels}}}"),
        };
        self.get(&series)
    }

    fn rate_limited(&self, reason: &str) -> f64 {
        self.get(&format!("roster_rate_limited_total{{reason=\"{reason}\"}}"))
    }

    fn contains(&self, text: &str) -> bool {
        self.0.keys().any(|series| series.contains(text))
    }
}

#[tokio::test]
async fn requests_are_counted_by_route_template_method_and_status_with_their_latency() {
    let app = TestApp::spawn().await;
    let user = app.create_user(&app.acme, TestApp::new_user(1)).await;
    let path = format!("/v2/accounts/acme/users/{}", user_id(&user));
    let before = Scrape::take(&app).await;

    for _ in 0..3 {
        app.get(&app.acme, &path).await.assert_success();
    }
    let missing = "/v2/accounts/acme/users/00000000000000000000000000000000";
    app.get(&app.acme, missing)
        .await
        .assert_error(404, Some(10801));
    app.get(&app.globex, &path)
        .await
        .assert_error(403, Some(1003));
    app.delete(&app.acme, "/v2/accounts/acme/users")
        .await
        .assert_error(405, Some(1007));
    app.get(&app.acme, "/v2/accounts/acme/nothing-here")
        .await
        .assert_error(404, Some(1000));
    let after = Scrape::take(&app).await;

    let moved = |route: &str, method: &str, status: u16| {
        after.requests(route, method, status) - before.requests(route, method, status)
    };
    assert_eq!(moved(USER_ROUTE, "GET", 200), 3.0);
    assert_eq!(moved(USER_ROUTE, "GET", 404), 1.0);
    assert_eq!(moved(USER_ROUTE, "GET", 403), 1.0);
    assert_eq!(moved(LIST_ROUTE, "DELETE", 405), 1.0);
    assert_eq!(moved("unmatched", "GET", 404), 1.0);
    assert_eq!(after.requests(LIST_ROUTE, "POST", 200), 1.0);

    // Five GETs of the user route, each in one bucket; the buckets are cumulative.
    let count = |s: &Scrape| s.latency(USER_ROUTE, "GET", "count");
    assert_eq!(count(&after) - count(&before), 5.0);
    assert_eq!(after.latency(USER_ROUTE, "GET", "le=+Inf"), count(&after));
    let mut previous = 0.0;
    for le in ["0.0001", "0.001", "0.01", "0.1", "1", "10", "+Inf"] {
        let bucket = after.latency(USER_ROUTE, "GET", &format!("le={le}"));
        assert!(bucket >= previous, "le={le}: {bucket} < {previous}");
        previous = bucket;
    }
    let sum = after.latency(USER_ROUTE, "GET", "sum");
    assert!(sum > 0.0 && sum < 5.0, "{sum}");

    // Labels are templates: no path, user id or account sid, and scrapes count nothing.
    assert!(!after.contains(&user_id(&user)));
    assert!(!after.contains("acme"));
    assert!(!after.contains("nothing-here"));
    assert!(!after.contains("/metrics"));
}

#[tokio::test]
async fn refusals_with_429_are_counted_by_reason() {
    let app = TestApp::spawn().await;
    let settings = AccountSettings {
        rate_limit: Some(RateLimit::new(1).unwrap()),
        ..Default::default()
    };
    let small = app.account("small", settings).await;
    let path = "/v2/accounts/small/users";
    let before = Scrape::take(&app).await;
    assert_eq!(before.rate_limited("account_budget"), 0.0);
    assert_eq!(before.rate_limited("failed_auth"), 0.0);

    assert_eq!(app.get(&small, path).await.status, StatusCode::OK);
    app.get(&small, path).await.assert_error(429, None);
    app.get(&small, path).await.assert_error(429, None);
    let budget = Scrape::take(&app).await;
    assert_eq!(budget.rate_limited("account_budget"), 2.0);
    assert_eq!(budget.rate_limited("failed_auth"), 0.0);
    assert_eq!(budget.requests(LIST_ROUTE, "GET", 429), 2.0);

    // The test server allows 30 failed authentications a minute from one address.
    let mut wrong = small.clone();
    wrong.token = "not-the-token".to_owned();
    for _ in 0..30 {
        app.get(&wrong, path).await.assert_error(401, Some(1010));
    }
    app.get(&wrong, path).await.assert_error(429, None);
    let failures = Scrape::take(&app).await;
    assert_eq!(failures.rate_limited("failed_auth"), 1.0);
    assert_eq!(failures.rate_limited("account_budget"), 2.0);
    assert_eq!(failures.requests(LIST_ROUTE, "GET", 401), 30.0);
    assert_eq!(failures.requests(LIST_ROUTE, "GET", 429), 3.0);
}

#[tokio::test]
async fn probes_and_scrapes_are_neither_authenticated_nor_rate_limited() {
    let app = TestApp::spawn().await;
    // More than the 30 failed authentications a minute the gate allows one address,
    // each with credentials that would fail there.
    for path in ["/metrics", "/healthz", "/readyz"] {
        for _ in 0..12 {
            let request = app
                .client()
                .get(app.url(path))
                .basic_auth("unknown-key", Some("wrong"));
            let response = request.send().await.unwrap();
            assert_eq!(response.status(), StatusCode::OK, "{path}");
        }
    }
    let path = "/v2/accounts/acme/users";
    let first = app.get(&app.acme, path).await;
    assert_eq!(first.header("x-ratelimit-remaining"), Some("199"));
    let mut wrong = app.acme.clone();
    wrong.token = "not-the-token".to_owned();
    app.get(&wrong, path).await.assert_error(401, Some(1010));
    assert_eq!(Scrape::take(&app).await.rate_limited("failed_auth"), 0.0);
}

#[tokio::test]
async fn the_event_stream_gauge_counts_open_streams_until_their_clients_go_away() {
    let app = TestApp::spawn().await;
    let gauge = |s: &Scrape| s.get("roster_sse_clients");
    assert_eq!(gauge(&Scrape::take(&app).await), 0.0);

    let open = || {
        app.client()
            .get(app.url("/v2/accounts/acme/events"))
            .basic_auth(&app.acme.key, Some(&app.acme.token))
            .send()
    };
    let first = open().await.unwrap();
    assert_eq!(first.status(), StatusCode::OK);
    assert_eq!(gauge(&Scrape::take(&app).await), 1.0);
    let second = open().await.unwrap();
    assert_eq!(second.status(), StatusCode::OK);
    assert_eq!(gauge(&Scrape::take(&app).await), 2.0);

    drop(first);
    wait_for_gauge(&app, 1.0).await;
    drop(second);
    wait_for_gauge(&app, 0.0).await;
}

/// Waits, a bounded time, for the server to notice clients gone.
async fn wait_for_gauge(app: &TestApp, expected: f64) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let value = Scrape::take(app).await.get("roster_sse_clients");
        if value == expected {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "roster_sse_clients stayed {value}, expected {expected}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn events_are_counted_once_committed_and_refused_writes_count_none() {
    let app = TestApp::spawn().await;
    let events = |s: &Scrape| s.get("roster_events_emitted_total");
    let before = events(&Scrape::take(&app).await);
    assert_eq!(before, 0.0);

    let user = app.create_user(&app.acme, TestApp::new_user(1)).await;
    assert_eq!(events(&Scrape::take(&app).await), 1.0);

    // Same email: the create is refused inside its transaction, which rolls back.
    let mut clash = TestApp::new_user(2);
    clash["email"] = json!("asha1@example.com");
    app.post(
        &app.acme,
        LIST_ROUTE.replace("{sid}", "acme").as_str(),
        &clash,
    )
    .await
    .assert_error(409, Some(10813));
    let path = format!("/v2/accounts/acme/users/{}", user_id(&user));
    app.put(&app.acme, &path, &json!({"first_name": "Meera"}))
        .await
        .assert_success();
    app.delete(&app.acme, &path).await.assert_success();
    assert_eq!(events(&Scrape::take(&app).await), 3.0);
}

#[tokio::test]
async fn storage_connection_gauges_are_shown() {
    let app = TestApp::spawn().await;
    app.get(&app.acme, "/v2/accounts/acme/users")
        .await
        .assert_page();
    let scrape = Scrape::take(&app).await;
    let idle = "roster_storage_connections{state=\"idle\"}";
    let in_use = "roster_storage_connections{state=\"in_use\"}";
    for series in [idle, in_use, "roster_storage_waiting"] {
        assert!(scrape.0.contains_key(series), "{series} missing");
    }
    // The list's connection went back to the pool once the answer was read.
    assert!(scrape.get(idle) >= 1.0, "{}", scrape.get(idle));
    assert_eq!(scrape.get(in_use), 0.0);
    assert_eq!(scrape.get("roster_storage_waiting"), 0.0);
    for outcome in ["delivered", "failed", "parked"] {
        let series = format!("roster_webhook_deliveries_total{{outcome=\"{outcome}\"}}");
        assert_eq!(scrape.0.get(&series), Some(&0.0), "{series}");
    }
}

async fn probe(app: &TestApp, path: &str) -> (StatusCode, Value) {
    let response = app.client().get(app.url(path)).send().await.unwrap();
    let status = response.status();
    assert_eq!(
        response.headers()["content-type"].to_str().unwrap(),
        "application/json"
    );
    (status, response.json().await.unwrap())
}

#[tokio::test]
async fn healthz_and_readyz_answer_ok_without_credentials() {
    let app = TestApp::spawn().await;
    let (status, body) = probe(&app, "/healthz").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, json!({"status": "ok"}));

    let (status, body) = probe(&app, "/readyz").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body,
        json!({"status": "ok", "checks": {"storage": "ok", "schema": "ok"}})
    );
}

fn known_version(app: &TestApp) -> i64 {
    match app.backend.name() {
        "postgres" => roster_store::postgres::KNOWN_VERSION,
        _ => roster_store::sqlite::KNOWN_VERSION,
    }
}

#[tokio::test]
async fn readyz_fails_when_the_schema_moves_past_this_build_and_when_storage_fails() {
    let app = TestApp::spawn().await;
    let newer = known_version(&app) + 1;
    // What a newer roster sharing the database would leave behind.
    app.backend
        .execute(&format!(
            "INSERT INTO roster_migrations (version, applied_at) VALUES ({newer}, 0)"
        ))
        .await;

    let (status, body) = probe(&app, "/readyz").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body["status"], "unavailable");
    assert_eq!(body["checks"]["storage"], "ok");
    let schema = body["checks"]["schema"].as_str().unwrap();
    assert!(schema.contains(&format!("version {newer}")), "{schema}");
    // The process itself is fine.
    assert_eq!(probe(&app, "/healthz").await.0, StatusCode::OK);

    app.backend.execute("DROP TABLE roster_migrations").await;
    let (status, body) = probe(&app, "/readyz").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        body,
        json!({"status": "unavailable", "checks": {"storage": "failed", "schema": "unknown"}})
    );
}

#[tokio::test]
async fn webhook_deliveries_failed_attempts_and_parked_events_are_counted() {
    let app = TestApp::spawn().await;
    // acme's receiver fails once, then takes everything; globex's never takes anything
    // within the tests' 3 s of retries.
    let flaky = Receiver::start(&[500], Duration::ZERO).await;
    let dead = Receiver::start(&[503; 20], Duration::ZERO).await;
    for (sid, receiver) in [("acme", &flaky), ("globex", &dead)] {
        let url = &receiver.url;
        let hook = app.directory.add_webhook(sid, url, Some(SECRET.to_owned()));
        hook.await.unwrap();
    }
    app.create_user(&app.acme, TestApp::new_user(1)).await;
    app.create_user(&app.acme, TestApp::new_user(2)).await;
    app.create_user(&app.globex, TestApp::new_user(3)).await;
    flaky.until_delivered(2, Duration::from_secs(10)).await;

    let outcome = |s: &Scrape, name: &str| {
        s.get(&format!(
            "roster_webhook_deliveries_total{{outcome=\"{name}\"}}"
        ))
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    let scrape = loop {
        let scrape = Scrape::take(&app).await;
        if outcome(&scrape, "delivered") >= 2.0 && outcome(&scrape, "parked") >= 1.0 {
            break scrape;
        }
        assert!(Instant::now() < deadline, "{:?}", scrape.0);
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(outcome(&scrape, "delivered"), 2.0);
    assert_eq!(outcome(&scrape, "parked"), 1.0);
    // acme's one failure, and every attempt at globex's event.
    let failed = outcome(&scrape, "failed");
    let attempts_at_dead = dead.until_delivered(1, Duration::ZERO).await.len();
    assert_eq!(failed, 1.0 + attempts_at_dead as f64, "{failed}");
}
