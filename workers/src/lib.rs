//! tradeplane workers: run the control plane's jobs.
//!
//! A worker is a [`WorkerPool`]: it reads deliveries from the control plane's Redis streams
//! (through [`control_plane::Dispatcher`], which turns each into an attempt fenced by a
//! lease in PostgreSQL), runs the job's [`Handler`] from a [`Registry`] keyed by job type,
//! and records the outcome in the store, which decides on retries and dead letters.
//!
//! # What this crate promises, and what it asks of handlers
//!
//! - **At least once.** A job is never lost: a worker that dies (even `kill -9`) leaves its
//!   attempt `running` with a pending delivery, and another worker reclaims it after the
//!   visibility timeout. The price is that a handler may run more than once; the
//!   [`handler`] module documents the contract every handler must keep.
//! - **Graceful stop hands work back.** On the shutdown token (SIGTERM in
//!   `tradeplane worker`) the pool stops fetching, lets in-flight attempts finish within a
//!   grace period, and releases the rest: `queued` again, the attempt not spent, never a
//!   dead letter, published for another worker at once. See [`pool`].
//! - **Bounded attempts instead of heartbeats.** See [`pool`] for why.
//!
//! # Layout
//!
//! - [`handler`]: the [`Handler`] trait, [`JobContext`], [`HandlerError`], [`Registry`].
//! - [`builtin`]: `noop`, `sleep`, `http.request`.
//! - [`pool`]: [`WorkerPool`], [`PoolConfig`] and the stop sequence; `job`: one attempt.
//! - [`run`]: everything from configuration, for the `tradeplane worker` subcommand.

pub mod builtin;
mod completer;
pub mod error;
pub mod handler;
mod job;
pub mod pool;
mod slots;

use std::sync::Arc;

use control_plane::{JobStore, PgConfig, RedisConfig, RedisQueue, StoreConfig, SystemClock};
use tokio_util::sync::CancellationToken;

pub use builtin::{HttpConfig, HttpError, HttpRequest, Noop, Sleep, SleepPayload};
pub use error::WorkerError;
pub use handler::{Handler, HandlerError, JobContext, Registry};
pub use pool::{LEASE_MARGIN, PoolConfig, StopReport, WorkerPool};

/// Everything a worker process needs.
#[derive(Debug, Clone, Default)]
pub struct WorkerConfig {
    /// The job store's database.
    pub postgres: PgConfig,
    /// Retry policy and attempt limits (failed attempts are rescheduled by this worker).
    pub store: StoreConfig,
    /// The queues' Redis.
    pub redis: RedisConfig,
    /// The pool.
    pub pool: PoolConfig,
    /// The `http.request` client.
    pub http: HttpConfig,
    /// The job series this worker counts into (register them to serve them).
    pub metrics: control_plane::JobMetrics,
}

/// Runs a worker pool with the built-in handlers until `shutdown` fires, then stops
/// gracefully. Nothing is dialled before the first poll, so a worker started while
/// PostgreSQL or Redis is down waits for them (logging) instead of exiting.
///
/// # Errors
/// [`WorkerError`] for an invalid configuration.
pub async fn run(
    config: WorkerConfig,
    shutdown: CancellationToken,
) -> Result<StopReport, WorkerError> {
    let pool = control_plane::connect(&config.postgres)?;
    let store = JobStore::new(pool, config.store)?.with_metrics(config.metrics);
    let queue = RedisQueue::connect(&config.redis, Arc::new(SystemClock))?;
    let registry = Registry::builtins(&config.http)?;
    let workers = WorkerPool::new(store, queue, registry, config.pool)?;
    Ok(workers.run(shutdown).await)
}
