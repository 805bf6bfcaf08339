//! `GET /v2/accounts/{sid}/events` (an extension): the account's changes as Server-Sent
//! Events, live, and from where a reconnecting client left off.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use futures_util::future::BoxFuture;
use futures_util::stream;
use roster_domain::{Account, Event, EventRecord, UserFields, UserId};
use roster_service::{Directory, EVENT_PAGE};
use serde::Serialize;
use tokio::sync::watch;

use crate::envelope::{Envelope, Unwrapped};
use crate::error::ApiError;
use crate::input::Query;
use crate::metrics::StreamGuard;
use crate::reply::Failure;
use crate::users::{AccountPath, DeviceView, UserView};
use crate::AppState;

/// How often a stream looks for new events: changes made on another node reach it within
/// this time (plus the read).
const POLL: Duration = Duration::from_millis(250);
/// How often an idle stream sends a comment, so proxies and clients know it is alive.
const KEEP_ALIVE: Duration = Duration::from_secs(15);
/// How often an open stream checks that its credentials still hold: a revoked key or a
/// deleted account ends it within about this time.
const RECHECK: Duration = Duration::from_secs(1);

/// Stream the account's changes (extension)
///
/// Server-Sent Events, one per change of a user or device: `id` (increasing by one per
/// account), `event` (`user.created`, `user.updated`, `user.deleted`, `device.created`,
/// `device.updated`, `device.deleted`) and `data`, a JSON object with the event's `id`,
/// `type`, `timestamp`, `account_sid`, `user_id` and the record as `GET` shows it. Without
/// `Last-Event-ID` the stream starts with the next change; with it, every kept event after
/// that id comes first. Events older than the retention window are forgotten; a client
/// that missed some gets a `stream.gap` event first, with `last_event_id` and
/// `next_event_id`.
#[utoipa::path(
    get,
    path = "/v2/accounts/{sid}/events",
    tag = "events",
    params(
        AccountPath,
        ("Last-Event-ID" = Option<i64>, Header, nullable = false, minimum = 0, description = "The last event id the client \
            saw; what came after it is sent first."),
        ("last_event_id" = Option<i64>, Query, nullable = false, minimum = 0, description = "The same, for a first \
            connection that cannot set headers; the header wins."),
    ),
    responses(
        (status = 200, description = "The stream, until the client or the server ends it.",
            content_type = "text/event-stream", body = SseMessage),
        (status = 400, body = Envelope<Failure>,
            description = "1007 `Last-Event-ID` is not a whole number."),
    )
)]
pub(crate) async fn stream_events(
    State(state): State<AppState>,
    Extension(account): Extension<Arc<Account>>,
    _path: axum::extract::Path<AccountPath>,
    headers: HeaderMap,
    query: Query,
) -> Result<Response, ApiError> {
    let resume = last_event_id(&headers, &query)?;
    // The key and token the stream was opened with are checked again as it runs.
    let credentials = crate::auth::basic_credentials(&headers);
    let directory = state.directory.clone();
    let region = state.region.clone();
    let sid = account.sid.to_string();
    let recheck: StillAdmitted = Arc::new(move || {
        let (directory, region, credentials, sid) = (
            directory.clone(),
            region.clone(),
            credentials.clone(),
            sid.clone(),
        );
        Box::pin(async move {
            let credentials = credentials
                .as_ref()
                .map(|(key, token)| (key.as_str(), token.as_str()));
            crate::auth::admission(&directory, &region, credentials, Some(&sid))
                .await
                .is_ok()
        })
    });
    open_stream(&state, account, resume, recheck).await
}

/// Asks whether an open stream would still be let in now; answered from the directory's
/// short-lived caches, once a second.
pub type StillAdmitted = Arc<dyn Fn() -> BoxFuture<'static, bool> + Send + Sync>;

/// The account's event stream from after `resume` (or from the next change), for as long
/// as `recheck` holds and the server runs.
pub(crate) async fn open_stream(
    state: &AppState,
    account: Arc<Account>,
    resume: Option<u64>,
    recheck: StillAdmitted,
) -> Result<Response, ApiError> {
    let bounds = state.directory.event_bounds(&account).await?;
    // A comment at once: Firefox's EventSource reports the stream open only when the
    // first bytes of the body arrive, not the headers, so without it an idle stream would
    // look unopened until the first keep-alive.
    let mut pending = VecDeque::from([SseEvent::default().comment("open")]);
    let after = match resume {
        None => bounds.newest,
        Some(last) => {
            let next = bounds.oldest.unwrap_or(bounds.newest + 1);
            // Events after `last` were forgotten (or `last` was never issued here): the
            // client is told, then gets everything still kept.
            if last > bounds.newest || (last < bounds.newest && next > last + 1) {
                pending.push_back(gap_event(last, next));
                next - 1
            } else {
                last
            }
        }
    };

    let cursor = Cursor {
        directory: state.directory.clone(),
        account,
        recheck,
        checked: tokio::time::Instant::now(),
        after,
        pending,
        stopping: state.stopping.clone(),
        _open: state.metrics.stream_opened(),
    };
    let sse = Sse::new(stream::unfold(cursor, Cursor::next))
        .keep_alive(KeepAlive::new().interval(KEEP_ALIVE));
    let mut response = sse.into_response();
    response.extensions_mut().insert(Unwrapped);
    Ok(response)
}

/// Where a reconnecting client left off: the `Last-Event-ID` header browsers send, or the
/// `last_event_id` query parameter for a first connection that wants to catch up.
fn last_event_id(headers: &HeaderMap, query: &Query) -> Result<Option<u64>, ApiError> {
    // The query parameter is checked even when the header wins, so a bad one is never
    // silently ignored.
    let from_query = query.get("last_event_id").map(event_id).transpose()?;
    match headers.get("last-event-id") {
        Some(value) => value
            .to_str()
            .map_err(|_| malformed_id())
            .and_then(event_id)
            .map(Some),
        None => Ok(from_query),
    }
}

/// An event id: a whole number that fits the signed 64 bits ids are stored in.
pub(crate) fn event_id(raw: &str) -> Result<u64, ApiError> {
    raw.trim()
        .parse::<u64>()
        .ok()
        .filter(|id| i64::try_from(*id).is_ok())
        .ok_or_else(malformed_id)
}

fn malformed_id() -> ApiError {
    ApiError::BadRequest("Last-Event-ID must be an event id: a whole number".to_owned())
}

/// Tells a client that events after its last one are no longer kept.
fn gap_event(last: u64, next: u64) -> SseEvent {
    let data = format!("{{\"last_event_id\":{last},\"next_event_id\":{next}}}");
    SseEvent::default().event("stream.gap").data(data)
}

struct Cursor {
    directory: Arc<Directory>,
    account: Arc<Account>,
    /// Whether the stream's opener may still read it, asked every [`RECHECK`].
    recheck: StillAdmitted,
    checked: tokio::time::Instant,
    after: u64,
    pending: VecDeque<SseEvent>,
    stopping: watch::Receiver<bool>,
    /// Counts the stream as open while the cursor lives: dropped when the stream ends or
    /// the client goes away (the server then drops the response body, and this with it).
    _open: StreamGuard,
}

impl Cursor {
    async fn next(mut self) -> Option<(Result<SseEvent, Infallible>, Self)> {
        loop {
            if let Some(event) = self.pending.pop_front() {
                return Some((Ok(event), self));
            }
            if *self.stopping.borrow() || !self.still_admitted().await {
                return None;
            }
            let events = match self.directory.events_after(&self.account, self.after).await {
                Ok(events) => events,
                Err(error) => {
                    // The client reconnects with its Last-Event-ID and loses nothing.
                    tracing::warn!(%error, account.sid = %self.account.sid, "event stream ended");
                    return None;
                }
            };
            let full = events.len() == EVENT_PAGE as usize;
            for event in &events {
                // Ids have no holes but those the retention purge makes: one opening while
                // the stream fell behind is told like one found on connecting.
                if event.id != self.after + 1 {
                    self.pending.push_back(gap_event(self.after, event.id));
                }
                self.after = event.id;
                self.pending.push_back(to_sse(event, &self.account));
            }
            if self.pending.is_empty() && !full {
                tokio::select! {
                    () = tokio::time::sleep(POLL) => {}
                    // A closed channel means the server is gone: end rather than spin.
                    changed = self.stopping.changed() => if changed.is_err() { return None },
                }
            }
        }
    }
}

impl Cursor {
    /// Whether the stream would still be let in as the gate lets requests in; answered
    /// from the directory's short-lived caches.
    async fn still_admitted(&mut self) -> bool {
        if self.checked.elapsed() < RECHECK {
            return true;
        }
        self.checked = tokio::time::Instant::now();
        (self.recheck)().await
    }
}

/// One message of the stream, as a client's parser hands it over.
#[derive(utoipa::ToSchema)]
#[allow(
    dead_code,
    reason = "describes the stream's messages for the document only"
)]
pub(crate) struct SseMessage {
    /// The event's id; absent on `stream.gap`.
    id: Option<String>,
    /// The event's type, or `stream.gap`.
    event: String,
    /// The event as JSON text (see the operation's description).
    data: String,
}

/// An event as a stream carries it: the record as `GET` shows it with every optional part.
#[derive(Serialize)]
struct EventView<'a> {
    id: u64,
    #[serde(rename = "type")]
    kind: &'static str,
    timestamp: String,
    account_sid: &'a str,
    user_id: UserId,
    data: RecordView<'a>,
}

#[derive(Serialize)]
#[serde(untagged)]
enum RecordView<'a> {
    User(UserView<'a>),
    Device(DeviceView<'a>),
}

fn to_sse(event: &Event, account: &Account) -> SseEvent {
    SseEvent::default()
        .id(event.id.to_string())
        .event(event.kind.as_str())
        .data(event_json(event, account))
}

/// An event as streams and webhooks carry it: its id, type, time, account and user, and the
/// record as `GET` shows it with every optional part.
pub fn event_json(event: &Event, account: &Account) -> String {
    let every_part = UserFields {
        devices: true,
        active_call: true,
        last_login: true,
    };
    let view = EventView {
        id: event.id,
        kind: event.kind.as_str(),
        timestamp: format!("{:.3}", event.at),
        account_sid: account.sid.as_str(),
        user_id: event.record.user_id(),
        data: match &event.record {
            EventRecord::User(user) => RecordView::User(UserView::new(user, account, every_part)),
            EventRecord::Device(device) => RecordView::Device(DeviceView::new(device)),
        },
    };
    // Our own plain structs always serialise.
    serde_json::to_string(&view).unwrap_or_default()
}
