//! Roster's HTTP surface: the route table, authentication and the account gate, input
//! parsing, and the Exotel envelope every answer is written in.

mod accounts;
mod auth;
mod devices;
mod envelope;
mod error;
#[cfg(feature = "fuzzing")]
pub mod fuzzing;
mod input;
mod operator;
mod reply;
mod users;

use std::sync::Arc;

use axum::routing::{delete, get, post, put};
use axum::{middleware, Router};
use roster_domain::RegionName;
use roster_service::{Directory, RateLimiter};

pub use accounts::AccountView;
pub use auth::FailedAuthLimiter;
pub use operator::{IssuedKeyView, KeyView, SipCredentialsView};
pub use users::{DeviceView, UserView};

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
}

/// Builds the whole application: every route in one table, then the layers every request
/// passes through. Each Users API path is served under `accounts` and `Accounts`.
pub fn router(state: AppState) -> Router {
    let gate = || middleware::from_fn_with_state(state.clone(), auth::gate);
    let mut users_api = Router::new();
    for accounts in ["accounts", "Accounts"] {
        let base = format!("/v2/{accounts}/{{sid}}/users");
        let user = format!("{base}/{{user_id}}");
        let device = format!("{user}/devices/{{device_id}}");
        users_api = users_api
            .route(
                &base,
                get(users::list_users)
                    .post(users::create_user)
                    .route_layer(gate()),
            )
            .route(
                &user,
                get(users::get_user)
                    .put(users::update_user)
                    .delete(users::delete_user)
                    .route_layer(gate()),
            )
            .route(
                &format!("{user}/devices"),
                get(devices::list_devices)
                    .post(devices::add_device)
                    .route_layer(gate()),
            )
            .route(
                &device,
                put(devices::update_device)
                    .delete(devices::delete_device)
                    .route_layer(gate()),
            )
            .route(
                &format!("{device}/password"),
                put(devices::set_sip_password).route_layer(gate()),
            );
    }

    users_api
        .merge(operator_routes(&state))
        .fallback(envelope::route_not_found)
        .with_state(state)
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(
            envelope::panic_response,
        ))
        .layer(middleware::from_fn(envelope::envelope))
}

/// The operator API's table, every route behind the operator token; with no token
/// configured there are no operator routes at all, so they answer like unknown ones.
fn operator_routes(state: &AppState) -> Router<AppState> {
    if state.operator_token.is_none() {
        return Router::new();
    }
    // Per method, so a wrong method is refused (405) before the token is looked at.
    let gate = || middleware::from_fn_with_state(state.clone(), operator::gate);
    let account = "/operator/v1/accounts/{sid}";
    Router::new()
        .route(
            "/operator/v1/accounts",
            get(operator::list_accounts)
                .post(operator::create_account)
                .route_layer(gate()),
        )
        .route(
            account,
            get(operator::get_account)
                .put(operator::update_account)
                .delete(operator::delete_account)
                .route_layer(gate()),
        )
        .route(
            &format!("{account}/keys"),
            get(operator::list_keys)
                .post(operator::issue_key)
                .route_layer(gate()),
        )
        .route(
            "/operator/v1/keys/{api_key}",
            delete(operator::revoke_key).route_layer(gate()),
        )
        .route(
            &format!("{account}/verifications"),
            post(operator::verify_device).route_layer(gate()),
        )
        .route(
            &format!("{account}/devices/{{device_id}}/calls/start"),
            post(operator::start_call).route_layer(gate()),
        )
        .route(
            &format!("{account}/devices/{{device_id}}/calls/end"),
            post(operator::end_call).route_layer(gate()),
        )
        .route(
            &format!("{account}/users/{{user_id}}/logins"),
            post(operator::record_login).route_layer(gate()),
        )
        .route(
            &format!("{account}/sip-credentials/{{username}}"),
            get(operator::sip_credentials).route_layer(gate()),
        )
}
