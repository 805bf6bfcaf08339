//! `roster webhooks`: the receivers of an account's events, and their deliveries.

use clap::Subcommand;
use roster_api::{DeliveryView, NewWebhookView, WebhookView};
use roster_service::Directory;

use super::print_json;

#[derive(Debug, Subcommand)]
pub(crate) enum WebhooksCommand {
    /// POST every event of the account from now on to URL; prints the signing secret once.
    Add {
        sid: String,
        url: String,
        /// Sign with this secret (16 to 256 visible ASCII characters) instead of a new one.
        #[arg(long, env = "ROSTER_WEBHOOK_SECRET", hide_env_values = true)]
        secret: Option<String>,
    },
    /// List the account's webhooks (never their secrets).
    List { sid: String },
    /// Stop delivering to a webhook.
    Remove { sid: String, webhook_id: String },
    /// The account's latest deliveries, newest first; parked ones failed every attempt.
    Deliveries {
        sid: String,
        #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..=500))]
        limit: u32,
    },
}

pub(crate) async fn run(directory: &Directory, command: WebhooksCommand) -> anyhow::Result<()> {
    match command {
        WebhooksCommand::Add { sid, url, secret } => {
            let hook = directory.add_webhook(&sid, &url, secret).await?;
            print_json(&NewWebhookView::new(&hook))
        }
        WebhooksCommand::List { sid } => {
            let hooks = directory.webhooks(&sid).await?;
            print_json(&hooks.iter().map(WebhookView::new).collect::<Vec<_>>())
        }
        WebhooksCommand::Remove { sid, webhook_id } => {
            directory.remove_webhook(&sid, &webhook_id).await?;
            print_json(&serde_json::json!({ "webhook_id": webhook_id, "removed": true }))
        }
        WebhooksCommand::Deliveries { sid, limit } => {
            let deliveries = directory.deliveries(&sid, limit).await?;
            print_json(&deliveries.iter().map(DeliveryView::new).collect::<Vec<_>>())
        }
    }
}
