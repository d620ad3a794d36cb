//! The PostgreSQL connection pool.
//!
//! deadpool-postgres over tokio-postgres: connections are opened lazily, checked out for one
//! short transaction at a time, and health-checked cheaply on return. A server-side
//! `statement_timeout` is set at connect time, so a stuck query frees its connection instead
//! of starving the pool.

use std::str::FromStr;
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use tokio_postgres::NoTls;

use crate::error::{Error, Result};

/// How to reach PostgreSQL. Plain TCP, no TLS: in production the database sits in the same
/// private network (TLS to RDS is a later, additive change).
#[derive(Clone, PartialEq, Eq)]
pub struct PgConfig {
    /// A libpq-style URL, e.g. `postgres://postgres@127.0.0.1:5432/tradeplane`.
    pub url: String,
    /// Most connections the pool opens.
    pub pool_size: usize,
    /// Server-side limit for any one statement (migrations lift it for their transaction).
    pub statement_timeout: Duration,
    /// Limit for opening a connection and for waiting on a free one.
    pub connect_timeout: Duration,
}

impl Default for PgConfig {
    fn default() -> Self {
        PgConfig {
            url: "postgres://postgres@127.0.0.1:5432/tradeplane".to_owned(),
            pool_size: 16,
            statement_timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(5),
        }
    }
}

// The URL may hold a password: never print it.
impl std::fmt::Debug for PgConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgConfig")
            .field("url", &"<redacted>")
            .field("pool_size", &self.pool_size)
            .field("statement_timeout", &self.statement_timeout)
            .field("connect_timeout", &self.connect_timeout)
            .finish()
    }
}

impl PgConfig {
    /// Checks the values and parses the URL.
    ///
    /// # Errors
    /// [`Error::Config`] for a malformed URL, a zero pool size or a zero timeout.
    pub fn validate(&self) -> Result<tokio_postgres::Config> {
        if self.pool_size == 0 {
            return Err(Error::Config("pool_size must be at least 1".into()));
        }
        if self.statement_timeout.is_zero() || self.connect_timeout.is_zero() {
            return Err(Error::Config("timeouts must be positive".into()));
        }
        let mut pg = tokio_postgres::Config::from_str(&self.url)
            // The parse error does not echo the URL, so it is safe to show.
            .map_err(|e| Error::Config(format!("postgres url: {e}")))?;
        pg.connect_timeout(self.connect_timeout);
        pg.application_name("tradeplane-control-plane");
        pg.options(format!(
            "-c statement_timeout={}",
            millis(self.statement_timeout)
        ));
        Ok(pg)
    }
}

/// Builds the pool. No connection is opened yet: the first query does that, so a process can
/// start (and report PostgreSQL as down) before the database answers.
///
/// # Errors
/// [`Error::Config`] if the configuration is invalid.
pub fn connect(config: &PgConfig) -> Result<Pool> {
    let pg = config.validate()?;
    let manager = Manager::from_config(
        pg,
        NoTls,
        ManagerConfig {
            // `Fast` trusts a connection unless its socket closed; a dead server shows up as
            // a retryable error on the next query, which callers handle anyway.
            recycling_method: RecyclingMethod::Fast,
        },
    );
    Pool::builder(manager)
        .max_size(config.pool_size)
        .runtime(Runtime::Tokio1)
        .wait_timeout(Some(config.connect_timeout))
        .create_timeout(Some(config.connect_timeout))
        .build()
        .map_err(|e| Error::Config(format!("postgres pool: {e}")))
}

/// Milliseconds for a PostgreSQL setting, saturating (a timeout of ~49 days is "forever").
fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}
