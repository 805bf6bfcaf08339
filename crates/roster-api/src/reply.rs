//! A handler's answer before the envelope is written around it: the status, and the
//! `response` (and for lists, `metadata`) already serialised.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde::Serialize;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::openapi::RefOr;
use utoipa::ToSchema;

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

/// A single `response` that succeeded: `data` is the record, or `null` after a delete.
#[derive(Serialize, ToSchema)]
pub(crate) struct Success<T> {
    /// Equal to `http_code`.
    code: u16,
    error_data: Null,
    status: Succeeded,
    data: T,
}

/// A single `response` that failed; every error has this form, on list endpoints too.
#[derive(Serialize, ToSchema)]
pub(crate) struct Failure<'a> {
    /// Equal to `http_code`.
    code: u16,
    error_data: ErrorData<'a>,
    status: Failed,
    data: Null,
}

/// One item of a list's `response` array.
#[derive(Serialize, ToSchema)]
pub(crate) struct Item<T> {
    /// Always 200.
    code: u16,
    status: Succeeded,
    data: T,
}

/// The `status` of a success.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Succeeded {
    Success,
}

/// The `status` of a failure.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Failed {
    Failure,
}

/// JSON `null`: the envelope keeps its keys even when they hold nothing.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Null;

impl Serialize for Null {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_none()
    }
}

impl utoipa::PartialSchema for Null {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new().schema_type(Type::Null).into()
    }
}

impl ToSchema for Null {}

/// A page's place in the whole list.
#[derive(Debug, Serialize, ToSchema)]
#[cfg_attr(test, derive(serde::Deserialize), serde(deny_unknown_fields))]
pub(crate) struct Metadata {
    /// Users matching the filter, in all pages.
    pub(crate) total: u64,
    /// Items in this page.
    pub(crate) count: usize,
    /// The effective `offset`.
    pub(crate) offset: u64,
    /// The effective `limit`.
    pub(crate) limit: u32,
}

/// The `error_data` object; `code` is `null` only for rate limiting.
#[derive(Serialize, ToSchema)]
pub(crate) struct ErrorData<'a> {
    /// The Exotel error code; `null` only on 429.
    #[schema(required = true)]
    pub(crate) code: Option<u32>,
    /// A short fixed label for the code.
    pub(crate) message: &'a str,
    /// What was wrong with this request; names the field or parameter at fault.
    pub(crate) description: &'a str,
}

impl Reply {
    /// A success carrying one record.
    pub(crate) fn record<T: Serialize>(data: T) -> Self {
        let single = Success {
            code: 200,
            error_data: Null,
            status: Succeeded::Success,
            data,
        };
        Self {
            status: StatusCode::OK,
            metadata: None,
            response: to_bytes(&single),
            cause: None,
        }
    }

    /// A success whose `data` is `null`, as after a delete.
    pub(crate) fn empty() -> Self {
        Self::record(Null)
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
                status: Succeeded::Success,
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
        let single = Failure {
            code: status.as_u16(),
            error_data: error,
            status: Failed::Failure,
            data: Null,
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
