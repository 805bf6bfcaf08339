//! Roster's HTTP surface: the route table, authentication and the account gate, input
//! parsing, and the Exotel envelope every answer is written in.

mod accounts;
mod auth;
mod body;
mod conditional;
pub mod dashboard;
mod devices;
mod envelope;
mod error;
mod events;
#[cfg(feature = "fuzzing")]
pub mod fuzzing;
mod input;
mod metrics;
mod openapi;
mod operator;
mod probes;
mod reply;
mod users;
mod webhooks;

use std::sync::Arc;

use axum::routing::get;
use axum::{middleware, Router};
use roster_domain::RegionName;
use roster_service::{Directory, RateLimiter};
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouter, UtoipaMethodRouterExt};
use utoipa_axum::routes;

pub use accounts::AccountView;
pub use auth::FailedAuthLimiter;
pub use envelope::RequestLog;
pub use events::event_json;
pub use metrics::Metrics;
pub use operator::{IssuedKeyView, KeyView, SipCredentialsView};
pub use users::{DeviceView, UserView};
pub use webhooks::{DeliveryView, NewWebhookView, WebhookView};

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    pub directory: Arc<Directory>,
    pub rate_limiter: Arc<dyn RateLimiter>,
    pub failed_auth: Arc<FailedAuthLimiter>,
    /// The region this deployment serves; accounts homed elsewhere are sent there.
    pub region: Arc<RegionName>,
    /// Guards `/operator/v1`; `None` switches the operator API off.
    pub operator_token: Option<Arc<str>>,
    /// Turns `true` when the server stops, which ends every event stream.
    pub stopping: tokio::sync::watch::Receiver<bool>,
    /// What `/metrics` shows.
    pub metrics: Arc<Metrics>,
}

/// Builds the whole application: every route in one table, then the layers every request
/// passes through, and beside them the probes and `/metrics` (outside the envelope).
/// Each route is registered through its handler's OpenAPI declaration, so
/// the document served at `/openapi.json` lists exactly what is served. Each Users API
/// path is served under `accounts` and `Accounts`; the document names only `accounts`.
pub fn router(state: AppState) -> Router {
    let (routes, doc) = users_routes(&state)
        .merge(operator_routes(&state))
        .split_for_parts();
    // Built once per server; each request is served a clone of the same bytes.
    let document = openapi::finish(doc);

    let probes = probes::routes(state.clone());
    let metrics = state.metrics.clone();
    let api = routes
        .route(
            "/openapi.json",
            get(move || {
                let document = document.clone();
                async move { openapi::serve(&document) }
            }),
        )
        .fallback(envelope::route_not_found)
        .with_state(state)
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(
            envelope::panic_response,
        ))
        .layer(middleware::from_fn_with_state(metrics, envelope::envelope));
    probes.merge(api)
}

/// The Users API's table, every route behind the account gate.
fn users_routes(state: &AppState) -> OpenApiRouter<AppState> {
    // Per method, so a wrong method is refused (405) before authentication.
    let gate = || middleware::from_fn_with_state(state.clone(), auth::gate);
    [
        routes!(users::list_users, users::create_user),
        routes!(users::get_user, users::update_user, users::delete_user),
        routes!(devices::list_devices, devices::add_device),
        routes!(devices::update_device, devices::delete_device),
        routes!(devices::set_sip_password),
        routes!(events::stream_events),
    ]
    .into_iter()
    .fold(
        OpenApiRouter::with_openapi(openapi::base()),
        |table, group| with_alias(table, group.map(|methods| methods.route_layer(gate()))),
    )
}

/// Registers a documented group of handlers, and serves its path with `Accounts` too.
fn with_alias(
    table: OpenApiRouter<AppState>,
    group: UtoipaMethodRouter<AppState>,
) -> OpenApiRouter<AppState> {
    let (_, paths, methods) = &group;
    let table = paths.paths.keys().fold(table, |table, path| {
        let alias = path.replacen("/v2/accounts/", "/v2/Accounts/", 1);
        table.route(&alias, methods.clone())
    });
    table.routes(group)
}

/// The operator API's table, every route behind the operator token; with no token
/// configured there are no operator routes at all, so they answer like unknown ones and
/// the document leaves them out.
fn operator_routes(state: &AppState) -> OpenApiRouter<AppState> {
    if state.operator_token.is_none() {
        return OpenApiRouter::new();
    }
    // Per method, so a wrong method is refused (405) before the token is looked at.
    let gate = || middleware::from_fn_with_state(state.clone(), operator::gate);
    [
        routes!(operator::list_accounts, operator::create_account),
        routes!(
            operator::get_account,
            operator::update_account,
            operator::delete_account
        ),
        routes!(operator::list_keys, operator::issue_key),
        routes!(operator::revoke_key),
        routes!(operator::verify_device),
        routes!(operator::start_call),
        routes!(operator::end_call),
        routes!(operator::record_login),
        routes!(operator::sip_credentials),
        routes!(webhooks::list_webhooks, webhooks::add_webhook),
        routes!(webhooks::remove_webhook),
        routes!(webhooks::deliveries),
    ]
    .into_iter()
    .fold(OpenApiRouter::new(), |table, group| {
        table.routes(group.map(|methods| methods.route_layer(gate())))
    })
}
