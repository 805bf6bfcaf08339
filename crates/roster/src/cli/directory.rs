//! `roster devices`, `roster calls`, `roster users` and `roster sip`: the operator's stand-ins
//! for Exotel's telephony platform, acting on the database directly.

use std::path::PathBuf;

use clap::Subcommand;
use roster_api::{DeviceView, SipCredentialsView, UserView};
use roster_domain::UserFields;
use roster_service::{CallEvent, Directory};

use super::{print_json, users_csv};

#[derive(Debug, Subcommand)]
pub(crate) enum DevicesCommand {
    /// A missed call was received from this number: verify the account's device with it.
    Verify { sid: String, contact_uri: String },
}

#[derive(Debug, Subcommand)]
pub(crate) enum CallsCommand {
    /// A call started on the device: it is busy.
    Start { sid: String, device_id: String },
    /// The call on the device ended: it is free.
    End { sid: String, device_id: String },
}

#[derive(Debug, Subcommand)]
pub(crate) enum UsersCommand {
    /// The user signed in now; the API reports it as `last_login`.
    Login { sid: String, user_id: String },
    /// Create users from a CSV file, all of them or none: every row is checked first, and
    /// each bad row is reported by its number and reason.
    Import {
        sid: String,
        /// A CSV file whose header row names its columns, among first_name, last_name,
        /// email, device_contact_uri, device_name and role; a blank cell is not sent.
        file: PathBuf,
        /// Check every row and print how many users would be created, creating none.
        #[arg(long)]
        dry_run: bool,
    },
    /// Print the account's users as CSV in the columns `import` reads, in list order.
    Export { sid: String },
}

#[derive(Debug, Subcommand)]
pub(crate) enum SipCommand {
    /// Print what a SIP registrar needs to check this softphone user (digests, never the password).
    Credentials { sid: String, username: String },
}

pub(crate) async fn devices(directory: &Directory, command: DevicesCommand) -> anyhow::Result<()> {
    let DevicesCommand::Verify { sid, contact_uri } = command;
    let device = directory.verify_device(&sid, &contact_uri).await?;
    print_json(&DeviceView::new(&device))
}

pub(crate) async fn calls(directory: &Directory, command: CallsCommand) -> anyhow::Result<()> {
    let (sid, device, event) = match command {
        CallsCommand::Start { sid, device_id } => (sid, device_id, CallEvent::Started),
        CallsCommand::End { sid, device_id } => (sid, device_id, CallEvent::Ended),
    };
    let device = directory.record_call(&sid, &device, event).await?;
    print_json(&DeviceView::new(&device))
}

pub(crate) async fn users(directory: &Directory, command: UsersCommand) -> anyhow::Result<()> {
    let (sid, user_id) = match command {
        UsersCommand::Login { sid, user_id } => (sid, user_id),
        UsersCommand::Import { sid, file, dry_run } => {
            return users_csv::import(directory, &sid, &file, dry_run).await
        }
        UsersCommand::Export { sid } => return users_csv::export(directory, &sid).await,
    };
    let user = directory.record_login(&sid, &user_id).await?;
    let account = directory.require_account(&sid).await?;
    let fields = UserFields {
        last_login: true,
        ..UserFields::default()
    };
    print_json(&UserView::new(&user, &account, fields))
}

pub(crate) async fn sip(directory: &Directory, command: SipCommand) -> anyhow::Result<()> {
    let SipCommand::Credentials { sid, username } = command;
    let credentials = directory.sip_credentials(&sid, &username).await?;
    print_json(&SipCredentialsView::new(&credentials))
}
