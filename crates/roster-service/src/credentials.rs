//! API keys and tokens: issuing them, revoking them, and checking the pair a request
//! brings. Tokens are 256 random bits, so a keyed SHA-256 (HMAC with the deployment's
//! pepper) is as safe to store as a slow password hash and costs a fraction of a
//! microsecond to check.

use std::fmt;
use std::sync::Arc;

use hmac::{Hmac, Mac};
use rand::Rng;
use roster_domain::{AccountSid, ApiKey, ApiKeyId};
use roster_store::Conflict;
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::{Directory, ServiceError};

/// An API token in plain text. Its `Debug` never shows the value.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiToken(String);

impl ApiToken {
    fn generate() -> Self {
        let bytes: [u8; 32] = rand::rng().random();
        Self(bytes.iter().map(|b| format!("{b:02x}")).collect())
    }

    /// The token itself, for the one time it is shown to its owner.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ApiToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiToken(redacted)")
    }
}

/// A key just issued, with the only copy of its token there will ever be.
#[derive(Debug, Clone)]
pub struct IssuedKey {
    pub key: ApiKey,
    pub token: ApiToken,
}

/// Hashes tokens with the deployment's secret pepper.
#[derive(Clone)]
pub struct TokenHasher {
    mac: Hmac<Sha256>,
}

impl TokenHasher {
    pub fn new(pepper: &[u8]) -> Self {
        // HMAC takes keys of any length, so this never fails.
        let mac = <Hmac<Sha256> as Mac>::new_from_slice(pepper)
            .unwrap_or_else(|_| unreachable!("hmac accepts keys of any length"));
        Self { mac }
    }

    /// Makes a fresh 32-byte pepper, for a database that has none yet.
    pub fn generate_pepper() -> Vec<u8> {
        let bytes: [u8; 32] = rand::rng().random();
        bytes.to_vec()
    }

    pub fn hash(&self, token: &str) -> [u8; 32] {
        let mut mac = self.mac.clone();
        mac.update(token.as_bytes());
        mac.finalize().into_bytes().into()
    }
}

impl fmt::Debug for TokenHasher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TokenHasher(redacted)")
    }
}

impl Directory {
    /// Issues a new key for an account and returns it with its token.
    pub async fn issue_key(&self, sid: &str) -> Result<IssuedKey, ServiceError> {
        let account = self.require_account(sid).await?;
        let token = ApiToken::generate();
        let key = ApiKey {
            id: ApiKeyId::generate(),
            account: account.sid.clone(),
            token_hash: self.hasher.hash(token.expose()),
            date_created: self.clock.now(),
            date_revoked: None,
        };
        match self.store.create_api_key(&key).await {
            Ok(()) => Ok(IssuedKey { key, token }),
            Err(roster_store::StoreError::Conflict(Conflict::ApiKeyExists)) => Err(
                ServiceError::setting("api_key", "a generated key clashed; try again"),
            ),
            Err(other) => Err(other.into()),
        }
    }

    /// Revokes a key; requests bearing it are refused within a second on every server.
    pub async fn revoke_key(&self, key: &str) -> Result<(), ServiceError> {
        let id = ApiKeyId::parse(key).map_err(|_| ServiceError::KeyNotFound(key.to_owned()))?;
        if !self.store.revoke_api_key(&id, self.clock.now()).await? {
            return Err(ServiceError::KeyNotFound(key.to_owned()));
        }
        self.keys.forget(id.as_str());
        Ok(())
    }

    /// Checks a key and token pair and returns the account the key belongs to. An unknown
    /// key and a wrong token do the same work and fail the same way.
    pub async fn authenticate(&self, key: &str, token: &str) -> Result<AccountSid, ServiceError> {
        let stored = self.cached_key(key).await?;
        let presented = self.hasher.hash(token);
        let expected = stored.as_ref().map_or(DUMMY_HASH, |k| k.token_hash);
        let matches: bool = presented.ct_eq(&expected).into();

        match stored {
            Some(key) if matches && key.date_revoked.is_none() => Ok(key.account.clone()),
            _ => Err(ServiceError::Unauthenticated),
        }
    }

    pub(crate) async fn cached_key(&self, key: &str) -> Result<Option<Arc<ApiKey>>, ServiceError> {
        if let Some(hit) = self.keys.get(key) {
            return Ok(hit);
        }
        let Ok(id) = ApiKeyId::parse(key) else {
            return Ok(None);
        };
        let found = self.store.api_key(&id).await?.map(Arc::new);
        self.keys.insert(key.to_owned(), found.clone());
        Ok(found)
    }
}

/// Compared against when the key is unknown, so that case costs what a wrong token costs.
const DUMMY_HASH: [u8; 32] = [0x5a; 32];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_depend_on_the_pepper() {
        let a = TokenHasher::new(b"pepper-a");
        let b = TokenHasher::new(b"pepper-b");
        assert_eq!(a.hash("token"), a.hash("token"));
        assert_ne!(a.hash("token"), b.hash("token"));
        assert_ne!(a.hash("token"), a.hash("token2"));
    }

    #[test]
    fn tokens_are_64_hex_characters_and_never_debug_printed() {
        let token = ApiToken::generate();
        assert_eq!(token.expose().len(), 64);
        assert!(!format!("{token:?}").contains(token.expose()));
    }
}
