//! `/v2/accounts/{sid}/users/{user_id}/devices`: switching devices ON and OFF, numbers,
//! softphone passwords, and (an extension) listing, adding and removing devices.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use roster_domain::{Account, Device, Field};
use roster_service::{AddDevice, Created, Idempotency, UpdateDevice};

use crate::conditional::{etag, fingerprint, IdempotencyKey, IfMatch};
use crate::error::ApiError;
use crate::input::{JsonObject, OptionalJsonObject, Query};
use crate::reply::Reply;
use crate::users::{replayed, DeviceView};
use crate::AppState;

type DevicePath = Path<(String, String, String)>;

pub(crate) async fn list_devices(
    State(state): State<AppState>,
    Extension(account): Extension<Arc<Account>>,
    Path((_sid, user_id)): Path<(String, String)>,
) -> Result<Reply, ApiError> {
    let devices = state.directory.list_devices(&account, &user_id).await?;
    Ok(Reply::list(devices.iter().map(DeviceView::new), None))
}

pub(crate) async fn add_device(
    State(state): State<AppState>,
    Extension(account): Extension<Arc<Account>>,
    Path((_sid, user_id)): Path<(String, String)>,
    IdempotencyKey(key): IdempotencyKey,
    body: JsonObject,
) -> Result<Response, ApiError> {
    let input = AddDevice {
        contact_uri: body.string(Field::ContactUri)?,
        name: body.string(Field::Name)?,
    };
    let keep = |device: &Device| device_reply(device).response.to_vec();
    let target = format!("users/{user_id}/devices");
    let idempotency = key.as_deref().map(|key| Idempotency {
        key,
        fingerprint: fingerprint(&target, &body),
        render: &keep,
    });

    let created = state
        .directory
        .add_device_once(&account, &user_id, input, idempotency)
        .await?;

    Ok(match created {
        Created::New(device) => with_etag(&device),
        Created::Replayed(answer) => replayed(answer),
    })
}

fn device_reply(device: &Device) -> Reply {
    Reply::record(Some(DeviceView::new(device)))
}

fn with_etag(device: &Device) -> Response {
    (etag(device.version), device_reply(device)).into_response()
}

/// Reads `available` and `contact_uri` from the body or, when the body is empty, from the
/// query string, as a widely used client sends them.
pub(crate) async fn update_device(
    State(state): State<AppState>,
    Extension(account): Extension<Arc<Account>>,
    Path((_sid, user_id, device_id)): DevicePath,
    IfMatch(expect): IfMatch,
    query: Query,
    OptionalJsonObject(body): OptionalJsonObject,
) -> Result<Response, ApiError> {
    let input = match body {
        Some(body) => UpdateDevice {
            available: body.boolean(Field::Available)?,
            contact_uri: body.string(Field::ContactUri)?,
        },
        None => UpdateDevice {
            available: query.get("available").map(query_bool).transpose()?,
            // An unencoded `+` arrives as a space; read it back as the `+` it was.
            contact_uri: query
                .get("contact_uri")
                .map(|raw| match raw.strip_prefix(' ') {
                    Some(rest) => format!("+{}", rest.trim_start()),
                    None => raw.to_owned(),
                }),
        },
    };

    let device = state
        .directory
        .update_device(&account, &user_id, &device_id, input, &expect)
        .await?;

    Ok(with_etag(&device))
}

pub(crate) async fn set_sip_password(
    State(state): State<AppState>,
    Extension(account): Extension<Arc<Account>>,
    Path((_sid, user_id, device_id)): DevicePath,
    body: JsonObject,
) -> Result<Response, ApiError> {
    let password = body.string(Field::Password)?;

    let device = state
        .directory
        .set_sip_password(&account, &user_id, &device_id, password)
        .await?;

    Ok(with_etag(&device))
}

pub(crate) async fn delete_device(
    State(state): State<AppState>,
    Extension(account): Extension<Arc<Account>>,
    Path((_sid, user_id, device_id)): DevicePath,
    IfMatch(expect): IfMatch,
) -> Result<Reply, ApiError> {
    state
        .directory
        .delete_device(&account, &user_id, &device_id, &expect)
        .await?;
    Ok(Reply::record(None::<()>))
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
