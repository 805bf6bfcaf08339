//! Real databases for storage tests: a fresh SQLite file, and a fresh PostgreSQL schema in
//! the database named by `TEST_DATABASE_URL`, dropped when the test ends.

use std::sync::Arc;

use roster_store::{PostgresStore, SqliteStore, Store};

/// The database `.ci/run` prepares; a developer's local server usually has it too.
pub const DEFAULT_TEST_DATABASE_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

pub enum Backend {
    Sqlite(tempfile::TempDir),
    Postgres(PostgresSchema),
}

impl Backend {
    /// One of each backend, both empty.
    pub async fn all() -> Vec<Backend> {
        vec![
            Backend::Sqlite(tempfile::tempdir().unwrap()),
            Backend::Postgres(PostgresSchema::create().await),
        ]
    }

    /// The backend `ROSTER_TEST_BACKEND` names (`sqlite`, the default, or `postgres`), so a
    /// whole suite can be run once per backend.
    pub async fn from_env() -> Backend {
        match std::env::var("ROSTER_TEST_BACKEND").as_deref() {
            Ok("postgres") => Backend::Postgres(PostgresSchema::create().await),
            Ok("sqlite") | Err(_) => Backend::Sqlite(tempfile::tempdir().unwrap()),
            Ok(other) => panic!("ROSTER_TEST_BACKEND={other}: expected sqlite or postgres"),
        }
    }

    /// The database URL roster's settings take: a SQLite path or a `postgres://` URL.
    pub fn url(&self) -> String {
        match self {
            Backend::Sqlite(dir) => dir.path().join("roster.db").display().to_string(),
            Backend::Postgres(schema) => schema.url.clone(),
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            Backend::Sqlite(_) => "sqlite",
            Backend::Postgres(_) => "postgres",
        }
    }

    /// Opens (and migrates) the database; may be called again to reopen it.
    pub async fn open(&self) -> Arc<dyn Store> {
        self.try_open().await.unwrap()
    }

    pub async fn try_open(&self) -> Result<Arc<dyn Store>, roster_store::StoreError> {
        Ok(match self {
            Backend::Sqlite(dir) => Arc::new(SqliteStore::open(&dir.path().join("roster.db"))?),
            Backend::Postgres(schema) => Arc::new(PostgresStore::open(&schema.url).await?),
        })
    }

    /// Runs a query beside roster and returns its first column as text, one entry per row.
    pub async fn strings(&self, sql: &str) -> Vec<String> {
        match self {
            Backend::Sqlite(dir) => {
                let conn = rusqlite::Connection::open(dir.path().join("roster.db")).unwrap();
                let mut statement = conn.prepare(sql).unwrap();
                let rows = statement
                    .query_map([], |row| row.get::<_, rusqlite::types::Value>(0))
                    .unwrap();
                rows.map(|value| match value.unwrap() {
                    rusqlite::types::Value::Null => String::new(),
                    rusqlite::types::Value::Integer(n) => n.to_string(),
                    rusqlite::types::Value::Real(x) => x.to_string(),
                    rusqlite::types::Value::Text(text) => text,
                    rusqlite::types::Value::Blob(bytes) => {
                        String::from_utf8_lossy(&bytes).into_owned()
                    }
                })
                .collect()
            }
            Backend::Postgres(schema) => {
                let client = connect(&schema.url).await;
                let sql = format!("SELECT q.c::text FROM ({sql}) AS q(c)");
                let rows = client.query(&sql, &[]).await.unwrap();
                rows.iter()
                    .map(|row| row.get::<_, Option<String>>(0).unwrap_or_default())
                    .collect()
            }
        }
    }

    /// Every stored value of every table as text, for checks that a secret is nowhere.
    pub async fn dump(&self) -> String {
        let tables = match self {
            Backend::Sqlite(_) => self.strings("SELECT name FROM sqlite_master WHERE type = 'table'").await,
            Backend::Postgres(_) => {
                self.strings("SELECT table_name::text FROM information_schema.tables WHERE table_schema = current_schema()")
                    .await
            }
        };
        let mut dump = String::new();
        for table in tables {
            let rows = match self {
                Backend::Sqlite(_) => {
                    // Every column of every row, as text (blobs as their bytes).
                    let columns = self
                        .strings(&format!("SELECT name FROM pragma_table_info('{table}')"))
                        .await;
                    let mut rows = Vec::new();
                    for column in columns {
                        rows.extend(
                            self.strings(&format!(
                                "SELECT CAST(\"{column}\" AS BLOB) FROM \"{table}\""
                            ))
                            .await,
                        );
                    }
                    rows
                }
                Backend::Postgres(_) => self.strings(&format!("SELECT t FROM \"{table}\" t")).await,
            };
            dump.push_str(&rows.join("\n"));
            dump.push('\n');
        }
        dump
    }

    /// Runs raw SQL beside roster, as an operator or an attacker with access would.
    pub async fn execute(&self, sql: &str) {
        match self {
            Backend::Sqlite(dir) => {
                let conn = rusqlite::Connection::open(dir.path().join("roster.db")).unwrap();
                conn.execute_batch(sql).unwrap();
            }
            Backend::Postgres(schema) => {
                let client = connect(&schema.url).await;
                client.batch_execute(sql).await.unwrap();
            }
        }
    }
}

/// A schema of its own in the test database, selected through the URL's `options`.
pub struct PostgresSchema {
    pub url: String,
    admin_url: String,
    name: String,
}

impl PostgresSchema {
    pub async fn create() -> Self {
        let admin_url = std::env::var("TEST_DATABASE_URL")
            .unwrap_or_else(|_| DEFAULT_TEST_DATABASE_URL.to_owned());
        let name = format!("roster_test_{}", uuid::Uuid::new_v4().simple());
        let client = connect(&admin_url).await;
        client
            .batch_execute(&format!("CREATE SCHEMA {name}"))
            .await
            .unwrap();
        let separator = if admin_url.contains('?') { '&' } else { '?' };
        let url = format!("{admin_url}{separator}options=-c%20search_path%3D{name}");
        Self {
            url,
            admin_url,
            name,
        }
    }
}

impl Drop for PostgresSchema {
    fn drop(&mut self) {
        let (url, name) = (self.admin_url.clone(), self.name.clone());
        // Drop runs inside the test's runtime, which cannot block on itself: use a thread.
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async {
                let client = connect(&url).await;
                // The test's runtime is blocked here, so a server it ran may have left a
                // connection in the middle of a transaction on this schema (a webhook
                // delivery, say) that can never finish: its locks would hold the DROP for
                // ever. Such connections are ended first; the DROP waits a bounded time.
                let end_holders = format!(
                    "SELECT pg_terminate_backend(l.pid) FROM pg_locks l
                     JOIN pg_class c ON c.oid = l.relation
                     JOIN pg_namespace n ON n.oid = c.relnamespace
                     WHERE n.nspname = '{name}' AND l.pid <> pg_backend_pid()"
                );
                for _ in 0..3 {
                    let _ = client.batch_execute(&end_holders).await;
                    let dropped = client
                        .batch_execute(&format!(
                            "SET lock_timeout = '5s'; DROP SCHEMA IF EXISTS {name} CASCADE"
                        ))
                        .await;
                    if dropped.is_ok() {
                        break;
                    }
                }
            });
        })
        .join();
    }
}

async fn connect(url: &str) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap_or_else(|e| {
            panic!(
                "PostgreSQL is not reachable at {url} ({e}); set TEST_DATABASE_URL or run .ci/run"
            )
        });
    tokio::spawn(connection);
    client
}
