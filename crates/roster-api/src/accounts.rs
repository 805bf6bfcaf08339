//! The operator's view of an account, shared by the CLI and the operator API so both print
//! the same JSON.

use roster_domain::Account;
use serde::Serialize;

/// An account and all its settings, keys in alphabetical order like every roster record.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = Account)]
pub struct AccountView<'a> {
    #[schema(format = DateTime)]
    date_created: String,
    #[schema(format = DateTime)]
    date_updated: String,
    kyc_complete: bool,
    name: &'a str,
    rate_limit_per_minute: u32,
    region: &'a str,
    sid: &'a str,
    timezone: &'a str,
    trial: bool,
    voip_enabled: bool,
}

impl<'a> AccountView<'a> {
    pub fn new(account: &'a Account) -> Self {
        Self {
            date_created: account.timezone.format(account.date_created),
            date_updated: account.timezone.format(account.date_updated),
            kyc_complete: account.kyc_complete,
            name: &account.name,
            rate_limit_per_minute: account.rate_limit.per_minute(),
            region: account.region.as_str(),
            sid: account.sid.as_str(),
            timezone: account.timezone.as_str(),
            trial: account.trial,
            voip_enabled: account.voip_enabled,
        }
    }
}
