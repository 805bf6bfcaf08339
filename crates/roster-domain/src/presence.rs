//! Presence: how many of an account's users can take a call right now, for dashboards.

use jiff::Timestamp;

/// Counts of an account's users by what their devices say. Each user is counted once:
/// `busy` when any of its devices is on a call, else `available` when one of its devices is
/// switched ON, else `off` (users without devices included).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Presence {
    pub available: u32,
    pub busy: u32,
    pub off: u32,
}

impl Presence {
    /// Every user counted.
    pub fn total(self) -> u64 {
        u64::from(self.available) + u64::from(self.busy) + u64::from(self.off)
    }
}

/// The counts as they stood at one moment, kept to draw how presence moved over a day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PresenceSample {
    pub taken_at: Timestamp,
    pub presence: Presence,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_total_counts_every_state_without_overflowing() {
        let presence = Presence {
            available: u32::MAX,
            busy: 2,
            off: 3,
        };

        assert_eq!(presence.total(), u64::from(u32::MAX) + 5);
        assert_eq!(Presence::default().total(), 0);
    }
}
