//! `tradeplane migrate`: create the control plane's database if needed, then apply its
//! migrations. `tradeplane dev` does the same at start-up.

use control_plane::PgConfig;
use tokio_postgres::NoTls;
use tokio_postgres::error::SqlState;

use crate::Error;

/// What a migration run did.
#[derive(Debug)]
pub(crate) struct Migrated {
    /// The database did not exist and was created.
    pub(crate) created: bool,
    /// Versions applied now (empty: the schema was current).
    pub(crate) applied: Vec<i32>,
    /// The schema version now.
    pub(crate) version: i32,
}

/// Creates the database named by `pg.url` when `create` is set and it is missing, then
/// applies every pending migration.
///
/// # Errors
/// [`Error::Postgres`] naming the step that failed: a malformed URL, PostgreSQL not
/// answering, a database that cannot be created, or a migration that fails.
pub(crate) async fn run(pg: &PgConfig, create: bool) -> Result<Migrated, Error> {
    let created = if create {
        ensure_database(pg).await?
    } else {
        false
    };
    let pool = control_plane::connect(pg).map_err(|e| Error::Postgres(chain(&e)))?;
    let report = control_plane::migrate(&pool)
        .await
        .map_err(|e| Error::Postgres(format!("migrating: {}", chain(&e))))?;
    Ok(Migrated {
        created,
        applied: report.applied,
        version: report.version,
    })
}

/// The error and its causes (`db error` alone would hide "database … does not exist").
fn chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.ends_with(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// The configured database's name and a connection to the server's `postgres` database
/// (its connection task runs until the client is dropped); `None` for a URL without a
/// database.
async fn admin_connection(
    pg: &PgConfig,
) -> Result<Option<(String, tokio_postgres::Client, tokio::task::JoinHandle<()>)>, Error> {
    let mut config = pg.validate().map_err(|e| Error::Postgres(e.to_string()))?;
    let Some(name) = config.get_dbname().map(str::to_owned) else {
        return Ok(None);
    };
    config.dbname("postgres");
    let (client, connection) = config.connect(NoTls).await.map_err(|e| {
        Error::Postgres(format!(
            "cannot connect to PostgreSQL (postgres.url, TRADEPLANE_POSTGRES__URL): {}",
            chain(&e)
        ))
    })?;
    let connection = tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(Some((name, client, connection)))
}

/// Drops the database named by `pg.url` (disconnecting whoever still uses it); a missing
/// one is fine. For throw-away databases: `tradeplane bench-jobs` drops its own.
pub(crate) async fn drop_database(pg: &PgConfig) -> Result<(), Error> {
    let Some((name, client, connection)) = admin_connection(pg).await? else {
        return Ok(());
    };
    let quoted = format!("\"{}\"", name.replace('"', "\"\""));
    client
        .batch_execute(&format!("DROP DATABASE IF EXISTS {quoted} WITH (FORCE)"))
        .await
        .map_err(|e| Error::Postgres(format!("dropping database {name}: {e}")))?;
    drop(client);
    let _ = connection.await;
    Ok(())
}

/// Connects to the server's `postgres` database and creates the configured one if it is
/// missing. Two processes racing here are fine: the loser sees `duplicate_database`.
async fn ensure_database(pg: &PgConfig) -> Result<bool, Error> {
    let Some((name, client, connection)) = admin_connection(pg).await? else {
        return Ok(false);
    };
    let exists = client
        .query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&name])
        .await
        .map_err(|e| Error::Postgres(format!("looking up database {name}: {e}")))?
        .is_some();
    let created = if exists {
        false
    } else {
        let quoted = format!("\"{}\"", name.replace('"', "\"\""));
        match client
            .batch_execute(&format!("CREATE DATABASE {quoted}"))
            .await
        {
            Ok(()) => true,
            Err(e) if e.code() == Some(&SqlState::DUPLICATE_DATABASE) => false,
            Err(e) => {
                return Err(Error::Postgres(format!("creating database {name}: {e}")));
            }
        }
    };
    drop(client);
    let _ = connection.await;
    Ok(created)
}
