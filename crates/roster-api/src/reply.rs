//! A handler's answer before the envelope is written around it: the status, and the
//! `response` (and for lists, `metadata`) already serialised.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde::Serialize;

/// Carried in the response's extensions to the envelope middleware, which alone knows
/// the request id and method and writes the final body.
#[derive(Debug, Clone)]
pub(crate) struct Reply {
    pub(crate) status: StatusCode,
    pub(crate) metadata: Option<Bytes>,
    pub(crate) response: Bytes,
    /// Why a 500 happened, for the log line that carries the request id.
    pub(crate) cause: Option<std::sync::Arc<str>>,
}

#[derive(Serialize)]
struct Single<'a, T> {
    code: u16,
    error_data: Option<ErrorData<'a>>,
    status: &'static str,
    data: Option<T>,
}

#[derive(Serialize)]
struct Item<T> {
    code: u16,
    status: &'static str,
    data: T,
}

/// A page's place in the whole list.
#[derive(Debug, Serialize)]
pub(crate) struct Metadata {
    pub(crate) total: u64,
    pub(crate) count: usize,
    pub(crate) offset: u64,
    pub(crate) limit: u32,
}

/// The `error_data` object; `code` is `null` only for rate limiting.
#[derive(Serialize)]
pub(crate) struct ErrorData<'a> {
    pub(crate) code: Option<u32>,
    pub(crate) message: &'a str,
    pub(crate) description: &'a str,
}

impl Reply {
    /// A success carrying one record, or `data: null` when `data` is `None`.
    pub(crate) fn record<T: Serialize>(data: Option<T>) -> Self {
        let single = Single {
            code: 200,
            error_data: None,
            status: "success",
            data,
        };
        Self {
            status: StatusCode::OK,
            metadata: None,
            response: to_bytes(&single),
            cause: None,
        }
    }

    /// A success carrying a list: each item `{code, status, data}`, with `metadata` when
    /// the list is paged.
    pub(crate) fn list<T: Serialize>(
        items: impl IntoIterator<Item = T>,
        metadata: Option<Metadata>,
    ) -> Self {
        let items: Vec<Item<T>> = items
            .into_iter()
            .map(|data| Item {
                code: 200,
                status: "success",
                data,
            })
            .collect();
        Self {
            status: StatusCode::OK,
            metadata: metadata.as_ref().map(to_bytes),
            response: to_bytes(&items),
            cause: None,
        }
    }

    /// A success whose `response` was written before: an answer replayed for a retry.
    pub(crate) fn replayed(response: Vec<u8>) -> Self {
        Self {
            status: StatusCode::OK,
            metadata: None,
            response: Bytes::from(response),
            cause: None,
        }
    }

    pub(crate) fn error(status: StatusCode, error: ErrorData<'_>) -> Self {
        let single: Single<'_, ()> = Single {
            code: status.as_u16(),
            error_data: Some(error),
            status: "failure",
            data: None,
        };
        Self {
            status,
            metadata: None,
            response: to_bytes(&single),
            cause: None,
        }
    }
}

fn to_bytes<T: Serialize>(value: &T) -> Bytes {
    // Serialising our own plain structs into memory cannot fail: no maps with non-string
    // keys, no I/O. An empty object would still keep the envelope valid JSON.
    serde_json::to_vec(value)
        .map(Bytes::from)
        .unwrap_or_else(|_| Bytes::from_static(b"{}"))
}

impl IntoResponse for Reply {
    fn into_response(self) -> Response {
        let mut response = self.status.into_response();
        response.extensions_mut().insert(self);
        response
    }
}
