//! Reading request input: JSON bodies (as objects whose fields are read by wire name) and
//! query strings, each failure answered in the envelope with the contract's code.

use axum::body::Body;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap};
use std::ops::RangeInclusive;

use roster_domain::{Field, RuleError};
use serde_json::{Map, Value};

use crate::error::ApiError;

/// Most values one comma-list filter may hold.
const MAX_LIST_ITEMS: usize = 50;

/// Largest accepted body.
const BODY_LIMIT: usize = 64 * 1024;
/// How long a declared body may take to arrive.
const BODY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// A request body that is a JSON object. Unknown fields are ignored; a field that is
/// `null` counts as absent.
#[derive(Debug, Default)]
pub(crate) struct JsonObject(Map<String, Value>);

impl JsonObject {
    /// A string field, or 400 / 1007 when the field holds another JSON type.
    pub(crate) fn string(&self, field: Field) -> Result<Option<String>, ApiError> {
        match self.0.get(field.wire_name()) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(text)) => Ok(Some(text.clone())),
            Some(_) => Err(wrong_type(field, "a string")),
        }
    }
}

impl JsonObject {
    /// A boolean field, or 400 / 1007 when the field holds another JSON type.
    pub(crate) fn boolean(&self, field: Field) -> Result<Option<bool>, ApiError> {
        match self.0.get(field.wire_name()) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Bool(value)) => Ok(Some(*value)),
            Some(_) => Err(wrong_type(field, "true or false")),
        }
    }

    /// A whole non-negative number, or 400 / 1007 when the field holds another JSON type.
    /// JSON does not tell `1342` from `1342.0` or `1.342e3`: all three are that number.
    pub(crate) fn unsigned(&self, field: Field) -> Result<Option<u64>, ApiError> {
        match self.0.get(field.wire_name()) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(n)) => n
                .as_u64()
                .or_else(|| n.as_f64().and_then(whole))
                .map(Some)
                .ok_or_else(|| wrong_type(field, "a whole number")),
            Some(_) => Err(wrong_type(field, "a whole number")),
        }
    }

    /// Whether the body names `field` with a value other than `null`, whatever its type.
    pub(crate) fn has(&self, field: Field) -> bool {
        !matches!(self.0.get(field.wire_name()), None | Some(Value::Null))
    }

    /// The object written back out with every object's keys sorted and no spaces: equal
    /// for equal JSON values, however they were spaced or ordered.
    pub(crate) fn canonical_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        write_canonical_object(&self.0, &mut out);
        out
    }
}

fn write_canonical_object(map: &Map<String, Value>, out: &mut Vec<u8>) {
    let mut entries: Vec<_> = map.iter().collect();
    entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
    out.push(b'{');
    for (i, (key, value)) in entries.into_iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_canonical(&Value::String(key.clone()), out);
        out.push(b':');
        write_canonical(value, out);
    }
    out.push(b'}');
}

/// Depth is bounded by the parser's own nesting limit.
fn write_canonical(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Object(map) => write_canonical_object(map, out),
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_canonical(item, out);
            }
            out.push(b']');
        }
        // A scalar writes into memory without fail.
        scalar => {
            let _ = serde_json::to_writer(&mut *out, scalar);
        }
    }
}

/// A float that is a whole number a `u64` holds.
fn whole(value: f64) -> Option<u64> {
    let fits = value.fract() == 0.0 && (0.0..18_446_744_073_709_551_616.0).contains(&value);
    // Exact: the value is whole and within range.
    fits.then_some(value as u64)
}

/// A body that may be empty: `None` for no bytes (or only whitespace), else a JSON object.
#[derive(Debug, Default)]
pub(crate) struct OptionalJsonObject(pub(crate) Option<JsonObject>);

impl<S: Send + Sync> FromRequest<S> for OptionalJsonObject {
    type Rejection = ApiError;

    async fn from_request(request: Request, _state: &S) -> Result<Self, ApiError> {
        check_content_type(request.headers())?;
        let bytes = read_body(request.into_body()).await?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(Self(None));
        }
        parse_object(&bytes).map(|object| Self(Some(object)))
    }
}

fn wrong_type(field: Field, expected: &str) -> ApiError {
    ApiError::BadRequest(format!("{field} must be {expected}"))
}

impl<S: Send + Sync> FromRequest<S> for JsonObject {
    type Rejection = ApiError;

    async fn from_request(request: Request, _state: &S) -> Result<Self, ApiError> {
        check_content_type(request.headers())?;
        let bytes = read_body(request.into_body()).await?;
        parse_object(&bytes)
    }
}

fn check_content_type(headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(value) = headers.get(header::CONTENT_TYPE) else {
        return Ok(());
    };
    let essence = value
        .to_str()
        .ok()
        .and_then(|v| v.split(';').next())
        .map(str::trim);
    match essence {
        Some(mime) if mime.eq_ignore_ascii_case("application/json") => Ok(()),
        _ => Err(ApiError::UnsupportedMediaType),
    }
}

async fn read_body(body: Body) -> Result<bytes::Bytes, ApiError> {
    // A client that announces more than it sends must not hold a connection (and a
    // graceful shutdown) for ever.
    let read = tokio::time::timeout(BODY_TIMEOUT, axum::body::to_bytes(body, BODY_LIMIT));
    match read.await {
        Ok(Ok(bytes)) => Ok(bytes),
        Ok(Err(error)) if is_length_limit(&error) => Err(ApiError::PayloadTooLarge),
        Ok(Err(_)) => Err(ApiError::BadRequest(
            "the request body could not be read".to_owned(),
        )),
        Err(_) => Err(ApiError::BadRequest(format!(
            "the request body did not arrive within {} seconds",
            BODY_TIMEOUT.as_secs()
        ))),
    }
}

fn is_length_limit(error: &axum::Error) -> bool {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(current) = cause {
        if current.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        cause = current.source();
    }
    false
}

pub(crate) fn parse_object(bytes: &[u8]) -> Result<JsonObject, ApiError> {
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(map)) => Ok(JsonObject(map)),
        Ok(_) => Err(ApiError::BadRequest(
            "the request body must be a JSON object".to_owned(),
        )),
        Err(error) => Err(ApiError::BadRequest(format!(
            "the request body is not valid JSON (line {}, column {})",
            error.line(),
            error.column()
        ))),
    }
}

/// A query string, decoded strictly: `+` is a space, every `%` must start a valid escape,
/// and the result must be UTF-8. Anything else is 400 / 1007.
#[derive(Debug, Default)]
pub(crate) struct Query(Vec<(String, String)>);

impl Query {
    pub(crate) fn parse(raw: &str) -> Result<Self, ApiError> {
        let mut pairs = Vec::new();
        for piece in raw.split('&').filter(|p| !p.is_empty()) {
            let (name, value) = piece.split_once('=').unwrap_or((piece, ""));
            pairs.push((decode(name)?, decode(value)?));
        }
        Ok(Self(pairs))
    }

    /// The last value given for a parameter, as most frameworks read repeated parameters.
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

fn decode(raw: &str) -> Result<String, ApiError> {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                // Both must be hex digits: `from_str_radix` alone would take "+1".
                let hex = bytes
                    .get(i + 1..i + 3)
                    .filter(|h| h.iter().all(u8::is_ascii_hexdigit))
                    .and_then(|h| std::str::from_utf8(h).ok());
                let byte = hex
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or_else(|| {
                        ApiError::BadRequest(
                            "the query string has a malformed percent escape".to_owned(),
                        )
                    })?;
                out.push(byte);
                i += 2;
            }
            other => out.push(other),
        }
        i += 1;
    }
    String::from_utf8(out)
        .map_err(|_| ApiError::BadRequest("the query string is not valid UTF-8".to_owned()))
}

impl Query {
    /// A comma list's non-empty items; `None` when the parameter is absent or holds none.
    /// More than [`MAX_LIST_ITEMS`] items is 400 / 1002.
    pub(crate) fn list(&self, field: Field) -> Result<Option<Vec<String>>, ApiError> {
        let Some(raw) = self.get(field.wire_name()) else {
            return Ok(None);
        };
        let items: Vec<String> = raw
            .split(',')
            .filter(|item| !item.trim().is_empty())
            .map(str::to_owned)
            .collect();
        if items.len() > MAX_LIST_ITEMS {
            let reason = format!("may hold at most {MAX_LIST_ITEMS} values");
            return Err(RuleError::invalid(field, reason).into());
        }
        Ok((!items.is_empty()).then_some(items))
    }

    /// A whole number in `range`, `default` when absent; anything else is 400 / 1002.
    pub(crate) fn number(
        &self,
        field: Field,
        default: u64,
        range: RangeInclusive<u64>,
    ) -> Result<u64, ApiError> {
        let Some(raw) = self.get(field.wire_name()) else {
            return Ok(default);
        };
        let (low, high) = (range.start(), range.end());
        let invalid = || {
            RuleError::invalid(
                field,
                format!("must be a whole number from {low} to {high}"),
            )
        };
        if raw.is_empty() || !raw.bytes().all(|b| b.is_ascii_digit()) {
            return Err(invalid().into());
        }
        match raw.parse::<u64>() {
            Ok(value) if range.contains(&value) => Ok(value),
            _ => Err(invalid().into()),
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Query {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        Query::parse(parts.uri.query().unwrap_or(""))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_values_are_percent_and_plus_decoded() {
        let query =
            Query::parse("fields=devices%2Clast_login&q=%2B91+98&fields=active_call").unwrap();
        assert_eq!(query.get("fields"), Some("active_call"));
        assert_eq!(query.get("q"), Some("+91 98"));
        assert_eq!(query.get("missing"), None);
    }

    #[test]
    fn malformed_escapes_and_invalid_utf8_are_refused() {
        for raw in [
            "a=%", "a=%4", "a=%zz", "a=%FF", "a=%C3%28", "a=%+1", "a=%-1",
        ] {
            assert!(Query::parse(raw).is_err(), "{raw}");
        }
    }

    #[test]
    fn canonical_bytes_ignore_spacing_and_key_order() {
        let one = parse_object(br#"{"b": [1, {"z": 1, "a": "x"}], "a": null}"#).unwrap();
        let two = parse_object(br#"{"a":null,"b":[1,{"a":"x","z":1}]}"#).unwrap();
        assert_eq!(one.canonical_bytes(), two.canonical_bytes());
        assert_eq!(
            one.canonical_bytes(),
            br#"{"a":null,"b":[1,{"a":"x","z":1}]}"#
        );
        let other = parse_object(br#"{"a":null,"b":[{"a":"x","z":1},1]}"#).unwrap();
        assert_ne!(one.canonical_bytes(), other.canonical_bytes());
    }

    #[test]
    fn only_json_objects_are_bodies() {
        assert!(parse_object(b"{\"a\":1}").is_ok());
        for raw in [&b"[]"[..], b"null", b"\"x\"", b"", b"{", b"1"] {
            assert!(parse_object(raw).is_err());
        }
    }

    #[test]
    fn whole_numbers_written_with_a_fraction_or_exponent_are_whole_numbers() {
        let read = |raw: &str| {
            let body = format!(r#"{{"rate_limit_per_minute": {raw}}}"#);
            parse_object(body.as_bytes())
                .unwrap()
                .unsigned(Field::RateLimitPerMinute)
                .ok()
                .flatten()
        };
        assert_eq!(read("1342"), Some(1342));
        assert_eq!(read("1342.0"), Some(1342));
        assert_eq!(read("1.342e3"), Some(1342));
        for refused in ["1.5", "-1", "-1.0", "1e20", "\"7\""] {
            assert_eq!(read(refused), None, "{refused}");
        }
    }

    #[test]
    fn json_content_types_with_parameters_are_accepted() {
        let mut headers = HeaderMap::new();
        assert!(check_content_type(&headers).is_ok());
        headers.insert(
            header::CONTENT_TYPE,
            "Application/JSON; charset=UTF-8".parse().unwrap(),
        );
        assert!(check_content_type(&headers).is_ok());
        headers.insert(header::CONTENT_TYPE, "text/plain".parse().unwrap());
        assert!(check_content_type(&headers).is_err());
    }
}
