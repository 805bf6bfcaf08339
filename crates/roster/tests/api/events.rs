//! `GET /v2/accounts/{sid}/events` (an extension): changes as Server-Sent Events, live, in
//! order, resumable with `Last-Event-ID`, never another account's.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};
use tokio::time::{timeout, Instant};

use crate::helpers::{device_id, user_id, Credentials, TestApp};

/// The contract's "within one second".
const WITHIN: Duration = Duration::from_secs(1);

/// One message of an event stream.
#[derive(Debug, Clone)]
struct Message {
    id: Option<String>,
    event: String,
    data: Value,
}

/// An open event stream, read message by message.
struct EventStream {
    response: reqwest::Response,
    buffer: String,
}

impl EventStream {
    async fn open(app: &TestApp, who: &Credentials, last_event_id: Option<u64>) -> Self {
        Self::open_at(&app.url(""), app, who, last_event_id).await
    }

    async fn open_at(base: &str, app: &TestApp, who: &Credentials, last: Option<u64>) -> Self {
        let mut request = app
            .client()
            .get(format!("{base}/v2/accounts/{}/events", who.sid))
            .basic_auth(&who.key, Some(&who.token));
        if let Some(last) = last {
            request = request.header("last-event-id", last.to_string());
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(
            response.headers()["content-type"].to_str().unwrap(),
            "text/event-stream"
        );
        assert!(response.headers().contains_key("x-request-id"));
        Self {
            response,
            buffer: String::new(),
        }
    }

    /// The next message, or `None` when none arrives within `wait`.
    async fn next(&mut self, wait: Duration) -> Option<Message> {
        let deadline = Instant::now() + wait;
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                if let Some(message) = parse(&block) {
                    return Some(message);
                }
                continue;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            match timeout(left, self.response.chunk()).await {
                Ok(Ok(Some(chunk))) => self.buffer.push_str(std::str::from_utf8(&chunk).unwrap()),
                Ok(Ok(None)) | Ok(Err(_)) | Err(_) => return None,
            }
        }
    }

    /// Whether the server ends the stream within `wait` (rather than keeping it open).
    async fn ends_within(&mut self, wait: Duration) -> bool {
        let deadline = Instant::now() + wait;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match timeout(left, self.response.chunk()).await {
                Ok(Ok(Some(_))) => continue,
                Ok(Ok(None)) | Ok(Err(_)) => return true,
                Err(_) => return false,
            }
        }
    }

    /// The next `n` messages, each within `wait` of the one before.
    async fn take(&mut self, n: usize, wait: Duration) -> Vec<Message> {
        let mut messages = Vec::new();
        for _ in 0..n {
            let message = self.next(wait).await;
            messages.push(message.unwrap_or_else(|| panic!("only {messages:?} arrived")));
        }
        messages
    }
}

/// A block of `field: value` lines; keep-alive comments carry no event.
fn parse(block: &str) -> Option<Message> {
    let (mut id, mut event, mut data) = (None, None, String::new());
    for line in block.lines() {
        if let Some(value) = line.strip_prefix("id:") {
            id = Some(value.trim().to_owned());
        } else if let Some(value) = line.strip_prefix("event:") {
            event = Some(value.trim().to_owned());
        } else if let Some(value) = line.strip_prefix("data:") {
            data.push_str(value.trim_start());
        }
    }
    Some(Message {
        id,
        event: event?,
        data: serde_json::from_str(&data).unwrap_or_else(|e| panic!("{e}: {data}")),
    })
}

fn kinds(messages: &[Message]) -> Vec<&str> {
    messages.iter().map(|m| m.event.as_str()).collect()
}

fn ids(messages: &[Message]) -> Vec<u64> {
    messages
        .iter()
        .map(|m| m.id.as_deref().unwrap().parse().unwrap())
        .collect()
}

#[tokio::test]
async fn a_stream_sees_each_change_in_order_within_a_second_as_get_shows_the_record() {
    let app = TestApp::spawn().await;
    let mut stream = EventStream::open(&app, &app.acme, None).await;

    let started = Instant::now();
    let user = app.create_user(&app.acme, TestApp::new_user(1)).await;
    let id = user_id(&user);
    let created = stream.take(1, WITHIN).await;
    let seen_after = started.elapsed();
    app.directory
        .verify_device("acme", "+919812300001")
        .await
        .unwrap();
    let path = format!("/v2/accounts/acme/users/{id}");
    app.put(&app.acme, &path, &json!({"last_name": "Iyer"}))
        .await
        .assert_success();
    app.delete(&app.acme, &path).await.assert_success();
    let rest = stream.take(3, WITHIN).await;

    assert!(seen_after < WITHIN, "{seen_after:?}");
    let all: Vec<Message> = created.into_iter().chain(rest).collect();
    assert_eq!(
        kinds(&all),
        [
            "user.created",
            "device.updated",
            "user.updated",
            "user.deleted"
        ]
    );
    let numbers = ids(&all);
    assert!(numbers.windows(2).all(|w| w[1] == w[0] + 1), "{numbers:?}");
    let first = &all[0].data;
    assert_eq!(
        crate::helpers::keys(first),
        ["id", "type", "timestamp", "account_sid", "user_id", "data"]
    );
    assert_eq!(first["id"].as_u64(), Some(numbers[0]));
    assert_eq!(first["type"], "user.created");
    assert_eq!(first["account_sid"], "acme");
    assert_eq!(first["user_id"], id.as_str());
    // The record as GET ?fields=devices shows it, right after the change.
    let mut shown = user.clone();
    shown["active_call"] = json!(false);
    shown["last_login"] = Value::Null;
    for key in crate::helpers::keys(&user) {
        assert_eq!(first["data"][key], shown[key], "{key}");
    }
    assert_eq!(
        all[1].data["data"]["id"].as_u64(),
        Some(device_id(&user, 0))
    );
    assert_eq!(all[1].data["data"]["verified"], true);
    assert_eq!(all[2].data["data"]["last_name"], "Iyer");
    assert_eq!(all[3].data["data"]["last_name"], "Iyer");
}

#[tokio::test]
async fn an_idle_stream_sends_its_first_bytes_at_once() {
    // Firefox's EventSource fires `open` on the first bytes of the body, not on the
    // headers: a stream silent until its first keep-alive would look unopened for 15 s.
    let app = TestApp::spawn().await;
    let mut stream = EventStream::open(&app, &app.acme, None).await;
    let chunk = timeout(WITHIN, stream.response.chunk())
        .await
        .expect("no bytes within a second of opening")
        .unwrap()
        .expect("the stream ended");
    let text = std::str::from_utf8(&chunk).unwrap();
    assert!(
        text.starts_with(':'),
        "the first bytes are no comment: {text:?}"
    );
    // And a comment is no event: the first change is still the first message.
    stream.buffer.push_str(text);
    app.create_user(&app.acme, TestApp::new_user(1)).await;
    let messages = stream.take(1, WITHIN * 2).await;
    assert_eq!(kinds(&messages), ["user.created"]);
}

#[tokio::test]
async fn a_client_reconnecting_with_last_event_id_misses_nothing_and_gets_nothing_twice() {
    let app = TestApp::spawn().await;
    let mut first = EventStream::open(&app, &app.acme, None).await;
    app.create_user(&app.acme, TestApp::new_user(1)).await;
    let seen = first.take(1, WITHIN).await;
    drop(first);

    // Changes made while the client is away.
    for n in 2..=4 {
        app.create_user(&app.acme, TestApp::new_user(n)).await;
    }
    let last = ids(&seen)[0];
    let mut again = EventStream::open(&app, &app.acme, Some(last)).await;
    let missed = again.take(3, WITHIN).await;
    app.create_user(&app.acme, TestApp::new_user(5)).await;
    let live = again.take(1, WITHIN).await;

    assert_eq!(ids(&missed), [last + 1, last + 2, last + 3]);
    assert_eq!(ids(&live), [last + 4]);
    assert!(again.next(Duration::from_millis(400)).await.is_none());
}

#[tokio::test]
async fn a_stream_never_carries_another_accounts_events() {
    let app = TestApp::spawn().await;
    let mut globex = EventStream::open(&app, &app.globex, None).await;
    let mut acme = EventStream::open(&app, &app.acme, Some(0)).await;

    app.create_user(&app.acme, TestApp::new_user(1)).await;
    app.create_user(&app.globex, TestApp::new_user(2)).await;
    let at_globex = globex.take(1, WITHIN).await;
    let at_acme = acme.take(1, WITHIN).await;

    assert_eq!(at_globex[0].data["account_sid"], "globex");
    assert_eq!(at_globex[0].data["data"]["email"], "asha2@example.com");
    assert_eq!(at_acme[0].data["account_sid"], "acme");
    // Each account counts its own ids.
    assert_eq!(ids(&at_globex), [1]);
    assert_eq!(ids(&at_acme), [1]);
    assert!(globex.next(Duration::from_millis(400)).await.is_none());
    assert!(acme.next(Duration::from_millis(400)).await.is_none());
}

#[tokio::test]
async fn a_client_whose_events_were_forgotten_is_told_so_then_gets_what_is_kept() {
    let app = TestApp::spawn().await;
    app.create_user(&app.acme, TestApp::new_user(1)).await;
    app.create_user(&app.acme, TestApp::new_user(2)).await;
    app.clock.advance(25 * 60 * 60);
    app.directory
        .purge_events(jiff::SignedDuration::from_hours(24))
        .await
        .unwrap();
    app.create_user(&app.acme, TestApp::new_user(3)).await;

    let mut stream = EventStream::open(&app, &app.acme, Some(1)).await;
    let messages = stream.take(2, WITHIN).await;
    let mut future = EventStream::open(&app, &app.acme, Some(99)).await;
    let told = future.take(1, WITHIN).await;

    assert_eq!(kinds(&messages), ["stream.gap", "user.created"]);
    assert_eq!(messages[0].id, None);
    assert_eq!(
        messages[0].data,
        json!({"last_event_id": 1, "next_event_id": 3})
    );
    assert_eq!(ids(&messages[1..]), [3]);
    assert_eq!(told[0].event, "stream.gap");
}

#[tokio::test]
async fn a_change_made_on_another_node_reaches_the_stream() {
    let app = TestApp::spawn().await;
    let other = app.second_node().await;
    let mut stream = EventStream::open_at(&other, &app, &app.acme, None).await;

    app.create_user(&app.acme, TestApp::new_user(1)).await;
    let seen = stream.take(1, WITHIN).await;

    assert_eq!(kinds(&seen), ["user.created"]);
}

#[tokio::test]
async fn the_stream_is_gated_like_the_rest_of_the_api() {
    let app = TestApp::spawn().await;
    let wrong = app
        .client()
        .get(app.url("/v2/accounts/acme/events"))
        .basic_auth(&app.acme.key, Some("wrong-token"));
    let other = app
        .client()
        .get(app.url("/v2/accounts/globex/events"))
        .basic_auth(&app.acme.key, Some(&app.acme.token));
    let malformed = app
        .client()
        .get(app.url("/v2/accounts/acme/events"))
        .basic_auth(&app.acme.key, Some(&app.acme.token))
        .header("last-event-id", "yesterday");

    app.send(wrong).await.assert_error(401, Some(1010));
    app.send(other).await.assert_error(403, Some(1003));
    app.send(malformed).await.assert_error(400, Some(1007));
}

#[tokio::test]
async fn an_open_stream_ends_when_its_key_is_revoked_or_its_account_deleted() {
    let app = TestApp::spawn().await;
    let mut revoked = EventStream::open(&app, &app.acme, None).await;
    let mut deleted = EventStream::open(&app, &app.globex, None).await;
    let other_key = app.directory.issue_key("acme").await.unwrap();
    let other = Credentials {
        sid: "acme".to_owned(),
        key: other_key.key.id.to_string(),
        token: other_key.token.expose().to_owned(),
    };
    let mut kept = EventStream::open(&app, &other, None).await;

    app.directory.revoke_key(&app.acme.key).await.unwrap();
    app.directory.delete_account("globex").await.unwrap();

    assert!(revoked.ends_within(Duration::from_secs(3)).await);
    assert!(deleted.ends_within(Duration::from_secs(3)).await);
    assert!(!kept.ends_within(Duration::from_secs(2)).await);
}

#[tokio::test]
async fn a_hole_the_purge_makes_behind_a_stream_is_told_as_a_gap() {
    let app = TestApp::spawn().await;
    let day = 25 * 60 * 60;
    // Event 1 recent, event 2 a day older, event 3 recent: the purge takes only event 2.
    app.clock.advance(day);
    app.create_user(&app.acme, TestApp::new_user(1)).await;
    app.clock.advance(-day);
    app.create_user(&app.acme, TestApp::new_user(2)).await;
    app.clock.advance(day);
    app.create_user(&app.acme, TestApp::new_user(3)).await;
    app.directory
        .purge_events(jiff::SignedDuration::from_hours(24))
        .await
        .unwrap();

    let mut stream = EventStream::open(&app, &app.acme, Some(1)).await;
    let messages = stream.take(2, WITHIN).await;

    assert_eq!(kinds(&messages), ["stream.gap", "user.created"]);
    assert_eq!(
        messages[0].data,
        json!({"last_event_id": 1, "next_event_id": 3})
    );
    assert_eq!(ids(&messages[1..]), [3]);
}

#[tokio::test]
async fn a_new_sip_password_is_recorded_as_a_change_of_its_user() {
    let app = TestApp::spawn().await;
    let voip = app.voip_account("voipco").await;
    let user = app
        .create_user(&voip, json!({"first_name": "Arjun", "last_name": "Sharma"}))
        .await;
    let softphone = device_id(&user, 0);
    let mut stream = EventStream::open(&app, &voip, None).await;

    let path = format!(
        "/v2/accounts/voipco/users/{}/devices/{softphone}/password",
        user_id(&user)
    );
    app.put(&voip, &path, &json!({"password": "Str0ng-enough"}))
        .await
        .assert_success();
    let seen = stream.take(1, WITHIN).await;

    assert_eq!(kinds(&seen), ["user.updated"]);
    assert_eq!(seen[0].data["user_id"], user_id(&user).as_str());
    assert!(!seen[0].data.to_string().contains("Str0ng-enough"));
}
