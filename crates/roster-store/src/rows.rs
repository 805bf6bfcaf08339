//! Rows as every backend reads them, before their values are checked, and the one place
//! they become domain records. A stored value that fails its parser means a corrupt row.

use jiff::Timestamp;
use roster_domain::{
    Account, AccountSid, ContactUri, Device, DeviceId, DeviceName, DeviceStatus, Email, NamePolicy,
    PersonName, RateLimit, RegionName, Role, TimeZoneName, User, UserId,
};

use crate::StoreError;

pub(crate) fn timestamp(second: i64) -> Result<Timestamp, StoreError> {
    Timestamp::from_second(second).map_err(|_| StoreError::corrupt(format!("timestamp {second}")))
}

pub(crate) fn optional_timestamp(second: Option<i64>) -> Result<Option<Timestamp>, StoreError> {
    second.map(timestamp).transpose()
}

/// Parses a stored value with its domain parser; a failure means the row is corrupt.
pub(crate) fn stored<T>(what: &str, parsed: Result<T, &'static str>) -> Result<T, StoreError> {
    parsed.map_err(|reason| StoreError::corrupt(format!("{what}: {reason}")))
}

fn version(raw: i64) -> Result<u64, StoreError> {
    u64::try_from(raw).map_err(|_| StoreError::corrupt(format!("version {raw}")))
}

pub(crate) fn device_id(raw: i64) -> Result<DeviceId, &'static str> {
    u64::try_from(raw)
        .map_err(|_| "negative")
        .and_then(DeviceId::from_u64)
}

/// An account row as read, before its values are checked.
pub(crate) struct AccountRow {
    pub(crate) sid: String,
    pub(crate) name: String,
    pub(crate) region: String,
    pub(crate) timezone: String,
    pub(crate) voip_enabled: bool,
    pub(crate) trial: bool,
    pub(crate) kyc_complete: bool,
    pub(crate) rate_limit: i64,
    pub(crate) date_created: i64,
    pub(crate) date_updated: i64,
}

impl AccountRow {
    pub(crate) fn into_account(self) -> Result<Account, StoreError> {
        Ok(Account {
            sid: stored("account sid", AccountSid::parse(&self.sid))?,
            name: self.name,
            region: stored("account region", RegionName::parse(&self.region))?,
            timezone: stored("account timezone", TimeZoneName::parse(&self.timezone))?,
            voip_enabled: self.voip_enabled,
            trial: self.trial,
            kyc_complete: self.kyc_complete,
            rate_limit: stored(
                "account rate limit",
                u32::try_from(self.rate_limit)
                    .map_err(|_| "out of range")
                    .and_then(RateLimit::new),
            )?,
            date_created: timestamp(self.date_created)?,
            date_updated: timestamp(self.date_updated)?,
        })
    }
}

/// A user row as read, before its values are checked; also how events keep a user.
#[derive(serde::Serialize, serde::Deserialize)]
pub(crate) struct UserRow {
    pub(crate) id: String,
    pub(crate) first_name: String,
    pub(crate) last_name: String,
    pub(crate) email: Option<String>,
    pub(crate) email_verified: bool,
    pub(crate) role: String,
    pub(crate) date_created: i64,
    pub(crate) date_updated: i64,
    pub(crate) last_login: Option<i64>,
    pub(crate) version: i64,
}

impl UserRow {
    pub(crate) fn into_user(self) -> Result<User, StoreError> {
        // Stored names passed the policy in force when written; reading accepts the widest.
        let policy = NamePolicy::UnicodeLetters;
        Ok(User {
            id: stored("user id", UserId::parse(&self.id))?,
            first_name: stored("first name", PersonName::parse(&self.first_name, policy))?,
            last_name: stored("last name", PersonName::parse(&self.last_name, policy))?,
            email: self
                .email
                .as_deref()
                .map(Email::parse)
                .transpose()
                .map_err(|r| StoreError::corrupt(format!("email: {r}")))?,
            email_verified: self.email_verified,
            role: stored("role", Role::parse(&self.role))?,
            date_created: timestamp(self.date_created)?,
            date_updated: timestamp(self.date_updated)?,
            last_login: optional_timestamp(self.last_login)?,
            devices: None,
            version: version(self.version)?,
        })
    }
}

/// A device row as read, before its values are checked; also how events keep a device.
#[derive(serde::Serialize, serde::Deserialize)]
pub(crate) struct DeviceRow {
    pub(crate) id: i64,
    pub(crate) user_id: String,
    pub(crate) contact_uri: String,
    pub(crate) name: String,
    pub(crate) verified: bool,
    pub(crate) available: Option<bool>,
    pub(crate) busy: bool,
    pub(crate) version: i64,
}

impl DeviceRow {
    pub(crate) fn into_device(self) -> Result<Device, StoreError> {
        Ok(Device {
            id: stored("device id", device_id(self.id))?,
            user_id: stored("device user", UserId::parse(&self.user_id))?,
            contact_uri: stored("device contact", ContactUri::parse(&self.contact_uri))?,
            name: stored("device name", DeviceName::parse(&self.name))?,
            verified: self.verified,
            available: self.available,
            status: if self.busy {
                DeviceStatus::Busy
            } else {
                DeviceStatus::Free
            },
            version: version(self.version)?,
        })
    }
}

impl From<&User> for UserRow {
    fn from(user: &User) -> Self {
        Self {
            id: user.id.to_string(),
            first_name: user.first_name.as_str().to_owned(),
            last_name: user.last_name.as_str().to_owned(),
            email: user.email.as_ref().map(|e| e.as_str().to_owned()),
            email_verified: user.email_verified,
            role: user.role.as_str().to_owned(),
            date_created: user.date_created.as_second(),
            date_updated: user.date_updated.as_second(),
            last_login: user.last_login.map(Timestamp::as_second),
            version: user.version as i64,
        }
    }
}

impl From<&Device> for DeviceRow {
    fn from(device: &Device) -> Self {
        Self {
            id: device.id.get() as i64,
            user_id: device.user_id.to_string(),
            contact_uri: device.contact_uri.as_str().to_owned(),
            name: device.name.as_str().to_owned(),
            verified: device.verified,
            available: device.available,
            busy: device.status == DeviceStatus::Busy,
            version: device.version as i64,
        }
    }
}
