//! `GET /live`: the account's event stream for the pages' script, signed in by the session
//! cookie (a browser's `EventSource` cannot send the API's Basic credentials).

use std::sync::Arc;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use roster_api::dashboard::{self, StillAdmitted};

use crate::error::PageError;
use crate::form::WebQuery;
use crate::session::{self, Signed};
use crate::WebState;

#[derive(serde::Deserialize)]
pub(crate) struct LiveQuery {
    last_event_id: Option<String>,
}

pub(crate) async fn stream(
    State(state): State<WebState>,
    signed: Signed,
    headers: HeaderMap,
    WebQuery(query): WebQuery<LiveQuery>,
) -> Result<Response, PageError> {
    // What the browser sends on its own when it reconnects, else where the page that
    // opened the stream was read, so no change is missed in between.
    let last_event_id = headers
        .get("last-event-id")
        .and_then(|value| value.to_str().ok())
        .or(query.last_event_id.as_deref());
    let app = state.app.clone();
    let cookie: Arc<str> = signed.cookie.into();
    // Signing out, the key's revocation or the account's end closes the stream too: the
    // same check every page makes.
    let recheck: StillAdmitted = Arc::new(move || {
        let (app, cookie) = (app.clone(), cookie.clone());
        Box::pin(async move { session::admit(&app, &cookie).await.is_ok() })
    });
    Ok(dashboard::event_stream(&state.app, signed.account, last_event_id, recheck).await?)
}
