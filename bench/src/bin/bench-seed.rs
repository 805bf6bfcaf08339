//! Fills a roster database with accounts, keys and users (each with a phone and a
//! softphone) through roster's own service layer, and writes what the load scripts need:
//! `credentials.tsv` (sid, key, token, Authorization header) and `users.tsv` (sid, user id, phone id, softphone id).

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use clap::Parser;
use roster::config::{parse_database, LogFormat, Settings};
use roster::startup;
use roster_domain::{AccountSettings, NamePolicy, RateLimit, RegionName, SystemClock};
use roster_service::{CreateUser, Directory};

#[derive(Debug, Parser)]
struct Args {
    /// The database to fill, as `roster --database` takes it.
    #[arg(long)]
    database: String,
    #[arg(long, default_value_t = 1_000)]
    accounts: u32,
    #[arg(long, default_value_t = 100)]
    users_per_account: u32,
    /// Where to write credentials.tsv and users.tsv.
    #[arg(long)]
    out: PathBuf,
    /// Creates in flight at once; the SQLite writer commits them in groups.
    #[arg(long, default_value_t = 256)]
    concurrency: usize,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let settings = Settings {
        listen: "127.0.0.1:0".parse()?,
        database: parse_database(&args.database)?,
        region: RegionName::parse("local").map_err(anyhow::Error::msg)?,
        log_format: LogFormat::Text,
        token_pepper: std::env::var("ROSTER_TOKEN_PEPPER").ok(),
        names: NamePolicy::Exotel,
        auth_failures_per_minute: 30,
        sip_realm: "roster".to_owned(),
        operator_token: None,
        redis_url: None,
        tls: None,
        event_retention_hours: 24,
        webhook_retry_seconds: 600,
    };
    let store = startup::open_store(&settings.database).await?;
    let directory = startup::open_directory(&settings, store, Arc::new(SystemClock)).await?;
    std::fs::create_dir_all(&args.out)?;

    let mut credentials = std::fs::File::create(args.out.join("credentials.tsv"))?;
    let mut users = std::io::BufWriter::new(std::fs::File::create(args.out.join("users.tsv"))?);
    let started = std::time::Instant::now();
    for a in 0..args.accounts {
        let sid = format!("bench{a:05}");
        let (key, token) = account(&directory, &sid, 1_000_000).await?;
        writeln!(
            credentials,
            "{sid}\t{key}\t{token}\t{}",
            basic(&key, &token)
        )?;
        for line in create_users(
            &directory,
            &sid,
            a,
            args.users_per_account,
            args.concurrency,
        )
        .await?
        {
            writeln!(users, "{line}")?;
        }
    }
    // An account whose budget of one request a minute the 429 scenario spends at once.
    let (key, token) = account(&directory, "limited", 1).await?;
    writeln!(
        credentials,
        "limited\t{key}\t{token}\t{}",
        basic(&key, &token)
    )?;
    users.flush()?;
    eprintln!(
        "seeded {} accounts x {} users in {:.1?}",
        args.accounts,
        args.users_per_account,
        started.elapsed()
    );
    Ok(())
}

/// The `Authorization` header value for a key and token, ready for the load scripts.
fn basic(key: &str, token: &str) -> String {
    use base64::Engine;
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{key}:{token}"))
    )
}

async fn account(
    directory: &Directory,
    sid: &str,
    per_minute: u32,
) -> anyhow::Result<(String, String)> {
    let settings = AccountSettings {
        voip_enabled: Some(true),
        rate_limit: Some(RateLimit::new(per_minute).map_err(anyhow::Error::msg)?),
        ..AccountSettings::default()
    };
    directory
        .create_account(sid, settings)
        .await
        .with_context(|| format!("creating {sid}"))?;
    let issued = directory.issue_key(sid).await?;
    Ok((issued.key.id.to_string(), issued.token.expose().to_owned()))
}

/// Creates one account's users, `concurrency` at a time, and returns their users.tsv lines.
async fn create_users(
    directory: &Arc<Directory>,
    sid: &str,
    account: u32,
    count: u32,
    concurrency: usize,
) -> anyhow::Result<Vec<String>> {
    let record = directory.require_account(sid).await?;
    let mut lines = Vec::with_capacity(count as usize);
    let mut pending = tokio::task::JoinSet::new();
    for u in 0..count {
        if pending.len() >= concurrency {
            if let Some(done) = pending.join_next().await {
                lines.push(done??);
            }
        }
        let (directory, record, sid) = (directory.clone(), record.clone(), sid.to_owned());
        let serial = u64::from(account) * u64::from(count) + u64::from(u);
        pending.spawn(async move {
            let input = CreateUser {
                first_name: Some("Agent".to_owned()),
                last_name: Some(format!("No {serial:07}")),
                email: Some(format!("agent{serial}@{sid}.example.com")),
                device_contact_uri: Some(format!("+91{}", 7_000_000_000 + serial)),
                device_name: None,
                role: None,
            };
            let user = directory.create_user(&record, input).await?;
            let devices = user.devices.unwrap_or_default();
            let id_of = |kind: &str| {
                devices
                    .iter()
                    .find(|d| d.kind().as_str() == kind)
                    .map(|d| d.id.to_string())
                    .unwrap_or_default()
            };
            anyhow::Ok(format!(
                "{sid}\t{}\t{}\t{}",
                user.id,
                id_of("tel"),
                id_of("sip")
            ))
        });
    }
    while let Some(done) = pending.join_next().await {
        lines.push(done??);
    }
    Ok(lines)
}
