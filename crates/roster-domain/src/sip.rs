//! SIP addresses of softphones, such as `sip:arjuns2d853099`.

use std::fmt;

use rand::Rng;

/// A SIP URI as Exotel writes them: `sip:` and a user part of 1 to 64 lower-case letters,
/// digits, `.`, `_` or `-`, with no host (the deployment's registrar is the host). The
/// user part is the digest user name, so it must identify the softphone on its own.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SipUri(String);

impl SipUri {
    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        let Some(user) = raw.strip_prefix("sip:") else {
            return Err("must start with 'sip:'");
        };
        let user_ok = (1..=64).contains(&user.len())
            && user
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b));
        if !user_ok {
            return Err(
                "after 'sip:' must come 1 to 64 lower-case letters, digits, '.', '_' or '-'",
            );
        }
        Ok(Self(raw.to_owned()))
    }

    /// Makes a softphone address the way Exotel does: the letters of the first name, the
    /// first letter of the last name, all lower case, then 8 random hex characters.
    pub fn for_person(first_name: &str, last_name: &str) -> Self {
        let mut user: String = first_name
            .chars()
            .filter(char::is_ascii_alphabetic)
            .map(|c| c.to_ascii_lowercase())
            .collect();
        if let Some(initial) = last_name.chars().find(char::is_ascii_alphabetic) {
            user.push(initial.to_ascii_lowercase());
        }
        let suffix: u32 = rand::rng().random();
        Self(format!("sip:{user}{suffix:08x}"))
    }

    /// The user part, which SIP registrars use as the digest user name.
    pub fn user(&self) -> &str {
        &self.0[4..]
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for SipUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn generated_addresses_parse_and_follow_exotels_pattern(
            first in "[A-Za-z][A-Za-z .'-]{2,18}",
            last in "[A-Za-z0-9][A-Za-z0-9 .'-]{2,18}",
        ) {
            let uri = SipUri::for_person(&first, &last);
            prop_assert!(SipUri::parse(uri.as_str()).is_ok());
            let letters: String = first.chars().filter(char::is_ascii_alphabetic).collect::<String>().to_lowercase();
            prop_assert!(uri.user().starts_with(&letters));
            let suffix = &uri.user()[uri.user().len() - 8..];
            prop_assert!(suffix.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')));
        }
    }

    #[test]
    fn the_seed_example_is_a_valid_address() {
        let uri = SipUri::parse("sip:arjuns2d853099").unwrap();
        assert_eq!(uri.user(), "arjuns2d853099");
    }

    #[test]
    fn the_address_is_built_from_first_name_and_last_initial() {
        let uri = SipUri::for_person("Arjun", "Sharma");
        assert!(uri.as_str().starts_with("sip:arjuns"));
        assert_eq!(uri.as_str().len(), "sip:arjuns".len() + 8);
    }

    #[test]
    fn other_schemes_and_upper_case_are_refused() {
        for bad in [
            "tel:+9198",
            "sip:",
            "sip:Arjun",
            "sips:arjun",
            "sip:a b",
            "sip:a@",
        ] {
            assert!(SipUri::parse(bad).is_err(), "{bad:?}");
        }
    }
}
