//! SIP passwords: checked for strength, then turned into digests and forgotten.

use std::fmt;

/// A SIP password that passed the strength rule. Its `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct SipPassword(String);

impl SipPassword {
    /// At least 8 characters, with at least three of: lower case, upper case, digit, other;
    /// no control characters, which no phone's keypad can enter and C-based SIP stacks
    /// may cut the password at.
    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        const WEAK: &str =
            "must be at least 8 characters with three of: lower case, upper case, digit, other";
        if raw.chars().any(char::is_control) {
            return Err("must not hold control characters");
        }
        if raw.chars().count() < 8 {
            return Err(WEAK);
        }
        let classes = [
            raw.chars().any(|c| c.is_lowercase()),
            raw.chars().any(|c| c.is_uppercase()),
            raw.chars().any(|c| c.is_ascii_digit()),
            raw.chars()
                .any(|c| !c.is_lowercase() && !c.is_uppercase() && !c.is_ascii_digit()),
        ];
        if classes.iter().filter(|present| **present).count() < 3 {
            return Err(WEAK);
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SipPassword {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SipPassword(redacted)")
    }
}

/// What a SIP registrar needs to check a softphone's password: the HA1 digests of
/// RFC 2617 (MD5) and RFC 8760 (SHA-256) over `username:realm:password`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SipCredentials {
    pub device_id: crate::DeviceId,
    pub user_id: crate::UserId,
    pub contact_uri: crate::SipUri,
    pub realm: String,
    pub ha1_md5: String,
    pub ha1_sha256: String,
}

impl SipCredentials {
    /// The digest user name: the user part of the SIP URI.
    pub fn username(&self) -> &str {
        self.contact_uri.user()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn three_classes_and_eight_characters_pass(
            lower in "[a-z]{3,6}", upper in "[A-Z]{3,6}", digits in "[0-9]{2,4}",
        ) {
            let raw = format!("{lower}{upper}{digits}");
            prop_assert!(SipPassword::parse(&raw).is_ok());
        }

        #[test]
        fn two_classes_never_pass(lower in "[a-z]{4,20}", digits in "[0-9]{4,20}") {
            let raw = format!("{lower}{digits}");
            prop_assert!(SipPassword::parse(&raw).is_err());
        }
    }

    #[test]
    fn short_or_weak_passwords_are_refused() {
        assert!(SipPassword::parse("Ab1!").is_err());
        assert!(SipPassword::parse("password").is_err());
        assert!(SipPassword::parse("Password").is_err());
        assert!(SipPassword::parse("Passw0rd").is_ok());
        assert!(SipPassword::parse("pass word1").is_ok());
        assert!(SipPassword::parse("Passw0rd\0").is_err());
        assert!(SipPassword::parse("Pass\tw0rd").is_err());
        assert!(!format!("{:?}", SipPassword::parse("Passw0rd").unwrap()).contains("Passw0rd"));
    }
}
