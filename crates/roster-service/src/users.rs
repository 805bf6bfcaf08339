//! Users: creating them with their devices, and reading them.

use roster_domain::{
    Account, ContactUri, DeviceId, DeviceKind, DeviceName, Email, Field, NewDevice, NewUser,
    PersonName, Precondition, Role, RuleError, SipUri, User, UserChanges, UserFields, UserId, E164,
};
use roster_store::{Conflict, StoreError, UserPage, UserQuery};

use crate::{Created, Directory, Idempotency, ServiceError};

/// Times a create is tried when generated device ids clash.
pub(crate) const ID_ATTEMPTS: usize = 5;

/// The fields of a create-user request as received. An absent, `null` or blank value
/// counts as not sent.
#[derive(Debug, Clone, Default)]
pub struct CreateUser {
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub email: Option<String>,
    pub device_contact_uri: Option<String>,
    pub device_name: Option<String>,
    pub role: Option<String>,
}

impl Directory {
    /// Creates a user and the devices the rules give it: a phone from
    /// `device_contact_uri`, and on a VOIP account a softphone too.
    pub async fn create_user(
        &self,
        account: &Account,
        input: CreateUser,
    ) -> Result<User, ServiceError> {
        match self.create_user_once(account, input, None).await? {
            Created::New(user) => Ok(user),
            // Only a request with an idempotency key can be a replay.
            Created::Replayed(_) => Err(StoreError::Contention.into()),
        }
    }

    /// [`Directory::create_user`] under an idempotency key, when one was sent: a retry of
    /// the same request gets the first answer, and never creates a second user.
    pub async fn create_user_once(
        &self,
        account: &Account,
        input: CreateUser,
        idempotency: Option<Idempotency<'_, User>>,
    ) -> Result<Created<User>, ServiceError> {
        if let Some(idempotency) = &idempotency {
            if let Some(answer) = self.replay(&account.sid, idempotency).await? {
                return Ok(Created::Replayed(answer));
            }
        }
        let now = self.clock.now();
        let mut user = self.validate_new_user(account, input, now)?;

        for attempt in 1..=ID_ATTEMPTS {
            let kept = idempotency
                .as_ref()
                .map(|i| i.keep(&user.clone().into_user(), now));
            match self
                .store
                .create_user(&account.sid, &user, kept.as_ref())
                .await
            {
                Ok(created) => return Ok(Created::New(created)),
                Err(StoreError::Conflict(Conflict::IdempotencyKey)) => {
                    return self.replay_winner(&account.sid, idempotency.as_ref()).await
                }
                Err(StoreError::Conflict(Conflict::Email)) => {
                    return Err(RuleError::EmailTaken.into())
                }
                Err(StoreError::Conflict(Conflict::Number)) => {
                    return Err(RuleError::NumberTakenOnCreate.into())
                }
                Err(StoreError::Conflict(Conflict::DeviceId)) if attempt < ID_ATTEMPTS => {
                    for device in &mut user.devices {
                        device.id = DeviceId::generate(now);
                    }
                }
                Err(other) => return Err(other.into()),
            }
        }
        Err(StoreError::Conflict(Conflict::DeviceId).into())
    }

    /// Reads one user of the account. A malformed id is simply not found.
    pub async fn get_user(
        &self,
        account: &Account,
        id: &str,
        fields: UserFields,
    ) -> Result<User, ServiceError> {
        let id = UserId::parse(id).map_err(|_| RuleError::UserNotFound)?;
        let user = self.store.user(&account.sid, id, fields).await?;
        Ok(user.ok_or(RuleError::UserNotFound)?)
    }

    /// Checks every field in the documented order (missing, then invalid, then the
    /// number) and builds the user to store.
    pub(crate) fn validate_new_user(
        &self,
        account: &Account,
        input: CreateUser,
        now: jiff::Timestamp,
    ) -> Result<NewUser, RuleError> {
        let first_name = present(input.first_name).ok_or(RuleError::Missing(Field::FirstName))?;
        let last_name = present(input.last_name).ok_or(RuleError::Missing(Field::LastName))?;
        let policy = self.options.names;
        let first_name = PersonName::parse(&first_name, policy)
            .map_err(|r| RuleError::invalid(Field::FirstName, r))?;
        let last_name = PersonName::parse(&last_name, policy)
            .map_err(|r| RuleError::invalid(Field::LastName, r))?;
        let email = present(input.email)
            .map(|raw| Email::parse(&raw).map_err(|r| RuleError::invalid(Field::Email, r)))
            .transpose()?;
        let role = present(input.role)
            .map(|raw| Role::parse(&raw).map_err(|r| RuleError::invalid(Field::Role, r)))
            .transpose()?
            .unwrap_or_default();

        let number = match present(input.device_contact_uri) {
            Some(raw) => Some(E164::parse(&raw).map_err(|reason| RuleError::NotE164 {
                field: Field::DeviceContactUri,
                reason: reason.to_owned(),
            })?),
            None if account.voip_enabled => None,
            None => return Err(RuleError::ContactRequired),
        };
        let device_name = present(input.device_name)
            .map(|raw| {
                DeviceName::parse(&raw).map_err(|r| RuleError::invalid(Field::DeviceName, r))
            })
            .transpose()?;

        let mut devices = Vec::with_capacity(2);
        if let Some(number) = number {
            devices.push(NewDevice {
                id: DeviceId::generate(now),
                contact_uri: ContactUri::Tel(number),
                name: device_name.unwrap_or_else(|| DeviceName::default_for(DeviceKind::Tel)),
            });
        }
        if account.voip_enabled {
            devices.push(NewDevice {
                id: DeviceId::generate(now),
                contact_uri: ContactUri::Sip(SipUri::for_person(
                    first_name.as_str(),
                    last_name.as_str(),
                )),
                name: DeviceName::default_for(DeviceKind::Sip),
            });
        }
        Ok(NewUser {
            id: UserId::generate(),
            first_name,
            last_name,
            email,
            role,
            devices,
            created_at: now,
        })
    }
}

/// A sent value, or `None` for one that is absent or blank.
pub(crate) fn present(value: Option<String>) -> Option<String> {
    value.filter(|v| !v.trim().is_empty())
}

/// The filters of a list, as received: each a list of alternatives.
#[derive(Debug, Clone, Default)]
pub struct UserFilter {
    pub emails: Option<Vec<String>>,
    pub contacts: Option<Vec<String>>,
    /// Free text found in a user's names, email or numbers (see [`UserQuery::search`]);
    /// trimmed, and no search when blank. The public API has no such parameter.
    pub search: Option<String>,
}

/// The longest search text taken, in characters.
const SEARCH_MAX_CHARS: usize = 100;

/// The fields of an update-user request as received.
#[derive(Debug, Clone, Default)]
pub struct UpdateUser {
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub email: Option<String>,
    /// Whether `role` or `id` was sent: neither can be changed here.
    pub sends_role: bool,
    pub sends_id: bool,
}

impl Directory {
    /// A page of the account's users that pass every filter.
    pub async fn list_users(
        &self,
        account: &Account,
        filter: UserFilter,
        fields: UserFields,
        offset: u64,
        limit: u32,
    ) -> Result<UserPage, ServiceError> {
        let contacts = filter
            .contacts
            .map(|values| {
                values
                    .iter()
                    .map(|raw| contact_filter(raw))
                    .collect::<Result<Vec<_>, _>>()
            })
            .transpose()?;
        // An address that is not valid can match no stored user, so it is simply dropped.
        let emails = filter.emails.map(|values| {
            values
                .iter()
                .filter_map(|raw| Email::parse(raw.trim()).ok())
                .map(|e| e.folded())
                .collect()
        });
        let query = UserQuery {
            emails,
            contacts,
            search: search_text(filter.search)?,
            fields,
            offset,
            limit,
        };
        Ok(self.store.list_users(&account.sid, &query).await?)
    }

    /// Applies an update when the user is at a version `expect` allows; a stale
    /// expectation is refused before the body is looked at, and again, atomically, by the
    /// write.
    pub async fn update_user(
        &self,
        account: &Account,
        id: &str,
        input: UpdateUser,
        expect: &Precondition,
    ) -> Result<User, ServiceError> {
        let id = UserId::parse(id).map_err(|_| RuleError::UserNotFound)?;
        if !expect.is_none() {
            let current = self
                .store
                .user(&account.sid, id, UserFields::default())
                .await?;
            expect.check(current.ok_or(RuleError::UserNotFound)?.version)?;
        }
        if input.sends_role {
            return Err(RuleError::invalid(Field::Role, "cannot be changed here").into());
        }
        if input.sends_id {
            return Err(RuleError::invalid(Field::Id, "cannot be changed").into());
        }
        let policy = self.options.names;
        let name = |raw: Option<String>, field| {
            present(raw)
                .map(|r| {
                    PersonName::parse(&r, policy).map_err(|why| RuleError::invalid(field, why))
                })
                .transpose()
        };
        let changes = UserChanges {
            first_name: name(input.first_name, Field::FirstName)?,
            last_name: name(input.last_name, Field::LastName)?,
            email: present(input.email)
                .map(|raw| Email::parse(&raw).map_err(|r| RuleError::invalid(Field::Email, r)))
                .transpose()?,
        };

        let updated = self
            .store
            .update_user(&account.sid, id, &changes, expect, self.clock.now())
            .await;
        updated.map_err(|e| {
            ServiceError::from_store(e, |c| {
                (c == Conflict::Email).then_some(RuleError::EmailTaken)
            })
        })
    }

    pub async fn delete_user(
        &self,
        account: &Account,
        id: &str,
        expect: &Precondition,
    ) -> Result<(), ServiceError> {
        let id = UserId::parse(id).map_err(|_| RuleError::UserNotFound)?;
        if !self
            .store
            .delete_user(&account.sid, id, expect, self.clock.now())
            .await?
        {
            return Err(RuleError::UserNotFound.into());
        }
        Ok(())
    }
}

/// The text to search for, trimmed; `None` when there is none.
fn search_text(raw: Option<String>) -> Result<Option<String>, RuleError> {
    let Some(text) = raw.as_deref().map(str::trim).filter(|t| !t.is_empty()) else {
        return Ok(None);
    };
    if text.chars().count() > SEARCH_MAX_CHARS {
        return Err(RuleError::invalid(
            Field::Search,
            format!("must be at most {SEARCH_MAX_CHARS} characters"),
        ));
    }
    // PostgreSQL refuses a NUL in any text it is sent, and no name, email or number holds
    // a control character, so such a search is a mistake to name, not a query to run.
    if text.chars().any(char::is_control) {
        return Err(RuleError::invalid(
            Field::Search,
            "must not hold control characters",
        ));
    }
    Ok(Some(text.to_owned()))
}

/// A phone filter value normalised as on create, with the leading space that an unencoded
/// `+` becomes read back as `+`; or a SIP URI.
fn contact_filter(raw: &str) -> Result<String, RuleError> {
    let raw = raw.trim_end();
    let restored = match raw.strip_prefix(' ') {
        Some(rest) => format!("+{}", rest.trim_start()),
        None => raw.to_owned(),
    };
    ContactUri::parse(&restored)
        .map(|c| c.as_str().to_owned())
        .map_err(|reason| RuleError::NotE164 {
            field: Field::DevicesContactUri,
            reason: reason.to_owned(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_text_is_trimmed_blank_is_none_and_long_text_is_refused() {
        let long = "é".repeat(SEARCH_MAX_CHARS + 1);

        let trimmed = search_text(Some("  Asha Rao \t".to_owned()));
        let blank = search_text(Some(" \n ".to_owned()));
        let longest = search_text(Some("é".repeat(SEARCH_MAX_CHARS)));
        let refused = search_text(Some(long));

        assert_eq!(trimmed, Ok(Some("Asha Rao".to_owned())));
        assert_eq!(blank, Ok(None));
        assert_eq!(search_text(None), Ok(None));
        assert!(longest.is_ok_and(|t| t.is_some()));
        for control in ["a\0b", "\u{7}", "x\ny"] {
            let refused = search_text(Some(control.to_owned()));
            assert!(
                matches!(
                    refused,
                    Err(RuleError::Invalid {
                        field: Field::Search,
                        ..
                    })
                ),
                "{control:?}: {refused:?}"
            );
        }
        assert!(matches!(
            refused,
            Err(RuleError::Invalid {
                field: Field::Search,
                ..
            })
        ));
    }

    #[test]
    fn phone_filters_accept_encoded_decoded_and_formatted_numbers() {
        for raw in [
            "+919812345678",
            " 919812345678",
            "+91 98123-45678",
            "+91 (981) 234.5678",
        ] {
            assert_eq!(contact_filter(raw).unwrap(), "+919812345678", "{raw:?}");
        }
        assert_eq!(
            contact_filter("sip:asha1a2b3c4d").unwrap(),
            "sip:asha1a2b3c4d"
        );
        assert!(matches!(
            contact_filter("919812345678"),
            Err(RuleError::NotE164 { .. })
        ));
        assert!(matches!(
            contact_filter("asha"),
            Err(RuleError::NotE164 { .. })
        ));
    }
}
