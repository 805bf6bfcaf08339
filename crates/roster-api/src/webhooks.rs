//! `/operator/v1/accounts/{sid}/webhooks` (an extension): the receivers of an account's
//! events and what became of their deliveries, with the shapes the CLI prints too.

use axum::extract::{Path, State};
use roster_domain::{Delivery, Field, RuleError, Webhook};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::body::json_body;
use crate::envelope::Envelope;
use crate::error::ApiError;
use crate::input::{JsonObject, Query};
use crate::operator::AccountPath;
use crate::reply::{Failure, Item, Null, Reply, Success};
use crate::AppState;

/// A receiver as listed: never its secret.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Webhook)]
pub struct WebhookView<'a> {
    id: &'a str,
    account_sid: &'a str,
    url: &'a str,
    /// The last event id handled; deliveries go on after it.
    last_event_id: u64,
    #[schema(format = DateTime)]
    date_created: String,
}

impl<'a> WebhookView<'a> {
    pub fn new(hook: &'a Webhook) -> Self {
        Self {
            id: &hook.id,
            account_sid: hook.account.as_str(),
            url: &hook.url,
            last_event_id: hook.cursor,
            date_created: format!("{:.0}", hook.date_created),
        }
    }
}

/// A new receiver, with its signing secret: the only time it is shown.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = NewWebhook)]
pub struct NewWebhookView<'a> {
    #[serde(flatten)]
    webhook: WebhookView<'a>,
    secret: &'a str,
}

impl<'a> NewWebhookView<'a> {
    pub fn new(hook: &'a Webhook) -> Self {
        Self {
            webhook: WebhookView::new(hook),
            secret: &hook.secret,
        }
    }
}

/// How one event's delivery to one receiver ended.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Delivery)]
pub struct DeliveryView<'a> {
    webhook_id: &'a str,
    event_id: u64,
    /// `delivered`, or `parked` when every attempt failed for as long as retries last.
    status: &'static str,
    attempts: u32,
    /// The receiver's last HTTP status, when it answered.
    last_status: Option<u16>,
    /// Why the last attempt failed.
    last_error: Option<&'a str>,
    #[schema(format = DateTime)]
    at: String,
}

impl<'a> DeliveryView<'a> {
    pub fn new(delivery: &'a Delivery) -> Self {
        Self {
            webhook_id: &delivery.webhook_id,
            event_id: delivery.event_id,
            status: delivery.status.as_str(),
            attempts: delivery.attempts,
            last_status: delivery.last_status,
            last_error: delivery.last_error.as_deref(),
            at: format!("{:.3}", delivery.at),
        }
    }
}

json_body! {
    /// A receiver to register.
    pub(crate) struct WebhookBody {
        /// Mandatory (400 / 1001): an `http://` or `https://` URL of visible ASCII (percent-
        /// encode the rest), with a host and without credentials.
        #[schema(value_type = String, required = true, max_length = 2048,
            pattern = r##"^https?://(\[[0-9A-Fa-f:.]+\](:[0-9]*)?|[!-"$-.0->A-Z\\^-~]+)([/?#][!-~]*)?$"##)]
        url: Option<String> = string(Url),
        /// 16 to 256 visible ASCII characters to sign deliveries with; default a new one.
        #[schema(value_type = Option<String>, min_length = 16, max_length = 256)]
        secret: Option<String> = string(Secret),
    }
}

/// `{sid}` and `{webhook_id}`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub(crate) struct WebhookPath {
    /// An account's sid; an unknown one is 404 / 1000.
    sid: String,
    /// A receiver's id; an unknown one is 404 / 1000.
    webhook_id: String,
}

/// List an account's webhooks
#[utoipa::path(
    get,
    path = "/operator/v1/accounts/{sid}/webhooks",
    tag = "operator",
    params(AccountPath),
    responses(
        (status = 200, description = "The receivers (never their secrets).",
            body = Envelope<Vec<Item<WebhookView>>>),
        (status = 404, body = Envelope<Failure>, description = "1000 no such account."),
    )
)]
pub(crate) async fn list_webhooks(
    State(state): State<AppState>,
    Path(path): Path<AccountPath>,
) -> Result<Reply, ApiError> {
    let hooks = state.directory.webhooks(&path.sid).await?;
    Ok(Reply::list(hooks.iter().map(WebhookView::new), None))
}

/// Register a webhook
///
/// Every event of the account from now on is POSTed to `url`, signed with the secret,
/// which this answer shows for the only time.
#[utoipa::path(
    post,
    path = "/operator/v1/accounts/{sid}/webhooks",
    tag = "operator",
    params(AccountPath),
    request_body = WebhookBody,
    responses(
        (status = 200, description = "The receiver and its secret.",
            body = Envelope<Success<NewWebhookView>>,
            links(("RemoveWebhook" = (operation_id = "remove_webhook", parameters(
                ("sid" = "$request.path.sid"),
                ("webhook_id" = "$response.body#/response/data/id")))))),
        (status = 400, body = Envelope<Failure>, description = "1001 `url` missing; 1002 a \
            bad url or secret; 1007 the body is not a JSON object or a field has the wrong \
            JSON type."),
        (status = 404, body = Envelope<Failure>, description = "1000 no such account."),
    )
)]
pub(crate) async fn add_webhook(
    State(state): State<AppState>,
    Path(path): Path<AccountPath>,
    body: JsonObject,
) -> Result<Reply, ApiError> {
    let body = WebhookBody::read(&body)?;
    let url = body.url.ok_or(RuleError::Missing(Field::Url))?;
    let hook = state
        .directory
        .add_webhook(&path.sid, &url, body.secret)
        .await?;
    Ok(Reply::record(NewWebhookView::new(&hook)))
}

/// Remove a webhook
#[utoipa::path(
    delete,
    path = "/operator/v1/accounts/{sid}/webhooks/{webhook_id}",
    tag = "operator",
    params(WebhookPath),
    responses(
        (status = 200, description = "Removed: `data` is `null`.", body = Envelope<Success<Null>>),
        (status = 404, body = Envelope<Failure>,
            description = "1000 no such account, or no such webhook of it."),
    )
)]
pub(crate) async fn remove_webhook(
    State(state): State<AppState>,
    Path(path): Path<WebhookPath>,
) -> Result<Reply, ApiError> {
    state
        .directory
        .remove_webhook(&path.sid, &path.webhook_id)
        .await?;
    Ok(Reply::empty())
}

/// List an account's latest webhook deliveries
///
/// Newest first; parked ones are those whose every attempt failed.
#[utoipa::path(
    get,
    path = "/operator/v1/accounts/{sid}/webhooks/deliveries",
    tag = "operator",
    params(AccountPath, ("limit" = Option<u32>, Query, minimum = 1, maximum = 500,
        description = "How many; default 50 (anything else is 400 / 1002).")),
    responses(
        (status = 200, description = "The deliveries.", body = Envelope<Vec<Item<DeliveryView>>>),
        (status = 400, body = Envelope<Failure>, description = "1002 a bad `limit`."),
        (status = 404, body = Envelope<Failure>, description = "1000 no such account."),
    )
)]
pub(crate) async fn deliveries(
    State(state): State<AppState>,
    Path(path): Path<AccountPath>,
    query: Query,
) -> Result<Reply, ApiError> {
    let limit = query.number(Field::Limit, 50, 1..=500)? as u32;
    let deliveries = state.directory.deliveries(&path.sid, limit).await?;
    Ok(Reply::list(deliveries.iter().map(DeliveryView::new), None))
}
