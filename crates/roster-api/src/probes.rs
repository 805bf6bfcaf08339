//! `/healthz`, `/readyz` and `/metrics`: for load balancers, orchestrators and Prometheus.
//! They sit outside `/v2` and outside the envelope, the gate and the request counters: no
//! credentials, no rate limit, no log line per probe.

use std::time::Duration;

use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde::Serialize;

use crate::AppState;

/// How long `/readyz` waits for storage before calling it unavailable: probes have short
/// timeouts of their own, and a hung database must not hang them.
const STORAGE_TIMEOUT: Duration = Duration::from_secs(2);

/// Prometheus' text exposition format.
const METRICS_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

pub(crate) fn routes(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .with_state(state)
}

#[derive(Serialize)]
struct Health {
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    checks: Option<Checks>,
}

#[derive(Serialize)]
struct Checks {
    /// `ok`, `failed` or `timeout`: whether the store answered a query.
    storage: &'static str,
    /// `ok`, `unknown` when storage did not answer, or what is wrong with the version.
    schema: String,
}

/// The process is up and serving.
async fn healthz() -> Response {
    let health = Health {
        status: "ok",
        checks: None,
    };
    json(StatusCode::OK, &health)
}

/// Ready for traffic: the store answers, and its schema is the one this build migrates to.
async fn readyz(State(state): State<AppState>) -> Response {
    let known = state.directory.known_schema_version();
    let read = tokio::time::timeout(STORAGE_TIMEOUT, state.directory.schema_version()).await;
    let checks = match read {
        Ok(Ok(version)) if version == known => Checks {
            storage: "ok",
            schema: "ok".to_owned(),
        },
        Ok(Ok(version)) => Checks {
            storage: "ok",
            schema: format!(
                "the database is at schema version {version}; this build needs {known}"
            ),
        },
        Ok(Err(error)) => {
            // The cause may name hosts; it goes to the log, not to an unauthenticated caller.
            tracing::warn!(%error, "readiness check: storage failed");
            Checks {
                storage: "failed",
                schema: "unknown".to_owned(),
            }
        }
        Err(_) => {
            tracing::warn!(
                ?STORAGE_TIMEOUT,
                "readiness check: storage did not answer in time"
            );
            Checks {
                storage: "timeout",
                schema: "unknown".to_owned(),
            }
        }
    };
    let ready = checks.storage == "ok" && checks.schema == "ok";
    let (status, word) = if ready {
        (StatusCode::OK, "ok")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "unavailable")
    };
    let health = Health {
        status: word,
        checks: Some(checks),
    };
    json(status, &health)
}

fn json(status: StatusCode, health: &Health) -> Response {
    // Our own plain struct always serialises.
    let body = serde_json::to_vec(health).unwrap_or_default();
    let content_type = HeaderValue::from_static("application/json");
    (status, [(header::CONTENT_TYPE, content_type)], body).into_response()
}

async fn metrics(State(state): State<AppState>) -> Response {
    let text = state.metrics.render(&state.directory.storage_stats());
    let mut response = text.into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(METRICS_TYPE));
    response
}
