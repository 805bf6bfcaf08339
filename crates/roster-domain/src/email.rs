//! Email addresses: checked for a plausible shape, stored as given, compared without case.

use std::fmt;

/// An email address as the user typed it. Uniqueness inside an account uses
/// [`Email::folded`], so `Asha@X.com` and `asha@x.com` are the same address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    /// Accepts `local@domain` with a dot-atom local part of at most 64 characters and a
    /// domain of letter, digit and hyphen labels ending in an alphabetic top-level label.
    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        if raw.len() > 254 {
            return Err("must be at most 254 characters");
        }
        let Some((local, domain)) = raw.rsplit_once('@') else {
            return Err("must look like name@example.com");
        };
        check_local_part(local)?;
        check_domain(domain)?;
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The address in lower case: the key for case-insensitive uniqueness and filters.
    pub fn folded(&self) -> String {
        self.0.to_ascii_lowercase()
    }
}

fn check_local_part(local: &str) -> Result<(), &'static str> {
    const SPECIALS: &[u8] = b"!#$%&'*+/=?^_`{|}~-";
    if local.is_empty() || local.len() > 64 {
        return Err("the part before '@' must be 1 to 64 characters");
    }
    if local.starts_with('.') || local.ends_with('.') || local.contains("..") {
        return Err("the part before '@' has a misplaced '.'");
    }
    if !local
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'.' || SPECIALS.contains(&b))
    {
        return Err("the part before '@' holds a character not allowed there");
    }
    Ok(())
}

fn check_domain(domain: &str) -> Result<(), &'static str> {
    let labels: Vec<&str> = domain.split('.').collect();
    if labels.len() < 2 {
        return Err("the domain must have at least two labels");
    }
    for label in &labels {
        let valid = (1..=63).contains(&label.len())
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-');
        if !valid {
            return Err("the domain is not a valid host name");
        }
    }
    let top = labels.last().copied().unwrap_or_default();
    if top.len() < 2 || !top.bytes().all(|b| b.is_ascii_alphabetic()) {
        return Err("the domain must end in an alphabetic top-level label");
    }
    Ok(())
}

impl fmt::Display for Email {
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
        fn ordinary_addresses_are_accepted_and_kept_as_typed(
            local in "[A-Za-z0-9_%+-]{1,20}(\\.[A-Za-z0-9_+-]{1,10})?",
            domain in "[A-Za-z0-9]{1,20}(-[a-z0-9]{1,5})?\\.[A-Za-z]{2,6}",
        ) {
            let raw = format!("{local}@{domain}");
            let email = Email::parse(&raw).unwrap();
            prop_assert_eq!(email.folded(), raw.to_ascii_lowercase());
            prop_assert_eq!(email.0, raw);
        }

        #[test]
        fn strings_without_an_at_sign_are_refused(raw in "[^@]{0,40}") {
            prop_assert!(Email::parse(&raw).is_err());
        }
    }

    #[test]
    fn malformed_addresses_are_refused() {
        let bad = [
            "",
            "@x.com",
            "a@",
            "a@x",
            "a@.com",
            "a@x..com",
            "a.@x.com",
            ".a@x.com",
            "a..b@x.com",
            "a b@x.com",
            "a@x.c",
            "a@x.c0m",
            "a@-x.com",
            "a@x-.com",
            "a@@x.com",
            "a@x.com.",
        ];
        for raw in bad {
            assert!(Email::parse(raw).is_err(), "{raw:?} should be refused");
        }
    }

    #[test]
    fn plus_addressing_and_mixed_case_are_kept() {
        let email = Email::parse("Asha.Rao+Team1@Example.co.in").unwrap();
        assert_eq!(email.as_str(), "Asha.Rao+Team1@Example.co.in");
        assert_eq!(email.folded(), "asha.rao+team1@example.co.in");
    }
}
