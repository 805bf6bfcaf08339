//! Presence: how many of an account's users can take a call right now, for dashboards.

use jiff::Timestamp;

use crate::{Device, DeviceStatus};

/// Where one user is now, by the rule [`Presence`] counts with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AgentState {
    Available,
    Busy,
    Off,
}

impl AgentState {
    /// Busy on a call on any device, else available on a device switched ON, else off.
    pub fn of(devices: &[Device]) -> Self {
        if devices.iter().any(|d| d.status == DeviceStatus::Busy) {
            AgentState::Busy
        } else if devices.iter().any(|d| d.available == Some(true)) {
            AgentState::Available
        } else {
            AgentState::Off
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            AgentState::Available => "available",
            AgentState::Busy => "busy",
            AgentState::Off => "off",
        }
    }
}

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

    fn device(on: Option<bool>, status: DeviceStatus) -> Device {
        Device {
            id: crate::DeviceId::from_u64(7).expect("an id"),
            user_id: crate::UserId::generate(),
            contact_uri: crate::ContactUri::parse("+919812345678").expect("a number"),
            name: crate::DeviceName::parse("Phone").expect("a name"),
            verified: on.is_some(),
            available: on,
            status,
            version: 1,
        }
    }

    #[test]
    fn an_agent_is_busy_before_available_before_off() {
        use DeviceStatus::{Busy, Free};
        assert_eq!(AgentState::of(&[]), AgentState::Off);
        assert_eq!(AgentState::of(&[device(None, Free)]), AgentState::Off);
        assert_eq!(
            AgentState::of(&[device(Some(false), Free)]),
            AgentState::Off
        );
        assert_eq!(
            AgentState::of(&[device(Some(true), Free)]),
            AgentState::Available
        );
        let on_and_busy = [device(Some(true), Free), device(Some(false), Busy)];
        assert_eq!(AgentState::of(&on_and_busy), AgentState::Busy);
        assert_eq!(AgentState::Busy.as_str(), "busy");
    }
}
