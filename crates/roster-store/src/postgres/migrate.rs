//! Schema migrations for PostgreSQL. Each statement runs on its own (distributed engines
//! dislike several DDL statements in one transaction) and can run again without harm, so
//! nodes starting together, or a migration cut short, converge on the same schema.

use super::{pg, Db};
use crate::StoreError;

const MIGRATIONS: &[(i64, &str)] = &[
    (
        1,
        include_str!("../../migrations/postgres/0001_initial.sql"),
    ),
    (
        2,
        include_str!("../../migrations/postgres/0002_sip_credentials.sql"),
    ),
    (
        3,
        include_str!("../../migrations/postgres/0003_versions_and_idempotency.sql"),
    ),
    (4, include_str!("../../migrations/postgres/0004_events.sql")),
    (
        5,
        include_str!("../../migrations/postgres/0005_webhooks.sql"),
    ),
    (
        6,
        include_str!("../../migrations/postgres/0006_dashboard.sql"),
    ),
];

/// The newest schema version this build knows.
pub const KNOWN_VERSION: i64 = MIGRATIONS.len() as i64;

pub(crate) async fn apply(client: &deadpool_postgres::Client) -> Result<i64, StoreError> {
    client
        .batch_execute(
            "CREATE TABLE IF NOT EXISTS roster_migrations (
                 version BIGINT PRIMARY KEY,
                 applied_at BIGINT NOT NULL
             )",
        )
        .await
        .map_err(pg)?;
    let current = current_version(client).await?;
    if current > KNOWN_VERSION {
        return Err(StoreError::SchemaTooNew {
            found: current,
            known: KNOWN_VERSION,
        });
    }

    for (version, sql) in MIGRATIONS.iter().filter(|(version, _)| *version > current) {
        for statement in statements(sql) {
            client.batch_execute(statement).await.map_err(pg)?;
        }
        client
            .run(
                "INSERT INTO roster_migrations (version, applied_at) VALUES ($1, $2)
                 ON CONFLICT (version) DO NOTHING",
                &[version, &jiff::Timestamp::now().as_second()],
            )
            .await?;
        tracing::info!(schema.version = version, "applied postgres migration");
    }
    Ok(current.max(KNOWN_VERSION))
}

/// The schema version recorded in the database (0 for an empty one).
pub(crate) async fn current_version(client: &deadpool_postgres::Client) -> Result<i64, StoreError> {
    let row = client
        .row(
            "SELECT COALESCE(MAX(version), 0) FROM roster_migrations",
            &[],
        )
        .await?;
    row.map(|r| r.try_get::<_, i64>(0))
        .transpose()
        .map_err(pg)
        .map(Option::unwrap_or_default)
}

/// The statements of a migration file: split at semicolons that end a line; comments
/// before a statement stay with it, which the server ignores.
fn statements(sql: &str) -> impl Iterator<Item = &str> {
    sql.split(";\n").map(str::trim).filter(|s| {
        s.lines()
            .any(|l| !l.trim().is_empty() && !l.trim_start().starts_with("--"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_migration_splits_into_single_ddl_statements() {
        for (_, sql) in MIGRATIONS {
            let statements: Vec<&str> = statements(sql).collect();
            assert!(!statements.is_empty());
            for statement in statements {
                let code = statement
                    .lines()
                    .find(|l| !l.trim_start().starts_with("--"))
                    .unwrap_or_default();
                assert!(
                    code.starts_with("CREATE ") || code.starts_with("ALTER TABLE "),
                    "{statement}"
                );
                // Each runs on its own, so each must be safe to run again.
                assert!(code.contains(" IF NOT EXISTS "), "{statement}");
            }
        }
    }
}
