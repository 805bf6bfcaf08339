//! Devices: the phones and softphones a user takes calls on.

use std::fmt;

use crate::{DeviceId, SipUri, UserId, E164};

/// Where calls to a device go: a phone number (`tel`) or a softphone address (`sip`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ContactUri {
    Tel(E164),
    Sip(SipUri),
}

impl ContactUri {
    /// Reads a stored or submitted contact: a SIP URI when it starts with `sip:`, else E.164.
    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        if raw.starts_with("sip:") {
            SipUri::parse(raw).map(ContactUri::Sip)
        } else {
            E164::parse(raw).map(ContactUri::Tel)
        }
    }

    pub fn kind(&self) -> DeviceKind {
        match self {
            ContactUri::Tel(_) => DeviceKind::Tel,
            ContactUri::Sip(_) => DeviceKind::Sip,
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            ContactUri::Tel(number) => number.as_str(),
            ContactUri::Sip(uri) => uri.as_str(),
        }
    }
}

impl fmt::Display for ContactUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The wire's `type` of a device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceKind {
    Tel,
    Sip,
}

impl DeviceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            DeviceKind::Tel => "tel",
            DeviceKind::Sip => "sip",
        }
    }
}

/// Whether a device is on a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceStatus {
    Free,
    Busy,
}

impl DeviceStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DeviceStatus::Free => "free",
            DeviceStatus::Busy => "busy",
        }
    }
}

/// A device's friendly name: 1 to 50 characters, no control characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceName(String);

impl DeviceName {
    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        let length = raw.chars().count();
        if !(1..=50).contains(&length) {
            return Err("must be 1 to 50 characters");
        }
        if raw.chars().any(char::is_control) {
            return Err("must not hold control characters");
        }
        Ok(Self(raw.to_owned()))
    }

    /// The name a device gets when the request names none.
    pub fn default_for(kind: DeviceKind) -> Self {
        match kind {
            DeviceKind::Tel => Self("Phone".to_owned()),
            DeviceKind::Sip => Self("Softphone".to_owned()),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A device as stored and shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Device {
    pub id: DeviceId,
    pub user_id: UserId,
    pub contact_uri: ContactUri,
    pub name: DeviceName,
    pub verified: bool,
    /// `Some(true)` when ON; `None` while the device is unverified.
    pub available: Option<bool>,
    pub status: DeviceStatus,
}

impl Device {
    pub fn kind(&self) -> DeviceKind {
        self.contact_uri.kind()
    }
}

/// A device about to be created with a user: a phone starts unverified, a softphone
/// starts verified and OFF; both start free.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewDevice {
    pub id: DeviceId,
    pub contact_uri: ContactUri,
    pub name: DeviceName,
}

impl NewDevice {
    /// The state the rules give a device when it is created.
    pub fn into_device(self, user_id: UserId) -> Device {
        let verified = self.contact_uri.kind() == DeviceKind::Sip;
        Device {
            id: self.id,
            user_id,
            contact_uri: self.contact_uri,
            name: self.name,
            verified,
            available: verified.then_some(false),
            status: DeviceStatus::Free,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contact_kind_follows_the_scheme() {
        assert_eq!(
            ContactUri::parse("+919812345678").unwrap().kind(),
            DeviceKind::Tel
        );
        assert_eq!(
            ContactUri::parse("sip:asha1a2b3c4d").unwrap().kind(),
            DeviceKind::Sip
        );
        assert!(ContactUri::parse("asha").is_err());
    }

    #[test]
    fn new_phones_start_unverified_and_softphones_verified_and_off() {
        let user = UserId::generate();
        let at = jiff::Timestamp::UNIX_EPOCH;
        let phone = NewDevice {
            id: DeviceId::generate(at),
            contact_uri: ContactUri::parse("+919812345678").unwrap(),
            name: DeviceName::default_for(DeviceKind::Tel),
        }
        .into_device(user);
        assert_eq!(
            (phone.verified, phone.available, phone.status),
            (false, None, DeviceStatus::Free)
        );

        let softphone = NewDevice {
            id: DeviceId::generate(at),
            contact_uri: ContactUri::parse("sip:asha1a2b3c4d").unwrap(),
            name: DeviceName::default_for(DeviceKind::Sip),
        }
        .into_device(user);
        assert_eq!(
            (softphone.verified, softphone.available),
            (true, Some(false))
        );
    }

    #[test]
    fn device_names_refuse_empty_long_and_control_text() {
        assert!(DeviceName::parse("").is_err());
        assert!(DeviceName::parse(&"x".repeat(51)).is_err());
        assert!(DeviceName::parse("desk\nphone").is_err());
        assert!(DeviceName::parse("Desk phone").is_ok());
    }
}
