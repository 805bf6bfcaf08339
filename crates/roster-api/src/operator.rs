//! `/operator/v1` (an extension): what Exotel does in its dashboard and telephony
//! platform, for the operator of a roster deployment. Guarded by the operator token from
//! the configuration and switched off without one.

use std::sync::Arc;

use axum::extract::{Path, Request, State};
use axum::http::{header, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use roster_domain::{Account, ApiKey, Field, RuleError, SipCredentials, UserFields};
use roster_service::{AccountSettingsInput, CallEvent, IssuedKey, ServiceError};
use serde::Serialize;
use subtle::ConstantTimeEq;

use crate::accounts::AccountView;
use crate::error::ApiError;
use crate::input::JsonObject;
use crate::reply::Reply;
use crate::users::{DeviceView, UserView};
use crate::AppState;

/// Lets through only requests bearing the operator token.
pub(crate) async fn gate(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let Some(expected) = state.operator_token.as_deref() else {
        return ApiError::RouteNotFound.into_response();
    };
    let presented = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map_or("", |(_, token)| token.trim());
    let matches: bool = presented.as_bytes().ct_eq(expected.as_bytes()).into();
    if !matches {
        // Counted with the Users API's failures, so the token cannot be guessed at speed.
        if let Some(limited) =
            crate::auth::count_failure(&state, crate::auth::client_address(&request))
        {
            return limited;
        }
        let mut response = ApiError::OperatorUnauthenticated.into_response();
        let challenge = HeaderValue::from_static("Bearer realm=\"roster-operator\"");
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, challenge);
        return response;
    }
    next.run(request).await
}

pub(crate) async fn list_accounts(State(state): State<AppState>) -> Result<Reply, ApiError> {
    let accounts = state.directory.accounts().await?;
    Ok(Reply::list(accounts.iter().map(AccountView::new), None))
}

pub(crate) async fn create_account(
    State(state): State<AppState>,
    body: JsonObject,
) -> Result<Reply, ApiError> {
    let sid = body
        .string(Field::Sid)?
        .ok_or(roster_domain::RuleError::Missing(Field::Sid))?;
    let settings = settings(&body)?.parse()?;

    let account = state.directory.create_account(&sid, settings).await?;

    Ok(Reply::record(Some(AccountView::new(&account))))
}

pub(crate) async fn get_account(
    State(state): State<AppState>,
    Path(sid): Path<String>,
) -> Result<Reply, ApiError> {
    let account = state.directory.require_account(&sid).await?;
    Ok(Reply::record(Some(AccountView::new(&account))))
}

pub(crate) async fn update_account(
    State(state): State<AppState>,
    Path(sid): Path<String>,
    body: JsonObject,
) -> Result<Reply, ApiError> {
    let settings = settings(&body)?.parse()?;

    let account = state.directory.update_account(&sid, settings).await?;

    Ok(Reply::record(Some(AccountView::new(&account))))
}

pub(crate) async fn delete_account(
    State(state): State<AppState>,
    Path(sid): Path<String>,
) -> Result<Reply, ApiError> {
    state.directory.delete_account(&sid).await?;
    Ok(Reply::record(None::<()>))
}

pub(crate) async fn list_keys(
    State(state): State<AppState>,
    Path(sid): Path<String>,
) -> Result<Reply, ApiError> {
    let account = state.directory.require_account(&sid).await?;
    let keys = state.directory.api_keys(&sid).await?;
    Ok(Reply::list(
        keys.iter().map(|key| KeyView::new(key, &account)),
        None,
    ))
}

pub(crate) async fn issue_key(
    State(state): State<AppState>,
    Path(sid): Path<String>,
) -> Result<Reply, ApiError> {
    let issued = state.directory.issue_key(&sid).await?;
    Ok(Reply::record(Some(IssuedKeyView::new(&issued))))
}

pub(crate) async fn revoke_key(
    State(state): State<AppState>,
    Path(key): Path<String>,
) -> Result<Reply, ApiError> {
    state.directory.revoke_key(&key).await?;
    Ok(Reply::record(None::<()>))
}

pub(crate) async fn verify_device(
    State(state): State<AppState>,
    Path(sid): Path<String>,
    body: JsonObject,
) -> Result<Reply, ApiError> {
    let contact = body
        .string(Field::ContactUri)?
        .ok_or(roster_domain::RuleError::Missing(Field::ContactUri))?;

    let device = state.directory.verify_device(&sid, &contact).await?;

    Ok(Reply::record(Some(DeviceView::new(&device))))
}

pub(crate) async fn start_call(
    State(state): State<AppState>,
    Path((sid, device)): Path<(String, String)>,
) -> Result<Reply, ApiError> {
    let device = state
        .directory
        .record_call(&sid, &device, CallEvent::Started)
        .await?;
    Ok(Reply::record(Some(DeviceView::new(&device))))
}

pub(crate) async fn end_call(
    State(state): State<AppState>,
    Path((sid, device)): Path<(String, String)>,
) -> Result<Reply, ApiError> {
    let device = state
        .directory
        .record_call(&sid, &device, CallEvent::Ended)
        .await?;
    Ok(Reply::record(Some(DeviceView::new(&device))))
}

pub(crate) async fn record_login(
    State(state): State<AppState>,
    Path((sid, user)): Path<(String, String)>,
) -> Result<Reply, ApiError> {
    let user = state
        .directory
        .record_login(&sid, &user)
        .await
        .map_err(not_found)?;
    let account: Arc<Account> = state.directory.require_account(&sid).await?;
    let fields = UserFields {
        last_login: true,
        ..UserFields::default()
    };
    Ok(Reply::record(Some(UserView::new(&user, &account, fields))))
}

pub(crate) async fn sip_credentials(
    State(state): State<AppState>,
    Path((sid, username)): Path<(String, String)>,
) -> Result<Reply, ApiError> {
    let credentials = state.directory.sip_credentials(&sid, &username).await?;
    Ok(Reply::record(Some(SipCredentialsView::new(&credentials))))
}

/// The operator names users and devices by id alone, so a missing one is plainly 404 /
/// 1000 here rather than the Users API's codes.
fn not_found(error: ServiceError) -> ApiError {
    match error {
        ServiceError::Rule(rule @ (RuleError::UserNotFound | RuleError::DeviceNotFound)) => {
            ApiError::NotFound(rule.to_string())
        }
        other => other.into(),
    }
}

fn settings(body: &JsonObject) -> Result<AccountSettingsInput, ApiError> {
    Ok(AccountSettingsInput {
        name: body.string(Field::Name)?,
        region: body.string(Field::Region)?,
        timezone: body.string(Field::Timezone)?,
        voip_enabled: body.boolean(Field::VoipEnabled)?,
        trial: body.boolean(Field::Trial)?,
        kyc_complete: body.boolean(Field::KycComplete)?,
        rate_limit_per_minute: body.unsigned(Field::RateLimitPerMinute)?,
    })
}

/// An API key as the operator sees it; the token is never kept, so never shown.
#[derive(Debug, Serialize)]
pub struct KeyView<'a> {
    api_key: &'a str,
    date_created: String,
    date_revoked: Option<String>,
}

impl<'a> KeyView<'a> {
    pub fn new(key: &'a ApiKey, account: &Account) -> Self {
        Self {
            api_key: key.id.as_str(),
            date_created: account.timezone.format(key.date_created),
            date_revoked: key.date_revoked.map(|at| account.timezone.format(at)),
        }
    }
}

/// A key just issued, with the only showing of its token.
#[derive(Debug, Serialize)]
pub struct IssuedKeyView<'a> {
    api_key: &'a str,
    api_token: &'a str,
}

impl<'a> IssuedKeyView<'a> {
    pub fn new(issued: &'a IssuedKey) -> Self {
        Self {
            api_key: issued.key.id.as_str(),
            api_token: issued.token.expose(),
        }
    }
}

/// What a SIP registrar needs to check a softphone's password.
#[derive(Debug, Serialize)]
pub struct SipCredentialsView<'a> {
    contact_uri: &'a str,
    device_id: u64,
    ha1_md5: &'a str,
    ha1_sha256: &'a str,
    realm: &'a str,
    user_id: String,
    username: &'a str,
}

impl<'a> SipCredentialsView<'a> {
    pub fn new(credentials: &'a SipCredentials) -> Self {
        Self {
            contact_uri: credentials.contact_uri.as_str(),
            device_id: credentials.device_id.get(),
            ha1_md5: &credentials.ha1_md5,
            ha1_sha256: &credentials.ha1_sha256,
            realm: &credentials.realm,
            user_id: credentials.user_id.to_string(),
            username: credentials.username(),
        }
    }
}
