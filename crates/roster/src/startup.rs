//! Turns settings into a running server: opens storage, builds the directory and the
//! router, binds the listener, and serves (HTTP, or HTTPS when a certificate is set) until
//! told to stop.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::extract::ConnectInfo;
use axum::http::Request;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::graceful::{GracefulConnection, GracefulShutdown};
use jiff::{SignedDuration, Timestamp};
use roster_api::{AppState, FailedAuthLimiter, Metrics};
use roster_domain::Clock;
use roster_service::{
    Directory, DirectoryOptions, LocalRateLimiter, RateLimiter, SharedRateLimiter, TokenHasher,
    PRESENCE_SAMPLE_SECONDS,
};
use roster_store::{PostgresStore, SqliteStore, Store};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::Instant;
use tower::ServiceExt;

use crate::config::{Database, Settings};
use crate::tls::{self, Tls};

/// How long requests in flight may run on after a stop signal; the contract allows 10 s.
const DRAIN_TIME: Duration = Duration::from_secs(8);
/// How long a client may take to send a request's headers.
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a client may take over a TLS handshake, counted from the accept.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long an HTTP/2 connection may stay open with no request running: hyper's header
/// timeout does this for HTTP/1.1, and HTTP/2 has no such timer of its own.
const HTTP2_IDLE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long an HTTP/2 connection with nothing running gets to close after its GOAWAY. A
/// client that never sent its preface would otherwise be waited for until it does.
const CLOSE_GRACE: Duration = Duration::from_secs(1);

/// Opens the configured storage, bringing its schema up to date; refuses a schema newer
/// than this build knows.
pub async fn open_store(database: &Database) -> anyhow::Result<Arc<dyn Store>> {
    match database {
        Database::Sqlite(path) => {
            let store = SqliteStore::open(path)
                .with_context(|| format!("cannot open the SQLite database {}", path.display()))?;
            Ok(Arc::new(store))
        }
        Database::Postgres(url) => {
            let store = PostgresStore::open(url)
                .await
                .with_context(|| format!("cannot open the PostgreSQL database {}", redact(url)))?;
            Ok(Arc::new(store))
        }
    }
}

/// A database URL without its password, for messages.
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    match rest.split_once('@') {
        Some((credentials, host)) => {
            let user = credentials.split(':').next().unwrap_or_default();
            format!("{scheme}://{user}@{host}")
        }
        None => url.to_owned(),
    }
}

/// Builds the directory over `store`, with the token pepper from the settings or, when
/// none is set, the one kept in the database.
pub async fn open_directory(
    settings: &Settings,
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
) -> anyhow::Result<Arc<Directory>> {
    let pepper = match &settings.token_pepper {
        Some(pepper) => pepper.as_bytes().to_vec(),
        None => store
            .secret("token_pepper", TokenHasher::generate_pepper)
            .await
            .context("cannot read the token pepper from the database")?,
    };
    let options = DirectoryOptions {
        names: settings.names,
        sip_realm: settings.sip_realm.clone(),
    };
    Ok(Arc::new(Directory::new(
        store,
        clock,
        TokenHasher::new(&pepper),
        options,
    )))
}

/// The shared limiter when Redis is configured, else one counting in this process.
fn rate_limiter(settings: &Settings) -> anyhow::Result<Arc<dyn RateLimiter>> {
    Ok(match &settings.redis_url {
        Some(url) => Arc::new(SharedRateLimiter::new(url).context("invalid setting redis")?),
        None => Arc::new(LocalRateLimiter::new()),
    })
}

/// The API and, beside it on the same port, the dashboard.
fn app_router(state: AppState, tls: bool) -> axum::Router {
    let dashboard = roster_web::router(roster_web::WebState {
        app: state.clone(),
        secure_cookies: tls,
    });
    roster_api::router(state).merge(dashboard)
}

/// A bound, ready server.
pub struct Server {
    listener: TcpListener,
    router: axum::Router,
    tls: Option<Arc<Tls>>,
    /// Set when the server stops: ends event streams, the event purge and presence sampling.
    stop: tokio::sync::watch::Sender<bool>,
    metrics: Arc<Metrics>,
}

impl Server {
    /// Reads the TLS files when HTTPS is configured, binds the listen address and builds
    /// the application over `directory`.
    pub async fn bind(settings: &Settings, directory: Arc<Directory>) -> anyhow::Result<Self> {
        let tls = settings.tls.as_ref().map(Tls::load).transpose()?;
        let listener = TcpListener::bind(settings.listen)
            .await
            .with_context(|| format!("cannot listen on {}", settings.listen))?;
        let (stop, stopping) = tokio::sync::watch::channel(false);
        let metrics = Arc::new(Metrics::new());
        let retention = SignedDuration::from_hours(i64::from(settings.event_retention_hours));
        tokio::spawn(purge_events(directory.clone(), retention, stopping.clone()));
        tokio::spawn(sample_presence(directory.clone(), stopping.clone()));
        let retry_for = Duration::from_secs(u64::from(settings.webhook_retry_seconds));
        tokio::spawn(crate::webhooks::dispatch(
            directory.clone(),
            retry_for,
            stopping.clone(),
            metrics.clone(),
        ));
        let state = AppState {
            directory,
            rate_limiter: rate_limiter(settings)?,
            failed_auth: Arc::new(FailedAuthLimiter::new(settings.auth_failures_per_minute)),
            region: Arc::new(settings.region.clone()),
            operator_token: settings.operator_token.as_deref().map(Arc::from),
            stopping,
            metrics: metrics.clone(),
        };
        Ok(Self {
            listener,
            router: app_router(state, tls.is_some()),
            tls: tls.map(Arc::new),
            stop,
            metrics,
        })
    }

    /// The counters `/metrics` shows (the webhook dispatcher reports its deliveries there
    /// too), for code that runs a server without scraping it.
    pub fn metrics(&self) -> Arc<Metrics> {
        self.metrics.clone()
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// `https` when serving TLS, else `http`.
    pub fn scheme(&self) -> &'static str {
        if self.tls.is_some() {
            "https"
        } else {
            "http"
        }
    }

    /// Serves until `shutdown` completes, then stops accepting, lets requests in flight
    /// finish for a bounded time, and returns.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let mut http = hyper::server::conn::http1::Builder::new();
        // Without a timer hyper never times out a client that stops half-way through its
        // headers; such a client would hold a connection, and a shutdown, for ever.
        http.timer(TokioTimer::new())
            .header_read_timeout(HEADER_TIMEOUT);
        let connections = GracefulShutdown::new();
        let https = self.tls.as_ref().map(|tls| {
            Arc::new(Https {
                acceptor: tls.acceptor().clone(),
                http1: http.clone(),
                http2: http2_builder(),
            })
        });
        // HTTPS connections are ended by their own tasks: `stopping` tells them to, and
        // `open` is held by each one, so its receiver learns when the last has ended.
        let (stop, stopping) = tokio::sync::watch::channel(());
        let (open, mut all_closed) = tokio::sync::mpsc::channel::<()>(1);
        let reloader = self
            .tls
            .clone()
            .map(|tls| tokio::spawn(tls.reload_on_hangup()));
        let mut shutdown = std::pin::pin!(shutdown);
        loop {
            let (stream, peer) = tokio::select! {
                accepted = self.listener.accept() => match accepted {
                    Ok(accepted) => accepted,
                    Err(error) => {
                        // Out of file descriptors, say: wait a little rather than spin.
                        tracing::warn!(%error, "cannot accept a connection");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
                () = &mut shutdown => break,
            };
            let _ = stream.set_nodelay(true);
            let router = self.router.clone();
            if let Some(https) = &https {
                let task = Arc::clone(https).serve(stream, peer, router, stopping.clone());
                let open = open.clone();
                tokio::spawn(async move {
                    task.await;
                    drop(open);
                });
                continue;
            }
            let service = hyper::service::service_fn(move |mut request: Request<Incoming>| {
                request.extensions_mut().insert(ConnectInfo(peer));
                router.clone().oneshot(request)
            });
            let connection = http.serve_connection(TokioIo::new(stream), service);
            let connection = connections.watch(connection);
            tokio::spawn(async move {
                // A client that goes away mid-request is not the server's failure.
                let _ = connection.await;
            });
        }
        drop(self.listener);
        // Event streams never end by themselves; they must before the drain can.
        let _ = self.stop.send(true);
        let _ = stop.send(());
        drop(open);
        let https_closed = async move {
            // `None` once every HTTPS connection's task has dropped its sender.
            let _ = all_closed.recv().await;
        };
        tokio::select! {
            ((), ()) = async { tokio::join!(connections.shutdown(), https_closed) } => {}
            () = tokio::time::sleep(DRAIN_TIME) => {
                tracing::warn!("requests still running after the drain time were cut off");
            }
        }
        if let Some(reloader) = reloader {
            reloader.abort();
        }
        Ok(())
    }
}

fn http2_builder() -> hyper::server::conn::http2::Builder<TokioExecutor> {
    let mut http2 = hyper::server::conn::http2::Builder::new(TokioExecutor::new());
    http2.timer(TokioTimer::new());
    http2
}

/// What serving one HTTPS connection needs, shared by every connection's task.
struct Https {
    acceptor: tokio_rustls::TlsAcceptor,
    http1: hyper::server::conn::http1::Builder,
    http2: hyper::server::conn::http2::Builder<TokioExecutor>,
}

impl Https {
    /// Completes the handshake, then serves the protocol ALPN settled on: HTTP/2 when the
    /// client offered `h2`, HTTP/1.1 otherwise (TLS clients without ALPN speak HTTP/1.1).
    async fn serve(
        self: Arc<Self>,
        stream: TcpStream,
        peer: SocketAddr,
        router: axum::Router,
        mut stopping: tokio::sync::watch::Receiver<()>,
    ) {
        let handshake = tokio::time::timeout(HANDSHAKE_TIMEOUT, self.acceptor.accept(stream));
        let stream = tokio::select! {
            finished = handshake => match finished {
                Ok(Ok(stream)) => stream,
                // Scanners and clients that distrust the certificate end here all the
                // time; it is theirs to report.
                Ok(Err(error)) => {
                    tracing::debug!(%peer, %error, "TLS handshake failed");
                    return;
                }
                Err(_) => {
                    tracing::debug!(%peer, "TLS handshake timed out");
                    return;
                }
            },
            _ = stopping.changed() => return,
        };
        let http2 = stream.get_ref().1.alpn_protocol() == Some(tls::ALPN_H2);
        let io = TokioIo::new(stream);
        if http2 {
            let activity = Arc::new(Activity::new());
            let counted = Arc::clone(&activity);
            let service = hyper::service::service_fn(move |mut request: Request<Incoming>| {
                request.extensions_mut().insert(ConnectInfo(peer));
                let busy = Activity::begin(&counted);
                let response = router.clone().oneshot(request);
                async move {
                    let response = response.await;
                    drop(busy);
                    response
                }
            });
            let connection = self.http2.serve_connection(io, service);
            drive(connection, stopping, Some(&activity)).await;
        } else {
            let service = hyper::service::service_fn(move |mut request: Request<Incoming>| {
                request.extensions_mut().insert(ConnectInfo(peer));
                router.clone().oneshot(request)
            });
            let connection = self.http1.serve_connection(io, service);
            drive(connection, stopping, None).await;
        }
    }
}

/// Runs a connection to its end. A stop signal, or (HTTP/2) no request for a while, ends
/// it gracefully: requests running finish and no new one starts. A peer that does not
/// finish closing is cut off: at once when nothing of its was running, else after the
/// drain time.
async fn drive<C: GracefulConnection>(
    connection: C,
    mut stopping: tokio::sync::watch::Receiver<()>,
    activity: Option<&Activity>,
) {
    let mut connection = std::pin::pin!(connection);
    let idle = async {
        match activity {
            Some(activity) => activity.idle(HTTP2_IDLE_TIMEOUT).await,
            // hyper's header timeout closes idle HTTP/1.1 connections itself.
            None => std::future::pending().await,
        }
    };
    let grace = tokio::select! {
        // A client that goes away mid-request is not the server's failure.
        _ = connection.as_mut() => return,
        () = idle => CLOSE_GRACE,
        _ = stopping.changed() => match activity {
            Some(activity) if !activity.is_running() => CLOSE_GRACE,
            _ => DRAIN_TIME,
        },
    };
    connection.as_mut().graceful_shutdown();
    let _ = tokio::time::timeout(grace, connection).await;
}

/// How many requests an HTTP/2 connection has running, and when one last started or ended.
struct Activity {
    opened: Instant,
    /// Milliseconds after `opened`.
    last: AtomicU64,
    running: AtomicUsize,
}

impl Activity {
    fn new() -> Self {
        Self {
            opened: Instant::now(),
            last: AtomicU64::new(0),
            running: AtomicUsize::new(0),
        }
    }

    fn touch(&self) {
        let since = u64::try_from(self.opened.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last.store(since, Ordering::Release);
    }

    /// Counts a request as running until the returned guard is dropped.
    fn begin(this: &Arc<Self>) -> Busy {
        this.running.fetch_add(1, Ordering::AcqRel);
        this.touch();
        Busy(Arc::clone(this))
    }

    fn is_running(&self) -> bool {
        self.running.load(Ordering::Acquire) > 0
    }

    /// Completes once no request has run for `limit`.
    async fn idle(&self, limit: Duration) {
        loop {
            let last = self.opened + Duration::from_millis(self.last.load(Ordering::Acquire));
            let wake = if self.is_running() {
                Instant::now() + limit
            } else if last.elapsed() >= limit {
                return;
            } else {
                last + limit
            };
            tokio::time::sleep_until(wake).await;
        }
    }
}

struct Busy(Arc<Activity>);

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.running.fetch_sub(1, Ordering::AcqRel);
        self.0.touch();
    }
}

/// Forgets change events older than `retention`, once a minute, until the server stops.
/// Every node does this; the deletes are idempotent.
async fn purge_events(
    directory: Arc<Directory>,
    retention: SignedDuration,
    mut stopping: tokio::sync::watch::Receiver<bool>,
) {
    let mut every_minute = tokio::time::interval(Duration::from_secs(60));
    loop {
        tokio::select! {
            _ = every_minute.tick() => {}
            _ = stopping.changed() => return,
        }
        match directory.purge_events(retention).await {
            Ok(0) => {}
            Ok(purged) => tracing::debug!(purged, "forgot events past the retention window"),
            Err(error) => tracing::warn!(%error, "cannot forget old events"),
        }
    }
}

/// Samples every account's presence now and then at each multiple of
/// [`PRESENCE_SAMPLE_SECONDS`] of the directory's clock, until the server stops. Every node
/// does this; a moment another node already sampled is kept as that node took it.
async fn sample_presence(
    directory: Arc<Directory>,
    mut stopping: tokio::sync::watch::Receiver<bool>,
) {
    loop {
        match directory.sample_presence().await {
            Ok(added) => tracing::debug!(added, "sampled presence"),
            Err(error) => tracing::warn!(%error, "cannot sample presence"),
        }
        let wait = until_next_sample(directory.clock().now());
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            _ = stopping.changed() => return,
        }
    }
}

/// The time from `now` to the next sampling moment: 1 to [`PRESENCE_SAMPLE_SECONDS`]
/// seconds, never zero, so a sample just taken is not taken again at once.
fn until_next_sample(now: Timestamp) -> Duration {
    let into_period = now.as_second().rem_euclid(PRESENCE_SAMPLE_SECONDS);
    Duration::from_secs((PRESENCE_SAMPLE_SECONDS - into_period).unsigned_abs())
}

/// Completes on SIGINT or SIGTERM.
pub async fn stop_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let terminate = async {
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(mut stream) => {
                    stream.recv().await;
                }
                Err(_) => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = interrupt => {}
            () = terminate => {}
        }
    }
    #[cfg(not(unix))]
    let _ = interrupt.await;
    tracing::info!("stop signal received; finishing requests in flight");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_are_due_at_the_next_boundary_and_never_at_once() {
        let at = |second: i64| Timestamp::from_second(second).unwrap();

        assert_eq!(
            until_next_sample(at(1_800_000_000)),
            Duration::from_secs(300)
        );
        assert_eq!(
            until_next_sample(at(1_800_000_001)),
            Duration::from_secs(299)
        );
        assert_eq!(until_next_sample(at(1_800_000_299)), Duration::from_secs(1));
        assert_eq!(until_next_sample(at(-1)), Duration::from_secs(1));
    }
}
