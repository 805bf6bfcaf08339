//! Devices: switching them ON and OFF, changing numbers, softphone passwords, and adding
//! or removing devices.

use md5::Md5;
use roster_domain::{
    Account, ContactUri, Device, DeviceChange, DeviceId, DeviceKind, DeviceName, Field, NewDevice,
    Precondition, RuleError, SipCredentials, SipPassword, UserId, E164,
};
use roster_store::{Conflict, StoreError};
use sha2::{Digest, Sha256};

use crate::users::present;
use crate::{Created, Directory, Idempotency, ServiceError};

/// The fields of a device update as received, from the body or the query string.
#[derive(Debug, Clone, Default)]
pub struct UpdateDevice {
    pub available: Option<bool>,
    pub contact_uri: Option<String>,
}

/// The fields of an add-device request as received.
#[derive(Debug, Clone, Default)]
pub struct AddDevice {
    pub contact_uri: Option<String>,
    pub name: Option<String>,
}

impl Directory {
    /// The user's devices by id.
    pub async fn list_devices(
        &self,
        account: &Account,
        user: &str,
    ) -> Result<Vec<Device>, ServiceError> {
        let user = parse_user(user)?;
        let devices = self.store.devices(&account.sid, user).await?;
        Ok(devices.ok_or(RuleError::UserNotFound)?)
    }

    /// Switches a device ON or OFF and/or gives it a new number, all or nothing, when the
    /// device is at a version `expect` allows.
    pub async fn update_device(
        &self,
        account: &Account,
        user: &str,
        device: &str,
        input: UpdateDevice,
        expect: &Precondition,
    ) -> Result<Device, ServiceError> {
        if !expect.is_none() {
            // A stale expectation is refused before the body is looked at, as HTTP orders it.
            expect.check(self.find_device(account, user, device).await?.version)?;
        }
        let (user_id, device_id, contact_uri) = match present(input.contact_uri) {
            // A new number needs the device's kind first: only a phone's can change.
            Some(raw) => {
                let current = self.find_device(account, user, device).await?;
                if current.kind() != DeviceKind::Tel {
                    return Err(RuleError::NotTelDevice.into());
                }
                let number = E164::parse(&raw).map_err(|reason| RuleError::NotE164 {
                    field: Field::ContactUri,
                    reason: reason.to_owned(),
                })?;
                (current.user_id, current.id, Some(number))
            }
            // Switching ON or OFF, the hot path: the write itself finds the device (or
            // says which of user and device is missing), so there is no read before it.
            None => {
                let user_id = parse_user(user)?;
                let device_id = match DeviceId::parse(device) {
                    Ok(id) => id,
                    // Which is missing, user or device, takes a read to tell.
                    Err(_) => self.find_device(account, user, device).await?.id,
                };
                (user_id, device_id, None)
            }
        };
        let change = DeviceChange {
            available: input.available,
            contact_uri,
        };

        let now = self.clock.now();
        let updated = self
            .store
            .update_device(&account.sid, user_id, device_id, &change, expect, now)
            .await;
        updated.map_err(|error| {
            ServiceError::from_store(error, |clash| match clash {
                Conflict::Number => Some(RuleError::NumberTakenOnUpdate),
                Conflict::AnotherDeviceOn => Some(RuleError::AnotherDeviceOn),
                _ => None,
            })
        })
    }

    /// Sets a softphone's password, keeping only the digests a registrar needs.
    pub async fn set_sip_password(
        &self,
        account: &Account,
        user: &str,
        device: &str,
        password: Option<String>,
    ) -> Result<Device, ServiceError> {
        let device = self.find_device(account, user, device).await?;
        let Some(password) = password.filter(|p| !p.is_empty()) else {
            return Err(RuleError::Missing(Field::Password).into());
        };
        let ContactUri::Sip(contact_uri) = &device.contact_uri else {
            return Err(
                RuleError::invalid(Field::Password, "can be set only on a sip device").into(),
            );
        };
        let password =
            SipPassword::parse(&password).map_err(|r| RuleError::invalid(Field::Password, r))?;

        let realm = self.options.sip_realm.clone();
        let secret = format!("{}:{realm}:{}", contact_uri.user(), password.expose());
        let credentials = SipCredentials {
            device_id: device.id,
            user_id: device.user_id,
            contact_uri: contact_uri.clone(),
            realm,
            ha1_md5: hex(&Md5::digest(secret.as_bytes())),
            ha1_sha256: hex(&Sha256::digest(secret.as_bytes())),
        };
        self.store
            .set_sip_credentials(&account.sid, &credentials, self.clock.now())
            .await?;
        Ok(device)
    }

    /// Adds a phone (unverified) or softphone (verified, OFF) to a user.
    pub async fn add_device(
        &self,
        account: &Account,
        user: &str,
        input: AddDevice,
    ) -> Result<Device, ServiceError> {
        match self.add_device_once(account, user, input, None).await? {
            Created::New(device) => Ok(device),
            // Only a request with an idempotency key can be a replay.
            Created::Replayed(_) => Err(StoreError::Contention.into()),
        }
    }

    /// [`Directory::add_device`] under an idempotency key, when one was sent: a retry of
    /// the same request gets the first answer, and never adds a second device.
    pub async fn add_device_once(
        &self,
        account: &Account,
        user: &str,
        input: AddDevice,
        idempotency: Option<Idempotency<'_, Device>>,
    ) -> Result<Created<Device>, ServiceError> {
        if let Some(idempotency) = &idempotency {
            if let Some(answer) = self.replay(&account.sid, idempotency).await? {
                return Ok(Created::Replayed(answer));
            }
        }
        let user = parse_user(user)?;
        let raw = present(input.contact_uri).ok_or(RuleError::Missing(Field::ContactUri))?;
        let contact_uri = ContactUri::parse(&raw).map_err(|reason| RuleError::NotE164 {
            field: Field::ContactUri,
            reason: reason.to_owned(),
        })?;
        let name = present(input.name)
            .map(|raw| DeviceName::parse(&raw).map_err(|r| RuleError::invalid(Field::Name, r)))
            .transpose()?
            .unwrap_or_else(|| DeviceName::default_for(contact_uri.kind()));

        let now = self.clock.now();
        let mut device = NewDevice {
            id: DeviceId::generate(now),
            contact_uri,
            name,
        };
        loop {
            let kept = idempotency
                .as_ref()
                .map(|i| i.keep(&device.clone().into_device(user), now));
            match self
                .store
                .add_device(&account.sid, user, &device, now, kept.as_ref())
                .await
            {
                Err(StoreError::Conflict(Conflict::DeviceId)) => {
                    device.id = DeviceId::generate(now)
                }
                Err(StoreError::Conflict(Conflict::IdempotencyKey)) => {
                    return self.replay_winner(&account.sid, idempotency.as_ref()).await
                }
                other => {
                    return other.map(Created::New).map_err(|error| {
                        ServiceError::from_store(error, |clash| {
                            (clash == Conflict::Number).then_some(RuleError::NumberTakenOnCreate)
                        })
                    })
                }
            }
        }
    }

    pub async fn delete_device(
        &self,
        account: &Account,
        user: &str,
        device: &str,
        expect: &Precondition,
    ) -> Result<(), ServiceError> {
        let user = parse_user(user)?;
        let device = DeviceId::parse(device).map_err(|_| RuleError::DeviceNotFound)?;
        self.store
            .delete_device(&account.sid, user, device, expect, self.clock.now())
            .await?;
        Ok(())
    }

    /// The device of this user, or the 404 that names which one is missing.
    async fn find_device(
        &self,
        account: &Account,
        user: &str,
        device: &str,
    ) -> Result<Device, ServiceError> {
        let devices = self.list_devices(account, user).await?;
        let id = DeviceId::parse(device).map_err(|_| RuleError::DeviceNotFound)?;
        let device = devices.into_iter().find(|d| d.id == id);
        Ok(device.ok_or(RuleError::DeviceNotFound)?)
    }
}

fn parse_user(raw: &str) -> Result<UserId, RuleError> {
    UserId::parse(raw).map_err(|_| RuleError::UserNotFound)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_match_the_rfc_2617_example_construction() {
        // RFC 2617 section 3.5: HA1 = MD5("Mufasa:testrealm@host.com:Circle Of Life").
        let secret = "Mufasa:testrealm@host.com:Circle Of Life";
        assert_eq!(
            hex(&Md5::digest(secret.as_bytes())),
            "939e7578ed9e3c518a452acee763bce9"
        );
        assert_eq!(
            hex(&Sha256::digest(b"abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
