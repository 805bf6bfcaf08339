//! `/v2/accounts/{sid}/users`: creating and reading users, with the wire shapes of users
//! and devices. Record keys are declared in alphabetical order, as Exotel writes them.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use roster_domain::{Account, Device, Field, User, UserFields, UserId, FIRST_VERSION};
use roster_service::{CreateUser, Created, Idempotency, UpdateUser, UserFilter};
use serde::Serialize;

use crate::conditional::{etag, fingerprint, IdempotencyKey, IfMatch, IDEMPOTENT_REPLAYED};
use crate::error::ApiError;
use crate::input::{JsonObject, Query};
use crate::reply::{Metadata, Reply};
use crate::AppState;

pub(crate) async fn create_user(
    State(state): State<AppState>,
    Extension(account): Extension<Arc<Account>>,
    IdempotencyKey(key): IdempotencyKey,
    body: JsonObject,
) -> Result<Response, ApiError> {
    let input = CreateUser {
        first_name: body.string(Field::FirstName)?,
        last_name: body.string(Field::LastName)?,
        email: body.string(Field::Email)?,
        device_contact_uri: body.string(Field::DeviceContactUri)?,
        device_name: body.string(Field::DeviceName)?,
        role: body.string(Field::Role)?,
    };

    let fields = UserFields {
        devices: true,
        ..UserFields::default()
    };
    let render = |user: &User| Reply::record(Some(UserView::new(user, &account, fields)));
    let keep = |user: &User| render(user).response.to_vec();
    let idempotency = key.as_deref().map(|key| Idempotency {
        key,
        fingerprint: fingerprint("users", &body),
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

pub(crate) async fn list_users(
    State(state): State<AppState>,
    Extension(account): Extension<Arc<Account>>,
    query: Query,
) -> Result<Reply, ApiError> {
    let fields = fields(&query);
    let offset = query.number(Field::Offset, 0, 0..=u64::MAX)?;
    let limit = query.number(Field::Limit, 20, 1..=50)? as u32;
    let filter = UserFilter {
        emails: query.list(Field::Email)?,
        contacts: query.list(Field::DevicesContactUri)?,
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

pub(crate) async fn get_user(
    State(state): State<AppState>,
    Extension(account): Extension<Arc<Account>>,
    Path((_sid, user_id)): Path<(String, String)>,
    query: Query,
) -> Result<Response, ApiError> {
    let fields = fields(&query);

    let user = state.directory.get_user(&account, &user_id, fields).await?;

    let reply = Reply::record(Some(UserView::new(&user, &account, fields)));
    Ok((etag(user.version), reply).into_response())
}

pub(crate) async fn update_user(
    State(state): State<AppState>,
    Extension(account): Extension<Arc<Account>>,
    Path((_sid, user_id)): Path<(String, String)>,
    IfMatch(expect): IfMatch,
    body: JsonObject,
) -> Result<Response, ApiError> {
    let input = UpdateUser {
        first_name: body.string(Field::FirstName)?,
        last_name: body.string(Field::LastName)?,
        email: body.string(Field::Email)?,
        sends_role: body.has(Field::Role),
        sends_id: body.has(Field::Id),
    };

    let user = state
        .directory
        .update_user(&account, &user_id, input, &expect)
        .await?;

    let reply = Reply::record(Some(UserView::new(&user, &account, UserFields::default())));
    Ok((etag(user.version), reply).into_response())
}

pub(crate) async fn delete_user(
    State(state): State<AppState>,
    Extension(account): Extension<Arc<Account>>,
    Path((_sid, user_id)): Path<(String, String)>,
    IfMatch(expect): IfMatch,
) -> Result<Reply, ApiError> {
    state
        .directory
        .delete_user(&account, &user_id, &expect)
        .await?;
    Ok(Reply::record(None::<()>))
}

fn fields(query: &Query) -> UserFields {
    query
        .get("fields")
        .map(UserFields::parse)
        .unwrap_or_default()
}

/// A user as the API shows it. Optional parts appear only when asked for with `fields`.
#[derive(Debug, Serialize)]
pub struct UserView<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    active_call: Option<bool>,
    date_created: String,
    date_updated: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    devices: Option<Vec<DeviceView<'a>>>,
    email: Option<&'a str>,
    email_verified: bool,
    first_name: &'a str,
    id: UserId,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_login: Option<Option<String>>,
    last_name: &'a str,
    role: &'static str,
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
#[derive(Debug, Serialize)]
pub struct DeviceView<'a> {
    available: Option<bool>,
    contact_uri: &'a str,
    id: u64,
    name: &'a str,
    status: &'static str,
    #[serde(rename = "type")]
    kind: &'static str,
    verified: bool,
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
