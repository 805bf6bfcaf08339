//! Events as both backends keep them: the record in storage's own row format, so the
//! wire shape stays the API's business.

use jiff::Timestamp;
use roster_domain::{Device, Event, EventKind, EventRecord, User};
use serde::{Deserialize, Serialize};

use crate::rows::{stored, DeviceRow, UserRow};
use crate::StoreError;

/// What an event being written is about.
#[derive(Clone, Copy)]
pub(crate) enum Subject<'a> {
    User(&'a User),
    Device(&'a Device),
}

impl Subject<'_> {
    pub(crate) fn user_id(self) -> String {
        match self {
            Subject::User(user) => user.id.to_string(),
            Subject::Device(device) => device.user_id.to_string(),
        }
    }

    /// The record as kept: a user with its devices, or a device.
    pub(crate) fn snapshot(self) -> String {
        let snapshot = match self {
            Subject::User(user) => Snapshot::User {
                user: UserRow::from(user),
                devices: user.devices.iter().flatten().map(DeviceRow::from).collect(),
            },
            Subject::Device(device) => Snapshot::Device(DeviceRow::from(device)),
        };
        // Plain structs of strings and numbers always serialise.
        serde_json::to_string(&snapshot).unwrap_or_default()
    }
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Snapshot {
    User {
        user: UserRow,
        devices: Vec<DeviceRow>,
    },
    Device(DeviceRow),
}

/// An event row as read, before its values are checked.
pub(crate) struct EventRow {
    pub(crate) id: i64,
    pub(crate) kind: String,
    pub(crate) record: String,
    pub(crate) at_micros: i64,
}

impl EventRow {
    pub(crate) fn into_event(self) -> Result<Event, StoreError> {
        let snapshot: Snapshot = serde_json::from_str(&self.record)
            .map_err(|e| StoreError::corrupt(format!("event {} record: {e}", self.id)))?;
        let record = match snapshot {
            Snapshot::User { user, devices } => {
                let mut user = user.into_user()?;
                let devices = devices
                    .into_iter()
                    .map(DeviceRow::into_device)
                    .collect::<Result<Vec<_>, _>>()?;
                user.devices = Some(devices);
                EventRecord::User(user)
            }
            Snapshot::Device(device) => EventRecord::Device(device.into_device()?),
        };
        Ok(Event {
            id: u64::try_from(self.id)
                .map_err(|_| StoreError::corrupt(format!("event id {}", self.id)))?,
            kind: stored("event kind", EventKind::parse(&self.kind))?,
            at: Timestamp::from_microsecond(self.at_micros)
                .map_err(|_| StoreError::corrupt(format!("event time {}", self.at_micros)))?,
            record,
        })
    }
}

/// Where an account's event ids stand: the newest issued, and the oldest still kept.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EventBounds {
    /// 0 before the account's first event.
    pub newest: u64,
    /// `None` when no event is kept (none yet, or all past the retention window).
    pub oldest: Option<u64>,
}
