//! The crate's one domain error. It carries no HTTP: the gateway maps it to problem+json, and
//! workers use [`Error::retryable`] to decide between "try again" and "give up".
//!
//! Redis failures get their own variants rather than being folded into `Db`: PostgreSQL is
//! the source of truth and Redis a rebuildable index, so callers (and metrics) need to tell
//! "the fast path is down" from "the store is down".

use tokio_postgres::error::SqlState;

use crate::job::{JobId, JobStatus};

/// Everything the store, the pool and the migration runner can fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The configuration is unusable (checked once, at start-up).
    #[error("invalid control-plane configuration: {0}")]
    Config(String),
    /// A caller-supplied value is out of range or malformed.
    #[error("invalid {field}: {reason}")]
    InvalidInput {
        /// The offending field.
        field: &'static str,
        /// Why it was refused.
        reason: String,
    },
    /// No job has this id (or it was purged).
    #[error("job {0} not found")]
    NotFound(JobId),
    /// The job is not in a status the requested transition starts from, for example starting
    /// a job that already runs or replaying one that is not dead.
    #[error("cannot {action} job {id}: it is {from}")]
    InvalidTransition {
        /// The job.
        id: JobId,
        /// Its current status.
        from: JobStatus,
        /// The refused transition (`start`, `succeed`, `fail`, `cancel`, `replay`, `purge`).
        action: &'static str,
    },
    /// The caller's lease no longer owns the job: another worker (or a later attempt) holds
    /// it. The caller's outcome is discarded so one attempt is never recorded twice.
    #[error("lease lost on job {id}: attempt {attempt} by {worker_id} is no longer current")]
    LeaseLost {
        /// The job.
        id: JobId,
        /// The attempt the caller thought it held.
        attempt: u32,
        /// The worker the caller claimed to be.
        worker_id: String,
    },
    /// Replaying would create a second unfinished job with the same dedup key in its queue.
    #[error("job {id} shares its dedup key with unfinished job {existing}")]
    DedupConflict {
        /// The job that was to be replayed.
        id: JobId,
        /// The unfinished job holding the key.
        existing: JobId,
    },
    /// An applied migration's SQL differs from the one compiled into this binary: someone
    /// edited a migration after it shipped. Refusing is the only safe answer.
    #[error("migration {version} ({name}) was changed after it was applied")]
    MigrationChanged {
        /// Version number of the migration.
        version: i32,
        /// Its name.
        name: &'static str,
    },
    /// The database holds a value this build cannot read (for example an unknown status).
    #[error("unexpected value in the database: {0}")]
    Corrupt(String),
    /// No pooled connection became free in time, or a new one could not be opened.
    #[error("postgres pool: {0}")]
    Pool(#[from] deadpool_postgres::PoolError),
    /// PostgreSQL answered with an error or the connection failed.
    #[error("postgres: {0}")]
    Db(#[from] tokio_postgres::Error),
    /// A transaction was retried after racing other writers and still did not settle.
    #[error("{0} kept racing concurrent writers; try again")]
    Contended(&'static str),
    /// A queue message names an attempt the job is no longer at (the job finished, was
    /// retried, reclaimed or replayed since the message was written). The message is obsolete
    /// and is acknowledged without running anything.
    #[error(
        "obsolete delivery of job {id}: message is for attempt {attempt}, job is {status} at attempt {current}"
    )]
    StaleDelivery {
        /// The job.
        id: JobId,
        /// Attempts started when the message was written.
        attempt: u32,
        /// Attempts started now.
        current: u32,
        /// The job's status now.
        status: JobStatus,
    },
    /// The job's type is paused: the delivery is parked (acknowledged, the job left
    /// `queued`) until the type is resumed.
    #[error("job {id} not started: job type `{job_type}` is paused")]
    Paused {
        /// The job.
        id: JobId,
        /// Its paused type.
        job_type: String,
    },
    /// A stream entry is not a queue message this build can read.
    #[error("malformed queue message: {0}")]
    BadMessage(String),
    /// A stream entry carries a newer message version (a newer producer during a rolling
    /// deploy). It is left pending for a consumer that understands it.
    #[error("queue message version {0} is newer than this build reads")]
    UnknownMessageVersion(u32),
    /// No pooled Redis connection became free in time, or a new one could not be opened.
    #[error("redis pool: {0}")]
    RedisPool(#[from] deadpool_redis::PoolError),
    /// Redis answered with an error or the connection failed.
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
}

impl Error {
    /// Whether the same call may succeed if repeated later: lost connections, pool timeouts,
    /// serialization failures, deadlocks, a server shutting down or overloaded, contention.
    /// Domain refusals (not found, invalid transition, lost lease, bad input) are final.
    #[must_use]
    pub fn retryable(&self) -> bool {
        match self {
            Error::Pool(_) | Error::Contended(_) | Error::RedisPool(_) => true,
            Error::Db(e) => db_error_retryable(e),
            Error::Redis(e) => redis_error_retryable(e),
            Error::Config(_)
            | Error::InvalidInput { .. }
            | Error::NotFound(_)
            | Error::InvalidTransition { .. }
            | Error::LeaseLost { .. }
            | Error::DedupConflict { .. }
            | Error::MigrationChanged { .. }
            | Error::Corrupt(_)
            | Error::StaleDelivery { .. }
            | Error::Paused { .. }
            | Error::BadMessage(_)
            | Error::UnknownMessageVersion(_) => false,
        }
    }

    pub(crate) fn invalid(field: &'static str, reason: impl Into<String>) -> Self {
        Error::InvalidInput {
            field,
            reason: reason.into(),
        }
    }
}

fn db_error_retryable(e: &tokio_postgres::Error) -> bool {
    if e.is_closed() {
        return true;
    }
    match e.code() {
        // No SQLSTATE: an I/O or protocol failure on the connection.
        None => true,
        Some(code) => [
            SqlState::T_R_SERIALIZATION_FAILURE,
            SqlState::T_R_DEADLOCK_DETECTED,
            SqlState::LOCK_NOT_AVAILABLE,
            SqlState::ADMIN_SHUTDOWN,
            SqlState::CRASH_SHUTDOWN,
            SqlState::CANNOT_CONNECT_NOW,
            SqlState::TOO_MANY_CONNECTIONS,
            SqlState::CONNECTION_FAILURE,
            SqlState::CONNECTION_EXCEPTION,
            // A statement timeout: the database was slow, not the request wrong.
            SqlState::QUERY_CANCELED,
        ]
        .contains(code),
    }
}

/// Connection trouble, timeouts, a server loading its data set or failing over, and a lost
/// consumer group (`NOGROUP`, recreated on the next call) pass with time; script and type
/// errors are bugs and do not.
fn redis_error_retryable(e: &redis::RedisError) -> bool {
    e.is_io_error()
        || e.is_timeout()
        || e.is_connection_dropped()
        || e.is_connection_refusal()
        || matches!(
            e.code(),
            // UNBLOCKED: a blocked XREADGROUP whose stream was deleted under it (Redis 7);
            // the next read recreates the group.
            Some(
                "LOADING"
                    | "TRYAGAIN"
                    | "CLUSTERDOWN"
                    | "MASTERDOWN"
                    | "READONLY"
                    | "NOGROUP"
                    | "UNBLOCKED"
            )
        )
}

/// Whether a Redis error says the stream or its consumer group is gone (a restart without
/// persistence, or a flush).
pub(crate) fn is_no_group(e: &redis::RedisError) -> bool {
    e.code() == Some("NOGROUP")
}

/// Shorthand for the crate's results.
pub type Result<T, E = Error> = std::result::Result<T, E>;
