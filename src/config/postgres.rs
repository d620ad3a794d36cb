//! `[postgres]`: the control plane's database.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Where the control plane keeps jobs, dead letters and audit logs.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PostgresSection {
    /// `postgres://user[:password]@host:port/database`
    /// (`TRADEPLANE_POSTGRES__URL`). The database is created by `tradeplane migrate` (and
    /// `tradeplane dev`) when it does not exist yet.
    pub url: String,
    /// Pooled connections.
    pub pool_size: usize,
    /// Longest a statement may run, in milliseconds.
    pub statement_timeout_ms: u64,
    /// Longest connecting (or waiting for a pooled connection) may take, in milliseconds.
    pub connect_timeout_ms: u64,
}

impl Default for PostgresSection {
    fn default() -> Self {
        Self {
            url: "postgres://postgres@127.0.0.1:5432/tradeplane".into(),
            pool_size: 16,
            statement_timeout_ms: 5_000,
            connect_timeout_ms: 3_000,
        }
    }
}

// The URL may hold a password.
impl std::fmt::Debug for PostgresSection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresSection")
            .field("url", &"<redacted>")
            .field("pool_size", &self.pool_size)
            .field("statement_timeout_ms", &self.statement_timeout_ms)
            .field("connect_timeout_ms", &self.connect_timeout_ms)
            .finish()
    }
}

impl PostgresSection {
    /// The control plane's pool configuration.
    #[must_use]
    pub fn pg_config(&self) -> control_plane::PgConfig {
        control_plane::PgConfig {
            url: self.url.clone(),
            pool_size: self.pool_size,
            statement_timeout: Duration::from_millis(self.statement_timeout_ms),
            connect_timeout: Duration::from_millis(self.connect_timeout_ms),
        }
    }
}
