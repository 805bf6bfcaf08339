//! Sessions: the cookie a sign-in sets, the signed-in account every page reads it back as,
//! and the checks that keep another site from posting forms in the user's name.

use std::sync::Arc;

use axum::extract::{FromRequestParts, OptionalFromRequestParts};
use axum::http::header::{self, HeaderMap, HeaderValue};
use axum::http::request::Parts;
use axum::http::Uri;
use roster_api::{dashboard, AppState};
use roster_domain::Account;
use roster_service::DashboardSession;
use subtle::ConstantTimeEq;

use crate::error::PageError;
use crate::page::Flash;
use crate::WebState;

/// How long a sign-in lasts; the key's revocation or the account's end cut it short.
pub(crate) const SESSION_HOURS: i64 = 12;

/// A signed-in request: the session and the account it is for, admitted again by the
/// gate's rules on every request.
pub(crate) struct Signed {
    pub account: Arc<Account>,
    pub session: DashboardSession,
    /// The cookie's value, which the event stream checks again while it runs.
    pub cookie: String,
    /// A message the previous request left for this page.
    pub flash: Option<Flash>,
}

impl Signed {
    /// Whether a form carried this session's CSRF token, compared in constant time.
    pub fn check_csrf(&self, sent: &str) -> Result<(), PageError> {
        if tokens_match(&self.session.csrf_token, sent) {
            Ok(())
        } else {
            Err(PageError::Forbidden)
        }
    }

    pub fn csrf(&self) -> &str {
        &self.session.csrf_token
    }
}

impl FromRequestParts<WebState> for Signed {
    type Rejection = PageError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &WebState,
    ) -> Result<Self, Self::Rejection> {
        let names = CookieNames::of(state.secure_cookies);
        let cookie = read_cookie(&parts.headers, names.session)
            .ok_or(PageError::SignIn)?
            .to_owned();
        let (session, account) = admit(&state.app, &cookie).await?;
        let flash = read_cookie(&parts.headers, FLASH_COOKIE).and_then(Flash::decode);
        Ok(Signed {
            account,
            session,
            cookie,
            flash,
        })
    }
}

/// The session a cookie names and its account, if both still hold: the check every page
/// makes, and an open `/live` stream makes again every second.
pub(crate) async fn admit(
    app: &AppState,
    cookie: &str,
) -> Result<(DashboardSession, Arc<Account>), PageError> {
    let session = app
        .directory
        .session(cookie)
        .await
        .map_err(|error| PageError::Refused(error.into()))?
        // The browser holds a session that no longer holds: signed out elsewhere,
        // expired, or its key revoked. The sign-in page says so.
        .ok_or(PageError::SessionEnded)?;
    match dashboard::admit_account(app, &session.account).await {
        Ok(account) => Ok((session, account)),
        Err(refusal) if refusal.is_internal() => Err(PageError::Refused(refusal)),
        // The account was deleted, moved or restricted since: the session is over.
        Err(_) => Err(PageError::SignIn),
    }
}

/// The sign-in page takes a session when there is one, to send the person on.
impl OptionalFromRequestParts<WebState> for Signed {
    type Rejection = PageError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &WebState,
    ) -> Result<Option<Self>, Self::Rejection> {
        match <Signed as FromRequestParts<WebState>>::from_request_parts(parts, state).await {
            Ok(signed) => Ok(Some(signed)),
            Err(PageError::SignIn | PageError::SessionEnded) => Ok(None),
            Err(other) => Err(other),
        }
    }
}

/// Cookie names: over TLS the `__Host-` prefix makes browsers insist on `Secure`, on
/// `Path=/` and on no `Domain`, so no other host can plant one.
pub(crate) struct CookieNames {
    pub session: &'static str,
    pub sign_in: &'static str,
}

impl CookieNames {
    pub fn of(secure: bool) -> Self {
        if secure {
            CookieNames {
                session: "__Host-roster_session",
                sign_in: "__Host-roster_signin",
            }
        } else {
            CookieNames {
                session: "roster_session",
                sign_in: "roster_signin",
            }
        }
    }
}

/// Carries a one-time message to the page a form redirects to.
pub(crate) const FLASH_COOKIE: &str = "roster_flash";

/// A `Set-Cookie` value. Every cookie is `HttpOnly` (no script reads it) and `SameSite=Lax`
/// (no other site's form or fetch sends it); `max_age` 0 deletes it.
pub(crate) fn set_cookie(name: &str, value: &str, max_age: i64, secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    let text = format!("{name}={value}; Path=/; Max-Age={max_age}; HttpOnly; SameSite=Lax{secure}");
    // Values are base64url, digits and ids: always valid header text.
    HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// The value of the cookie `name`, if the request sent one.
pub(crate) fn read_cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
}

/// Compares two tokens in constant time.
pub(crate) fn tokens_match(a: &str, b: &str) -> bool {
    !a.is_empty() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// The host and port the request was sent to: HTTP/1.1 names it in `Host`; HTTP/2 (what
/// browsers speak over TLS) names it in `:authority`, which arrives as the URI's authority
/// and with no `Host` header at all.
pub(crate) fn request_authority<'a>(headers: &'a HeaderMap, uri: &'a Uri) -> Option<&'a str> {
    uri.authority()
        .map(|authority| authority.as_str())
        .or_else(|| headers.get(header::HOST).and_then(|h| h.to_str().ok()))
}

/// Whether a post comes from one of this server's own pages, by what the browser says of
/// its origin: `Origin` must name the host the request was sent to, and `Sec-Fetch-Site`
/// (sent without `Origin` by some browsers on some requests) must not say another site.
pub(crate) fn same_origin(headers: &HeaderMap, uri: &Uri) -> bool {
    let host = request_authority(headers, uri);
    if let Some(origin) = headers.get(header::ORIGIN) {
        let Ok(origin) = origin.to_str() else {
            return false;
        };
        let Some(host) = host else {
            return false;
        };
        let authority = origin
            .strip_prefix("https://")
            .or_else(|| origin.strip_prefix("http://"));
        return authority.is_some_and(|authority| authority.eq_ignore_ascii_case(host));
    }
    match headers.get("sec-fetch-site").map(HeaderValue::to_str) {
        None => true,
        Some(Ok(site)) => matches!(site, "same-origin" | "none"),
        Some(Err(_)) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_str(value).expect("test header"));
        }
        map
    }

    #[test]
    fn reads_one_cookie_among_many() {
        let map = headers(&[("cookie", "a=1; roster_session=demo.xyz; b=2")]);
        assert_eq!(read_cookie(&map, "roster_session"), Some("demo.xyz"));
        assert_eq!(read_cookie(&map, "roster"), None);
        let split = headers(&[("cookie", "a=1"), ("cookie", "roster_flash=user-created")]);
        assert_eq!(read_cookie(&split, FLASH_COOKIE), Some("user-created"));
    }

    /// A request line as HTTP/1.1 sends it: the path only, the host in `Host`.
    fn same_origin_over_http1(headers: &HeaderMap) -> bool {
        same_origin(headers, &Uri::from_static("/users/new"))
    }

    #[test]
    fn posts_from_other_sites_are_told_apart() {
        let host = ("host", "127.0.0.1:8080");
        assert!(same_origin_over_http1(&headers(&[
            host,
            ("origin", "http://127.0.0.1:8080")
        ])));
        assert!(same_origin_over_http1(&headers(&[
            host,
            ("origin", "https://127.0.0.1:8080")
        ])));
        assert!(!same_origin_over_http1(&headers(&[
            host,
            ("origin", "http://evil.example")
        ])));
        assert!(!same_origin_over_http1(&headers(&[
            host,
            ("origin", "null")
        ])));
        assert!(!same_origin_over_http1(&headers(&[(
            "origin",
            "http://127.0.0.1:8080"
        )])));
        assert!(same_origin_over_http1(&headers(&[host])));
        assert!(same_origin_over_http1(&headers(&[
            host,
            ("sec-fetch-site", "same-origin")
        ])));
        assert!(!same_origin_over_http1(&headers(&[
            host,
            ("sec-fetch-site", "cross-site")
        ])));
        assert!(!same_origin_over_http1(&headers(&[
            host,
            ("sec-fetch-site", "same-site")
        ])));
    }

    #[test]
    fn an_http2_post_is_judged_by_its_authority_as_it_has_no_host_header() {
        let uri = Uri::from_static("https://127.0.0.1:8443/users/new");
        let from = |origin: &'static str| headers(&[("origin", origin)]);

        assert!(same_origin(&from("https://127.0.0.1:8443"), &uri));
        assert!(!same_origin(&from("https://evil.example"), &uri));
        assert!(!same_origin(&from("https://127.0.0.1:9999"), &uri));
        assert_eq!(
            request_authority(&HeaderMap::new(), &uri),
            Some("127.0.0.1:8443")
        );
    }

    #[test]
    fn cookies_are_http_only_and_same_site_and_secure_over_tls() {
        let plain = set_cookie("roster_session", "v", 60, false);
        let plain = plain.to_str().expect("ascii");
        assert!(plain.contains("HttpOnly") && plain.contains("SameSite=Lax"));
        assert!(!plain.contains("Secure"));
        let tls = set_cookie("__Host-roster_session", "v", 60, true);
        assert!(tls.to_str().expect("ascii").ends_with("; Secure"));
    }

    #[test]
    fn empty_tokens_never_match() {
        assert!(!tokens_match("", ""));
        assert!(tokens_match("abc", "abc"));
        assert!(!tokens_match("abc", "abd"));
    }
}
