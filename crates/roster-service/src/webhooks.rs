//! Webhooks: the operator registers receivers for an account's events; a dispatcher in
//! each server delivers to them (see the `roster` binary), reading and recording through
//! the calls here.

use jiff::Timestamp;
use rand::Rng;
use roster_domain::{Account, AccountSid, Delivery, Event, Webhook};

use crate::{Directory, ServiceError, EVENT_PAGE};

/// Shortest secret an operator may choose; generated ones are 64 hex digits.
const MIN_SECRET_LEN: usize = 16;

impl Directory {
    /// Registers a receiver of the account's events from now on, with `secret` or a new
    /// one (returned in the webhook, shown to the operator once).
    pub async fn add_webhook(
        &self,
        sid: &str,
        url: &str,
        secret: Option<String>,
    ) -> Result<Webhook, ServiceError> {
        let account = self.require_account(sid).await?;
        Webhook::check_url(url).map_err(|reason| ServiceError::setting("url", reason))?;
        let secret = match secret {
            Some(secret) => {
                let printable = secret.bytes().all(|b| b.is_ascii_graphic());
                if secret.len() < MIN_SECRET_LEN || secret.len() > 256 || !printable {
                    return Err(ServiceError::setting(
                        "secret",
                        "must be 16 to 256 visible ASCII characters",
                    ));
                }
                secret
            }
            None => format!("whsec_{}", hex(&rand::rng().random::<[u8; 32]>())),
        };
        let hook = Webhook {
            account: account.sid.clone(),
            id: format!("wh_{}", hex(&rand::rng().random::<[u8; 8]>())),
            url: url.to_owned(),
            secret,
            cursor: 0,
            date_created: self.clock.now(),
        };
        Ok(self.store.add_webhook(&hook).await?)
    }

    pub async fn webhooks(&self, sid: &str) -> Result<Vec<Webhook>, ServiceError> {
        let account = self.require_account(sid).await?;
        Ok(self.store.webhooks(Some(&account.sid)).await?)
    }

    /// Every account's receivers, for the dispatcher.
    pub async fn all_webhooks(&self) -> Result<Vec<Webhook>, ServiceError> {
        Ok(self.store.webhooks(None).await?)
    }

    pub async fn remove_webhook(&self, sid: &str, id: &str) -> Result<(), ServiceError> {
        let account = self.require_account(sid).await?;
        if !self.store.remove_webhook(&account.sid, id).await? {
            return Err(ServiceError::NotFound(format!(
                "account {sid} has no webhook {id}"
            )));
        }
        Ok(())
    }

    /// The account's latest deliveries, newest first.
    pub async fn deliveries(&self, sid: &str, limit: u32) -> Result<Vec<Delivery>, ServiceError> {
        let account = self.require_account(sid).await?;
        Ok(self.store.deliveries(&account.sid, limit).await?)
    }

    /// Takes or renews `owner`'s lease on a receiver until `until`.
    pub async fn lease_webhook(
        &self,
        hook: &Webhook,
        owner: &str,
        until: Timestamp,
    ) -> Result<Option<Webhook>, ServiceError> {
        let now = self.clock.now();
        Ok(self
            .store
            .lease_webhook(&hook.account, &hook.id, owner, now, until)
            .await?)
    }

    /// Moves a receiver past an event, recording how its delivery ended; `false` when
    /// `owner` lost the lease meanwhile.
    pub async fn advance_webhook(
        &self,
        hook: &Webhook,
        owner: &str,
        cursor: u64,
        delivery: Option<&Delivery>,
    ) -> Result<bool, ServiceError> {
        Ok(self
            .store
            .advance_webhook(&hook.account, &hook.id, owner, cursor, delivery)
            .await?)
    }

    /// The account's events after `after` with the account they belong to, for rendering;
    /// `None` when the account is gone.
    pub async fn events_for(
        &self,
        sid: &AccountSid,
        after: u64,
    ) -> Result<Option<(std::sync::Arc<Account>, Vec<Event>)>, ServiceError> {
        let Some(account) = self.account(sid).await? else {
            return Ok(None);
        };
        let events = self.store.events(sid, after, EVENT_PAGE).await?;
        Ok(Some((account, events)))
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
