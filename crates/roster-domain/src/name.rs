//! Person names, as Exotel accepts them for a user's first and last name.

use std::fmt;

/// Which characters a name may hold. Exotel allows only ASCII letters and digits plus
/// `.`, `'`, `-` and space; a deployment may also allow every Unicode letter.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum NamePolicy {
    #[default]
    Exotel,
    UnicodeLetters,
}

/// A first or last name: 3 to 20 characters from the policy's alphabet, not starting or
/// ending with a space.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonName(String);

impl PersonName {
    pub fn parse(raw: &str, policy: NamePolicy) -> Result<Self, &'static str> {
        let length = raw.chars().count();
        if !(3..=20).contains(&length) {
            return Err("must be 3 to 20 characters");
        }
        if raw.starts_with(' ') || raw.ends_with(' ') {
            return Err("must not start or end with a space");
        }
        let allowed = |c: char| {
            matches!(c, '.' | '\'' | '-' | ' ')
                || c.is_ascii_alphanumeric()
                || (policy == NamePolicy::UnicodeLetters && c.is_alphanumeric())
        };
        if !raw.chars().all(allowed) {
            return Err(match policy {
                NamePolicy::Exotel => "may hold only A-Z, a-z, 0-9, '.', ''', '-' and space",
                NamePolicy::UnicodeLetters => {
                    "may hold only letters, digits, '.', ''', '-' and space"
                }
            });
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for PersonName {
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
        fn names_from_the_exotel_alphabet_are_accepted(raw in "[A-Za-z0-9.'-][A-Za-z0-9.' -]{1,18}[A-Za-z0-9.'-]") {
            prop_assert_eq!(PersonName::parse(&raw, NamePolicy::Exotel).map(|n| n.0), Ok(raw));
        }

        #[test]
        fn names_outside_three_to_twenty_characters_are_refused(raw in "[a-z]{0,2}|[a-z]{21,40}") {
            prop_assert!(PersonName::parse(&raw, NamePolicy::Exotel).is_err());
        }

        #[test]
        fn any_character_outside_the_alphabet_is_refused(
            head in "[a-z]{2,8}",
            bad in "[^A-Za-z0-9.' -]",
        ) {
            let raw = format!("{head}{bad}x");
            prop_assert!(PersonName::parse(&raw, NamePolicy::Exotel).is_err());
        }
    }

    #[test]
    fn length_counts_characters_not_bytes() {
        let twenty = "é".repeat(20);
        assert!(PersonName::parse(&twenty, NamePolicy::UnicodeLetters).is_ok());
        assert!(PersonName::parse(&twenty, NamePolicy::Exotel).is_err());
        assert!(PersonName::parse(&"é".repeat(21), NamePolicy::UnicodeLetters).is_err());
    }

    #[test]
    fn names_with_outer_spaces_are_refused() {
        assert!(PersonName::parse(" Asha", NamePolicy::Exotel).is_err());
        assert!(PersonName::parse("Asha ", NamePolicy::Exotel).is_err());
        assert!(PersonName::parse("Mary Ann", NamePolicy::Exotel).is_ok());
        assert!(PersonName::parse("O'Neil-Smith Jr.", NamePolicy::Exotel).is_ok());
    }
}
