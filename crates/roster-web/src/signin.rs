//! Signing in with an API key and token, and out again.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use jiff::SignedDuration;
use maud::html;
use roster_api::dashboard::{self, Refusal};
use roster_domain::ApiKeyId;
use roster_service::random_token;
use serde::Deserialize;

use crate::error::PageError;
use crate::form::WebForm;
use crate::page::{self, csrf_input, Flash};
use crate::session::{
    read_cookie, set_cookie, tokens_match, CookieNames, Signed, FLASH_COOKIE, SESSION_HOURS,
};
use crate::WebState;

/// How long a sign-in form stays good to post.
const FORM_SECONDS: i64 = 60 * 60;

/// The sign-in form. Its CSRF token is also set as a cookie: a post must carry both, so
/// another site cannot sign the browser in to an account of its choosing.
pub(crate) async fn form(
    State(state): State<WebState>,
    signed: Option<Signed>,
    headers: HeaderMap,
) -> Response {
    if signed.is_some() {
        return Redirect::to("/").into_response();
    }
    let flash = read_cookie(&headers, FLASH_COOKIE).and_then(Flash::decode);
    render(&state, StatusCode::OK, "", None, flash)
}

#[derive(Deserialize)]
pub(crate) struct SignInForm {
    #[serde(default)]
    api_key: String,
    #[serde(default)]
    api_token: String,
    #[serde(default, rename = "_csrf")]
    csrf: String,
}

pub(crate) async fn submit(
    State(state): State<WebState>,
    ClientAddr(client): ClientAddr,
    headers: HeaderMap,
    WebForm(form): WebForm<SignInForm>,
) -> Result<Response, PageError> {
    let names = CookieNames::of(state.secure_cookies);
    let expected = read_cookie(&headers, names.sign_in).unwrap_or_default();
    if !tokens_match(expected, &form.csrf) {
        return Err(PageError::Forbidden);
    }
    let key = form.api_key.trim();
    let account = match dashboard::sign_in(&state.app, key, form.api_token.trim(), client).await {
        Ok(account) => account,
        Err(refusal) if refusal.is_internal() => return Err(refusal.into()),
        Err(refusal) => return Ok(render(&state, refusal.status, key, Some(&refusal), None)),
    };
    // The key was just authenticated, so it is a well-formed id.
    let key = ApiKeyId::parse(key).map_err(|_| PageError::SignIn)?;
    let opened = state
        .app
        .directory
        .open_session(
            &account.sid,
            &key,
            SignedDuration::from_hours(SESSION_HOURS),
        )
        .await?;
    tracing::info!(account.sid = %account.sid, api_key = %key, "dashboard sign-in");

    let mut response = Redirect::to("/").into_response();
    let cookies = response.headers_mut();
    cookies.append(
        header::SET_COOKIE,
        set_cookie(
            names.session,
            &opened.cookie,
            SESSION_HOURS * 3600,
            state.secure_cookies,
        ),
    );
    cookies.append(
        header::SET_COOKIE,
        set_cookie(names.sign_in, "", 0, state.secure_cookies),
    );
    Ok(response)
}

/// Ends the session everywhere (it is deleted, not just forgotten by this browser).
pub(crate) async fn sign_out(
    State(state): State<WebState>,
    signed: Signed,
    WebForm(form): WebForm<CsrfOnly>,
) -> Result<Response, PageError> {
    signed.check_csrf(&form.csrf)?;
    state.app.directory.close_session(&signed.cookie).await?;
    let names = CookieNames::of(state.secure_cookies);
    let mut response = page::redirect_with("/signin", Flash::SignedOut);
    response.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(names.session, "", 0, state.secure_cookies),
    );
    Ok(response)
}

/// A form whose only field is its CSRF token: the buttons that act on one thing.
#[derive(Deserialize)]
pub(crate) struct CsrfOnly {
    #[serde(default, rename = "_csrf")]
    pub csrf: String,
}

fn render(
    state: &WebState,
    status: StatusCode,
    key: &str,
    refusal: Option<&Refusal>,
    flash: Option<Flash>,
) -> Response {
    let token = random_token();
    let body = html! {
        @if let Some(flash) = flash {
            p role="status" class="flash" { (flash.text()) }
        }
        @if let Some(refusal) = refusal {
            div role="alert" class="problem" {
                p {
                    (refusal.description)
                    @if let Some(code) = refusal.code { " (code " (code) ")" }
                }
            }
        }
        p { "Use one of your account's API keys and its token, as for the Users API." }
        form method="post" action="/signin" class="stack" {
            (csrf_input(&token))
            div class="field" {
                label for="api_key" { "API key" }
                input id="api_key" name="api_key" type="text" value=(key) required
                    autocomplete="username" spellcheck="false" autocapitalize="none";
            }
            div class="field" {
                label for="api_token" { "API token" }
                input id="api_token" name="api_token" type="password" required
                    autocomplete="current-password";
            }
            button type="submit" class="primary" { "Sign in" }
        }
    };
    let names = CookieNames::of(state.secure_cookies);
    let mut response = (status, page::bare("Sign in", body)).into_response();
    let cookies = response.headers_mut();
    cookies.append(
        header::SET_COOKIE,
        set_cookie(names.sign_in, &token, FORM_SECONDS, state.secure_cookies),
    );
    if flash.is_some() {
        cookies.append(header::SET_COOKIE, set_cookie(FLASH_COOKIE, "", 0, false));
    }
    response
}

/// The peer's address, which the API's budget of failed sign-ins counts by.
pub(crate) struct ClientAddr(pub Option<IpAddr>);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(ClientAddr(
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|info| info.0.ip()),
        ))
    }
}
