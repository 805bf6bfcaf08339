//! Dashboard sessions and presence samples: the records and the row shapes both backends
//! read them in, and the one escape of search text for `LIKE`.

use jiff::Timestamp;
use roster_domain::{AccountSid, ApiKeyId, Presence, PresenceSample};

use crate::rows::{stored, timestamp};
use crate::StoreError;

/// A signed-in dashboard user. It acts with the rights of the API key it was opened with,
/// so a revoked key ends it; the cookie's token itself is never stored, only its keyed hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DashboardSession {
    pub account: AccountSid,
    pub token_hash: [u8; 32],
    pub api_key: ApiKeyId,
    /// Sent back with every form, so another site cannot post in the user's name.
    pub csrf_token: String,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
}

/// The session columns in the order [`SessionRow`] takes them.
pub(crate) const SESSION_COLUMNS: &str =
    "account_sid, token_hash, api_key_id, csrf_token, created_at, expires_at";

pub(crate) struct SessionRow {
    pub(crate) account: String,
    pub(crate) token_hash: Vec<u8>,
    pub(crate) api_key: String,
    pub(crate) csrf_token: String,
    pub(crate) created_at: i64,
    pub(crate) expires_at: i64,
}

impl SessionRow {
    pub(crate) fn into_session(self) -> Result<DashboardSession, StoreError> {
        Ok(DashboardSession {
            account: stored("session account", AccountSid::parse(&self.account))?,
            token_hash: self
                .token_hash
                .try_into()
                .map_err(|_| StoreError::corrupt("session hash length"))?,
            api_key: stored("session api key", ApiKeyId::parse(&self.api_key))?,
            csrf_token: self.csrf_token,
            created_at: timestamp(self.created_at)?,
            expires_at: timestamp(self.expires_at)?,
        })
    }
}

/// Counts as a query returns them, before they are checked.
pub(crate) struct PresenceRow {
    pub(crate) available: i64,
    pub(crate) busy: i64,
    pub(crate) off: i64,
}

impl PresenceRow {
    pub(crate) fn into_presence(self) -> Result<Presence, StoreError> {
        let count = |n: i64| {
            u32::try_from(n).map_err(|_| StoreError::corrupt(format!("presence count {n}")))
        };
        Ok(Presence {
            available: count(self.available)?,
            busy: count(self.busy)?,
            off: count(self.off)?,
        })
    }

    pub(crate) fn into_sample(self, taken_at: i64) -> Result<PresenceSample, StoreError> {
        Ok(PresenceSample {
            taken_at: timestamp(taken_at)?,
            presence: self.into_presence()?,
        })
    }
}

/// A `LIKE` pattern that finds `text` anywhere, with `\` as the escape character: `%`,
/// `_` and `\` in the text match only themselves.
pub(crate) fn contains_pattern(text: &str) -> String {
    let mut pattern = String::with_capacity(text.len() + 2);
    pattern.push('%');
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_and_the_escape_character_are_escaped() {
        assert_eq!(contains_pattern("asha"), "%asha%");
        assert_eq!(contains_pattern("50%_a\\b"), "%50\\%\\_a\\\\b%");
        assert_eq!(contains_pattern(""), "%%");
    }
}
