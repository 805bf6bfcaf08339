//! What the web dashboard needs beyond the Users API: sessions opened with an API key and
//! carried in a cookie, and the presence counts it charts.

use std::fmt;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jiff::{SignedDuration, Timestamp};
use rand::Rng;
use roster_domain::{Account, AccountSid, ApiKeyId, Presence, PresenceSample};
use roster_store::DashboardSession;

use crate::{Directory, ServiceError};

/// Presence is sampled at whole multiples of this many seconds of Unix time, so every node
/// samples the same moments and their samples coincide.
pub const PRESENCE_SAMPLE_SECONDS: i64 = 300;
/// How long presence samples are kept, in hours.
pub const PRESENCE_KEEP_HOURS: i64 = 48;

/// Random bytes in a session token and in a CSRF token.
const TOKEN_BYTES: usize = 32;

/// A session just opened, with the cookie value that names it: `<account sid>.<token>`.
/// The cookie is the only copy of the token; its `Debug` never shows it.
#[derive(Clone)]
pub struct OpenedSession {
    pub cookie: String,
    pub session: DashboardSession,
}

impl fmt::Debug for OpenedSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpenedSession")
            .field("cookie", &"redacted")
            .field("session", &self.session)
            .finish()
    }
}

impl Directory {
    /// Opens a dashboard session acting with `key`, for `lifetime`. Fails with
    /// [`ServiceError::Unauthenticated`] when the key is unknown, revoked or not the
    /// account's, since such a session could never be used.
    pub async fn open_session(
        &self,
        account: &AccountSid,
        key: &ApiKeyId,
        lifetime: SignedDuration,
    ) -> Result<OpenedSession, ServiceError> {
        if !self.key_acts_for(key, account).await? {
            return Err(ServiceError::Unauthenticated);
        }
        if !lifetime.is_positive() {
            return Err(ServiceError::setting(
                "session lifetime",
                "must be positive",
            ));
        }
        let now = self.clock.now();
        let expires_at = now
            .checked_add(lifetime)
            .map_err(|_| ServiceError::setting("session lifetime", "is too long"))?;

        let token = random_token();
        let session = DashboardSession {
            account: account.clone(),
            token_hash: self.hasher.hash(&token),
            api_key: key.clone(),
            csrf_token: random_token(),
            created_at: now,
            expires_at,
        };
        self.store.create_session(&session).await?;
        Ok(OpenedSession {
            cookie: format!("{account}.{token}"),
            session,
        })
    }

    /// The live session a cookie names: `None` for a malformed or unknown cookie, an
    /// expired session, or one whose key has been revoked or deleted (noticed within the
    /// key cache's second, as API calls notice it).
    pub async fn session(&self, cookie: &str) -> Result<Option<DashboardSession>, ServiceError> {
        let Some((account, token_hash)) = self.parse_cookie(cookie) else {
            return Ok(None);
        };
        let Some(session) = self.store.session(&account, &token_hash).await? else {
            return Ok(None);
        };
        if self.clock.now() >= session.expires_at {
            return Ok(None);
        }
        if !self
            .key_acts_for(&session.api_key, &session.account)
            .await?
        {
            return Ok(None);
        }
        Ok(Some(session))
    }

    /// Ends the session a cookie names; a malformed or unknown cookie is no error.
    pub async fn close_session(&self, cookie: &str) -> Result<(), ServiceError> {
        if let Some((account, token_hash)) = self.parse_cookie(cookie) {
            self.store.delete_session(&account, &token_hash).await?;
        }
        Ok(())
    }

    /// The account's users counted by presence now.
    pub async fn presence(&self, account: &Account) -> Result<Presence, ServiceError> {
        Ok(self.store.presence(&account.sid).await?)
    }

    /// The account's samples taken at or after `since`, oldest first.
    pub async fn presence_history(
        &self,
        account: &Account,
        since: Timestamp,
    ) -> Result<Vec<PresenceSample>, ServiceError> {
        Ok(self.store.presence_samples(&account.sid, since).await?)
    }

    /// Records every account's presence at the current sampling moment (now, floored to
    /// [`PRESENCE_SAMPLE_SECONDS`]), then forgets samples older than
    /// [`PRESENCE_KEEP_HOURS`] and expired sessions. Returns how many samples were added:
    /// none when another node already took this moment's.
    pub async fn sample_presence(&self) -> Result<u64, ServiceError> {
        let now = self.clock.now();
        let second = now.as_second();
        let moment = Timestamp::from_second(second - second.rem_euclid(PRESENCE_SAMPLE_SECONDS))
            .unwrap_or(now);
        let added = self.store.record_presence(moment).await?;

        let keep_from = now
            .checked_sub(SignedDuration::from_hours(PRESENCE_KEEP_HOURS))
            .unwrap_or(Timestamp::MIN);
        self.store.purge_presence(keep_from).await?;
        self.store.purge_sessions(now).await?;
        Ok(added)
    }

    /// Whether `key` exists, is not revoked and belongs to `account`, read through the
    /// cache [`Directory::authenticate`] uses.
    async fn key_acts_for(
        &self,
        key: &ApiKeyId,
        account: &AccountSid,
    ) -> Result<bool, ServiceError> {
        let stored = self.cached_key(key.as_str()).await?;
        Ok(stored.is_some_and(|k| k.date_revoked.is_none() && &k.account == account))
    }

    /// The account and token hash a cookie names, or `None` when it is not one of ours.
    fn parse_cookie(&self, cookie: &str) -> Option<(AccountSid, [u8; 32])> {
        let (sid, token) = cookie.split_once('.')?;
        let account = AccountSid::parse(sid).ok()?;
        let bytes = URL_SAFE_NO_PAD.decode(token).ok()?;
        if bytes.len() != TOKEN_BYTES {
            return None;
        }
        Some((account, self.hasher.hash(token)))
    }
}

/// 32 random bytes, base64url without padding: 43 characters. Session tokens, CSRF tokens
/// and the dashboard's sign-in form token are all made here.
pub fn random_token() -> String {
    let bytes: [u8; TOKEN_BYTES] = rand::rng().random();
    URL_SAFE_NO_PAD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_43_url_safe_characters_and_differ() {
        let (a, b) = (random_token(), random_token());

        assert_eq!(a.len(), 43);
        assert!(a
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_'));
        assert_ne!(a, b);
    }
}
