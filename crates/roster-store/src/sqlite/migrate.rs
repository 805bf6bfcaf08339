//! Schema migrations for SQLite, embedded in the binary and applied in order.

use rusqlite::Connection;

use super::backend;
use crate::StoreError;

const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("../../migrations/sqlite/0001_initial.sql")),
    (
        2,
        include_str!("../../migrations/sqlite/0002_sip_credentials.sql"),
    ),
    (
        3,
        include_str!("../../migrations/sqlite/0003_versions_and_idempotency.sql"),
    ),
    (4, include_str!("../../migrations/sqlite/0004_events.sql")),
    (5, include_str!("../../migrations/sqlite/0005_webhooks.sql")),
    (
        6,
        include_str!("../../migrations/sqlite/0006_dashboard.sql"),
    ),
];

/// The newest schema version this build knows.
pub const KNOWN_VERSION: i64 = MIGRATIONS.len() as i64;

/// Applies every migration the database lacks, each in its own transaction. Refuses a
/// database whose schema is newer than this build, rather than guess at its meaning.
pub(crate) fn apply(conn: &mut Connection) -> Result<(), StoreError> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS roster_migrations (
             version INTEGER PRIMARY KEY,
             applied_at INTEGER NOT NULL
         )",
    )
    .map_err(backend)?;
    let current = current_version(conn)?;
    if current > KNOWN_VERSION {
        return Err(StoreError::SchemaTooNew {
            found: current,
            known: KNOWN_VERSION,
        });
    }

    for (version, sql) in MIGRATIONS.iter().filter(|(version, _)| *version > current) {
        let tx = conn.transaction().map_err(backend)?;
        tx.execute_batch(sql).map_err(backend)?;
        tx.execute(
            "INSERT INTO roster_migrations (version, applied_at) VALUES (?1, ?2)",
            (version, jiff::Timestamp::now().as_second()),
        )
        .map_err(backend)?;
        tx.commit().map_err(backend)?;
        tracing::info!(schema.version = version, "applied sqlite migration");
    }
    Ok(())
}

/// The schema version recorded in the database (0 for an empty one).
pub(crate) fn current_version(conn: &Connection) -> Result<i64, StoreError> {
    conn.prepare_cached("SELECT COALESCE(MAX(version), 0) FROM roster_migrations")
        .and_then(|mut statement| statement.query_row([], |row| row.get(0)))
        .map_err(backend)
}
