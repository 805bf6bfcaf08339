//! `/v2/accounts/{sid}/users`: creating and reading users, with the wire shapes of users
//! and devices. Record keys are declared in alphabetical order, as Exotel writes them.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use roster_domain::{Account, Device, DeviceKind, DeviceStatus, Role, User, UserFields, UserId};
use roster_domain::{Field, FIRST_VERSION};
use roster_service::{CreateUser, Created, Idempotency, UpdateUser, UserFilter};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::body::json_body;
use crate::conditional::{etag, fingerprint, IdempotencyKey, IfMatch, IDEMPOTENT_REPLAYED};
use crate::envelope::{Envelope, PagedEnvelope};
use crate::error::ApiError;
use crate::input::{JsonObject, Query};
use crate::openapi::{
    enumeration, ContactFilter, DeviceLabelOrBlank, EmailAddressOrBlank, PersonName,
    PersonNameOrBlank, PhoneNumberOrBlank, RoleNameOrBlank,
};
use crate::reply::{Failure, Item, Metadata, Null, Reply, Success};
use crate::AppState;

/// `{sid}`: the account the request is for.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub(crate) struct AccountPath {
    /// The account's sid; the credentials must be this account's (otherwise 403 / 1003).
    #[allow(
        dead_code,
        reason = "the gate reads the sid; the handler only names it"
    )]
    sid: String,
}

/// `{sid}` and `{user_id}`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub(crate) struct UserPath {
    /// The account's sid; the credentials must be this account's (otherwise 403 / 1003).
    #[allow(
        dead_code,
        reason = "the gate reads the sid; the handler only names it"
    )]
    sid: String,
    /// A user id, 32 lower-case hex characters; anything else is 404 / 10801.
    #[param(pattern = "^[0-9a-f]{32}$")]
    pub(crate) user_id: String,
}

json_body! {
    /// The body of create user. A field that is absent, `null` or blank counts as not sent.
    pub(crate) struct CreateUserBody {
        /// Mandatory (400 / 1001); invalid is 400 / 1002.
        #[schema(value_type = PersonName, required = true)]
        first_name: Option<String> = string(FirstName),
        /// Mandatory (400 / 1001); invalid is 400 / 1002.
        #[schema(value_type = PersonName, required = true)]
        last_name: Option<String> = string(LastName),
        /// Unique in the account without regard to case (409 / 10813); invalid is
        /// 400 / 1002.
        #[schema(value_type = Option<EmailAddressOrBlank>)]
        email: Option<String> = string(Email),
        /// The phone's number (400 / 1401 when not E.164). Mandatory unless the account has
        /// VOIP (400 / 1402); used by another device of the account: 409 / 10812.
        #[schema(value_type = Option<PhoneNumberOrBlank>)]
        device_contact_uri: Option<String> = string(DeviceContactUri),
        /// The phone's name; default `Phone`. Invalid is 400 / 1002.
        #[schema(value_type = Option<DeviceLabelOrBlank>)]
        device_name: Option<String> = string(DeviceName),
        /// Default `user`; anything else than a role is 400 / 1002.
        #[schema(value_type = Option<RoleNameOrBlank>)]
        role: Option<String> = string(Role),
    }
}

json_body! {
    /// The body of update user: any of the names and the email. Fields not sent (absent,
    /// `null` or blank) keep their values.
    pub(crate) struct UpdateUserBody {
        /// Invalid is 400 / 1002.
        #[schema(value_type = Option<PersonNameOrBlank>)]
        first_name: Option<String> = string(FirstName),
        /// Invalid is 400 / 1002.
        #[schema(value_type = Option<PersonNameOrBlank>)]
        last_name: Option<String> = string(LastName),
        /// Only for a user without one: otherwise 400 / 1002, unless it is the same
        /// address. Used by another user: 409 / 10813.
        #[schema(value_type = Option<EmailAddressOrBlank>)]
        email: Option<String> = string(Email),
        /// Not changeable here: only `null` (the same as not sent) is accepted; any
        /// other value is 400 / 1002.
        #[schema(value_type = Null, required = false)]
        role: bool = has(Role),
        /// Not changeable: only `null` (the same as not sent) is accepted; any other
        /// value is 400 / 1002.
        #[schema(value_type = Null, required = false)]
        id: bool = has(Id),
    }
}

/// Create a user
///
/// Creates a user with a `tel` device from `device_contact_uri` and, on a VOIP account, a
/// `sip` softphone too. The answer is the new user with its `devices`.
#[utoipa::path(
    post,
    path = "/v2/accounts/{sid}/users",
    tag = "users",
    params(AccountPath, ("Idempotency-Key" = Option<String>, Header, nullable = false, max_length = 255,
        pattern = r"^[!-~]([ -~]{0,253}[!-~])?$", description = IDEMPOTENCY_KEY_DESCRIPTION)),
    request_body = CreateUserBody,
    responses(
        (status = 200, description = "The new user, with `devices`; or, for a retry under             the same `Idempotency-Key`, the first answer again.",
            body = Envelope<Success<UserView>>,
            headers(("ETag" = String, description = "Extension: the record's version as a strong tag, for `If-Match`."),
                ("Idempotent-Replayed" = String, description = "Extension: `true` on a replay for a retry under the same `Idempotency-Key`; absent otherwise.")),
            links(
                ("GetUser" = (operation_id = "get_user", parameters(
                    ("sid" = "$request.path.sid"), ("user_id" = "$response.body#/response/data/id")))),
                ("UpdateUser" = (operation_id = "update_user", parameters(
                    ("sid" = "$request.path.sid"), ("user_id" = "$response.body#/response/data/id")))),
                ("DeleteUser" = (operation_id = "delete_user", parameters(
                    ("sid" = "$request.path.sid"), ("user_id" = "$response.body#/response/data/id")))),
                ("ListDevices" = (operation_id = "list_devices", parameters(
                    ("sid" = "$request.path.sid"), ("user_id" = "$response.body#/response/data/id")))),
                ("AddDevice" = (operation_id = "add_device", parameters(
                    ("sid" = "$request.path.sid"), ("user_id" = "$response.body#/response/data/id")))),
                ("UpdateDevice" = (operation_id = "update_device", parameters(
                    ("sid" = "$request.path.sid"), ("user_id" = "$response.body#/response/data/id"),
                    ("device_id" = "$response.body#/response/data/devices/0/id")))),
                ("DeleteDevice" = (operation_id = "delete_device", parameters(
                    ("sid" = "$request.path.sid"), ("user_id" = "$response.body#/response/data/id"),
                    ("device_id" = "$response.body#/response/data/devices/0/id")))),
            )),
        (status = 400, body = Envelope<Failure>, description = "1001 a mandatory field is \
            missing; 1002 an invalid name, email, role or device name; 1401 not E.164; 1402 \
            no `device_contact_uri` on an account without VOIP; 1007 the body is not a JSON \
            object or a field has the wrong JSON type."),
        (status = 409, body = Envelope<Failure>, description = "10812 the number is used by a \
            device of the account; 10813 the email is used by a user of the account; 1008 the \
            `Idempotency-Key` was used with another request."),
    )
)]
pub(crate) async fn create_user(
    State(state): State<AppState>,
    Extension(account): Extension<Arc<Account>>,
    _path: Path<AccountPath>,
    IdempotencyKey(key): IdempotencyKey,
    raw: JsonObject,
) -> Result<Response, ApiError> {
    let body = CreateUserBody::read(&raw)?;
    let input = CreateUser {
        first_name: body.first_name,
        last_name: body.last_name,
        email: body.email,
        device_contact_uri: body.device_contact_uri,
        device_name: body.device_name,
        role: body.role,
    };

    let fields = UserFields {
        devices: true,
        ..UserFields::default()
    };
    let render = |user: &User| Reply::record(UserView::new(user, &account, fields));
    let keep = |user: &User| render(user).response.to_vec();
    let idempotency = key.as_deref().map(|key| Idempotency {
        key,
        fingerprint: fingerprint("users", &raw),
        render: &keep,
    });

    let created = state
        .directory
        .create_user_once(&account, input, idempotency)
        .await?;

    Ok(match created {
        Created::New(user) => (etag(user.version), render(&user)).into_response(),
        Created::Replayed(answer) => replayed(answer),
    })
}

/// A create's first answer again, for a retry under the same idempotency key. A created
/// record's first version is always the same, so its tag is too.
pub(crate) fn replayed(answer: Vec<u8>) -> Response {
    let replay = [(IDEMPOTENT_REPLAYED.clone(), "true")];
    (etag(FIRST_VERSION), replay, Reply::replayed(answer)).into_response()
}

pub(crate) const IDEMPOTENCY_KEY_DESCRIPTION: &str = "Extension: 1 to 255 printable ASCII \
    characters chosen by the client. A retry of the same request (same target, same JSON) \
    within 24 hours gets the first answer again and creates nothing; the key with another \
    request is 409 / 1008. Invalid keys are 400 / 1007.";
pub(crate) const IF_MATCH_DESCRIPTION: &str = "Extension: `*` or a list of ETags; when the \
    record is at none of them the answer is 412 / 1009 and nothing changes.";

/// List users
///
/// The account's users matching every filter given, ordered by `date_created` then `id`,
/// a page at a time. Values inside one filter are alternatives.
#[utoipa::path(
    get,
    path = "/v2/accounts/{sid}/users",
    tag = "users",
    params(
        AccountPath,
        ("fields" = Option<String>, Query, description = FIELDS_DESCRIPTION),
        ("email" = Option<String>, Query, description = "A comma list of addresses, \
            compared without case; at most 50 (else 400 / 1002)."),
        ("devices.contact_uri" = inline(Option<ContactFilter>), Query, description = "A comma \
            list of numbers (normalised as in create; a leading space is read as `+`) or SIP \
            URIs; at most 50 (else 400 / 1002); anything else is 400 / 1401."),
        ("offset" = Option<u64>, Query, minimum = 0, maximum = 18446744073709551615_u64,
            format = "uint64", description = "Users to skip, a plain decimal number; \
            default 0 (anything else is 400 / 1002)."),
        ("limit" = Option<u32>, Query, minimum = 1, maximum = 50, description = "Page size, \
            a plain decimal number from 1 to 50; default 20 (anything else is 400 / 1002)."),
    ),
    responses(
        (status = 200, description = "A page of users, with `metadata`.",
            body = PagedEnvelope<Vec<Item<UserView>>>),
        (status = 400, body = Envelope<Failure>, description = "1002 a bad `offset`, `limit` or \
            too many filter values; 1401 a bad `devices.contact_uri` value; 1007 a malformed \
            query string."),
    )
)]
pub(crate) async fn list_users(
    State(state): State<AppState>,
    Extension(account): Extension<Arc<Account>>,
    _path: Path<AccountPath>,
    query: Query,
) -> Result<Reply, ApiError> {
    let fields = fields(&query);
    let offset = query.number(Field::Offset, 0, 0..=u64::MAX)?;
    let limit = query.number(Field::Limit, 20, 1..=50)? as u32;
    let filter = UserFilter {
        emails: query.list(Field::Email)?,
        contacts: query.list(Field::DevicesContactUri)?,
        // The public API has no search; the dashboard's list fills it.
        search: None,
    };

    let page = state
        .directory
        .list_users(&account, filter, fields, offset, limit)
        .await?;

    let metadata = Metadata {
        total: page.total,
        count: page.users.len(),
        offset,
        limit,
    };
    let views = page
        .users
        .iter()
        .map(|user| UserView::new(user, &account, fields));
    Ok(Reply::list(views, Some(metadata)))
}

/// Get one user
///
/// One user of the account; `fields` adds the optional parts.
#[utoipa::path(
    get,
    path = "/v2/accounts/{sid}/users/{user_id}",
    tag = "users",
    params(UserPath, ("fields" = Option<String>, Query, description = FIELDS_DESCRIPTION)),
    responses(
        (status = 200, description = "The user.", body = Envelope<Success<UserView>>,
            headers(("ETag" = String, description = "Extension: the record's version as a strong tag, for `If-Match`."))),
        (status = 404, body = Envelope<Failure>,
            description = "10801 no user of this account has this id."),
    )
)]
pub(crate) async fn get_user(
    State(state): State<AppState>,
    Extension(account): Extension<Arc<Account>>,
    Path(path): Path<UserPath>,
    query: Query,
) -> Result<Response, ApiError> {
    let fields = fields(&query);

    let user = state
        .directory
        .get_user(&account, &path.user_id, fields)
        .await?;

    let reply = Reply::record(UserView::new(&user, &account, fields));
    Ok((etag(user.version), reply).into_response())
}

/// Update a user
///
/// Changes the names, or sets the email of a user that has none. Fields not sent keep
/// their values. The answer is the updated user.
#[utoipa::path(
    put,
    path = "/v2/accounts/{sid}/users/{user_id}",
    tag = "users",
    params(UserPath, ("If-Match" = Option<String>, Header, nullable = false, pattern = r#"^ *(\*|(W/)?"[!#-+.-~-]*"( *, *(W/)?"[!#-+.-~-]*")*) *$"#,
        description = IF_MATCH_DESCRIPTION)),
    request_body = UpdateUserBody,
    responses(
        (status = 200, description = "The updated user.", body = Envelope<Success<UserView>>,
            headers(("ETag" = String, description = "Extension: the record's version as a strong tag, for `If-Match`."))),
        (status = 400, body = Envelope<Failure>, description = "1002 an invalid name or \
            email, an email on a user that has another, or `role` or `id` sent; 1007 the \
            body is not a JSON object or a field has the wrong JSON type."),
        (status = 404, body = Envelope<Failure>,
            description = "10801 no user of this account has this id."),
        (status = 409, body = Envelope<Failure>,
            description = "10813 the email is used by another user of the account."),
        (status = 412, body = Envelope<Failure>,
            description = "1009 the user is at none of the versions `If-Match` names."),
    )
)]
pub(crate) async fn update_user(
    State(state): State<AppState>,
    Extension(account): Extension<Arc<Account>>,
    Path(path): Path<UserPath>,
    IfMatch(expect): IfMatch,
    body: JsonObject,
) -> Result<Response, ApiError> {
    let body = UpdateUserBody::read(&body)?;
    let input = UpdateUser {
        first_name: body.first_name,
        last_name: body.last_name,
        email: body.email,
        sends_role: body.role,
        sends_id: body.id,
    };

    let user = state
        .directory
        .update_user(&account, &path.user_id, input, &expect)
        .await?;

    let reply = Reply::record(UserView::new(&user, &account, UserFields::default()));
    Ok((etag(user.version), reply).into_response())
}

/// Delete a user
///
/// Deletes the user and its devices; their numbers and the email are free at once.
#[utoipa::path(
    delete,
    path = "/v2/accounts/{sid}/users/{user_id}",
    tag = "users",
    params(UserPath, ("If-Match" = Option<String>, Header, nullable = false, pattern = r#"^ *(\*|(W/)?"[!#-+.-~-]*"( *, *(W/)?"[!#-+.-~-]*")*) *$"#,
        description = IF_MATCH_DESCRIPTION)),
    responses(
        (status = 200, description = "Deleted: `data` is `null`.", body = Envelope<Success<Null>>),
        (status = 404, body = Envelope<Failure>,
            description = "10801 no user of this account has this id."),
        (status = 412, body = Envelope<Failure>,
            description = "1009 the user is at none of the versions `If-Match` names."),
    )
)]
pub(crate) async fn delete_user(
    State(state): State<AppState>,
    Extension(account): Extension<Arc<Account>>,
    Path(path): Path<UserPath>,
    IfMatch(expect): IfMatch,
) -> Result<Reply, ApiError> {
    state
        .directory
        .delete_user(&account, &path.user_id, &expect)
        .await?;
    Ok(Reply::empty())
}

/// How `fields` is described wherever it is read.
const FIELDS_DESCRIPTION: &str = "A comma list of the optional parts to include: \
    `devices`, `active_call`, `last_login`. Other names are ignored.";

fn fields(query: &Query) -> UserFields {
    query
        .get(Field::Fields.wire_name())
        .map(UserFields::parse)
        .unwrap_or_default()
}

/// A user as the API shows it. Optional parts appear only when asked for with `fields`.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = User)]
pub struct UserView<'a> {
    /// With `fields=active_call`: whether any of the user's devices is on a call.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = bool)]
    active_call: Option<bool>,
    #[schema(format = DateTime)]
    date_created: String,
    #[schema(format = DateTime)]
    date_updated: String,
    /// With `fields=devices`: the user's devices, ordered by id.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Vec<DeviceView>)]
    devices: Option<Vec<DeviceView<'a>>>,
    #[schema(required = true)]
    email: Option<&'a str>,
    /// `false` unless the address was verified, which this API never does.
    email_verified: bool,
    first_name: &'a str,
    /// 32 lower-case hex characters.
    #[schema(value_type = String, pattern = "^[0-9a-f]{32}$")]
    id: UserId,
    /// With `fields=last_login`: the last recorded login, or `null`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, format = DateTime)]
    last_login: Option<Option<String>>,
    last_name: &'a str,
    #[schema(schema_with = role_schema)]
    role: &'static str,
}

fn role_schema() -> utoipa::openapi::Object {
    enumeration(Role::ALL.map(Role::as_str))
}
impl<'a> UserView<'a> {
    pub fn new(user: &'a User, account: &Account, fields: UserFields) -> Self {
        let zone = &account.timezone;
        let devices = user.devices.as_deref().filter(|_| fields.devices);
        Self {
            active_call: user.active_call().filter(|_| fields.active_call),
            date_created: zone.format(user.date_created),
            date_updated: zone.format(user.date_updated),
            devices: devices.map(|devices| devices.iter().map(DeviceView::new).collect()),
            email: user.email.as_ref().map(|e| e.as_str()),
            email_verified: user.email_verified,
            first_name: user.first_name.as_str(),
            id: user.id,
            last_login: fields
                .last_login
                .then(|| user.last_login.map(|at| zone.format(at))),
            last_name: user.last_name.as_str(),
            role: user.role.as_str(),
        }
    }
}

/// A device as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Device)]
pub struct DeviceView<'a> {
    /// `true` = ON, `false` = OFF, `null` while unverified.
    #[schema(required = true)]
    available: Option<bool>,
    /// E.164 (`+919812345678`) for `tel`, a SIP URI (`sip:ashar1a2b3c4d`) for `sip`.
    contact_uri: &'a str,
    /// Unique in the deployment, below 2^53.
    #[schema(minimum = 1, maximum = 9007199254740991_u64)]
    id: u64,
    name: &'a str,
    /// `busy` while on a call.
    #[schema(schema_with = status_schema)]
    status: &'static str,
    #[serde(rename = "type")]
    #[schema(schema_with = kind_schema)]
    kind: &'static str,
    verified: bool,
}

fn status_schema() -> utoipa::openapi::Object {
    enumeration(DeviceStatus::ALL.map(DeviceStatus::as_str))
}

fn kind_schema() -> utoipa::openapi::Object {
    enumeration(DeviceKind::ALL.map(DeviceKind::as_str))
}

impl<'a> DeviceView<'a> {
    pub fn new(device: &'a Device) -> Self {
        Self {
            available: device.available,
            contact_uri: device.contact_uri.as_str(),
            id: device.id.get(),
            name: device.name.as_str(),
            status: device.status.as_str(),
            kind: device.kind().as_str(),
            verified: device.verified,
        }
    }
}
