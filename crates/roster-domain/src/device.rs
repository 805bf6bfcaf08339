//! Devices: the phones and softphones a user takes calls on.

use std::fmt;

use crate::{DeviceId, RuleError, SipUri, UserId, E164};

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
    pub const ALL: [DeviceKind; 2] = [DeviceKind::Tel, DeviceKind::Sip];

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
    pub const ALL: [DeviceStatus; 2] = [DeviceStatus::Free, DeviceStatus::Busy];

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
    /// Moves on with every change of the device.
    pub version: u64,
}

impl Device {
    pub fn kind(&self) -> DeviceKind {
        self.contact_uri.kind()
    }
}

/// A requested change of a device: its availability, its number, or both.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeviceChange {
    pub available: Option<bool>,
    pub contact_uri: Option<E164>,
}

impl Device {
    /// The device after `change`, or the rule it breaks. A new number makes the device
    /// unverified (and so neither ON nor OFF) whatever availability was asked for; the
    /// number it already has is no change. Whether another device of the user is ON is
    /// for storage to enforce, as only it sees concurrent changes.
    pub fn apply(&self, change: &DeviceChange) -> Result<Device, RuleError> {
        let mut next = self.clone();
        if let Some(number) = &change.contact_uri {
            if self.kind() != DeviceKind::Tel {
                return Err(RuleError::NotTelDevice);
            }
            if self.contact_uri.as_str() != number.as_str() {
                next.contact_uri = ContactUri::Tel(number.clone());
                next.verified = false;
                next.available = None;
                return Ok(next);
            }
        }
        match change.available {
            Some(true) if !self.verified => Err(RuleError::DeviceUnverified),
            Some(on) if self.verified => {
                next.available = Some(on);
                Ok(next)
            }
            _ => Ok(next),
        }
    }

    /// The device after a missed call from its number proved it reachable.
    pub fn verified(&self) -> Device {
        let mut next = self.clone();
        if !next.verified {
            next.verified = true;
            next.available = Some(false);
        }
        next
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
            version: crate::FIRST_VERSION,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn phone(verified: bool, available: Option<bool>) -> Device {
        Device {
            id: DeviceId::from_u64(7).unwrap(),
            user_id: UserId::generate(),
            contact_uri: ContactUri::parse("+919812345678").unwrap(),
            name: DeviceName::default_for(DeviceKind::Tel),
            verified,
            available,
            status: DeviceStatus::Free,
            version: crate::FIRST_VERSION,
        }
    }

    fn change(available: Option<bool>, number: Option<&str>) -> DeviceChange {
        DeviceChange {
            available,
            contact_uri: number.map(|n| E164::parse(n).unwrap()),
        }
    }

    #[test]
    fn an_unverified_device_cannot_be_turned_on_but_can_be_turned_off() {
        let device = phone(false, None);
        assert_eq!(
            device.apply(&change(Some(true), None)),
            Err(RuleError::DeviceUnverified)
        );
        assert_eq!(device.apply(&change(Some(false), None)), Ok(device.clone()));
    }

    #[test]
    fn a_new_number_unverifies_whatever_availability_was_asked() {
        let device = phone(true, Some(true));
        let next = device
            .apply(&change(Some(true), Some("+919812345679")))
            .unwrap();
        assert_eq!((next.verified, next.available), (false, None));
        assert_eq!(next.contact_uri.as_str(), "+919812345679");
    }

    #[test]
    fn the_same_number_is_no_change() {
        let device = phone(true, Some(false));
        let next = device
            .apply(&change(Some(true), Some("+91 98123 45678")))
            .unwrap();
        assert_eq!((next.verified, next.available), (true, Some(true)));
    }

    #[test]
    fn only_phones_change_numbers() {
        let mut device = phone(true, Some(false));
        device.contact_uri = ContactUri::parse("sip:asha1a2b3c4d").unwrap();
        assert_eq!(
            device.apply(&change(None, Some("+919812345679"))),
            Err(RuleError::NotTelDevice)
        );
    }

    #[test]
    fn verifying_turns_an_unverified_device_off_and_leaves_a_verified_one_alone() {
        assert_eq!(phone(false, None).verified().available, Some(false));
        assert_eq!(phone(true, Some(true)).verified().available, Some(true));
    }

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
