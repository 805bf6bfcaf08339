//! `roster accounts`: the operator's account commands.

use clap::{Args, Subcommand};
use roster_api::AccountView;
use roster_domain::AccountSettings;
use roster_service::{AccountSettingsInput, Directory, ServiceError};

use super::print_json;

#[derive(Debug, Subcommand)]
pub(crate) enum AccountsCommand {
    /// Create an account and print it.
    Create {
        sid: String,
        #[command(flatten)]
        settings: SettingsArgs,
    },
    /// Change an account's settings and print it.
    Update {
        sid: String,
        #[command(flatten)]
        settings: SettingsArgs,
    },
    /// Delete an account with all its users, devices and keys.
    Delete { sid: String },
    /// Print one account.
    Show { sid: String },
    /// Print every account.
    List,
}

/// Account settings; on create the ones left out take their defaults, on update they
/// keep their values.
#[derive(Debug, Args)]
pub(crate) struct SettingsArgs {
    /// Display name (default: the sid).
    #[arg(long)]
    name: Option<String>,
    /// Region the account is homed in (default: local).
    #[arg(long)]
    region: Option<String>,
    /// IANA time zone its timestamps are shown in (default: Asia/Kolkata).
    #[arg(long)]
    timezone: Option<String>,
    /// Whether users get a SIP softphone (default: false).
    #[arg(long, value_name = "BOOL", value_parser = clap::builder::BoolishValueParser::new())]
    voip: Option<bool>,
    /// Whether this is a trial account, refused the Users API (default: false).
    #[arg(long, value_name = "BOOL", value_parser = clap::builder::BoolishValueParser::new())]
    trial: Option<bool>,
    /// Whether KYC is complete; without it the Users API is refused (default: true).
    #[arg(long, value_name = "BOOL", value_parser = clap::builder::BoolishValueParser::new())]
    kyc_complete: Option<bool>,
    /// Requests a minute shared by all the account's keys (default: 200).
    #[arg(long, value_name = "PER_MINUTE", allow_negative_numbers = true)]
    rate_limit: Option<u32>,
}

impl SettingsArgs {
    fn parse(self) -> anyhow::Result<AccountSettings> {
        let input = AccountSettingsInput {
            name: self.name,
            region: self.region,
            timezone: self.timezone,
            voip_enabled: self.voip,
            trial: self.trial,
            kyc_complete: self.kyc_complete,
            rate_limit_per_minute: self.rate_limit.map(u64::from),
        };
        input.parse().map_err(|error| match error {
            // Named by the flag the operator typed rather than the setting's JSON name.
            ServiceError::InvalidSetting { setting, reason } => {
                let flag = match setting {
                    "rate_limit_per_minute" => "rate-limit".to_owned(),
                    "voip_enabled" => "voip".to_owned(),
                    other => other.replace('_', "-"),
                };
                anyhow::anyhow!("invalid --{flag}: {reason}")
            }
            other => other.into(),
        })
    }
}

pub(crate) async fn run(directory: &Directory, command: AccountsCommand) -> anyhow::Result<()> {
    match command {
        AccountsCommand::Create { sid, settings } => {
            let account = directory.create_account(&sid, settings.parse()?).await?;
            print_json(&AccountView::new(&account))
        }
        AccountsCommand::Update { sid, settings } => {
            let account = directory.update_account(&sid, settings.parse()?).await?;
            print_json(&AccountView::new(&account))
        }
        AccountsCommand::Delete { sid } => {
            directory.delete_account(&sid).await?;
            print_json(&serde_json::json!({ "sid": sid, "deleted": true }))
        }
        AccountsCommand::Show { sid } => {
            let account = directory.require_account(&sid).await?;
            print_json(&AccountView::new(&account))
        }
        AccountsCommand::List => {
            let accounts = directory.accounts().await?;
            print_json(&accounts.iter().map(AccountView::new).collect::<Vec<_>>())
        }
    }
}
