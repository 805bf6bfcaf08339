//! Users of an account: the agents, supervisors and admins of a contact center.

use jiff::Timestamp;

use crate::{Device, Email, Field, NewDevice, PersonName, RuleError, UserId};

/// What a user may do in the contact center.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Role {
    Admin,
    Supervisor,
    #[default]
    User,
}

impl Role {
    /// Every role, as the wire names them in this order.
    pub const ALL: [Role; 3] = [Role::Admin, Role::Supervisor, Role::User];

    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        match raw {
            "admin" => Ok(Role::Admin),
            "supervisor" => Ok(Role::Supervisor),
            "user" => Ok(Role::User),
            _ => Err("must be one of admin, supervisor, user"),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Supervisor => "supervisor",
            Role::User => "user",
        }
    }
}

/// The optional parts of a user a reader asked for with `fields=`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UserFields {
    pub devices: bool,
    pub active_call: bool,
    pub last_login: bool,
}

impl UserFields {
    /// Reads a comma list such as `devices,last_login`. Names it does not know are
    /// ignored, like unknown query parameters.
    pub fn parse(raw: &str) -> Self {
        let mut fields = Self::default();
        for name in raw.split(',').map(str::trim) {
            match name {
                "devices" => fields.devices = true,
                "active_call" => fields.active_call = true,
                "last_login" => fields.last_login = true,
                _ => {}
            }
        }
        fields
    }

    /// Both `devices` and `active_call` need the user's devices read.
    pub fn needs_devices(self) -> bool {
        self.devices || self.active_call
    }
}

/// A user as stored. `devices` is filled only when the reader asked for them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: UserId,
    pub first_name: PersonName,
    pub last_name: PersonName,
    pub email: Option<Email>,
    pub email_verified: bool,
    pub role: Role,
    pub date_created: Timestamp,
    pub date_updated: Timestamp,
    pub last_login: Option<Timestamp>,
    pub devices: Option<Vec<Device>>,
    /// Moves on with every change of the user or of one of its devices.
    pub version: u64,
}

impl User {
    /// `true` while any of the user's devices is on a call; `None` when devices were not read.
    pub fn active_call(&self) -> Option<bool> {
        let devices = self.devices.as_ref()?;
        Some(
            devices
                .iter()
                .any(|d| d.status == crate::DeviceStatus::Busy),
        )
    }
}

/// A requested change of a user's names or email; `None` keeps the value.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserChanges {
    pub first_name: Option<PersonName>,
    pub last_name: Option<PersonName>,
    pub email: Option<Email>,
}

impl User {
    /// The user after `changes`, or the rule they break: an email is set once and then
    /// kept (sending the same address again is no change).
    pub fn apply(&self, changes: &UserChanges) -> Result<User, RuleError> {
        let mut next = self.clone();
        if let Some(email) = &changes.email {
            match &self.email {
                Some(current) if current.folded() == email.folded() => {}
                Some(_) => {
                    return Err(RuleError::invalid(
                        Field::Email,
                        "is already set and cannot be changed",
                    ))
                }
                None => next.email = Some(email.clone()),
            }
        }
        if let Some(name) = &changes.first_name {
            next.first_name = name.clone();
        }
        if let Some(name) = &changes.last_name {
            next.last_name = name.clone();
        }
        Ok(next)
    }
}

/// A user about to be created, with the devices created alongside it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewUser {
    pub id: UserId,
    pub first_name: PersonName,
    pub last_name: PersonName,
    pub email: Option<Email>,
    pub role: Role,
    pub devices: Vec<NewDevice>,
    pub created_at: Timestamp,
}

impl NewUser {
    /// The record the new user becomes once stored, with its devices.
    pub fn into_user(self) -> User {
        let id = self.id;
        let mut devices: Vec<_> = self
            .devices
            .into_iter()
            .map(|d| d.into_device(id))
            .collect();
        devices.sort_by_key(|d| d.id);
        User {
            id,
            first_name: self.first_name,
            last_name: self.last_name,
            email: self.email,
            email_verified: false,
            role: self.role,
            date_created: self.created_at,
            date_updated: self.created_at,
            last_login: None,
            devices: Some(devices),
            version: crate::FIRST_VERSION,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_ignore_unknown_names_and_spaces() {
        let fields = UserFields::parse("devices, last_login,bogus");
        assert!(fields.devices && fields.last_login && !fields.active_call);
        assert_eq!(UserFields::parse(""), UserFields::default());
    }

    #[test]
    fn roles_are_lower_case_words() {
        assert_eq!(Role::parse("supervisor"), Ok(Role::Supervisor));
        assert!(Role::parse("Admin").is_err());
        assert!(Role::parse("").is_err());
    }
}
