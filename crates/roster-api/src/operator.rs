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
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;
use utoipa::openapi::schema::{AllOfBuilder, Schema};
use utoipa::openapi::{Ref, RefOr};
use utoipa::{IntoParams, PartialSchema, ToSchema};

use crate::accounts::AccountView;
use crate::body::json_body;
use crate::envelope::Envelope;
use crate::error::ApiError;
use crate::input::JsonObject;
use crate::openapi::TimeZoneId;
use crate::reply::{Failure, Item, Null, Reply, Success};
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

/// `{sid}` of the operator API.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub(crate) struct AccountPath {
    /// An account's sid; an unknown one is 404 / 1000.
    pub(crate) sid: String,
}

/// `{sid}` and `{device_id}`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub(crate) struct DevicePath {
    /// An account's sid.
    sid: String,
    /// A device of that account; an unknown one is 404 / 1000.
    #[param(value_type = u64, minimum = 1)]
    device_id: String,
}

/// `{sid}` and `{user_id}`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub(crate) struct UserPath {
    /// An account's sid.
    sid: String,
    /// A user of that account; an unknown one is 404 / 1000.
    user_id: String,
}

/// `{sid}` and `{username}`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub(crate) struct SipUserPath {
    /// An account's sid.
    sid: String,
    /// The user part of a softphone's SIP URI (`ashar1a2b3c4d` for `sip:ashar1a2b3c4d`).
    username: String,
}

/// `{api_key}`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub(crate) struct KeyPath {
    /// An API key; an unknown one is 404 / 1000.
    api_key: String,
}

json_body! {
    /// An account's settings; each one not sent keeps its value (or its default on create).
    pub(crate) struct SettingsBody {
        /// 1 to 100 characters, not blank; default the sid.
        #[schema(value_type = Option<String>, min_length = 1, max_length = 100,
            pattern = r"^[^\x00-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F][^\x00-\x1F\x7F-\x9F]*$")]
        name: Option<String> = string(Name),
        /// 1 to 32 lower-case letters, digits or `-`; default `local`. An account homed in
        /// another region than the server's is refused by the Users API (401 / 1010).
        #[schema(value_type = Option<String>, pattern = "^[a-z0-9-]{1,32}$")]
        region: Option<String> = string(Region),
        /// An IANA time zone; default `Asia/Kolkata`.
        #[schema(value_type = Option<TimeZoneId>)]
        timezone: Option<String> = string(Timezone),
        /// Whether create user also makes a softphone; default `false`.
        voip_enabled: Option<bool> = boolean(VoipEnabled),
        /// A trial account cannot use the Users API; default `false`.
        trial: Option<bool> = boolean(Trial),
        /// An account without KYC cannot use the Users API; default `true`.
        kyc_complete: Option<bool> = boolean(KycComplete),
        /// The account's requests a minute, 1 to 1000000; default 200.
        #[schema(minimum = 1, maximum = 1000000)]
        rate_limit_per_minute: Option<u64> = unsigned(RateLimitPerMinute),
    }
}

json_body! {
    /// The sid of a new account; its settings come in the same object.
    pub(crate) struct NewAccountBody {
        /// Mandatory (400 / 1001): 1 to 64 ASCII letters, digits, `_` or `-`.
        #[schema(value_type = String, required = true, pattern = "^[A-Za-z0-9_-]{1,64}$")]
        sid: Option<String> = string(Sid),
    }
}

/// The body of create account: the sid and any settings, both read from one object.
pub(crate) struct CreateAccountBody;

impl PartialSchema for CreateAccountBody {
    fn schema() -> RefOr<Schema> {
        AllOfBuilder::new()
            .item(Ref::from_schema_name(NewAccountBody::name()))
            .item(Ref::from_schema_name(SettingsBody::name()))
            .into()
    }
}

impl ToSchema for CreateAccountBody {
    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        schemas.push((NewAccountBody::name().into(), NewAccountBody::schema()));
        schemas.push((SettingsBody::name().into(), SettingsBody::schema()));
    }
}

json_body! {
    /// A missed call's number.
    pub(crate) struct VerificationBody {
        /// Mandatory (400 / 1001): the number the call came from, as a device of the
        /// account has it.
        #[schema(value_type = String, required = true)]
        contact_uri: Option<String> = string(ContactUri),
    }
}

/// List accounts
#[utoipa::path(
    get,
    path = "/operator/v1/accounts",
    tag = "operator",
    responses(
        (status = 200, description = "Every account.", body = Envelope<Vec<Item<AccountView>>>),
    )
)]
pub(crate) async fn list_accounts(State(state): State<AppState>) -> Result<Reply, ApiError> {
    let accounts = state.directory.accounts().await?;
    Ok(Reply::list(accounts.iter().map(AccountView::new), None))
}

/// Create an account
#[utoipa::path(
    post,
    path = "/operator/v1/accounts",
    tag = "operator",
    request_body = CreateAccountBody,
    responses(
        (status = 200, description = "The new account.", body = Envelope<Success<AccountView>>,
            links(
                ("GetAccount" = (operation_id = "get_account",
                    parameters(("sid" = "$response.body#/response/data/sid")))),
                ("UpdateAccount" = (operation_id = "update_account",
                    parameters(("sid" = "$response.body#/response/data/sid")))),
                ("DeleteAccount" = (operation_id = "delete_account",
                    parameters(("sid" = "$response.body#/response/data/sid")))),
                ("ListKeys" = (operation_id = "list_keys",
                    parameters(("sid" = "$response.body#/response/data/sid")))),
                ("IssueKey" = (operation_id = "issue_key",
                    parameters(("sid" = "$response.body#/response/data/sid")))),
            )),
        (status = 400, body = Envelope<Failure>, description = "1001 `sid` missing; 1002 \
            a bad sid or setting, named in the description; 1007 the body is not a JSON \
            object or a field has the wrong JSON type."),
        (status = 409, body = Envelope<Failure>, description = "1005 the sid is taken."),
    )
)]
pub(crate) async fn create_account(
    State(state): State<AppState>,
    body: JsonObject,
) -> Result<Reply, ApiError> {
    let new = NewAccountBody::read(&body)?;
    let sid = new.sid.ok_or(RuleError::Missing(Field::Sid))?;
    let settings = settings(SettingsBody::read(&body)?).parse()?;

    let account = state.directory.create_account(&sid, settings).await?;

    Ok(Reply::record(AccountView::new(&account)))
}

/// Show an account
#[utoipa::path(
    get,
    path = "/operator/v1/accounts/{sid}",
    tag = "operator",
    params(AccountPath),
    responses(
        (status = 200, description = "The account.", body = Envelope<Success<AccountView>>),
        (status = 404, body = Envelope<Failure>, description = "1000 no such account."),
    )
)]
pub(crate) async fn get_account(
    State(state): State<AppState>,
    Path(path): Path<AccountPath>,
) -> Result<Reply, ApiError> {
    let account = state.directory.require_account(&path.sid).await?;
    Ok(Reply::record(AccountView::new(&account)))
}

/// Change an account's settings
#[utoipa::path(
    put,
    path = "/operator/v1/accounts/{sid}",
    tag = "operator",
    params(AccountPath),
    request_body = SettingsBody,
    responses(
        (status = 200, description = "The account.", body = Envelope<Success<AccountView>>),
        (status = 400, body = Envelope<Failure>, description = "1002 a bad setting, named \
            in the description; 1007 the body is not a JSON object or a field has the wrong \
            JSON type."),
        (status = 404, body = Envelope<Failure>, description = "1000 no such account."),
    )
)]
pub(crate) async fn update_account(
    State(state): State<AppState>,
    Path(path): Path<AccountPath>,
    body: JsonObject,
) -> Result<Reply, ApiError> {
    let settings = settings(SettingsBody::read(&body)?).parse()?;

    let account = state.directory.update_account(&path.sid, settings).await?;

    Ok(Reply::record(AccountView::new(&account)))
}

/// Delete an account
///
/// Deletes the account with all its users, devices and keys.
#[utoipa::path(
    delete,
    path = "/operator/v1/accounts/{sid}",
    tag = "operator",
    params(AccountPath),
    responses(
        (status = 200, description = "Deleted: `data` is `null`.", body = Envelope<Success<Null>>),
        (status = 404, body = Envelope<Failure>, description = "1000 no such account."),
    )
)]
pub(crate) async fn delete_account(
    State(state): State<AppState>,
    Path(path): Path<AccountPath>,
) -> Result<Reply, ApiError> {
    state.directory.delete_account(&path.sid).await?;
    Ok(Reply::empty())
}

/// List an account's API keys
///
/// Keys and their dates; tokens are never kept, so never shown.
#[utoipa::path(
    get,
    path = "/operator/v1/accounts/{sid}/keys",
    tag = "operator",
    params(AccountPath),
    responses(
        (status = 200, description = "The keys.", body = Envelope<Vec<Item<KeyView>>>),
        (status = 404, body = Envelope<Failure>, description = "1000 no such account."),
    )
)]
pub(crate) async fn list_keys(
    State(state): State<AppState>,
    Path(path): Path<AccountPath>,
) -> Result<Reply, ApiError> {
    let account = state.directory.require_account(&path.sid).await?;
    let keys = state.directory.api_keys(&path.sid).await?;
    Ok(Reply::list(
        keys.iter().map(|key| KeyView::new(key, &account)),
        None,
    ))
}

/// Issue an API key
///
/// The answer is the only showing of the token.
#[utoipa::path(
    post,
    path = "/operator/v1/accounts/{sid}/keys",
    tag = "operator",
    params(AccountPath),
    responses(
        (status = 200, description = "The new key and its token.",
            body = Envelope<Success<IssuedKeyView>>,
            links(("RevokeKey" = (operation_id = "revoke_key",
                parameters(("api_key" = "$response.body#/response/data/api_key")))))),
        (status = 404, body = Envelope<Failure>, description = "1000 no such account."),
    )
)]
pub(crate) async fn issue_key(
    State(state): State<AppState>,
    Path(path): Path<AccountPath>,
) -> Result<Reply, ApiError> {
    let issued = state.directory.issue_key(&path.sid).await?;
    Ok(Reply::record(IssuedKeyView::new(&issued)))
}

/// Revoke an API key
#[utoipa::path(
    delete,
    path = "/operator/v1/keys/{api_key}",
    tag = "operator",
    params(KeyPath),
    responses(
        (status = 200, description = "Revoked: `data` is `null`.", body = Envelope<Success<Null>>),
        (status = 404, body = Envelope<Failure>, description = "1000 no such key."),
    )
)]
pub(crate) async fn revoke_key(
    State(state): State<AppState>,
    Path(path): Path<KeyPath>,
) -> Result<Reply, ApiError> {
    state.directory.revoke_key(&path.api_key).await?;
    Ok(Reply::empty())
}

/// A missed call verifies a number
///
/// Verifies the account's unverified `tel` device with this number (`verified: true`,
/// `available: false`); an already verified one is unchanged.
#[utoipa::path(
    post,
    path = "/operator/v1/accounts/{sid}/verifications",
    tag = "operator",
    params(AccountPath),
    request_body = VerificationBody,
    responses(
        (status = 200, description = "The device.", body = Envelope<Success<DeviceView>>),
        (status = 400, body = Envelope<Failure>, description = "1001 `contact_uri` missing; \
            1401 not a number; 1007 the body is not a JSON object or a field has the wrong \
            JSON type."),
        (status = 404, body = Envelope<Failure>,
            description = "1000 no such account, or no device with this number."),
    )
)]
pub(crate) async fn verify_device(
    State(state): State<AppState>,
    Path(path): Path<AccountPath>,
    body: JsonObject,
) -> Result<Reply, ApiError> {
    let body = VerificationBody::read(&body)?;
    let contact = body
        .contact_uri
        .ok_or(RuleError::Missing(Field::ContactUri))?;

    let device = state.directory.verify_device(&path.sid, &contact).await?;

    Ok(Reply::record(DeviceView::new(&device)))
}

/// A call starts on a device
///
/// The device is `busy`, and its user's `active_call` true.
#[utoipa::path(
    post,
    path = "/operator/v1/accounts/{sid}/devices/{device_id}/calls/start",
    tag = "operator",
    params(DevicePath),
    responses(
        (status = 200, description = "The device.", body = Envelope<Success<DeviceView>>),
        (status = 404, body = Envelope<Failure>,
            description = "1000 no such account or device."),
    )
)]
pub(crate) async fn start_call(
    State(state): State<AppState>,
    Path(path): Path<DevicePath>,
) -> Result<Reply, ApiError> {
    let device = state
        .directory
        .record_call(&path.sid, &path.device_id, CallEvent::Started)
        .await?;
    Ok(Reply::record(DeviceView::new(&device)))
}

/// A call ends on a device
///
/// The device is `free` again.
#[utoipa::path(
    post,
    path = "/operator/v1/accounts/{sid}/devices/{device_id}/calls/end",
    tag = "operator",
    params(DevicePath),
    responses(
        (status = 200, description = "The device.", body = Envelope<Success<DeviceView>>),
        (status = 404, body = Envelope<Failure>,
            description = "1000 no such account or device."),
    )
)]
pub(crate) async fn end_call(
    State(state): State<AppState>,
    Path(path): Path<DevicePath>,
) -> Result<Reply, ApiError> {
    let device = state
        .directory
        .record_call(&path.sid, &path.device_id, CallEvent::Ended)
        .await?;
    Ok(Reply::record(DeviceView::new(&device)))
}

/// A user logs in
///
/// Records this moment as the user's `last_login`.
#[utoipa::path(
    post,
    path = "/operator/v1/accounts/{sid}/users/{user_id}/logins",
    tag = "operator",
    params(UserPath),
    responses(
        (status = 200, description = "The user, with `last_login`.",
            body = Envelope<Success<UserView>>),
        (status = 404, body = Envelope<Failure>,
            description = "1000 no such account or user."),
    )
)]
pub(crate) async fn record_login(
    State(state): State<AppState>,
    Path(path): Path<UserPath>,
) -> Result<Reply, ApiError> {
    let user = state
        .directory
        .record_login(&path.sid, &path.user_id)
        .await
        .map_err(not_found)?;
    let account: Arc<Account> = state.directory.require_account(&path.sid).await?;
    let fields = UserFields {
        last_login: true,
        ..UserFields::default()
    };
    Ok(Reply::record(UserView::new(&user, &account, fields)))
}

/// What a SIP registrar needs
///
/// The HA1 digests of a softphone whose password was set.
#[utoipa::path(
    get,
    path = "/operator/v1/accounts/{sid}/sip-credentials/{username}",
    tag = "operator",
    params(SipUserPath),
    responses(
        (status = 200, description = "The credentials.",
            body = Envelope<Success<SipCredentialsView>>),
        (status = 404, body = Envelope<Failure>, description = "1000 no such account, no \
            such softphone, or one whose password was never set."),
    )
)]
pub(crate) async fn sip_credentials(
    State(state): State<AppState>,
    Path(path): Path<SipUserPath>,
) -> Result<Reply, ApiError> {
    let credentials = state
        .directory
        .sip_credentials(&path.sid, &path.username)
        .await?;
    Ok(Reply::record(SipCredentialsView::new(&credentials)))
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

fn settings(body: SettingsBody) -> AccountSettingsInput {
    AccountSettingsInput {
        name: body.name,
        region: body.region,
        timezone: body.timezone,
        voip_enabled: body.voip_enabled,
        trial: body.trial,
        kyc_complete: body.kyc_complete,
        rate_limit_per_minute: body.rate_limit_per_minute,
    }
}

/// An API key as the operator sees it; the token is never kept, so never shown.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Key)]
pub struct KeyView<'a> {
    api_key: &'a str,
    #[schema(format = DateTime)]
    date_created: String,
    /// `null` while the key is valid.
    #[schema(required = true, format = DateTime)]
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
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = IssuedKey)]
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
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = SipCredentials)]
pub struct SipCredentialsView<'a> {
    contact_uri: &'a str,
    device_id: u64,
    /// `MD5(username:realm:password)` in hex (RFC 2617).
    ha1_md5: &'a str,
    /// `SHA-256(username:realm:password)` in hex (RFC 8760).
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
