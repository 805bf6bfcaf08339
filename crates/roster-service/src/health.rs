//! What readiness probes and metrics read of storage.

use roster_store::StoreStats;

use crate::{Directory, ServiceError};

impl Directory {
    /// The schema version the database records; an error when the database does not
    /// answer.
    pub async fn schema_version(&self) -> Result<i64, ServiceError> {
        Ok(self.store.schema_version().await?)
    }

    /// The schema version this build's migrations bring a database to.
    pub fn known_schema_version(&self) -> i64 {
        self.store.known_schema_version()
    }

    /// The store's connections and written events right now; no query.
    pub fn storage_stats(&self) -> StoreStats {
        self.store.stats()
    }
}
