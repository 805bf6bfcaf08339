//! Webhooks (an extension): each change is POSTed to the account's receivers, signed, at
//! least once, in order, retried with backoff, then parked; a slow receiver delays nobody.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use hmac::{Hmac, Mac};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use sha2::Sha256;
use tokio::net::TcpListener;
use tokio::time::Instant;

use crate::helpers::{user_id, TestApp};

pub(crate) const SECRET: &str = "whsec_for_tests_0123456789";

/// One POST as the receiver got it.
#[derive(Debug, Clone)]
pub(crate) struct Received {
    event: String,
    event_id: u64,
    attempt: u32,
    signature: String,
    body: Bytes,
}

/// A receiver on loopback that answers each POST with the next scripted status (200 once
/// the script runs out), after an optional delay, and records every one.
#[derive(Clone)]
pub(crate) struct Receiver {
    pub(crate) url: String,
    got: Arc<Mutex<Vec<Received>>>,
    script: Arc<Mutex<VecDeque<u16>>>,
    delay: Duration,
}

impl Receiver {
    pub(crate) async fn start(script: &[u16], delay: Duration) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let receiver = Receiver {
            url: format!("http://{}/hooks/roster", listener.local_addr().unwrap()),
            got: Arc::default(),
            script: Arc::new(Mutex::new(script.iter().copied().collect())),
            delay,
        };
        let serving = receiver.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let receiver = serving.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |request| {
                        let receiver = receiver.clone();
                        async move { receiver.answer(request).await }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        receiver
    }

    async fn answer(
        &self,
        request: Request<Incoming>,
    ) -> Result<Response<Full<Bytes>>, Infallible> {
        let header = |name: &str| {
            request
                .headers()
                .get(name)
                .map(|v| v.to_str().unwrap().to_owned())
                .unwrap_or_default()
        };
        let received = Received {
            event: header("roster-event"),
            event_id: header("roster-event-id").parse().unwrap_or(0),
            attempt: header("roster-delivery-attempt").parse().unwrap_or(0),
            signature: header("roster-signature"),
            body: Bytes::new(),
        };
        assert_eq!(request.uri().path(), "/hooks/roster");
        assert_eq!(header("content-type"), "application/json");
        let body = request.into_body().collect().await.unwrap().to_bytes();
        tokio::time::sleep(self.delay).await;
        let status = self.script.lock().unwrap().pop_front().unwrap_or(200);
        self.got.lock().unwrap().push(Received { body, ..received });
        let response = Response::builder()
            .status(status)
            .body(Full::new(Bytes::from_static(b"ok")))
            .unwrap();
        Ok(response)
    }

    fn received(&self) -> Vec<Received> {
        self.got.lock().unwrap().clone()
    }

    /// Waits until `n` POSTs were answered 2xx, for at most `wait`.
    pub(crate) async fn until_delivered(&self, n: usize, wait: Duration) -> Vec<Received> {
        let deadline = Instant::now() + wait;
        loop {
            let got = self.received();
            if delivered(&got).len() >= n || Instant::now() > deadline {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// The POSTs that were taken: the script fails only earlier attempts, so an event's last
/// POST is the one that was answered 2xx.
fn delivered(got: &[Received]) -> Vec<&Received> {
    got.iter()
        .enumerate()
        .filter(|(i, r)| {
            !got[i + 1..]
                .iter()
                .any(|later| later.event_id == r.event_id)
        })
        .map(|(_, r)| r)
        .collect()
}

/// Checks `t=...,v1=...` the way a receiver should.
fn verify(received: &Received) {
    let (t, v1) = received
        .signature
        .split_once(",v1=")
        .and_then(|(t, v1)| Some((t.strip_prefix("t=")?, v1)))
        .unwrap_or_else(|| panic!("malformed signature {:?}", received.signature));
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(t.as_bytes());
    mac.update(b".");
    mac.update(&received.body);
    let expected: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(v1, expected, "signature of event {}", received.event_id);
}

fn body(received: &Received) -> Value {
    serde_json::from_slice(&received.body).unwrap()
}

#[tokio::test]
async fn a_receiver_that_fails_at_first_gets_every_event_once_signed_and_in_order() {
    let app = TestApp::spawn().await;
    let receiver = Receiver::start(&[500, 503], Duration::ZERO).await;
    app.directory
        .add_webhook("acme", &receiver.url, Some(SECRET.to_owned()))
        .await
        .unwrap();

    let first = user_id(&app.create_user(&app.acme, TestApp::new_user(1)).await);
    let second = user_id(&app.create_user(&app.acme, TestApp::new_user(2)).await);
    for (id, name) in [(&first, "Ravi"), (&second, "Meera"), (&first, "Kabir")] {
        app.put(
            &app.acme,
            &format!("/v2/accounts/acme/users/{id}"),
            &json!({ "first_name": name }),
        )
        .await
        .assert_success();
    }
    let got = receiver.until_delivered(5, Duration::from_secs(10)).await;

    let delivered = delivered(&got);
    let ids: Vec<u64> = delivered.iter().map(|r| r.event_id).collect();
    assert_eq!(ids, [1, 2, 3, 4, 5], "{got:?}");
    // The first event took three attempts; the rest one each.
    let attempts: Vec<u32> = got.iter().map(|r| r.attempt).collect();
    assert_eq!(attempts, [1, 2, 3, 1, 1, 1, 1]);
    for received in &got {
        verify(received);
        let event = body(received);
        assert_eq!(event["id"].as_u64(), Some(received.event_id));
        assert_eq!(event["type"], received.event);
    }
    let names: Vec<(String, String)> = delivered
        .iter()
        .map(|r| {
            let event = body(r);
            (
                event["user_id"].as_str().unwrap().to_owned(),
                event["data"]["first_name"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let of = |id: &str| -> Vec<&str> {
        names
            .iter()
            .filter(|(user, _)| user == id)
            .map(|(_, name)| name.as_str())
            .collect()
    };
    assert_eq!(of(&first), ["Asha", "Ravi", "Kabir"]);
    assert_eq!(of(&second), ["Asha", "Meera"]);
    let recorded = app.directory.deliveries("acme", 10).await.unwrap();
    assert_eq!(recorded.len(), 5);
    assert!(recorded
        .iter()
        .all(|d| d.status == roster_domain::DeliveryStatus::Delivered));
    assert_eq!(
        recorded.iter().find(|d| d.event_id == 1).unwrap().attempts,
        3
    );
}

#[tokio::test]
async fn a_delivery_that_keeps_failing_is_parked_and_visible_then_the_next_goes_out() {
    let app = TestApp::spawn().await;
    // Fails for longer than the tests' 3 s of retries.
    let receiver = Receiver::start(&[500; 12], Duration::ZERO).await;
    let hook = app
        .directory
        .add_webhook("acme", &receiver.url, Some(SECRET.to_owned()))
        .await
        .unwrap();

    app.create_user(&app.acme, TestApp::new_user(1)).await;
    let deadline = Instant::now() + Duration::from_secs(15);
    let parked = loop {
        let recorded = app.directory.deliveries("acme", 10).await.unwrap();
        if let Some(parked) = recorded.into_iter().find(|d| d.event_id == 1) {
            break parked;
        }
        assert!(
            Instant::now() < deadline,
            "never parked: {:?}",
            receiver.received()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    receiver.script.lock().unwrap().clear();
    app.create_user(&app.acme, TestApp::new_user(2)).await;
    let got = receiver.until_delivered(2, Duration::from_secs(10)).await;

    assert_eq!(parked.status, roster_domain::DeliveryStatus::Parked);
    assert_eq!(parked.webhook_id, hook.id);
    assert!(parked.attempts >= 2, "{parked:?}");
    assert_eq!(parked.last_status, Some(500));
    assert!(parked.last_error.as_deref().unwrap().contains("500"));
    assert_eq!(got.last().unwrap().event_id, 2);
    assert_eq!(got.iter().filter(|r| r.event_id == 2).count(), 1);
}

#[tokio::test]
async fn a_slow_receiver_delays_neither_the_api_nor_another_receiver() {
    let app = TestApp::spawn().await;
    let slow = Receiver::start(&[], Duration::from_secs(4)).await;
    let fast = Receiver::start(&[], Duration::ZERO).await;
    for receiver in [&slow, &fast] {
        app.directory
            .add_webhook("acme", &receiver.url, Some(SECRET.to_owned()))
            .await
            .unwrap();
    }

    let started = Instant::now();
    for n in 1..=3 {
        app.create_user(&app.acme, TestApp::new_user(n)).await;
    }
    let api_time = started.elapsed();
    let got = fast.until_delivered(3, Duration::from_secs(3)).await;
    let fast_time = started.elapsed();

    assert!(api_time < Duration::from_secs(2), "{api_time:?}");
    assert_eq!(delivered(&got).len(), 3, "{got:?}");
    assert!(fast_time < Duration::from_secs(3), "{fast_time:?}");
    assert!(slow.received().len() <= 1);
}

#[tokio::test]
async fn a_second_node_never_delivers_the_same_event_twice_at_once() {
    let app = TestApp::spawn().await;
    let _other = app.second_node().await;
    let receiver = Receiver::start(&[], Duration::from_millis(20)).await;
    app.directory
        .add_webhook("acme", &receiver.url, Some(SECRET.to_owned()))
        .await
        .unwrap();

    for n in 1..=6 {
        app.create_user(&app.acme, TestApp::new_user(n)).await;
    }
    let got = receiver.until_delivered(6, Duration::from_secs(10)).await;
    tokio::time::sleep(Duration::from_millis(500)).await;

    let ids: Vec<u64> = receiver.received().iter().map(|r| r.event_id).collect();
    assert_eq!(ids, [1, 2, 3, 4, 5, 6], "{got:?}");
}

#[tokio::test]
async fn the_operator_api_registers_lists_and_removes_webhooks_and_shows_deliveries() {
    let app = TestApp::spawn().await;
    let receiver = Receiver::start(&[], Duration::ZERO).await;
    let operator = |method: reqwest::Method, path: &str| {
        app.client()
            .request(method, app.url(path))
            .bearer_auth(crate::helpers::OPERATOR_TOKEN)
    };
    let hooks = "/operator/v1/accounts/acme/webhooks";

    let added = app
        .send(
            operator(reqwest::Method::POST, hooks)
                .header("content-type", "application/json")
                .body(json!({ "url": receiver.url, "secret": SECRET }).to_string()),
        )
        .await;
    let id = added.assert_success()["id"].as_str().unwrap().to_owned();
    app.create_user(&app.acme, TestApp::new_user(1)).await;
    let got = receiver.until_delivered(1, Duration::from_secs(10)).await;
    let listed = app.send(operator(reqwest::Method::GET, hooks)).await;
    let deliveries = app
        .send(operator(
            reqwest::Method::GET,
            &format!("{hooks}/deliveries?limit=5"),
        ))
        .await;
    let missing_url = app
        .send(
            operator(reqwest::Method::POST, hooks)
                .header("content-type", "application/json")
                .body("{}"),
        )
        .await;
    let bad_url = app
        .send(
            operator(reqwest::Method::POST, hooks)
                .header("content-type", "application/json")
                .body(json!({ "url": "gopher://x" }).to_string()),
        )
        .await;
    let removed = app
        .send(operator(reqwest::Method::DELETE, &format!("{hooks}/{id}")))
        .await;
    let again = app
        .send(operator(reqwest::Method::DELETE, &format!("{hooks}/{id}")))
        .await;

    assert_eq!(added.assert_success()["secret"], SECRET);
    assert_eq!(got.len(), 1);
    verify(&got[0]);
    let items = listed.assert_list_success();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["id"], id.as_str());
    assert!(items[0].get("secret").is_none());
    let items = deliveries.assert_list_success();
    assert_eq!(items[0]["status"], "delivered");
    assert_eq!(items[0]["event_id"], 1);
    assert_eq!(items[0]["attempts"], 1);
    assert_eq!(items[0]["last_status"], 200);
    assert_eq!(items[0]["last_error"], Value::Null);
    missing_url.assert_error(400, Some(1001));
    bad_url.assert_error(400, Some(1002));
    assert_eq!(removed.assert_success(), &Value::Null);
    again.assert_error(404, Some(1000));
}
