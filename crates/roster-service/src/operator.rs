//! The operator's actions that stand in for Exotel's dashboard and telephony platform:
//! verifying numbers, call state, logins, SIP credentials, removing accounts, listing keys.

use roster_domain::{
    AccountSid, ApiKey, ContactUri, Device, DeviceId, RuleError, SipCredentials, SipUri, User,
    UserId,
};

use crate::{Directory, ServiceError};

/// Whether a call starts or ends on a device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallEvent {
    Started,
    Ended,
}

impl Directory {
    /// A missed call from `contact` proves the number reachable: the account's device with
    /// that number becomes verified (and OFF, until its user turns it ON).
    pub async fn verify_device(&self, sid: &str, contact: &str) -> Result<Device, ServiceError> {
        let account = self.require_account(sid).await?;
        let no_device = || {
            ServiceError::NotFound(format!(
                "no device of account {sid} has the number {contact}"
            ))
        };
        let contact = ContactUri::parse(contact).map_err(|_| no_device())?;
        let device = self
            .store
            .verify_device(&account.sid, &contact, self.clock.now())
            .await?;
        device.ok_or_else(no_device)
    }

    /// Marks a device busy when a call starts on it and free when the call ends.
    pub async fn record_call(
        &self,
        sid: &str,
        device: &str,
        event: CallEvent,
    ) -> Result<Device, ServiceError> {
        let account = self.require_account(sid).await?;
        let id = DeviceId::parse(device).map_err(|_| RuleError::DeviceNotFound)?;
        let busy = event == CallEvent::Started;
        let device = self
            .store
            .set_device_busy(&account.sid, id, busy, self.clock.now())
            .await?;
        Ok(device.ok_or(RuleError::DeviceNotFound)?)
    }

    /// Records that a user signed in now; the API reports it as `last_login`.
    pub async fn record_login(&self, sid: &str, user: &str) -> Result<User, ServiceError> {
        let account = self.require_account(sid).await?;
        let id = UserId::parse(user).map_err(|_| RuleError::UserNotFound)?;
        let user = self
            .store
            .record_login(&account.sid, id, self.clock.now())
            .await?;
        Ok(user.ok_or(RuleError::UserNotFound)?)
    }

    /// What a SIP registrar needs to check the softphone with this digest user name.
    pub async fn sip_credentials(
        &self,
        sid: &str,
        username: &str,
    ) -> Result<SipCredentials, ServiceError> {
        let account = self.require_account(sid).await?;
        let not_found = || {
            ServiceError::NotFound(format!(
                "no sip credentials for {username} in account {sid}"
            ))
        };
        // A name no softphone can have is not looked up: PostgreSQL refuses a NUL in it.
        if SipUri::parse(&format!("sip:{username}")).is_err() {
            return Err(not_found());
        }
        let credentials = self.store.sip_credentials(&account.sid, username).await?;
        credentials.ok_or_else(not_found)
    }

    /// Deletes an account with its users, devices and keys.
    pub async fn delete_account(&self, sid: &str) -> Result<(), ServiceError> {
        let not_found = || ServiceError::AccountNotFound(sid.to_owned());
        let parsed = AccountSid::parse(sid).map_err(|_| not_found())?;
        if !self.store.delete_account(&parsed).await? {
            return Err(not_found());
        }
        self.accounts.forget(&parsed);
        // The account's keys went with it; cached ones must not outlive them here.
        self.keys.clear();
        Ok(())
    }

    /// The account's keys, revoked ones included; tokens are never kept, so never shown.
    pub async fn api_keys(&self, sid: &str) -> Result<Vec<ApiKey>, ServiceError> {
        let account = self.require_account(sid).await?;
        Ok(self.store.api_keys(&account.sid).await?)
    }
}
