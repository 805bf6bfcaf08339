//! `/v2/accounts/{sid}/users/{user_id}/devices`: switching devices ON and OFF, numbers,
//! softphone passwords, and (an extension) listing, adding and removing devices.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use roster_domain::{Account, Device, Field};
use roster_service::{AddDevice, Created, Idempotency, UpdateDevice};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::body::json_body;
use crate::conditional::{etag, fingerprint, IdempotencyKey, IfMatch};
use crate::envelope::Envelope;
use crate::error::ApiError;
use crate::input::{JsonObject, OptionalJsonObject, Query};
use crate::openapi::{ContactAddress, DeviceLabelOrBlank, PhoneNumberOrBlank};
use crate::reply::{Failure, Item, Null, Reply, Success};
use crate::users::{
    replayed, DeviceView, UserPath, IDEMPOTENCY_KEY_DESCRIPTION, IF_MATCH_DESCRIPTION,
};
use crate::AppState;

/// `{sid}`, `{user_id}` and `{device_id}`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub(crate) struct DevicePath {
    /// The account's sid; the credentials must be this account's (otherwise 403 / 1003).
    #[allow(
        dead_code,
        reason = "the gate reads the sid; the handler only names it"
    )]
    sid: String,
    /// A user id, 32 lower-case hex characters; anything else is 404 / 10801.
    #[param(pattern = "^[0-9a-f]{32}$")]
    user_id: String,
    /// A device id of this user; any other (or malformed) is 404 / 1000.
    #[param(value_type = u64, minimum = 1)]
    device_id: String,
}

json_body! {
    /// The body of add device. A field that is absent, `null` or blank counts as not sent.
    pub(crate) struct AddDeviceBody {
        /// Mandatory (400 / 1001): E.164 for a `tel` device (which starts unverified) or a
        /// SIP URI for a `sip` device (verified, OFF); anything else is 400 / 1401. Used in
        /// the account: 409 / 10812.
        #[schema(value_type = ContactAddress, required = true)]
        contact_uri: Option<String> = string(ContactUri),
        /// Default `Phone` or `Softphone`; invalid is 400 / 1002.
        #[schema(value_type = Option<DeviceLabelOrBlank>)]
        name: Option<String> = string(Name),
    }
}

json_body! {
    /// The body of update device; when the body is empty, the same fields are read from
    /// the query string.
    pub(crate) struct UpdateDeviceBody {
        /// `true` turns the device ON, `false` OFF.
        available: Option<bool> = boolean(Available),
        /// A new number, only for `tel` devices (403 / 10817 otherwise); the device must
        /// then be verified again.
        #[schema(value_type = Option<PhoneNumberOrBlank>)]
        contact_uri: Option<String> = string(ContactUri),
    }
}

json_body! {
    /// The body of the SIP password.
    pub(crate) struct PasswordBody {
        /// Mandatory (400 / 1001): at least 8 characters with at least three of lower case,
        /// upper case, digit, other (400 / 1002 otherwise). Never stored nor returned.
        #[schema(value_type = String, required = true, min_length = 8, format = Password)]
        password: Option<String> = string(Password),
    }
}

/// List a user's devices
///
/// Extension: the user's devices ordered by id, without paging.
#[utoipa::path(
    get,
    path = "/v2/accounts/{sid}/users/{user_id}/devices",
    tag = "devices",
    params(UserPath),
    responses(
        (status = 200, description = "The devices.", body = Envelope<Vec<Item<DeviceView>>>),
        (status = 404, body = Envelope<Failure>,
            description = "10801 no user of this account has this id."),
    )
)]
pub(crate) async fn list_devices(
    State(state): State<AppState>,
    Extension(account): Extension<Arc<Account>>,
    Path(path): Path<UserPath>,
) -> Result<Reply, ApiError> {
    let devices = state
        .directory
        .list_devices(&account, &path.user_id)
        .await?;
    Ok(Reply::list(devices.iter().map(DeviceView::new), None))
}

/// Add a device
///
/// Extension: adds a `tel` or `sip` device to a user.
#[utoipa::path(
    post,
    path = "/v2/accounts/{sid}/users/{user_id}/devices",
    tag = "devices",
    params(UserPath, ("Idempotency-Key" = Option<String>, Header, nullable = false, max_length = 255,
        pattern = r"^[!-~]([ -~]{0,253}[!-~])?$", description = IDEMPOTENCY_KEY_DESCRIPTION)),
    request_body = AddDeviceBody,
    responses(
        (status = 200, description = "The new device; or, for a retry under the same \
            `Idempotency-Key`, the first answer again.", body = Envelope<Success<DeviceView>>,
            headers(("ETag" = String, description = "Extension: the record's version as a strong tag, for `If-Match`."),
                ("Idempotent-Replayed" = String, description = "Extension: `true` on a replay for a retry under the same `Idempotency-Key`; absent otherwise.")),
            links(
                ("UpdateDevice" = (operation_id = "update_device", parameters(
                    ("sid" = "$request.path.sid"), ("user_id" = "$request.path.user_id"),
                    ("device_id" = "$response.body#/response/data/id")))),
                ("SetSipPassword" = (operation_id = "set_sip_password", parameters(
                    ("sid" = "$request.path.sid"), ("user_id" = "$request.path.user_id"),
                    ("device_id" = "$response.body#/response/data/id")))),
                ("DeleteDevice" = (operation_id = "delete_device", parameters(
                    ("sid" = "$request.path.sid"), ("user_id" = "$request.path.user_id"),
                    ("device_id" = "$response.body#/response/data/id")))),
            )),
        (status = 400, body = Envelope<Failure>, description = "1001 `contact_uri` \
            missing; 1002 an invalid name; 1401 neither E.164 nor a SIP URI; 1007 the body \
            is not a JSON object or a field has the wrong JSON type."),
        (status = 404, body = Envelope<Failure>,
            description = "10801 no user of this account has this id."),
        (status = 409, body = Envelope<Failure>,
            description = "10812 the contact is used by a device of the account; 1008 the \
            `Idempotency-Key` was used with another request."),
    )
)]
pub(crate) async fn add_device(
    State(state): State<AppState>,
    Extension(account): Extension<Arc<Account>>,
    Path(path): Path<UserPath>,
    IdempotencyKey(key): IdempotencyKey,
    raw: JsonObject,
) -> Result<Response, ApiError> {
    let body = AddDeviceBody::read(&raw)?;
    let input = AddDevice {
        contact_uri: body.contact_uri,
        name: body.name,
    };
    let keep = |device: &Device| device_reply(device).response.to_vec();
    let target = format!("users/{}/devices", path.user_id);
    let idempotency = key.as_deref().map(|key| Idempotency {
        key,
        fingerprint: fingerprint(&target, &raw),
        render: &keep,
    });

    let created = state
        .directory
        .add_device_once(&account, &path.user_id, input, idempotency)
        .await?;

    Ok(match created {
        Created::New(device) => with_etag(&device),
        Created::Replayed(answer) => replayed(answer),
    })
}

fn device_reply(device: &Device) -> Reply {
    Reply::record(DeviceView::new(device))
}

fn with_etag(device: &Device) -> Response {
    (etag(device.version), device_reply(device)).into_response()
}

/// Update a device
///
/// Switches a device ON or OFF and/or changes its number, validated and applied together.
/// When the body is empty (no bytes, or only white space) `available` and `contact_uri`
/// are read from the query string instead, as a widely used client sends them.
#[utoipa::path(
    put,
    path = "/v2/accounts/{sid}/users/{user_id}/devices/{device_id}",
    tag = "devices",
    params(
        DevicePath,
        ("available" = Option<String>, Query, pattern = "^(true|false|True|False|1|0)$",
            description = "Read only when the body is empty: `true`, `false`, `True`, \
            `False`, `1` or `0` (anything else is 400 / 1002)."),
        ("contact_uri" = Option<String>, Query, description = "Read only when the body is \
            empty: a new number; an unencoded `+` (read as a space) is read back as `+`."),
        ("If-Match" = Option<String>, Header, nullable = false, pattern = r#"^ *(\*|(W/)?"[!#-+.-~-]*"( *, *(W/)?"[!#-+.-~-]*")*) *$"#,
        description = IF_MATCH_DESCRIPTION),
    ),
    request_body(content = Option<UpdateDeviceBody>,
        description = "Optional: an empty body reads the query string instead."),
    responses(
        (status = 200, description = "The device.", body = Envelope<Success<DeviceView>>,
            headers(("ETag" = String, description = "Extension: the record's version as a strong tag, for `If-Match`."))),
        (status = 400, body = Envelope<Failure>, description = "1401 `contact_uri` not \
            E.164; 1002 a bad `available` in the query string; 1007 the body is not a JSON \
            object or a field has the wrong JSON type."),
        (status = 403, body = Envelope<Failure>, description = "10810 another device of \
            the user is ON; 10817 `contact_uri` on a device that is not `tel`."),
        (status = 404, body = Envelope<Failure>, description = "10801 no user of this \
            account has this id; 1000 no such device of this user."),
        (status = 409, body = Envelope<Failure>, description = "10809 turning ON a device \
            that is not verified; 10811 the number is used by another device of the account."),
        (status = 412, body = Envelope<Failure>,
            description = "1009 the device is at none of the versions `If-Match` names."),
    )
)]
pub(crate) async fn update_device(
    State(state): State<AppState>,
    Extension(account): Extension<Arc<Account>>,
    Path(path): Path<DevicePath>,
    IfMatch(expect): IfMatch,
    query: Query,
    OptionalJsonObject(body): OptionalJsonObject,
) -> Result<Response, ApiError> {
    let input = match body {
        Some(body) => {
            let body = UpdateDeviceBody::read(&body)?;
            UpdateDevice {
                available: body.available,
                contact_uri: body.contact_uri,
            }
        }
        None => UpdateDevice {
            available: query
                .get(Field::Available.wire_name())
                .map(query_bool)
                .transpose()?,
            // An unencoded `+` arrives as a space; read it back as the `+` it was.
            contact_uri: query.get(Field::ContactUri.wire_name()).map(|raw| {
                match raw.strip_prefix(' ') {
                    Some(rest) => format!("+{}", rest.trim_start()),
                    None => raw.to_owned(),
                }
            }),
        },
    };

    let device = state
        .directory
        .update_device(&account, &path.user_id, &path.device_id, input, &expect)
        .await?;

    Ok(with_etag(&device))
}

/// Set a softphone's SIP password
///
/// Keeps only the digests a SIP registrar needs (HA1 with MD5 and SHA-256).
#[utoipa::path(
    put,
    path = "/v2/accounts/{sid}/users/{user_id}/devices/{device_id}/password",
    tag = "devices",
    params(DevicePath),
    request_body = PasswordBody,
    responses(
        (status = 200, description = "The device.", body = Envelope<Success<DeviceView>>,
            headers(("ETag" = String, description = "Extension: the record's version as a strong tag, for `If-Match`."))),
        (status = 400, body = Envelope<Failure>, description = "1001 `password` missing; \
            1002 a weak password or a device that is not `sip`; 1007 the body is not a JSON \
            object or a field has the wrong JSON type."),
        (status = 404, body = Envelope<Failure>, description = "10801 no user of this \
            account has this id; 1000 no such device of this user."),
    )
)]
pub(crate) async fn set_sip_password(
    State(state): State<AppState>,
    Extension(account): Extension<Arc<Account>>,
    Path(path): Path<DevicePath>,
    body: JsonObject,
) -> Result<Response, ApiError> {
    let body = PasswordBody::read(&body)?;

    let device = state
        .directory
        .set_sip_password(&account, &path.user_id, &path.device_id, body.password)
        .await?;

    Ok(with_etag(&device))
}

/// Delete a device
///
/// Extension: removes a device from its user.
#[utoipa::path(
    delete,
    path = "/v2/accounts/{sid}/users/{user_id}/devices/{device_id}",
    tag = "devices",
    params(DevicePath, ("If-Match" = Option<String>, Header, nullable = false, pattern = r#"^ *(\*|(W/)?"[!#-+.-~-]*"( *, *(W/)?"[!#-+.-~-]*")*) *$"#,
        description = IF_MATCH_DESCRIPTION)),
    responses(
        (status = 200, description = "Deleted: `data` is `null`.", body = Envelope<Success<Null>>),
        (status = 404, body = Envelope<Failure>, description = "10801 no user of this \
            account has this id; 1000 no such device of this user."),
        (status = 412, body = Envelope<Failure>,
            description = "1009 the device is at none of the versions `If-Match` names."),
    )
)]
pub(crate) async fn delete_device(
    State(state): State<AppState>,
    Extension(account): Extension<Arc<Account>>,
    Path(path): Path<DevicePath>,
    IfMatch(expect): IfMatch,
) -> Result<Reply, ApiError> {
    state
        .directory
        .delete_device(&account, &path.user_id, &path.device_id, &expect)
        .await?;
    Ok(Reply::empty())
}

fn query_bool(raw: &str) -> Result<bool, ApiError> {
    match raw {
        "true" | "True" | "1" => Ok(true),
        "false" | "False" | "0" => Ok(false),
        _ => Err(roster_domain::RuleError::invalid(
            Field::Available,
            "must be true, false, True, False, 1 or 0",
        )
        .into()),
    }
}
