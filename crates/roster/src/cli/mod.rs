//! The command line: `serve`, and the operator's commands, which work on the database
//! directly through the same service layer the API uses.

mod accounts;
mod directory;
mod keys;
mod serve;
mod users_csv;
mod webhooks;

use std::sync::Arc;

use clap::{Parser, Subcommand};
use roster_domain::SystemClock;
use roster_service::Directory;
use serde::Serialize;

use crate::config::{ServeArgs, Settings, StorageArgs};
use crate::startup;

#[derive(Debug, Parser)]
#[command(
    name = "roster",
    version,
    about = "Exotel's CCM v2 Users API, self-hosted"
)]
pub struct Cli {
    #[command(flatten)]
    storage: StorageArgs,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the HTTP server.
    Serve(serve::ServeCommand),
    /// Bring the database schema up to date and print its version.
    Migrate,
    /// Create, change and inspect accounts.
    #[command(subcommand)]
    Accounts(accounts::AccountsCommand),
    /// Issue, list and revoke API keys.
    #[command(subcommand)]
    Keys(keys::KeysCommand),
    /// Verify devices, as a missed call from their number would.
    #[command(subcommand)]
    Devices(directory::DevicesCommand),
    /// Record calls starting and ending on devices.
    #[command(subcommand)]
    Calls(directory::CallsCommand),
    /// Record user logins; import and export users as CSV.
    #[command(subcommand)]
    Users(directory::UsersCommand),
    /// Read softphone credentials for a SIP registrar.
    #[command(subcommand)]
    Sip(directory::SipCommand),
    /// Register receivers of an account's events and see their deliveries.
    #[command(subcommand)]
    Webhooks(webhooks::WebhooksCommand),
}

impl Cli {
    /// The request threads `serve` asks for, if it names a number.
    pub fn workers(&self) -> Option<usize> {
        match &self.command {
            Command::Serve(command) => command.workers().map(usize::from),
            _ => None,
        }
    }
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    if let Command::Serve(command) = cli.command {
        return serve::run(&cli.storage, command).await;
    }
    crate::telemetry::init_cli();
    let directory = operator_directory(&cli.storage).await?;
    match cli.command {
        Command::Serve(_) => Ok(()),
        Command::Migrate => print_json(
            &serde_json::json!({ "schema_version": settings_schema_version(&cli.storage)? }),
        ),
        Command::Accounts(command) => accounts::run(&directory, command).await,
        Command::Keys(command) => keys::run(&directory, command).await,
        Command::Devices(command) => directory::devices(&directory, command).await,
        Command::Calls(command) => directory::calls(&directory, command).await,
        Command::Users(command) => directory::users(&directory, command).await,
        Command::Sip(command) => directory::sip(&directory, command).await,
        Command::Webhooks(command) => webhooks::run(&directory, command).await,
    }
}

/// The directory an operator command works on: the configured database, real time.
async fn operator_directory(storage: &StorageArgs) -> anyhow::Result<Directory> {
    let settings = Settings::load(storage, &ServeArgs::default())?;
    let store = startup::open_store(&settings.database).await?;
    let directory = startup::open_directory(&settings, store, Arc::new(SystemClock)).await?;
    Arc::try_unwrap(directory).map_err(|_| anyhow::anyhow!("the directory is shared unexpectedly"))
}

/// The schema version a migrated database of the configured kind has.
fn settings_schema_version(storage: &StorageArgs) -> anyhow::Result<i64> {
    let settings = Settings::load(storage, &ServeArgs::default())?;
    Ok(match settings.database {
        crate::config::Database::Sqlite(_) => roster_store::sqlite::KNOWN_VERSION,
        crate::config::Database::Postgres(_) => roster_store::postgres::KNOWN_VERSION,
    })
}

/// Prints a value as indented JSON on stdout.
fn print_json<T: Serialize>(value: &T) -> anyhow::Result<()> {
    use std::io::Write;
    let text = serde_json::to_string_pretty(value)?;
    // A closed pipe (`roster keys list acme | head -1`) is an error to report, not a panic.
    writeln!(std::io::stdout().lock(), "{text}")
        .map_err(|e| anyhow::anyhow!("cannot write to stdout: {e}"))
}
