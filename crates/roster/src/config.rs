//! Settings, from (in order of precedence) command-line flags, `ROSTER_*` environment
//! variables, an optional TOML file, and defaults. Every value is checked at start, and a
//! bad one is reported by its setting's name.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Args;
use roster_domain::{NamePolicy, RegionName};
use serde::Deserialize;

/// Settings every command shares: where the data is.
#[derive(Debug, Clone, Args)]
pub struct StorageArgs {
    /// Database: a SQLite file path (or `sqlite://PATH`), or a `postgres://` URL. Default: roster.db
    #[arg(
        long = "database",
        env = "ROSTER_DATABASE_URL",
        global = true,
        value_name = "URL"
    )]
    pub database: Option<String>,

    /// A TOML file with settings; flags and environment override it.
    #[arg(long, env = "ROSTER_CONFIG", global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

/// Settings of `roster serve`.
#[derive(Debug, Clone, Default, Args)]
pub struct ServeArgs {
    /// Address to listen on. Default: 127.0.0.1:8080
    #[arg(long, env = "ROSTER_LISTEN", value_name = "ADDR")]
    pub listen: Option<String>,

    /// The region this deployment serves. Default: local
    #[arg(long, env = "ROSTER_REGION", value_name = "NAME")]
    pub region: Option<String>,

    /// Redis URL (`redis://127.0.0.1:6379`) to share rate limits across nodes. Default: none
    #[arg(long, env = "ROSTER_REDIS_URL", value_name = "URL")]
    pub redis: Option<String>,

    /// Log format: `text` or `json`. Default: text
    #[arg(long, env = "ROSTER_LOG_FORMAT", value_name = "FORMAT")]
    pub log_format: Option<String>,

    /// Threads serving requests. Default: one per core
    #[arg(long, env = "ROSTER_WORKERS", value_name = "N", value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub workers: Option<u16>,

    /// Serve HTTPS with this PEM certificate chain (leaf first); needs --tls-key. Default: plain HTTP
    #[arg(long, env = "ROSTER_TLS_CERT", value_name = "FILE")]
    pub tls_cert: Option<PathBuf>,

    /// The PEM private key (PKCS#8, RSA or EC) of --tls-cert's certificate
    #[arg(long, env = "ROSTER_TLS_KEY", value_name = "FILE")]
    pub tls_key: Option<PathBuf>,

    /// Hours change events are kept for streams to catch up from. Default: 24
    #[arg(long, env = "ROSTER_EVENT_RETENTION_HOURS", value_name = "HOURS")]
    pub event_retention_hours: Option<u32>,

    /// Seconds a failing webhook delivery is retried before it is parked. Default: 600
    #[arg(long, env = "ROSTER_WEBHOOK_RETRY_SECONDS", value_name = "SECONDS")]
    pub webhook_retry_seconds: Option<u32>,
}

/// The optional configuration file. Unknown keys are refused so typos are noticed.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSettings {
    listen: Option<String>,
    database_url: Option<String>,
    region: Option<String>,
    log_format: Option<String>,
    token_pepper: Option<String>,
    name_policy: Option<String>,
    auth_failures_per_minute: Option<u32>,
    sip_realm: Option<String>,
    operator_token: Option<String>,
    redis_url: Option<String>,
    tls_cert: Option<PathBuf>,
    tls_key: Option<PathBuf>,
    event_retention_hours: Option<u32>,
    webhook_retry_seconds: Option<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

/// Where roster keeps its data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Database {
    Sqlite(PathBuf),
    /// A `postgres://` URL, for several nodes sharing one database.
    Postgres(String),
}

/// The files HTTPS is served with. They are read when the server starts and again on
/// SIGHUP, so a renewed certificate can be put in place without a restart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// PEM certificates, the server's own first, then the intermediates.
    pub cert: PathBuf,
    /// The PEM private key of the first certificate.
    pub key: PathBuf,
}

/// Every setting, checked.
#[derive(Debug, Clone)]
pub struct Settings {
    pub listen: SocketAddr,
    pub database: Database,
    pub region: RegionName,
    pub log_format: LogFormat,
    /// Keyed into every token hash; when unset, a random pepper kept in the database is used.
    pub token_pepper: Option<String>,
    pub names: NamePolicy,
    pub auth_failures_per_minute: u32,
    /// The realm SIP password digests are computed in.
    pub sip_realm: String,
    /// Guards `/operator/v1`; without it the operator API is switched off.
    pub operator_token: Option<String>,
    /// Shares each account's rate limit across nodes; without it each node counts alone.
    pub redis_url: Option<String>,
    /// Serve HTTPS instead of plain HTTP.
    pub tls: Option<TlsFiles>,
    /// How long change events are kept for streams to catch up from.
    pub event_retention_hours: u32,
    /// How long a failing webhook delivery is retried before it is parked.
    pub webhook_retry_seconds: u32,
}

impl Settings {
    /// Reads and checks the settings. The environment has already been merged into the
    /// flags by clap; the token pepper is read only from the environment or the file, so it
    /// never shows in a process list.
    pub fn load(storage: &StorageArgs, serve: &ServeArgs) -> anyhow::Result<Self> {
        let file = match &storage.config {
            Some(path) => read_file(path)?,
            None => FileSettings::default(),
        };
        let pick = |flag: &Option<String>, file: Option<String>| flag.clone().or(file);
        let (event_retention_hours, webhook_retry_seconds) = event_settings(serve, &file)?;

        let listen =
            pick(&serve.listen, file.listen).unwrap_or_else(|| "127.0.0.1:8080".to_owned());
        let listen = listen.parse().map_err(|_| {
            invalid(
                "listen",
                format!("'{listen}' is not an address like 127.0.0.1:8080"),
            )
        })?;
        let database = parse_database(
            &pick(&storage.database, file.database_url).unwrap_or_else(|| "roster.db".to_owned()),
        )?;
        let region = pick(&serve.region, file.region).unwrap_or_else(|| "local".to_owned());
        let region = RegionName::parse(&region).map_err(|reason| invalid("region", reason))?;
        let log_format = match pick(&serve.log_format, file.log_format).as_deref() {
            None | Some("text") => LogFormat::Text,
            Some("json") => LogFormat::Json,
            Some(other) => {
                return Err(invalid(
                    "log_format",
                    format!("'{other}' is neither text nor json"),
                ))
            }
        };
        let token_pepper = std::env::var("ROSTER_TOKEN_PEPPER")
            .ok()
            .or(file.token_pepper);
        if token_pepper.as_ref().is_some_and(|p| p.len() < 16) {
            return Err(invalid("token_pepper", "must be at least 16 characters"));
        }
        let names = match file.name_policy.as_deref() {
            None | Some("exotel") => NamePolicy::Exotel,
            Some("unicode") => NamePolicy::UnicodeLetters,
            Some(other) => {
                return Err(invalid(
                    "name_policy",
                    format!("'{other}' is neither exotel nor unicode"),
                ))
            }
        };
        let auth_failures_per_minute = file.auth_failures_per_minute.unwrap_or(30);
        if auth_failures_per_minute < 10 {
            return Err(invalid("auth_failures_per_minute", "must be at least 10"));
        }

        let sip_realm = std::env::var("ROSTER_SIP_REALM")
            .ok()
            .or(file.sip_realm)
            .unwrap_or_else(|| "roster".to_owned());
        if sip_realm.is_empty() || sip_realm.contains(|c: char| c == ':' || c.is_control()) {
            return Err(invalid(
                "sip_realm",
                "must be non-empty, without ':' or control characters",
            ));
        }
        let operator_token = std::env::var("ROSTER_OPERATOR_TOKEN")
            .ok()
            .or(file.operator_token);
        if operator_token.as_ref().is_some_and(|t| t.len() < 16) {
            return Err(invalid("operator_token", "must be at least 16 characters"));
        }

        let redis_url = pick(&serve.redis, file.redis_url);
        if redis_url
            .as_ref()
            .is_some_and(|u| !u.starts_with("redis://"))
        {
            return Err(invalid("redis", "must be a redis:// URL"));
        }

        let tls = tls_files(
            serve.tls_cert.clone().or(file.tls_cert),
            serve.tls_key.clone().or(file.tls_key),
        )?;

        Ok(Self {
            listen,
            database,
            region,
            log_format,
            token_pepper,
            names,
            auth_failures_per_minute,
            sip_realm,
            operator_token,
            redis_url,
            tls,
            event_retention_hours,
            webhook_retry_seconds,
        })
    }
}

/// How long events are kept, and how long a failing webhook delivery is retried.
fn event_settings(serve: &ServeArgs, file: &FileSettings) -> anyhow::Result<(u32, u32)> {
    let retention = serve
        .event_retention_hours
        .or(file.event_retention_hours)
        .unwrap_or(24);
    if !(1..=24 * 366).contains(&retention) {
        return Err(invalid(
            "event_retention_hours",
            "must be from 1 to 8784 (a year)",
        ));
    }
    let retry = serve
        .webhook_retry_seconds
        .or(file.webhook_retry_seconds)
        .unwrap_or(600);
    if !(1..=7 * 24 * 60 * 60).contains(&retry) {
        return Err(invalid(
            "webhook_retry_seconds",
            "must be from 1 to 604800 (a week)",
        ));
    }
    Ok((retention, retry))
}

/// HTTPS needs both files; one without the other is a mistake, not a request for HTTP.
fn tls_files(cert: Option<PathBuf>, key: Option<PathBuf>) -> anyhow::Result<Option<TlsFiles>> {
    let check = |setting: &str, path: &Path| {
        if path.as_os_str().is_empty() {
            Err(invalid(setting, "the path is empty"))
        } else {
            Ok(())
        }
    };
    match (cert, key) {
        (None, None) => Ok(None),
        (Some(cert), Some(key)) => {
            check("tls_cert", &cert)?;
            check("tls_key", &key)?;
            Ok(Some(TlsFiles { cert, key }))
        }
        (Some(_), None) => Err(invalid(
            "tls_key",
            "missing: tls_cert is set, and HTTPS needs both (--tls-key or ROSTER_TLS_KEY)",
        )),
        (None, Some(_)) => Err(invalid(
            "tls_cert",
            "missing: tls_key is set, and HTTPS needs both (--tls-cert or ROSTER_TLS_CERT)",
        )),
    }
}

fn read_file(path: &Path) -> anyhow::Result<FileSettings> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("invalid setting config: cannot read {}", path.display()))?;
    toml::from_str(&text).map_err(|e| {
        let reason = e.message().to_owned();
        invalid("config", format!("{}: {reason}", path.display()))
    })
}

/// Reads a database setting: a `postgres://` URL, `sqlite://PATH`, `sqlite:PATH` or a path.
pub fn parse_database(raw: &str) -> anyhow::Result<Database> {
    if raw.starts_with("postgres://") || raw.starts_with("postgresql://") {
        return Ok(Database::Postgres(raw.to_owned()));
    }
    let path = raw
        .strip_prefix("sqlite://")
        .or_else(|| raw.strip_prefix("sqlite:"))
        .unwrap_or(raw);
    if path.is_empty() {
        return Err(invalid("database", "the SQLite path is empty"));
    }
    // `mysql://...` is a mistake, not a file name; a real path never has a scheme.
    if let Some((scheme, _)) = path.split_once("://") {
        return Err(invalid(
            "database",
            format!("unsupported scheme {scheme}:// (use postgres://, sqlite:// or a file path)"),
        ));
    }
    Ok(Database::Sqlite(PathBuf::from(path)))
}

fn invalid(setting: &str, reason: impl std::fmt::Display) -> anyhow::Error {
    anyhow::anyhow!("invalid setting {setting}: {reason}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_database_url_of_another_kind_is_refused_by_name() {
        let error = parse_database("mysql://x/y").unwrap_err().to_string();
        assert!(error.contains("invalid setting database"), "{error}");
        assert!(error.contains("mysql://"), "{error}");
        assert!(
            matches!(parse_database("sqlite://a.db"), Ok(Database::Sqlite(p)) if p == std::path::Path::new("a.db"))
        );
    }

    fn storage(database: Option<&str>) -> StorageArgs {
        StorageArgs {
            database: database.map(str::to_owned),
            config: None,
        }
    }

    #[test]
    fn defaults_are_loopback_8080_sqlite_and_region_local() {
        let settings = Settings::load(&storage(None), &ServeArgs::default()).unwrap();
        assert_eq!(settings.listen, "127.0.0.1:8080".parse().unwrap());
        assert_eq!(settings.database, Database::Sqlite("roster.db".into()));
        assert_eq!(settings.region.as_str(), "local");
    }

    #[test]
    fn a_bad_value_is_reported_by_its_setting() {
        let serve = ServeArgs {
            listen: Some("nowhere".to_owned()),
            ..ServeArgs::default()
        };
        let error = Settings::load(&storage(None), &serve)
            .unwrap_err()
            .to_string();
        assert!(error.starts_with("invalid setting listen"), "{error}");

        let serve = ServeArgs {
            region: Some("Mumbai!".to_owned()),
            ..ServeArgs::default()
        };
        let error = Settings::load(&storage(None), &serve)
            .unwrap_err()
            .to_string();
        assert!(error.starts_with("invalid setting region"), "{error}");
    }

    #[test]
    fn sqlite_urls_and_plain_paths_name_the_same_file() {
        assert_eq!(
            parse_database("sqlite://data/r.db").unwrap(),
            Database::Sqlite("data/r.db".into())
        );
        assert_eq!(
            parse_database("sqlite:r.db").unwrap(),
            Database::Sqlite("r.db".into())
        );
        assert!(parse_database("sqlite://").is_err());
    }

    #[test]
    fn tls_needs_both_files_from_any_mix_of_sources() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("roster.toml");
        std::fs::write(&path, "tls_key = \"file.key\"\n").unwrap();
        let args = StorageArgs {
            database: None,
            config: Some(path),
        };
        let serve = ServeArgs {
            tls_cert: Some("flag.pem".into()),
            ..ServeArgs::default()
        };
        let settings = Settings::load(&args, &serve).unwrap();
        assert_eq!(
            settings.tls,
            Some(TlsFiles {
                cert: "flag.pem".into(),
                key: "file.key".into(),
            })
        );

        assert_eq!(
            Settings::load(&storage(None), &ServeArgs::default())
                .unwrap()
                .tls,
            None
        );
        let error = Settings::load(&storage(None), &serve)
            .unwrap_err()
            .to_string();
        assert!(error.starts_with("invalid setting tls_key"), "{error}");
        let serve = ServeArgs {
            tls_cert: Some("".into()),
            tls_key: Some("k.pem".into()),
            ..ServeArgs::default()
        };
        let error = Settings::load(&storage(None), &serve)
            .unwrap_err()
            .to_string();
        assert!(error.starts_with("invalid setting tls_cert"), "{error}");
    }

    #[test]
    fn the_file_fills_what_flags_leave_out_and_refuses_unknown_keys() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("roster.toml");
        std::fs::write(&path, "listen = \"127.0.0.1:9000\"\nregion = \"mumbai\"\n").unwrap();
        let args = StorageArgs {
            database: None,
            config: Some(path.clone()),
        };
        let serve = ServeArgs {
            region: Some("singapore".to_owned()),
            ..ServeArgs::default()
        };

        let settings = Settings::load(&args, &serve).unwrap();
        assert_eq!(settings.listen.port(), 9000);
        assert_eq!(settings.region.as_str(), "singapore");

        std::fs::write(&path, "lisen = \"127.0.0.1:9000\"\n").unwrap();
        let error = Settings::load(&args, &ServeArgs::default())
            .unwrap_err()
            .to_string();
        assert!(error.starts_with("invalid setting config"), "{error}");
    }
}
