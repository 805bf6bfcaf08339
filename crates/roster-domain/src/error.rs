//! The ways a request can break a rule of the directory, each tied to its Exotel code.

use std::fmt;

/// A request field, named as it appears on the wire so descriptions can point at it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    FirstName,
    LastName,
    Email,
    Role,
    DeviceContactUri,
    DeviceName,
    ContactUri,
    Name,
    Available,
    Password,
    Id,
    Fields,
    Offset,
    Limit,
    DevicesContactUri,
    Sid,
    Region,
    Timezone,
    VoipEnabled,
    Trial,
    KycComplete,
    RateLimitPerMinute,
    Url,
    Secret,
    /// The dashboard's free-text search of users.
    Search,
}

impl Field {
    /// The field's name in request bodies and query strings.
    pub const fn wire_name(self) -> &'static str {
        match self {
            Field::FirstName => "first_name",
            Field::LastName => "last_name",
            Field::Email => "email",
            Field::Role => "role",
            Field::DeviceContactUri => "device_contact_uri",
            Field::DeviceName => "device_name",
            Field::ContactUri => "contact_uri",
            Field::Name => "name",
            Field::Available => "available",
            Field::Password => "password",
            Field::Id => "id",
            Field::Fields => "fields",
            Field::Offset => "offset",
            Field::Limit => "limit",
            Field::DevicesContactUri => "devices.contact_uri",
            Field::Sid => "sid",
            Field::Region => "region",
            Field::Timezone => "timezone",
            Field::VoipEnabled => "voip_enabled",
            Field::Trial => "trial",
            Field::KycComplete => "kyc_complete",
            Field::RateLimitPerMinute => "rate_limit_per_minute",
            Field::Url => "url",
            Field::Secret => "secret",
            Field::Search => "q",
        }
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.wire_name())
    }
}

/// A broken rule of the Users API. Each variant is one Exotel error code; the HTTP layer
/// decides the status that goes with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RuleError {
    #[error("{0} is mandatory")]
    Missing(Field),
    #[error("invalid {field}: {reason}")]
    Invalid { field: Field, reason: String },
    #[error("{field} is not a valid E.164 number or SIP URI: {reason}")]
    NotE164 { field: Field, reason: String },
    #[error("device_contact_uri is mandatory on an account without VOIP")]
    ContactRequired,
    #[error("no user with this id in this account")]
    UserNotFound,
    #[error(
        "no device with this id here (in this account, and of this user when the path names one)"
    )]
    DeviceNotFound,
    #[error("this number is already used by a device of this account")]
    NumberTakenOnCreate,
    #[error("this number is already used by another device of this account")]
    NumberTakenOnUpdate,
    #[error("this email is already used by a user of this account")]
    EmailTaken,
    #[error("the device is not verified and cannot be turned on")]
    DeviceUnverified,
    #[error("another device of this user is on; turn it off first")]
    AnotherDeviceOn,
    #[error("only the number of a tel device can be changed")]
    NotTelDevice,
    #[error("the record has changed since the ETag sent in If-Match; read it again")]
    PreconditionFailed,
    #[error("this Idempotency-Key was used with another request; send a new key")]
    IdempotencyKeyReused,
}

impl RuleError {
    /// Builds the error for a value that failed its parser.
    pub fn invalid(field: Field, reason: impl Into<String>) -> Self {
        RuleError::Invalid {
            field,
            reason: reason.into(),
        }
    }

    /// The numeric Exotel code carried in `error_data.code`.
    pub fn code(&self) -> u32 {
        match self {
            RuleError::Missing(_) => 1001,
            RuleError::Invalid { .. } => 1002,
            RuleError::NotE164 { .. } => 1401,
            RuleError::ContactRequired => 1402,
            RuleError::UserNotFound => 10801,
            RuleError::DeviceNotFound => 1000,
            RuleError::NumberTakenOnCreate => 10812,
            RuleError::NumberTakenOnUpdate => 10811,
            RuleError::EmailTaken => 10813,
            RuleError::DeviceUnverified => 10809,
            RuleError::AnotherDeviceOn => 10810,
            RuleError::NotTelDevice => 10817,
            // Codes of roster's own extensions, next to Exotel's request-level codes.
            RuleError::IdempotencyKeyReused => 1008,
            RuleError::PreconditionFailed => 1009,
        }
    }

    /// The request field the broken rule is about, so a form can show the message beside
    /// it; `None` for rules about the whole request or a record that is not there.
    pub fn field(&self) -> Option<Field> {
        match self {
            RuleError::Missing(field)
            | RuleError::Invalid { field, .. }
            | RuleError::NotE164 { field, .. } => Some(*field),
            RuleError::ContactRequired | RuleError::NumberTakenOnCreate => {
                Some(Field::DeviceContactUri)
            }
            RuleError::NumberTakenOnUpdate | RuleError::NotTelDevice => Some(Field::ContactUri),
            RuleError::EmailTaken => Some(Field::Email),
            RuleError::DeviceUnverified | RuleError::AnotherDeviceOn => Some(Field::Available),
            RuleError::UserNotFound
            | RuleError::DeviceNotFound
            | RuleError::PreconditionFailed
            | RuleError::IdempotencyKeyReused => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_rule_names_the_field_a_form_shows_it_beside() {
        let cases = [
            (RuleError::Missing(Field::LastName), Some(Field::LastName)),
            (
                RuleError::invalid(Field::Search, "too long"),
                Some(Field::Search),
            ),
            (
                RuleError::NotE164 {
                    field: Field::ContactUri,
                    reason: "no plus".to_owned(),
                },
                Some(Field::ContactUri),
            ),
            (RuleError::ContactRequired, Some(Field::DeviceContactUri)),
            (
                RuleError::NumberTakenOnCreate,
                Some(Field::DeviceContactUri),
            ),
            (RuleError::NumberTakenOnUpdate, Some(Field::ContactUri)),
            (RuleError::NotTelDevice, Some(Field::ContactUri)),
            (RuleError::EmailTaken, Some(Field::Email)),
            (RuleError::DeviceUnverified, Some(Field::Available)),
            (RuleError::AnotherDeviceOn, Some(Field::Available)),
            (RuleError::UserNotFound, None),
            (RuleError::DeviceNotFound, None),
            (RuleError::PreconditionFailed, None),
            (RuleError::IdempotencyKeyReused, None),
        ];

        for (rule, field) in cases {
            assert_eq!(rule.field(), field, "{rule:?}");
        }
    }

    #[test]
    fn the_search_field_is_q_on_the_wire() {
        assert_eq!(Field::Search.wire_name(), "q");
    }
}
