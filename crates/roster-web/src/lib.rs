//! The dashboard: server-rendered pages, signed in with an account's API key, that do what
//! the Users API does with the API's own rules and words. Pages work without JavaScript;
//! one small script only keeps them live from the account's event stream.

mod assets;
mod chart;
mod devices;
mod error;
mod form;
mod import;
mod list;
mod live;
mod page;
mod session;
mod settings;
mod signin;
mod users;

use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{header, HeaderValue, Method};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use roster_api::{AppState, RequestLog};

/// What the pages share: the API's state (the same directory, gate settings and event
/// streams) and whether cookies must be `Secure`.
#[derive(Clone)]
pub struct WebState {
    pub app: AppState,
    /// True when served over TLS: the session cookie is then `Secure` and `__Host-` named.
    pub secure_cookies: bool,
}

/// Largest form body a page takes, as the API takes JSON bodies of at most 64 KiB.
const FORM_BODY_LIMIT: usize = 64 * 1024;
/// Largest CSV file the import page takes; the CLI has no such limit.
const IMPORT_BODY_LIMIT: usize = 16 * 1024 * 1024;

/// The dashboard's routes. None lies under `/v2`, `/operator` or the probes, so the API's
/// table and this one never overlap.
pub fn router(state: WebState) -> Router {
    Router::new()
        .route("/", get(list::list))
        .route("/signin", get(signin::form).post(signin::submit))
        .route("/signout", post(signin::sign_out))
        .route("/users/new", get(users::new_form).post(users::create))
        .route("/users/{id}", get(users::show).post(users::update))
        .route(
            "/users/{id}/delete",
            get(users::confirm_delete).post(users::delete),
        )
        .route("/users/{id}/devices", post(devices::add))
        .route("/users/{id}/devices/{device}/toggle", post(devices::toggle))
        .route("/users/{id}/devices/{device}/remove", post(devices::remove))
        .route("/settings", get(settings::show))
        .route("/settings/keys", post(settings::create_key))
        .route("/settings/keys/{key}/revoke", post(settings::revoke_key))
        .route(
            "/import",
            get(import::form)
                .post(import::submit)
                .layer(DefaultBodyLimit::max(IMPORT_BODY_LIMIT)),
        )
        .route("/live", get(live::stream))
        .route("/assets/{file}", get(assets::serve))
        .method_not_allowed_fallback(error::method_not_allowed)
        // Forms are small; only the import takes a file (its own limit above).
        .layer(DefaultBodyLimit::max(FORM_BODY_LIMIT))
        .layer(middleware::from_fn(same_origin_posts))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(
            error::panic_page,
        ))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            log_and_harden,
        ))
        .with_state(state)
}

/// One log line per request, like the API's, counted in `/metrics` under its route, and
/// the headers every page carries: a strict
/// content policy (no inline script or style at all), no framing, no caching of pages
/// that show an account's data.
async fn log_and_harden(State(state): State<WebState>, request: Request, next: Next) -> Response {
    let log = RequestLog::start(&state.app.metrics, &request);
    let mut response = next.run(request).await;

    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
             connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    if !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    if let Ok(value) = HeaderValue::from_str(&log.id) {
        headers.insert("x-request-id", value);
    }
    log.finish(response.status(), None);
    response
}

/// Refuses a form post sent from another site before any handler reads it. Browsers name
/// the page a post came from in `Origin` (and in `Sec-Fetch-Site`); the form's CSRF token,
/// checked by each handler, stays the rule for clients that send neither.
async fn same_origin_posts(request: Request, next: Next) -> Result<Response, error::PageError> {
    if request.method() == Method::POST && !session::same_origin(request.headers(), request.uri()) {
        return Err(error::PageError::Forbidden);
    }
    Ok(next.run(request).await)
}
