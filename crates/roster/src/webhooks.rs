//! Delivers every account's events to its webhooks: each receiver by one node at a time
//! (a lease in the database), in event order, at least once, retried with backoff for a
//! bounded time and then parked. A slow or dead receiver holds up only itself: each has its
//! own task, and the API never waits on any of them.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use hmac::{Hmac, Mac};
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper_util::rt::TokioIo;
use jiff::{SignedDuration, Timestamp};
use rand::Rng;
use roster_api::Metrics;
use roster_domain::{Account, Delivery, DeliveryStatus, Event, Webhook};
use roster_service::Directory;
use sha2::Sha256;
use tokio::net::TcpStream;
use tokio::sync::watch;

/// How long a node owns a receiver without renewing; another node takes over after.
const LEASE: SignedDuration = SignedDuration::from_secs(30);
/// How often a busy node renews its lease: a third of it, so it never lapses between
/// renewals, whatever the node is waiting on (an attempt takes at most 10 s).
const RENEW: Duration = Duration::from_secs(10);
/// Most of a receiver's answer that is read; the rest is dropped with the connection.
const ANSWER_LIMIT: usize = 64 * 1024;
/// How often the dispatcher looks for receivers nobody is delivering to.
const SCAN: Duration = Duration::from_secs(1);
/// How often an idle receiver's task looks for new events.
const POLL: Duration = Duration::from_millis(250);
/// Longest one attempt may take, connection included.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);
/// The first retry waits about this long; each next one twice as long, up to the cap.
const BACKOFF_FIRST: Duration = Duration::from_millis(500);
const BACKOFF_CAP: Duration = Duration::from_secs(60);

/// What every delivery task shares.
struct Shared {
    directory: Arc<Directory>,
    /// This process, as a lease owner.
    owner: String,
    /// How long a failing delivery is retried before it is parked.
    retry_for: Duration,
    tls: Option<tokio_rustls::TlsConnector>,
    stopping: watch::Receiver<bool>,
    /// The receivers this node delivers to now, by account and id.
    running: Mutex<HashSet<(String, String)>>,
    metrics: Arc<Metrics>,
}

/// Runs until `stopping` turns true.
pub async fn dispatch(
    directory: Arc<Directory>,
    retry_for: Duration,
    mut stopping: watch::Receiver<bool>,
    metrics: Arc<Metrics>,
) {
    let shared = Arc::new(Shared {
        directory,
        owner: format!("{:016x}", rand::rng().random::<u64>()),
        retry_for,
        tls: tls_connector(),
        stopping: stopping.clone(),
        running: Mutex::new(HashSet::new()),
        metrics,
    });
    loop {
        match shared.directory.all_webhooks().await {
            Ok(hooks) => {
                for hook in hooks {
                    start(&shared, hook).await;
                }
            }
            Err(error) => tracing::warn!(%error, "cannot read webhooks"),
        }
        tokio::select! {
            () = tokio::time::sleep(SCAN) => {}
            _ = stopping.changed() => return,
        }
    }
}

/// Starts delivering to `hook` when this node is not yet and can take its lease.
async fn start(shared: &Arc<Shared>, hook: Webhook) {
    let key = (hook.account.as_str().to_owned(), hook.id.clone());
    if shared.running.lock().is_ok_and(|r| r.contains(&key)) {
        return;
    }
    let until = lease_end(shared);
    let hook = match shared
        .directory
        .lease_webhook(&hook, &shared.owner, until)
        .await
    {
        Ok(Some(hook)) => hook,
        Ok(None) => return,
        Err(error) => {
            tracing::warn!(%error, webhook = %hook.id, "cannot lease a webhook");
            return;
        }
    };
    if let Ok(mut running) = shared.running.lock() {
        running.insert(key.clone());
    }
    let shared = shared.clone();
    tokio::spawn(async move {
        deliver_all(&shared, hook).await;
        if let Ok(mut running) = shared.running.lock() {
            running.remove(&key);
        }
    });
}

fn lease_end(shared: &Shared) -> Timestamp {
    let now = shared.directory.clock().now();
    now.checked_add(LEASE).unwrap_or(now)
}

/// Delivers the receiver's events in order until the server stops, the receiver is
/// removed, or another node took it over.
async fn deliver_all(shared: &Shared, mut hook: Webhook) {
    let mut stopping = shared.stopping.clone();
    loop {
        if *stopping.borrow() {
            return;
        }
        match shared
            .directory
            .lease_webhook(&hook, &shared.owner, lease_end(shared))
            .await
        {
            Ok(Some(current)) => hook = current,
            Ok(None) => return,
            Err(error) => {
                tracing::warn!(%error, webhook = %hook.id, "cannot renew a webhook lease");
                return;
            }
        }
        let found = shared
            .directory
            .events_for(&hook.account, hook.cursor)
            .await;
        let (account, events) = match found {
            Ok(Some(found)) => found,
            Ok(None) => return,
            Err(error) => {
                tracing::warn!(%error, webhook = %hook.id, "cannot read events");
                if !idle(&mut stopping).await {
                    return;
                }
                continue;
            }
        };
        if events.is_empty() {
            if !idle(&mut stopping).await {
                return;
            }
            continue;
        }
        let mut lease = Lease::new(shared);
        for event in &events {
            if !lease.keep(&hook).await {
                return;
            }
            let Some(delivery) = deliver(shared, &mut lease, &hook, &account, event).await else {
                return;
            };
            match shared
                .directory
                .advance_webhook(&hook, &shared.owner, event.id, Some(&delivery))
                .await
            {
                Ok(true) => hook.cursor = event.id,
                Ok(false) => return,
                Err(error) => {
                    // Not moved on: the event is delivered again, as at-least-once allows.
                    tracing::warn!(%error, webhook = %hook.id, "cannot record a delivery");
                    return;
                }
            }
        }
    }
}

/// Waits a poll interval; `false` when the server stops meanwhile (or is gone: a closed
/// channel must stop the task, not make it spin).
async fn idle(stopping: &mut watch::Receiver<bool>) -> bool {
    tokio::select! {
        () = tokio::time::sleep(POLL) => true,
        changed = stopping.changed() => changed.is_ok() && !*stopping.borrow(),
    }
}

/// This node's hold on a receiver, renewed whenever [`RENEW`] has passed, so it never
/// lapses while the node works through a batch or waits between retries.
struct Lease<'a> {
    shared: &'a Shared,
    renewed: tokio::time::Instant,
}

impl<'a> Lease<'a> {
    fn new(shared: &'a Shared) -> Self {
        Self {
            shared,
            renewed: tokio::time::Instant::now(),
        }
    }

    /// `false` when the lease is lost (another node holds it, or the receiver is gone).
    async fn keep(&mut self, hook: &Webhook) -> bool {
        if self.renewed.elapsed() < RENEW {
            return true;
        }
        self.renewed = tokio::time::Instant::now();
        let renewed = self
            .shared
            .directory
            .lease_webhook(hook, &self.shared.owner, lease_end(self.shared))
            .await;
        matches!(renewed, Ok(Some(_)))
    }
}

/// Delivers one event, retrying until it is taken or the retry time is spent; `None` when
/// the server stops or the lease is lost first (the event stays undelivered, to be sent
/// again by whoever holds the receiver).
async fn deliver(
    shared: &Shared,
    lease: &mut Lease<'_>,
    hook: &Webhook,
    account: &Account,
    event: &Event,
) -> Option<Delivery> {
    let body = Bytes::from(roster_api::event_json(event, account));
    let started = tokio::time::Instant::now();
    let mut stopping = shared.stopping.clone();
    let mut attempts = 0u32;
    let mut delay = BACKOFF_FIRST;
    loop {
        attempts += 1;
        let outcome = tokio::select! {
            outcome = attempt(shared, hook, event, &body, attempts) => outcome,
            _ = stopping.changed() => return None,
        };
        let (last_status, last_error) = match outcome {
            Ok(status) if (200..300).contains(&status) => {
                shared.metrics.webhook_delivered();
                let outcome = Outcome {
                    status: DeliveryStatus::Delivered,
                    attempts,
                    last_status: Some(status),
                    last_error: None,
                };
                return Some(record(shared, hook, event, outcome));
            }
            Ok(status) => (Some(status), format!("the receiver answered {status}")),
            Err(error) => (None, error),
        };
        shared.metrics.webhook_failed();
        tracing::info!(webhook = %hook.id, event = event.id, attempts, error = %last_error, "webhook delivery failed");
        if started.elapsed() + delay > shared.retry_for {
            shared.metrics.webhook_parked();
            tracing::warn!(webhook = %hook.id, event = event.id, attempts, "webhook delivery parked");
            let outcome = Outcome {
                status: DeliveryStatus::Parked,
                attempts,
                last_status,
                last_error: Some(last_error),
            };
            return Some(record(shared, hook, event, outcome));
        }
        // Full jitter in the upper half, so retries from many nodes do not line up; slept
        // in slices so the lease is renewed while waiting.
        let wake = tokio::time::Instant::now() + delay.mul_f64(rand::rng().random_range(0.5..=1.0));
        while tokio::time::Instant::now() < wake {
            let slice = wake
                .saturating_duration_since(tokio::time::Instant::now())
                .min(RENEW);
            tokio::select! {
                () = tokio::time::sleep(slice) => {}
                _ = stopping.changed() => return None,
            }
            if !lease.keep(hook).await {
                return None;
            }
        }
        delay = (delay * 2).min(BACKOFF_CAP);
        if !lease.keep(hook).await {
            return None;
        }
    }
}

/// How a delivery ended.
struct Outcome {
    status: DeliveryStatus,
    attempts: u32,
    last_status: Option<u16>,
    last_error: Option<String>,
}

fn record(shared: &Shared, hook: &Webhook, event: &Event, outcome: Outcome) -> Delivery {
    Delivery {
        account: hook.account.clone(),
        webhook_id: hook.id.clone(),
        event_id: event.id,
        status: outcome.status,
        attempts: outcome.attempts,
        last_status: outcome.last_status,
        last_error: outcome.last_error,
        at: shared.directory.clock().now(),
    }
}

/// One POST of `body`; the receiver's status, or why there was none.
async fn attempt(
    shared: &Shared,
    hook: &Webhook,
    event: &Event,
    body: &Bytes,
    attempt: u32,
) -> Result<u16, String> {
    let send = async {
        let uri: hyper::Uri = hook.url.parse().map_err(|e| format!("bad url: {e}"))?;
        let https = uri.scheme_str() == Some("https");
        let host = uri.host().ok_or("the url names no host")?.to_owned();
        let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
        let authority = uri
            .authority()
            .map(|a| a.as_str().to_owned())
            .unwrap_or_else(|| host.clone());
        let path = uri
            .path_and_query()
            .map(|p| p.as_str().to_owned())
            .unwrap_or_else(|| "/".to_owned());
        let tcp = TcpStream::connect((host.trim_matches(['[', ']']), port))
            .await
            .map_err(|e| format!("cannot connect: {e}"))?;
        let _ = tcp.set_nodelay(true);

        let timestamp = shared.directory.clock().now().as_second();
        let request = Request::post(path)
            .header(hyper::header::HOST, authority)
            .header(hyper::header::CONTENT_TYPE, "application/json")
            .header(hyper::header::USER_AGENT, "roster-webhooks")
            .header("roster-event", event.kind.as_str())
            .header("roster-event-id", event.id.to_string())
            .header("roster-delivery-attempt", attempt.to_string())
            .header("roster-signature", signature(&hook.secret, timestamp, body))
            .body(Full::new(body.clone()))
            .map_err(|e| format!("cannot build the request: {e}"))?;

        if https {
            let name =
                rustls::pki_types::ServerName::try_from(host.trim_matches(['[', ']']).to_owned())
                    .map_err(|e| format!("bad host name: {e}"))?;
            let connector = shared.tls.as_ref().ok_or("https is not available here")?;
            let tls = connector
                .connect(name, tcp)
                .await
                .map_err(|e| format!("TLS handshake failed: {e}"))?;
            send_on(TokioIo::new(tls), request).await
        } else {
            send_on(TokioIo::new(tcp), request).await
        }
    };
    tokio::time::timeout(ATTEMPT_TIMEOUT, send)
        .await
        .map_err(|_| format!("no answer within {}s", ATTEMPT_TIMEOUT.as_secs()))?
}

async fn send_on<T>(io: T, request: Request<Full<Bytes>>) -> Result<u16, String>
where
    T: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let (mut sender, connection) = hyper::client::conn::http1::handshake(io)
        .await
        .map_err(|e| format!("HTTP handshake failed: {e}"))?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| format!("request failed: {e}"))?;
    let status = response.status().as_u16();
    // Read (and drop) the answer so the receiver is not cut off mid-write; at most
    // ANSWER_LIMIT of it, so a receiver cannot make roster buffer without bound.
    let _ = http_body_util::Limited::new(response.into_body(), ANSWER_LIMIT)
        .collect()
        .await;
    Ok(status)
}

/// `t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`: the receiver recomputes
/// it, and refuses old timestamps to stop replays.
pub fn signature(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    let digest = mac.finalize().into_bytes();
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("t={timestamp},v1={hex}")
}

/// Receivers over https are checked against the machine's CA certificates (and
/// `SSL_CERT_FILE`, when set); `None` when TLS cannot be set up at all.
fn tls_connector() -> Option<tokio_rustls::TlsConnector> {
    let mut roots = rustls::RootCertStore::empty();
    let found = rustls_native_certs::load_native_certs();
    for error in &found.errors {
        tracing::debug!(%error, "a CA certificate could not be read");
    }
    let (added, _ignored) = roots.add_parsable_certificates(found.certs);
    if added == 0 {
        tracing::warn!("no CA certificates found: webhooks over https will fail");
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|error| tracing::warn!(%error, "webhooks over https are off"))
        .ok()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Some(tokio_rustls::TlsConnector::from(Arc::new(config)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_are_hmac_sha256_over_timestamp_dot_body() {
        // Computed apart from this code, with another HMAC implementation.
        assert_eq!(
            signature("whsec_test", 1_700_000_000, br#"{"id":1}"#),
            "t=1700000000,v1=2f441ba4b3b2d50d28a9ab9d9fd8880376ecd1eb5d0435401553f5d8d0a5dcf8"
        );
    }
}
