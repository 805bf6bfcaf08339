//! Phone numbers in E.164 form, the only form a `tel` device is stored in.

use std::fmt;

/// A phone number normalised to `+` followed by 8 to 15 digits, the first not zero.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct E164(String);

impl E164 {
    /// Removes the spaces, hyphens, dots and parentheses people type, then requires `+`, a
    /// digit 1-9 and 7 to 14 more digits.
    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        let compact: String = raw
            .chars()
            .filter(|c| !matches!(c, ' ' | '-' | '.' | '(' | ')'))
            .collect();
        let Some(digits) = compact.strip_prefix('+') else {
            return Err("must start with '+' and the country code");
        };
        if !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err("may hold only digits after '+'");
        }
        if digits.starts_with('0') {
            return Err("the country code cannot start with 0");
        }
        if !(8..=15).contains(&digits.len()) {
            return Err("must have 8 to 15 digits");
        }
        Ok(Self(compact))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for E164 {
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
        fn well_formed_numbers_are_kept_as_they_are(raw in "\\+[1-9][0-9]{7,14}") {
            prop_assert_eq!(E164::parse(&raw).map(|n| n.0), Ok(raw));
        }

        #[test]
        fn separators_are_removed(
            country in "[1-9][0-9]{0,2}",
            groups in proptest::collection::vec("[0-9]{2,4}", 3),
            sep in "[ .-]",
        ) {
            let raw = format!("+{country} ({}) {}{sep}{}", groups[0], groups[1], groups[2]);
            let expected: String = raw.chars().filter(|c| c.is_ascii_digit() || *c == '+').collect();
            let digits = expected.len() - 1;
            prop_assert_eq!(E164::parse(&raw).map(|n| n.0).ok(), (8..=15).contains(&digits).then_some(expected));
        }

        #[test]
        fn numbers_with_letters_are_refused(raw in "\\+91[0-9]{3}[a-zA-Z][0-9]{4}") {
            prop_assert!(E164::parse(&raw).is_err());
        }
    }

    #[test]
    fn edges_of_the_length_rule() {
        assert!(E164::parse("+1234567").is_err());
        assert!(E164::parse("+12345678").is_ok());
        assert!(E164::parse("+123456789012345").is_ok());
        assert!(E164::parse("+1234567890123456").is_err());
        assert!(E164::parse("+0123456789").is_err());
        assert!(E164::parse("919812345678").is_err());
        assert!(E164::parse("+91 98123-45678").unwrap().as_str() == "+919812345678");
        assert!(E164::parse("++919812345678").is_err());
    }
}
