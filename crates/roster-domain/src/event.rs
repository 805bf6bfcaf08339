//! Events: what changed in an account's directory, in the order it changed.

use jiff::Timestamp;

use crate::{Device, User, UserId};

/// What kind of change an event records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    UserCreated,
    UserUpdated,
    UserDeleted,
    DeviceCreated,
    DeviceUpdated,
    DeviceDeleted,
}

impl EventKind {
    const ALL: [EventKind; 6] = [
        EventKind::UserCreated,
        EventKind::UserUpdated,
        EventKind::UserDeleted,
        EventKind::DeviceCreated,
        EventKind::DeviceUpdated,
        EventKind::DeviceDeleted,
    ];

    /// The event's type on the wire, `user.created` say.
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::UserCreated => "user.created",
            EventKind::UserUpdated => "user.updated",
            EventKind::UserDeleted => "user.deleted",
            EventKind::DeviceCreated => "device.created",
            EventKind::DeviceUpdated => "device.updated",
            EventKind::DeviceDeleted => "device.deleted",
        }
    }

    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        Self::ALL
            .into_iter()
            .find(|kind| kind.as_str() == raw)
            .ok_or("not an event type")
    }
}

/// The record an event is about, as it was right after the change (right before it, for a
/// delete). A user comes with its devices.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventRecord {
    User(User),
    Device(Device),
}

impl EventRecord {
    /// The user the record is, or belongs to.
    pub fn user_id(&self) -> UserId {
        match self {
            EventRecord::User(user) => user.id,
            EventRecord::Device(device) => device.user_id,
        }
    }
}

/// One change of an account's directory. Ids increase by one per account, in the order
/// the changes were committed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub id: u64,
    pub kind: EventKind,
    pub at: Timestamp,
    pub record: EventRecord,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip_through_their_wire_names() {
        for kind in EventKind::ALL {
            assert_eq!(EventKind::parse(kind.as_str()), Ok(kind));
        }
        assert!(EventKind::parse("user.renamed").is_err());
    }
}
