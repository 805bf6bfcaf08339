//! `roster keys`: issuing and revoking API credentials.

use clap::Subcommand;
use roster_service::Directory;
use serde::Serialize;

use super::print_json;

#[derive(Debug, Subcommand)]
pub(crate) enum KeysCommand {
    /// Issue a key for an account; its token is printed this once and never again.
    Create { sid: String },
    /// Revoke a key; servers refuse it within a second.
    Revoke { api_key: String },
}

#[derive(Serialize)]
struct IssuedKeyView<'a> {
    api_key: &'a str,
    api_token: &'a str,
}

pub(crate) async fn run(directory: &Directory, command: KeysCommand) -> anyhow::Result<()> {
    match command {
        KeysCommand::Create { sid } => {
            let issued = directory.issue_key(&sid).await?;
            print_json(&IssuedKeyView {
                api_key: issued.key.id.as_str(),
                api_token: issued.token.expose(),
            })
        }
        KeysCommand::Revoke { api_key } => {
            directory.revoke_key(&api_key).await?;
            print_json(&serde_json::json!({ "api_key": api_key, "revoked": true }))
        }
    }
}
