//! Record versions, which every change of a record moves on, and what a change can expect
//! of them (HTTP's `If-Match`, without the HTTP).

use crate::RuleError;

/// The version every user and device is created with.
pub const FIRST_VERSION: u64 = 1;

/// What a change expects of the current version of the record it changes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Precondition {
    /// No expectation: the change applies to whatever is current.
    #[default]
    None,
    /// The change applies only while the record is at one of these versions; an empty
    /// list (tags that were never ours) never matches.
    OneOf(Vec<u64>),
}

impl Precondition {
    /// Passes when the record at `current` may be changed.
    pub fn check(&self, current: u64) -> Result<(), RuleError> {
        match self {
            Precondition::None => Ok(()),
            Precondition::OneOf(versions) if versions.contains(&current) => Ok(()),
            Precondition::OneOf(_) => Err(RuleError::PreconditionFailed),
        }
    }

    pub fn is_none(&self) -> bool {
        matches!(self, Precondition::None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_listed_version_passes() {
        assert_eq!(Precondition::None.check(7), Ok(()));
        assert_eq!(Precondition::OneOf(vec![3, 7]).check(7), Ok(()));
        assert_eq!(
            Precondition::OneOf(vec![3]).check(7),
            Err(RuleError::PreconditionFailed)
        );
        assert_eq!(
            Precondition::OneOf(vec![]).check(1),
            Err(RuleError::PreconditionFailed)
        );
    }
}
