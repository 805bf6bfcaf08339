//! The outermost layer: gives each request its id and span, writes the Exotel envelope
//! around every answer (handlers' and the framework's alike), and logs one line per request.

use std::any::Any;
use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;
use crate::metrics::{Metrics, RouteStats};
use crate::reply::{Metadata, Reply};

/// Longest path and query roster reads. hyper answers a target over 65,534 bytes itself,
/// with a bare 414 before roster sees the request; this puts the range below that in the
/// envelope, far above the longest sensible list query (50 addresses).
const MAX_TARGET_BYTES: usize = 32 * 1024;
/// Most header bytes (names and values) roster reads. hyper's own limits sit above: its
/// read buffer (about 400 KiB) and 100 header fields, refused with a bare 431.
const MAX_HEADER_BYTES: usize = 32 * 1024;
/// How much of a path the request's log line keeps, so long paths cannot bloat the log.
const LOGGED_PATH_BYTES: usize = 1024;

/// The account a request was made for, left on the response for the log line.
#[derive(Debug, Clone)]
pub(crate) struct AccountTag(pub(crate) String);

// The envelope as the OpenAPI document describes it: the keys `wrap` writes, in its order.
// `wrap` writes bytes for speed rather than serialising this type; the tests below hold
// the two together. Doc comments here are the document's descriptions.
/// The envelope every answer is written in, keys in this order.
#[derive(utoipa::ToSchema)]
#[cfg_attr(test, derive(serde::Deserialize), serde(deny_unknown_fields))]
#[allow(
    dead_code,
    reason = "a description of what `wrap` writes, read only by tests"
)]
pub(crate) struct Envelope<R> {
    /// 32 lower-case hex characters (a v4 UUID without dashes), new for every request;
    /// also sent as the header `X-Request-Id`.
    #[schema(pattern = "^[0-9a-f]{32}$")]
    request_id: String,
    /// The request's method, upper case.
    method: String,
    /// Equal to the HTTP status.
    http_code: u16,
    response: R,
}

/// The envelope of a paged list: `metadata` comes before the `response`.
#[derive(utoipa::ToSchema)]
#[cfg_attr(test, derive(serde::Deserialize), serde(deny_unknown_fields))]
#[allow(
    dead_code,
    reason = "a description of what `wrap` writes, read only by tests"
)]
pub(crate) struct PagedEnvelope<R> {
    /// 32 lower-case hex characters, new for every request; also the header `X-Request-Id`.
    #[schema(pattern = "^[0-9a-f]{32}$")]
    request_id: String,
    /// The request's method, upper case.
    method: String,
    /// Equal to the HTTP status.
    http_code: u16,
    /// The page's place in the whole list.
    metadata: Metadata,
    response: R,
}

/// A response that is not an Exotel answer (the OpenAPI document): the envelope layer
/// passes it through as it is.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Unwrapped;

pub(crate) async fn envelope(
    State(metrics): State<Arc<Metrics>>,
    request: Request,
    next: Next,
) -> Response {
    let log = RequestLog::start(&metrics, &request);
    // Refused before routing, so an oversized request costs no lookup or body read.
    let response = match oversized(&request) {
        Some(refusal) => refusal.into_response(),
        None => next.run(request).await,
    };
    let response = wrap(response, &log.id, &log.method);
    let account = response
        .extensions()
        .get::<AccountTag>()
        .map(|tag| tag.0.as_str());
    log.finish(response.status(), account);
    response
}

/// A request on its way through: what `/metrics` and its one log line say of it once it
/// is answered. The API's envelope and the dashboard's pages both keep one.
pub struct RequestLog<'m> {
    /// 32 lower-case hex characters, new for every request.
    pub id: String,
    method: Method,
    path: String,
    route: &'m RouteStats,
    started: Instant,
}

impl<'m> RequestLog<'m> {
    /// Takes what the log needs of `request`. Call it in a layer that wraps each route, so
    /// routing has run and the route template is known.
    pub fn start(metrics: &'m Metrics, request: &Request) -> Self {
        Self {
            id: new_request_id(),
            method: request.method().clone(),
            path: loggable(request.uri().path()),
            route: metrics.route(request.extensions().get::<MatchedPath>()),
            started: Instant::now(),
        }
    }

    /// Counts the answer under its route and writes the request's log line.
    pub fn finish(self, status: StatusCode, account: Option<&str>) {
        let latency = self.started.elapsed();
        self.route.record(&self.method, status, latency);
        // Logged outside any span, with the id as a field: one formatted line, no span
        // lookup.
        tracing::info!(
            request_id = self.id.as_str(),
            http.method = self.method.as_str(),
            url.path = self.path.as_str(),
            http.status_code = status.as_u16(),
            latency_us = latency.as_micros() as u64,
            account.sid = account.unwrap_or("-"),
            "request completed"
        );
    }
}

/// A fresh v4 UUID as 32 lower-case hex characters, from the thread's generator rather
/// than a system call per request.
fn new_request_id() -> String {
    let mut bytes: [u8; 16] = rand::random();
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let mut text = uuid::Uuid::encode_buffer();
    uuid::Uuid::from_bytes(bytes)
        .simple()
        .encode_lower(&mut text)
        .to_owned()
}

fn oversized(request: &Request) -> Option<ApiError> {
    let target = request
        .uri()
        .path_and_query()
        .map_or(0, |p| p.as_str().len());
    if target > MAX_TARGET_BYTES {
        return Some(ApiError::UriTooLong);
    }
    let headers: usize = request
        .headers()
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len())
        .sum();
    (headers > MAX_HEADER_BYTES).then_some(ApiError::HeadersTooLarge)
}

fn loggable(path: &str) -> String {
    if path.len() <= LOGGED_PATH_BYTES {
        return path.to_owned();
    }
    let mut end = LOGGED_PATH_BYTES;
    while !path.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &path[..end])
}

pub(crate) async fn route_not_found() -> ApiError {
    ApiError::RouteNotFound
}

pub(crate) fn panic_response(_cause: Box<dyn Any + Send + 'static>) -> Response {
    ApiError::internal("the request handler panicked").into_response()
}

/// Writes the envelope. An answer that did not come from our handlers (the framework's
/// 405, say) is first turned into the matching error, keeping its headers.
fn wrap(response: Response, request_id: &str, method: &Method) -> Response {
    let (mut parts, body) = response.into_parts();
    if parts.extensions.remove::<Unwrapped>().is_some() {
        if let Ok(value) = HeaderValue::from_str(request_id) {
            parts.headers.insert("x-request-id", value);
        }
        return Response::from_parts(parts, body);
    }
    let reply = match parts.extensions.remove::<Reply>() {
        Some(reply) => reply,
        None => framework_error(parts.status).into_reply(),
    };
    if let Some(cause) = &reply.cause {
        tracing::error!(request_id, error = %cause, "request failed");
    }

    let mut body = Vec::with_capacity(96 + reply.response.len());
    body.extend_from_slice(b"{\"request_id\":\"");
    body.extend_from_slice(request_id.as_bytes());
    body.extend_from_slice(b"\",\"method\":\"");
    body.extend_from_slice(method.as_str().as_bytes());
    body.extend_from_slice(b"\",\"http_code\":");
    body.extend_from_slice(reply.status.as_str().as_bytes());
    if let Some(metadata) = &reply.metadata {
        body.extend_from_slice(b",\"metadata\":");
        body.extend_from_slice(metadata);
    }
    body.extend_from_slice(b",\"response\":");
    body.extend_from_slice(&reply.response);
    body.push(b'}');

    parts.status = reply.status;
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    parts.headers.remove(header::CONTENT_LENGTH);
    if let Ok(value) = HeaderValue::from_str(request_id) {
        parts.headers.insert("x-request-id", value);
    }
    Response::from_parts(parts, Body::from(body))
}

fn framework_error(status: StatusCode) -> ApiError {
    match status {
        StatusCode::NOT_FOUND => ApiError::RouteNotFound,
        StatusCode::METHOD_NOT_ALLOWED => ApiError::MethodNotAllowed,
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge,
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ApiError::UnsupportedMediaType,
        status if status.is_client_error() => {
            ApiError::BadRequest("the request could not be read".to_owned())
        }
        status => ApiError::internal(format!("the framework answered {status}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reply::{Metadata, Null};

    fn written(reply: Reply) -> serde_json::Value {
        let response = wrap(reply.into_response(), &"a".repeat(32), &Method::GET);
        let (parts, body) = response.into_parts();
        assert_eq!(parts.headers[header::CONTENT_TYPE], "application/json");
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let bytes = runtime
            .block_on(axum::body::to_bytes(body, usize::MAX))
            .unwrap();
        serde_json::from_slice(&bytes).unwrap()
    }

    // The document's envelope types hold exactly the keys `wrap` writes (no more: unknown
    // keys are refused; no fewer: every field is required).
    #[test]
    fn what_wrap_writes_is_what_the_document_describes() {
        let single = written(Reply::record(Null));
        serde_json::from_value::<Envelope<serde_json::Value>>(single).unwrap();

        let failure = written(ApiError::Unauthenticated.into_reply());
        serde_json::from_value::<Envelope<serde_json::Value>>(failure).unwrap();

        let metadata = Metadata {
            total: 3,
            count: 1,
            offset: 2,
            limit: 1,
        };
        let page = written(Reply::list([Null], Some(metadata)));
        let page = serde_json::from_value::<PagedEnvelope<serde_json::Value>>(page).unwrap();
        assert_eq!(page.metadata.total, 3);

        // A list without metadata is the plain envelope; the paged one needs metadata.
        let list = written(Reply::list([Null], None));
        assert!(serde_json::from_value::<PagedEnvelope<serde_json::Value>>(list.clone()).is_err());
        serde_json::from_value::<Envelope<serde_json::Value>>(list).unwrap();
    }
}
