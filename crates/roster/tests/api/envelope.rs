//! What every answer shares, and the framework's own refusals in the same envelope.

use std::collections::HashSet;

use crate::helpers::{logs, TestApp};

#[tokio::test]
async fn every_request_gets_its_own_request_id() {
    let app = TestApp::spawn().await;
    let path = "/v2/accounts/acme/users/9f7100ea9a484b75aadefa94303f62eb";

    let mut ids = HashSet::new();
    for _ in 0..20 {
        let answer = app.get(&app.acme, path).await;
        answer.assert_error(404, Some(10801));
        ids.insert(answer.body["request_id"].as_str().unwrap().to_owned());
    }

    assert_eq!(ids.len(), 20);
}

#[tokio::test]
async fn an_unknown_route_is_not_found() {
    let app = TestApp::spawn().await;

    // `/` is the dashboard's home page.
    for path in [
        "/v2",
        "/v2/accounts/acme",
        "/v2/accounts/acme/agents",
        "/v3/accounts/acme/users",
    ] {
        app.get(&app.acme, path).await.assert_error(404, Some(1000));
    }
}

#[tokio::test]
async fn a_wrong_method_is_refused_with_the_allowed_ones() {
    let app = TestApp::spawn().await;
    let request = app.client().patch(app.url("/v2/accounts/acme/users"));

    let answer = app.send(request).await;

    answer.assert_error(405, Some(1007));
    assert_eq!(answer.body["method"], "PATCH");
    let allowed: Vec<&str> = answer
        .header("allow")
        .unwrap()
        .split(',')
        .map(str::trim)
        .collect();
    assert!(
        allowed.contains(&"GET") && allowed.contains(&"POST"),
        "{allowed:?}"
    );
    assert!(!allowed.contains(&"PATCH"));
}

#[tokio::test]
async fn a_storage_failure_is_an_opaque_500_logged_with_its_request_id() {
    let app = TestApp::spawn().await;
    let id = app.create_user(&app.acme, TestApp::new_user(1)).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let drop = match app.backend.name() {
        "postgres" => "DROP TABLE devices CASCADE",
        _ => "PRAGMA foreign_keys = OFF; DROP TABLE devices;",
    };
    app.backend.execute(drop).await;

    let answer = app
        .get(
            &app.acme,
            &format!("/v2/accounts/acme/users/{id}?fields=devices"),
        )
        .await;

    answer.assert_error(500, Some(1004));
    let text = answer.body.to_string();
    assert!(
        !text.contains("devices") && !text.contains("sqlite") && !text.contains("table"),
        "{text}"
    );
    let request_id = answer.body["request_id"].as_str().unwrap();
    let logged = logs();
    let line = logged
        .lines()
        .find(|l| l.contains(request_id) && l.contains("ERROR"));
    assert!(
        line.is_some_and(|l| l.contains("devices")),
        "no error line for {request_id}"
    );
}

#[tokio::test]
async fn each_request_is_logged_once_without_its_credentials() {
    let app = TestApp::spawn().await;
    let path = "/v2/accounts/acme/users/9f7100ea9a484b75aadefa94303f62eb";

    let answer = app.get(&app.acme, path).await;

    let request_id = answer.body["request_id"].as_str().unwrap();
    let logged = logs();
    let lines: Vec<&str> = logged.lines().filter(|l| l.contains(request_id)).collect();
    assert_eq!(lines.len(), 1, "{lines:?}");
    for expected in [
        "request completed",
        "GET",
        path,
        "404",
        "account.sid",
        "latency_us",
    ] {
        assert!(
            lines[0].contains(expected),
            "{expected} missing from {}",
            lines[0]
        );
    }
    assert!(!logged.contains(&app.acme.token));
}

/// Sends `bytes` on a fresh connection and returns what the server answers before it
/// closes the connection, with the time that took.
async fn raw_exchange(app: &TestApp, bytes: &[u8]) -> (String, std::time::Duration) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(app.address).await.unwrap();
    stream.write_all(bytes).await.unwrap();
    let started = std::time::Instant::now();
    let mut answer = Vec::new();
    // Bounded: a server that never gives up on the client fails the test, not hangs it.
    let read = tokio::time::timeout(
        std::time::Duration::from_secs(30),
        stream.read_to_end(&mut answer),
    )
    .await;
    assert!(
        read.is_ok(),
        "the server still holds the connection after 30 s"
    );
    (
        String::from_utf8_lossy(&answer).into_owned(),
        started.elapsed(),
    )
}

#[tokio::test]
async fn a_client_that_stops_inside_its_headers_is_let_go() {
    let app = TestApp::spawn().await;
    let (_, waited) = raw_exchange(
        &app,
        b"GET /v2/accounts/acme/users HTTP/1.1\r\nHost: roster\r\n",
    )
    .await;
    assert!(waited.as_secs() < 20, "held for {waited:?}");
}

#[tokio::test]
async fn a_body_shorter_than_announced_is_refused_in_the_envelope() {
    let app = TestApp::spawn().await;
    let request = format!(
        "POST /v2/accounts/acme/users HTTP/1.1\r\nHost: roster\r\nAuthorization: {}\r\n\
         Content-Type: application/json\r\nContent-Length: 100\r\nConnection: close\r\n\r\n{{\"a\":1}}",
        app.acme.basic_header()
    );
    let (answer, waited) = raw_exchange(&app, request.as_bytes()).await;
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    let body = answer.split("\r\n\r\n").nth(1).unwrap_or_default();
    let body: serde_json::Value = serde_json::from_str(body).unwrap();
    assert_eq!(body["response"]["error_data"]["code"], 1007);
    assert!(
        body["response"]["error_data"]["description"]
            .as_str()
            .unwrap()
            .contains("did not arrive"),
        "{body}"
    );
    assert!(waited.as_secs() < 20, "held for {waited:?}");
}
