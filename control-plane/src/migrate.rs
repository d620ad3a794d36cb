//! Versioned schema migrations, compiled into the binary.
//!
//! A small runner rather than `refinery`: refinery 0.10 needs Rust 1.92 (the workspace
//! promises 1.88), takes no lock (two processes starting together would both apply a
//! migration), and would add a TOML/regex/walkdir tree for what is ~100 lines here.
//!
//! How it works: migrations are `migrations/NNNN_name.sql`, embedded with `include_str!`.
//! Each is applied in its own transaction, which first takes a transaction-scoped advisory
//! lock, so concurrent start-ups serialise (the lock is released by commit or rollback, also
//! through a transaction-pooling proxy, and cannot leak with a crashed process). Inside the
//! lock the runner re-reads `schema_migrations`, checks every applied migration's SHA-256
//! against the embedded SQL (an edited, already-applied migration stops start-up), applies
//! the next pending one and records it. Versions in the database that this binary does not
//! know are tolerated with a warning: during a rolling deploy older binaries meet a newer
//! schema, and migrations are written to be backward compatible for exactly that.

use deadpool_postgres::Pool;
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// One embedded migration.
#[derive(Debug, Clone, Copy)]
struct Migration {
    version: i32,
    name: &'static str,
    sql: &'static str,
}

/// Every migration, in version order. Append only: never edit or reorder a shipped entry.
const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "jobs",
        sql: include_str!("../migrations/0001_jobs.sql"),
    },
    Migration {
        version: 2,
        name: "audit_reclaimed",
        sql: include_str!("../migrations/0002_audit_reclaimed.sql"),
    },
    Migration {
        version: 3,
        name: "audit_released",
        sql: include_str!("../migrations/0003_audit_released.sql"),
    },
    Migration {
        version: 4,
        name: "job_type_pauses",
        sql: include_str!("../migrations/0004_job_type_pauses.sql"),
    },
    Migration {
        version: 5,
        name: "lean_indexes",
        sql: include_str!("../migrations/0005_lean_indexes.sql"),
    },
];

/// Advisory lock key for the runner ("tradepla" in ASCII); advisory locks are per database.
const LOCK_KEY: i64 = 0x7472_6164_6570_6c61;

/// What [`migrate`] did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MigrationReport {
    /// Versions this call applied, in order.
    pub applied: Vec<i32>,
    /// The schema version afterwards (highest applied version known to this binary).
    pub version: i32,
}

/// The newest schema version this binary knows.
#[must_use]
pub fn latest_version() -> i32 {
    MIGRATIONS.last().map_or(0, |m| m.version)
}

fn checksum(sql: &str) -> String {
    Sha256::digest(sql.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Applies every pending migration; safe to call from many processes at once and on every
/// start-up (a no-op when the schema is current).
///
/// # Errors
/// [`Error::MigrationChanged`] if an applied migration differs from the embedded one;
/// [`Error::Pool`] / [`Error::Db`] if PostgreSQL is unreachable or a migration fails (that
/// migration's transaction is rolled back; earlier ones stay applied).
pub async fn migrate(pool: &Pool) -> Result<MigrationReport> {
    let mut client = pool.get().await?;
    let mut report = MigrationReport::default();
    loop {
        let tx = client.transaction().await?;
        // Migrations may legitimately outlast the pool's statement timeout (index builds).
        tx.batch_execute("SET LOCAL statement_timeout = 0").await?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&LOCK_KEY])
            .await?;
        tx.batch_execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (
                 version    integer     PRIMARY KEY,
                 name       text        NOT NULL,
                 checksum   text        NOT NULL,
                 applied_at timestamptz NOT NULL DEFAULT now()
             )",
        )
        .await?;
        let rows = tx
            .query(
                "SELECT version, checksum FROM schema_migrations ORDER BY version",
                &[],
            )
            .await?;
        let mut applied = Vec::with_capacity(rows.len());
        for row in rows {
            let version: i32 = row.try_get(0)?;
            let stored: String = row.try_get(1)?;
            match MIGRATIONS.iter().find(|m| m.version == version) {
                Some(m) if checksum(m.sql) != stored => {
                    return Err(Error::MigrationChanged {
                        version,
                        name: m.name,
                    });
                }
                Some(_) => applied.push(version),
                None => tracing::warn!(
                    version,
                    "database has a migration this binary does not know (newer deploy?)"
                ),
            }
        }
        let Some(next) = MIGRATIONS.iter().find(|m| !applied.contains(&m.version)) else {
            tx.commit().await?;
            report.version = latest_version();
            return Ok(report);
        };
        tx.batch_execute(next.sql).await?;
        tx.execute(
            "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
            &[&next.version, &next.name, &checksum(next.sql)],
        )
        .await?;
        tx.commit().await?;
        tracing::info!(
            version = next.version,
            name = next.name,
            "applied migration"
        );
        report.applied.push(next.version);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_start_at_one_and_increase_by_one() {
        for (i, m) in MIGRATIONS.iter().enumerate() {
            assert_eq!(
                usize::try_from(m.version).expect("positive"),
                i + 1,
                "{}",
                m.name
            );
            assert!(!m.sql.trim().is_empty());
        }
        assert_eq!(latest_version(), 5);
    }

    #[test]
    fn checksum_is_sha256_hex() {
        assert_eq!(
            checksum(""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }
}
