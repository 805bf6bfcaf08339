//! Turns settings into a running server: opens storage, builds the directory and the
//! router, binds the listener, and serves until told to stop.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::extract::ConnectInfo;
use axum::http::Request;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use roster_api::{AppState, FailedAuthLimiter};
use roster_domain::Clock;
use roster_service::{
    Directory, DirectoryOptions, LocalRateLimiter, RateLimiter, SharedRateLimiter, TokenHasher,
};
use roster_store::{PostgresStore, SqliteStore, Store};
use tokio::net::TcpListener;
use tower::ServiceExt;

use crate::config::{Database, Settings};

/// How long requests in flight may run on after a stop signal; the contract allows 10 s.
const DRAIN_TIME: Duration = Duration::from_secs(8);
/// How long a client may take to send a request's headers.
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);

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

/// A bound, ready server.
pub struct Server {
    listener: TcpListener,
    router: axum::Router,
}

impl Server {
    /// Binds the listen address and builds the application over `directory`.
    pub async fn bind(settings: &Settings, directory: Arc<Directory>) -> anyhow::Result<Self> {
        let listener = TcpListener::bind(settings.listen)
            .await
            .with_context(|| format!("cannot listen on {}", settings.listen))?;
        let state = AppState {
            directory,
            rate_limiter: rate_limiter(settings)?,
            failed_auth: Arc::new(FailedAuthLimiter::new(settings.auth_failures_per_minute)),
            region: Arc::new(settings.region.clone()),
            operator_token: settings.operator_token.as_deref().map(Arc::from),
        };
        Ok(Self {
            listener,
            router: roster_api::router(state),
        })
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
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
        tokio::select! {
            () = connections.shutdown() => {}
            () = tokio::time::sleep(DRAIN_TIME) => {
                tracing::warn!("requests still running after the drain time were cut off");
            }
        }
        Ok(())
    }
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
