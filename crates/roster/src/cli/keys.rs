//! `roster keys`: issuing and revoking API credentials.

use clap::Subcommand;
use roster_api::{IssuedKeyView, KeyView};
use roster_service::Directory;

use super::print_json;

#[derive(Debug, Subcommand)]
pub(crate) enum KeysCommand {
    /// Issue a key for an account; its token is printed this once and never again.
    Create { sid: String },
    /// List an account's keys (never their tokens).
    List { sid: String },
    /// Revoke a key; servers refuse it within a second.
    Revoke { api_key: String },
}

pub(crate) async fn run(directory: &Directory, command: KeysCommand) -> anyhow::Result<()> {
    match command {
        KeysCommand::Create { sid } => {
            let issued = directory.issue_key(&sid).await?;
            print_json(&IssuedKeyView::new(&issued))
        }
        KeysCommand::List { sid } => {
            let account = directory.require_account(&sid).await?;
            let keys = directory.api_keys(&sid).await?;
            print_json(
                &keys
                    .iter()
                    .map(|key| KeyView::new(key, &account))
                    .collect::<Vec<_>>(),
            )
        }
        KeysCommand::Revoke { api_key } => {
            directory.revoke_key(&api_key).await?;
            print_json(&serde_json::json!({ "api_key": api_key, "revoked": true }))
        }
    }
}
