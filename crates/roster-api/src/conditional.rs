//! Roster's extensions for safe retries and concurrent edits: `ETag` and `If-Match` on
//! single users and devices, and `Idempotency-Key` on creates.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderName, HeaderValue};
use roster_domain::Precondition;
use sha2::{Digest, Sha256};

use crate::error::ApiError;
use crate::input::JsonObject;

/// Longest accepted idempotency key.
const MAX_KEY_LEN: usize = 255;

static IDEMPOTENCY_KEY: HeaderName = HeaderName::from_static("idempotency-key");
/// Marks an answer replayed for a retry rather than produced anew.
pub(crate) static IDEMPOTENT_REPLAYED: HeaderName = HeaderName::from_static("idempotent-replayed");

/// A record's version as a strong entity tag: `"7"`.
pub(crate) fn etag(version: u64) -> [(HeaderName, HeaderValue); 1] {
    let value = HeaderValue::from_str(&format!("\"{version}\""))
        .unwrap_or_else(|_| HeaderValue::from_static("\"0\""));
    [(axum::http::header::ETAG, value)]
}

/// The `If-Match` header as the version expectation of a write. `*` expects only that the
/// record exists, which every write here requires anyway. Weak tags never match, as HTTP's
/// strong comparison demands, and neither do tags roster never issued.
#[derive(Debug, Default)]
pub(crate) struct IfMatch(pub(crate) Precondition);

impl<S: Send + Sync> FromRequestParts<S> for IfMatch {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        parse_if_match(&parts.headers).map(IfMatch)
    }
}

fn parse_if_match(headers: &HeaderMap) -> Result<Precondition, ApiError> {
    let mut values = headers
        .get_all(axum::http::header::IF_MATCH)
        .iter()
        .peekable();
    if values.peek().is_none() {
        return Ok(Precondition::None);
    }
    let malformed =
        || ApiError::BadRequest("If-Match must be * or a list of quoted entity tags".to_owned());
    let mut versions = Vec::new();
    let mut any = false;
    let mut seen_tag = false;
    for value in values {
        let text = value.to_str().map_err(|_| malformed())?;
        for tag in text.split(',').map(str::trim).filter(|t| !t.is_empty()) {
            if tag == "*" {
                any = true;
                continue;
            }
            seen_tag = true;
            let (weak, quoted) = match tag.strip_prefix("W/") {
                Some(rest) => (true, rest),
                None => (false, tag),
            };
            let opaque = quoted
                .strip_prefix('"')
                .and_then(|t| t.strip_suffix('"'))
                .filter(|t| !t.contains('"'))
                .ok_or_else(malformed)?;
            // Strong comparison is character by character: only a version's tag as roster
            // issues it names that version, not `"07"` or `"+7"`.
            let issued = opaque
                .parse::<u64>()
                .ok()
                .filter(|v| v.to_string() == opaque);
            if let (false, Some(version)) = (weak, issued) {
                versions.push(version);
            }
        }
    }
    if any {
        return Ok(Precondition::None);
    }
    // An empty field is an empty list: no condition, as if the header were not sent.
    if !seen_tag {
        return Ok(Precondition::None);
    }
    Ok(Precondition::OneOf(versions))
}

/// The `Idempotency-Key` header, when sent: 1 to 255 printable ASCII characters.
#[derive(Debug, Default)]
pub(crate) struct IdempotencyKey(pub(crate) Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for IdempotencyKey {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        let Some(value) = parts.headers.get(&IDEMPOTENCY_KEY) else {
            return Ok(Self(None));
        };
        let key = value
            .to_str()
            .ok()
            .map(str::trim)
            .filter(|k| (1..=MAX_KEY_LEN).contains(&k.len()))
            .filter(|k| k.bytes().all(|b| (0x20..0x7f).contains(&b)))
            .ok_or_else(|| {
                ApiError::BadRequest(
                    "Idempotency-Key must be 1 to 255 printable ASCII characters".to_owned(),
                )
            })?;
        Ok(Self(Some(key.to_owned())))
    }
}

/// What identifies a create for its retries: where it was sent and the JSON it sent, read
/// as a value, so a retry that spaces or orders its fields differently is the same request.
pub(crate) fn fingerprint(target: &str, body: &JsonObject) -> Vec<u8> {
    let mut digest = Sha256::new();
    digest.update(target.as_bytes());
    digest.update([0]);
    digest.update(body.canonical_bytes());
    digest.finalize().to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn if_match(values: &[&str]) -> Result<Precondition, ApiError> {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append(
                axum::http::header::IF_MATCH,
                HeaderValue::from_str(value).unwrap(),
            );
        }
        parse_if_match(&headers)
    }

    #[test]
    fn if_match_reads_strong_tags_stars_and_lists() {
        assert_eq!(if_match(&[]).unwrap(), Precondition::None);
        assert_eq!(if_match(&["*"]).unwrap(), Precondition::None);
        assert_eq!(
            if_match(&["\"3\", \"5\"", "\"8\""]).unwrap(),
            Precondition::OneOf(vec![3, 5, 8])
        );
        // Weak and foreign tags can never match.
        assert_eq!(
            if_match(&["W/\"3\", \"abc\""]).unwrap(),
            Precondition::OneOf(vec![])
        );
        assert!(if_match(&["3"]).is_err());
        assert_eq!(if_match(&[""]).unwrap(), Precondition::None);
        assert_eq!(if_match(&[" , "]).unwrap(), Precondition::None);
        assert!(if_match(&["\"3"]).is_err());
    }

    #[test]
    fn only_the_tag_as_issued_names_a_version() {
        // Strong comparison: `"04"` and `"+4"` are tags roster never issued, not version 4.
        assert_eq!(
            if_match(&["\"04\", \"+4\", \"4 \", \"00\""]).unwrap(),
            Precondition::OneOf(vec![])
        );
        assert_eq!(
            if_match(&["\"0\", \"40\""]).unwrap(),
            Precondition::OneOf(vec![0, 40])
        );
    }

    #[test]
    fn etags_quote_the_version() {
        assert_eq!(etag(12)[0].1, "\"12\"");
    }
}
