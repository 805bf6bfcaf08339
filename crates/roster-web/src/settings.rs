//! API settings: what an integration needs to call the Users API for this account, and
//! the account's keys (a new token is shown once, then only its key's id).

use axum::extract::State;
use axum::http::{HeaderMap, Uri};
use axum::response::Response;
use maud::{html, Markup};
use roster_domain::ApiKey;
use roster_service::ServiceError;

use crate::error::PageError;
use crate::form::{WebForm, WebPath};
use crate::page::{self, csrf_input, Flash, Section};
use crate::session::{request_authority, Signed};
use crate::signin::CsrfOnly;
use crate::users::date;
use crate::WebState;

pub(crate) async fn show(
    State(state): State<WebState>,
    signed: Signed,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response, PageError> {
    render(&state, &signed, (&headers, &uri), None).await
}

/// Issues a key and shows its token in this answer only.
pub(crate) async fn create_key(
    State(state): State<WebState>,
    signed: Signed,
    headers: HeaderMap,
    uri: Uri,
    WebForm(form): WebForm<CsrfOnly>,
) -> Result<Response, PageError> {
    signed.check_csrf(&form.csrf)?;
    let issued = state
        .app
        .directory
        .issue_key(signed.account.sid.as_str())
        .await?;
    tracing::info!(account.sid = %signed.account.sid, api_key = %issued.key.id, "key issued from the dashboard");
    let shown = NewKey {
        key: issued.key.id.to_string(),
        token: issued.token.expose().to_owned(),
    };
    render(&state, &signed, (&headers, &uri), Some(shown)).await
}

/// Revokes one of the account's keys. Revoking the key this session signed in with ends
/// the session too, as it ends every API call made with it.
pub(crate) async fn revoke_key(
    State(state): State<WebState>,
    signed: Signed,
    WebPath(key): WebPath<String>,
    WebForm(form): WebForm<CsrfOnly>,
) -> Result<Response, PageError> {
    signed.check_csrf(&form.csrf)?;
    let directory = &state.app.directory;
    let sid = signed.account.sid.as_str();
    let keys = directory.api_keys(sid).await?;
    // Another account's key is as unknown here as a key that never was.
    if !keys.iter().any(|k| k.id.to_string() == key) {
        return Err(ServiceError::KeyNotFound(key).into());
    }
    directory.revoke_key(&key).await?;
    tracing::info!(account.sid = %sid, api_key = %key, "key revoked from the dashboard");
    if signed.session.api_key.to_string() == key {
        directory.close_session(&signed.cookie).await?;
        return Ok(page::redirect_with("/signin", Flash::OwnKeyRevoked));
    }
    Ok(page::redirect_with("/settings", Flash::KeyRevoked))
}

struct NewKey {
    key: String,
    token: String,
}

async fn render(
    state: &WebState,
    signed: &Signed,
    (headers, uri): (&HeaderMap, &Uri),
    new_key: Option<NewKey>,
) -> Result<Response, PageError> {
    let account = &signed.account;
    let keys = state.app.directory.api_keys(account.sid.as_str()).await?;
    let scheme = if state.secure_cookies {
        "https"
    } else {
        "http"
    };
    let host = request_authority(headers, uri).unwrap_or("localhost");
    let base_url = format!("{scheme}://{host}/v2/accounts/{}", account.sid.as_str());
    let body = html! {
        // A new token is this post's answer; the address goes back to the page's own, so
        // a reload reads the page rather than creating another key.
        h1 data-canonical="/settings" { "API settings" }
        @if let Some(new_key) = &new_key {
            div role="status" class="new-key" {
                h2 { "New key" }
                p { "Copy the token now: roster keeps only a hash of it and will never show it again." }
                dl {
                    dt { "API key" } dd { code id="new-key" { (new_key.key) } }
                    dt { "API token" } dd { code id="new-token" { (new_key.token) } }
                }
            }
        }
        section aria-labelledby="account-heading" {
            h2 id="account-heading" { "Account" }
            dl class="facts" {
                dt { "Account SID" } dd { code { (account.sid.as_str()) } }
                dt { "Account name" } dd { (account.name) }
                dt { "Region" } dd { (account.region.as_str()) }
                dt { "Base URL" } dd { code id="base-url" { (base_url) } }
                dt { "Time zone" } dd { (account.timezone.as_str()) }
                dt { "VOIP" } dd { @if account.voip_enabled { "enabled" } @else { "not enabled" } }
                dt { "Requests per minute" } dd { (account.rate_limit.per_minute()) }
            }
            p class="hint" {
                "Call the Users API with HTTP Basic authentication: the API key as the user name "
                "and its token as the password, for example "
                code { "curl -u KEY:TOKEN " (base_url) "/users" } "."
            }
        }
        section aria-labelledby="keys-heading" {
            h2 id="keys-heading" { "API keys" }
            (keys_table(signed, &keys))
            form method="post" action="/settings/keys" {
                (csrf_input(signed.csrf()))
                button type="submit" class="primary" { "Create key" }
            }
        }
    };
    Ok(page::page(signed, Section::Settings, "API settings", body))
}

fn keys_table(signed: &Signed, keys: &[ApiKey]) -> Markup {
    let zone = signed.account.timezone.as_str();
    html! {
        table id="keys" class="cards" {
            caption class="visually-hidden" { "The account's API keys" }
            thead {
                tr {
                    th scope="col" { "Key" }
                    th scope="col" { "Created" }
                    th scope="col" { "Status" }
                    th scope="col" { "Actions" }
                }
            }
            tbody {
                @for key in keys {
                    @let id = key.id.to_string();
                    tr data-key-id=(id) {
                        th scope="row" data-label="Key" {
                            code { (id) }
                            @if signed.session.api_key == key.id { " " span class="badge" { "this session" } }
                        }
                        td data-label="Created" { (date(key.date_created, zone)) }
                        td data-label="Status" {
                            @match key.date_revoked {
                                Some(at) => span class="badge off" { "revoked " (date(at, zone)) },
                                None => span class="badge on" { "active" },
                            }
                        }
                        td data-label="Actions" {
                            @if key.date_revoked.is_none() {
                                form method="post" action={ "/settings/keys/" (id) "/revoke" } {
                                    (csrf_input(signed.csrf()))
                                    button type="submit" class="danger" aria-label={ "Revoke " (id) } { "Revoke" }
                                }
                            } @else {
                                span class="muted" { "none" }
                            }
                        }
                    }
                }
            }
        }
    }
}
