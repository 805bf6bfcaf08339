//! `roster serve`: runs the server, optionally with a ready-made demo account.

use std::io::Write;
use std::sync::Arc;

use clap::Args;
use roster_domain::{AccountSettings, AccountSid, SystemClock};
use roster_service::Directory;

use crate::config::{ServeArgs, Settings, StorageArgs};
use crate::startup::{self, Server};
use crate::telemetry;

#[derive(Debug, Args)]
pub(crate) struct ServeCommand {
    #[command(flatten)]
    settings: ServeArgs,

    /// Create the account `demo` when absent, issue it a key, and print a curl command to try.
    #[arg(long)]
    demo: bool,
}

impl ServeCommand {
    pub(crate) fn workers(&self) -> Option<u16> {
        self.settings.workers
    }
}

pub(crate) async fn run(storage: &StorageArgs, command: ServeCommand) -> anyhow::Result<()> {
    let settings = Settings::load(storage, &command.settings)?;
    let _log_guard = telemetry::init_server(settings.log_format);

    let store = startup::open_store(&settings.database).await?;
    let directory = startup::open_directory(&settings, store, Arc::new(SystemClock)).await?;
    let demo = if command.demo {
        Some(prepare_demo(&directory).await?)
    } else {
        None
    };
    let server = Server::bind(&settings, directory).await?;
    let address = server.local_addr()?;
    let scheme = server.scheme();
    tracing::info!(listen = %address, scheme, region = %settings.region, "roster is serving");
    if let Some(demo) = demo {
        print_demo(&demo, scheme, address);
    }

    server.run_until(startup::stop_signal()).await
}

struct Demo {
    created: bool,
    key: String,
    token: String,
}

/// Makes sure the demo account exists and issues it a fresh key: a token is shown only
/// once, so every demo start hands out a new one (earlier ones stay valid).
async fn prepare_demo(directory: &Directory) -> anyhow::Result<Demo> {
    let sid = AccountSid::parse("demo").map_err(anyhow::Error::msg)?;
    let created = match directory.account(&sid).await? {
        Some(_) => false,
        None => {
            let settings = AccountSettings {
                name: Some("Demo".to_owned()),
                ..AccountSettings::default()
            };
            directory.create_account("demo", settings).await?;
            true
        }
    };
    let issued = directory.issue_key("demo").await?;
    Ok(Demo {
        created,
        key: issued.key.id.to_string(),
        token: issued.token.expose().to_owned(),
    })
}

fn print_demo(demo: &Demo, scheme: &str, address: std::net::SocketAddr) {
    let base = format!(
        "{scheme}://{}:{}@{address}/v2/accounts/demo",
        demo.key, demo.token
    );
    let state = if demo.created {
        "created account demo"
    } else {
        "account demo already existed"
    };
    // The server keeps running even when nobody reads its stdout.
    let _ = writeln!(
        std::io::stdout().lock(),
        "\n{state}; issued it a new key (the token is shown only now):\n\
         \n  api_key:   {key}\n  api_token: {token}\n\
         \nCreate a user with a phone:\n\
         \n  curl -s '{base}/users' -H 'Content-Type: application/json' \\\n    \
         -d '{{\"first_name\":\"Asha\",\"last_name\":\"Rao\",\"email\":\"asha@example.com\",\"device_contact_uri\":\"+919812345678\"}}'\n\
         \nThen fetch it with its devices (put the id from the answer in place of USER_ID):\n\
         \n  curl -s '{base}/users/USER_ID?fields=devices'\n\
         \nOr open the dashboard at {scheme}://{address}/ and sign in with the key and token above.\n",
        key = demo.key,
        token = demo.token,
    );
}
