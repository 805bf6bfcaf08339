//! Authentication and the account gate, in the order the contract fixes: credentials,
//! account, region, rate limit, KYC, trial. Only a request that passes all of them reaches
//! a handler, with its account in the request's extensions.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use roster_domain::{Account, RegionName};
use roster_service::{AccountStatus, Directory, RateDecision};

use crate::envelope::AccountTag;
use crate::error::ApiError;
use crate::metrics::RateLimitReason;
use crate::AppState;

pub(crate) async fn gate(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    let caller = Caller::of(&request);
    let account = match admit(&state, caller).await {
        Ok(account) => account,
        Err(refusal) => return refusal,
    };
    let tag = AccountTag(account.sid.to_string());

    let now = state.directory.clock().now();
    let decision = state
        .rate_limiter
        .acquire(&account.sid, account.rate_limit, now)
        .await;
    let mut response = if !decision.allowed {
        state.metrics.rate_limited(RateLimitReason::AccountBudget);
        let error = ApiError::RateLimited {
            description: ApiError::BUDGET_SPENT,
        };
        let mut response = error.into_response();
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, number(decision.retry_after(now)));
        response
    } else {
        match AccountStatus::of(&account) {
            AccountStatus::KycIncomplete => ApiError::KycIncomplete.into_response(),
            AccountStatus::Trial => ApiError::Trial.into_response(),
            AccountStatus::Usable => {
                request.extensions_mut().insert(account);
                next.run(request).await
            }
        }
    };

    add_rate_headers(response.headers_mut(), &decision);
    response.extensions_mut().insert(tag);
    response
}

/// What the gate needs of a request, taken out so the request is not held across awaits.
struct Caller {
    credentials: Option<(String, String)>,
    client: Option<IpAddr>,
    path_sid: Option<String>,
}

impl Caller {
    fn of(request: &Request) -> Self {
        Self {
            credentials: basic_credentials(request.headers()),
            client: client_address(request),
            // Decoded like every other path segment: `de%6do` is the account `demo`.
            path_sid: path_sid(request.uri().path()).map(|raw| {
                percent_encoding::percent_decode_str(raw)
                    .decode_utf8_lossy()
                    .into_owned()
            }),
        }
    }
}

/// Steps 1-3 at the gate, where failed credentials also count against the address.
async fn admit(state: &AppState, caller: Caller) -> Result<Arc<Account>, Response> {
    let credentials = caller
        .credentials
        .as_ref()
        .map(|(key, token)| (key.as_str(), token.as_str()));
    let admitted = admission(
        &state.directory,
        &state.region,
        credentials,
        caller.path_sid.as_deref(),
    )
    .await;
    match admitted {
        Ok(account) => Ok(account),
        Err(ApiError::Unauthenticated) => Err(refuse_credentials(state, caller.client)),
        Err(other) => Err(other.into_response()),
    }
}

/// Steps 1-3: the credentials, the account they belong to, and its region. Without side
/// effects, so an open event stream can ask again.
pub(crate) async fn admission(
    directory: &Directory,
    region: &RegionName,
    credentials: Option<(&str, &str)>,
    path_sid: Option<&str>,
) -> Result<Arc<Account>, ApiError> {
    let Some((key, token)) = credentials else {
        return Err(ApiError::Unauthenticated);
    };
    let sid = directory.authenticate(key, token).await?;

    if path_sid != Some(sid.as_str()) {
        return Err(ApiError::Forbidden);
    }
    let account = directory.account(&sid).await?.ok_or(ApiError::Forbidden)?;
    if account.region != *region {
        return Err(ApiError::WrongRegion(account.region.to_string()));
    }
    Ok(account)
}

fn refuse_credentials(state: &AppState, client: Option<IpAddr>) -> Response {
    if let Some(limited) = count_failure(state, client) {
        return limited;
    }
    let mut response = ApiError::Unauthenticated.into_response();
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Basic realm=\"roster\""),
    );
    response
}

/// Counts a failed authentication from `client`; once the address is over its budget for
/// the minute, returns the 429 to answer instead of the usual refusal.
pub(crate) fn count_failure(state: &AppState, client: Option<IpAddr>) -> Option<Response> {
    let now = state.directory.clock().now().as_second();
    let retry_after = state.failed_auth.record_failure(client, now)?;
    state.metrics.rate_limited(RateLimitReason::FailedAuth);
    let error = ApiError::RateLimited {
        description: ApiError::TOO_MANY_FAILURES,
    };
    let mut response = error.into_response();
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, number(retry_after));
    Some(response)
}

/// The address a request came from, when the server recorded it.
pub(crate) fn client_address(request: &Request) -> Option<IpAddr> {
    request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
}

/// Reads `Authorization: Basic base64(key:token)`. The token may itself hold colons.
pub(crate) fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let decoded = String::from_utf8(decoded).ok()?;
    let (key, token) = decoded.split_once(':')?;
    Some((key.to_owned(), token.to_owned()))
}

/// The `{sid}` of `/v2/accounts/{sid}/...` (or `/v2/Accounts/...`).
fn path_sid(path: &str) -> Option<&str> {
    let mut segments = path.trim_start_matches('/').split('/');
    let (Some("v2"), Some("accounts" | "Accounts"), Some(sid)) =
        (segments.next(), segments.next(), segments.next())
    else {
        return None;
    };
    Some(sid)
}

fn add_rate_headers(headers: &mut HeaderMap, decision: &RateDecision) {
    headers.insert("x-ratelimit-limit", number(decision.limit.into()));
    headers.insert("x-ratelimit-remaining", number(decision.remaining.into()));
    headers.insert("x-ratelimit-reset", number(decision.reset));
}

fn number(value: i64) -> HeaderValue {
    HeaderValue::from(value)
}

/// Counts failed authentications per client address per wall-clock minute.
#[derive(Debug)]
pub struct FailedAuthLimiter {
    per_minute: u32,
    windows: Mutex<HashMap<Option<IpAddr>, (i64, u32)>>,
}

impl FailedAuthLimiter {
    /// Most addresses tracked; past this the table is emptied rather than grown.
    const CAPACITY: usize = 100_000;

    /// `per_minute` failures are answered 401 before the address gets 429s.
    pub fn new(per_minute: u32) -> Self {
        Self {
            per_minute,
            windows: Mutex::new(HashMap::new()),
        }
    }

    /// Counts a failure; returns the seconds to wait when the address is over its budget.
    fn record_failure(&self, client: Option<IpAddr>, now: i64) -> Option<i64> {
        let window = now.div_euclid(60);
        let mut windows = self.windows.lock().ok()?;
        if windows.len() >= Self::CAPACITY {
            windows.clear();
        }
        let entry = windows.entry(client).or_insert((window, 0));
        if entry.0 != window {
            *entry = (window, 0);
        }
        entry.1 = entry.1.saturating_add(1);
        (entry.1 > self.per_minute).then(|| (window + 1) * 60 - now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_read_from_basic_auth_with_colons_in_the_token() {
        let mut headers = HeaderMap::new();
        let encoded = base64::engine::general_purpose::STANDARD.encode("key1:to:ken");
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_str(&format!("basic {encoded}")).unwrap(),
        );
        assert_eq!(
            basic_credentials(&headers),
            Some(("key1".to_owned(), "to:ken".to_owned()))
        );
    }

    #[test]
    fn other_schemes_and_bad_base64_are_not_credentials() {
        for value in ["Bearer abc", "Basic !!!", "Basic", "Basic a2V5"] {
            let mut headers = HeaderMap::new();
            headers.insert(header::AUTHORIZATION, HeaderValue::from_static(value));
            assert_eq!(basic_credentials(&headers), None, "{value}");
        }
    }

    #[test]
    fn the_sid_is_the_third_path_segment() {
        assert_eq!(path_sid("/v2/accounts/acme/users/x"), Some("acme"));
        assert_eq!(path_sid("/v2/Accounts/acme/users"), Some("acme"));
        assert_eq!(path_sid("/v1/accounts/acme/users"), None);
    }

    #[test]
    fn an_address_gets_its_budget_of_failures_before_being_refused() {
        let limiter = FailedAuthLimiter::new(10);
        let client = Some(IpAddr::from([127, 0, 0, 1]));
        let refused: Vec<bool> = (0..11)
            .map(|_| limiter.record_failure(client, 120).is_some())
            .collect();
        assert_eq!(refused.iter().filter(|r| !**r).count(), 10);
        assert!(refused[10]);
        assert!(limiter.record_failure(client, 180).is_none());
    }
}
