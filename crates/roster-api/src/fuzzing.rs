//! Entry points for the fuzz targets in `fuzz/` (cargo feature `fuzzing`, off by default):
//! the crate-private body and query readers, with their refusals reduced to what a client
//! sees. Not part of the API; nothing but the fuzz crate may use it.

use std::ops::RangeInclusive;

use roster_domain::Field;

use crate::error::ApiError;
use crate::input::{self, JsonObject, Query};

/// A refusal as the client sees it: the HTTP status, `error_data.code` and its description.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub status: u16,
    pub code: Option<u32>,
    pub description: String,
}

impl From<ApiError> for Refusal {
    fn from(error: ApiError) -> Self {
        let reply = error.into_reply();
        let body: serde_json::Value = serde_json::from_slice(&reply.response).unwrap_or_default();
        let error_data = &body["error_data"];
        Self {
            status: reply.status.as_u16(),
            code: error_data["code"]
                .as_u64()
                .and_then(|code| u32::try_from(code).ok()),
            description: error_data["description"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        }
    }
}

/// A body read as the handlers read it (`parse_object`), for the field readers below.
#[derive(Debug)]
pub struct Body(JsonObject);

pub fn parse_body(bytes: &[u8]) -> Result<Body, Refusal> {
    input::parse_object(bytes).map(Body).map_err(Refusal::from)
}

impl Body {
    pub fn string(&self, field: Field) -> Result<Option<String>, Refusal> {
        self.0.string(field).map_err(Refusal::from)
    }

    pub fn boolean(&self, field: Field) -> Result<Option<bool>, Refusal> {
        self.0.boolean(field).map_err(Refusal::from)
    }

    pub fn unsigned(&self, field: Field) -> Result<Option<u64>, Refusal> {
        self.0.unsigned(field).map_err(Refusal::from)
    }

    pub fn has(&self, field: Field) -> bool {
        self.0.has(field)
    }
}

/// A query string read as the `Query` extractor reads it.
#[derive(Debug)]
pub struct QueryString(Query);

pub fn parse_query(raw: &str) -> Result<QueryString, Refusal> {
    Query::parse(raw).map(QueryString).map_err(Refusal::from)
}

impl QueryString {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name)
    }

    pub fn list(&self, field: Field) -> Result<Option<Vec<String>>, Refusal> {
        self.0.list(field).map_err(Refusal::from)
    }

    pub fn number(
        &self,
        field: Field,
        default: u64,
        range: RangeInclusive<u64>,
    ) -> Result<u64, Refusal> {
        self.0.number(field, default, range).map_err(Refusal::from)
    }
}
