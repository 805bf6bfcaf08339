//! Accounts: the operator's settings, and the gate every Users API request passes.

use std::sync::Arc;

use roster_domain::{Account, AccountSettings, AccountSid, RateLimit, RegionName, TimeZoneName};
use roster_store::{Conflict, StoreError};

use crate::{Directory, ServiceError};

/// Why an account may not use the Users API, in the order the checks are made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountStatus {
    Usable,
    KycIncomplete,
    Trial,
}

impl AccountStatus {
    pub fn of(account: &Account) -> Self {
        if !account.kyc_complete {
            AccountStatus::KycIncomplete
        } else if account.trial {
            AccountStatus::Trial
        } else {
            AccountStatus::Usable
        }
    }
}

/// Account settings as an operator typed or sent them, before they are checked. Each bad
/// value is reported by its setting's name.
#[derive(Debug, Clone, Default)]
pub struct AccountSettingsInput {
    pub name: Option<String>,
    pub region: Option<String>,
    pub timezone: Option<String>,
    pub voip_enabled: Option<bool>,
    pub trial: Option<bool>,
    pub kyc_complete: Option<bool>,
    pub rate_limit_per_minute: Option<u64>,
}

impl AccountSettingsInput {
    pub fn parse(self) -> Result<AccountSettings, ServiceError> {
        // Control characters are refused too: PostgreSQL cannot store a NUL, and no
        // dashboard shows the others sensibly.
        if self.name.as_deref().is_some_and(|n| {
            n.trim().is_empty() || n.chars().count() > 100 || n.chars().any(char::is_control)
        }) {
            return Err(ServiceError::setting(
                "name",
                "must be 1 to 100 characters, none of them control characters",
            ));
        }
        let rate_limit = self
            .rate_limit_per_minute
            .map(|n| {
                u32::try_from(n)
                    .map_err(|_| "is too large")
                    .and_then(RateLimit::new)
            })
            .transpose()
            .map_err(|r| ServiceError::setting("rate_limit_per_minute", r))?;
        Ok(AccountSettings {
            name: self.name,
            region: self
                .region
                .map(|r| RegionName::parse(&r))
                .transpose()
                .map_err(|r| ServiceError::setting("region", r))?,
            timezone: self
                .timezone
                .map(|t| TimeZoneName::parse(&t))
                .transpose()
                .map_err(|r| ServiceError::setting("timezone", r))?,
            voip_enabled: self.voip_enabled,
            trial: self.trial,
            kyc_complete: self.kyc_complete,
            rate_limit,
        })
    }
}

impl Directory {
    pub async fn create_account(
        &self,
        sid: &str,
        settings: AccountSettings,
    ) -> Result<Account, ServiceError> {
        let sid = AccountSid::parse(sid).map_err(|reason| ServiceError::setting("sid", reason))?;
        let account = Account::new(sid, settings, self.clock.now())
            .map_err(|reason| ServiceError::setting("account", reason))?;
        match self.store.create_account(&account).await {
            Ok(()) => {
                self.accounts.forget(&account.sid);
                Ok(account)
            }
            Err(StoreError::Conflict(Conflict::AccountExists)) => {
                Err(ServiceError::AccountExists(account.sid.to_string()))
            }
            Err(other) => Err(other.into()),
        }
    }

    pub async fn update_account(
        &self,
        sid: &str,
        settings: AccountSettings,
    ) -> Result<Account, ServiceError> {
        let mut account = Account::clone(self.require_account(sid).await?.as_ref());
        account.apply(settings, self.clock.now());
        if !self.store.update_account(&account).await? {
            return Err(ServiceError::AccountNotFound(sid.to_owned()));
        }
        self.accounts.forget(&account.sid);
        Ok(account)
    }

    pub async fn accounts(&self) -> Result<Vec<Account>, ServiceError> {
        Ok(self.store.accounts().await?)
    }

    /// Reads an account, failing with [`ServiceError::AccountNotFound`] when there is none.
    pub async fn require_account(&self, sid: &str) -> Result<Arc<Account>, ServiceError> {
        let not_found = || ServiceError::AccountNotFound(sid.to_owned());
        let sid = AccountSid::parse(sid).map_err(|_| not_found())?;
        self.account(&sid).await?.ok_or_else(not_found)
    }

    /// Reads an account through a cache that trusts an answer for at most a second.
    pub async fn account(&self, sid: &AccountSid) -> Result<Option<Arc<Account>>, ServiceError> {
        if let Some(hit) = self.accounts.get(sid) {
            return Ok(hit);
        }
        let found = self.store.account(sid).await?.map(Arc::new);
        self.accounts.insert(sid.clone(), found.clone());
        Ok(found)
    }
}
