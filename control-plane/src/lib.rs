//! The tradeplane control plane: the PostgreSQL job store and its Redis fast path.
//!
//! # Why PostgreSQL first
//!
//! PostgreSQL is the source of truth for background jobs (DESIGN decision 5). A job exists
//! once its row is committed; every transition (enqueued, started, succeeded, failed, retry
//! scheduled, dead-lettered, replayed, cancelled, purged) is a short transaction that updates
//! the row and appends to the `job_audit` table together, so the history can be trusted and
//! nothing is lost when a worker, a Redis node or the whole host dies.
//!
//! # Redis is the fast path, not the record
//!
//! [`RedisQueue`] keeps one stream per queue (consumer group, `XREADGROUP`, `XACK`+`XDEL`)
//! and a delayed sorted set per queue, promoted atomically by a Lua script. A message is a
//! versioned pointer ([`Message`]: job id + attempt), never a copy of the job. After an
//! enqueue commits, the caller publishes the jobs; [`Dispatcher`] turns deliveries into
//! attempts fenced by that attempt number and takes over a dead consumer's deliveries
//! (`XAUTOCLAIM` past the visibility timeout) or hands an unfinished attempt back on a
//! graceful stop (`release`: queued again, attempt not spent); [`Reconciler`] re-drives
//! from this store whatever Redis lost. Because Redis is only an index, it can be flushed
//! and rebuilt from here at any time.
//!
//! Delivery will be at-least-once. This store makes the duplicates harmless rather than
//! pretending they cannot happen: `mark_started` refuses a job that is already running, and
//! outcomes are recorded only through the [`Lease`] (worker id + attempt) that started the
//! attempt, so a worker that lost its job cannot overwrite a newer attempt's result.
//!
//! Retries are bounded (decision 6): exponential backoff with full jitter ([`RetryPolicy`]),
//! at most `max_attempts` (default 5, capped by [`StoreConfig`]), then the job is a dead
//! letter that operators list, replay or purge.
//!
//! # Time and randomness are injected
//!
//! The store never asks SQL for `now()`: timestamps and retry times come from a [`Clock`] and
//! a [`Jitter`], so tests walk a job through its whole retry schedule instantly and exactly.
//!
//! # Layout
//!
//! - [`pool`]: the deadpool-postgres pool and its configuration.
//! - [`migrate`](mod@migrate): versioned migrations, safe under concurrent start-ups.
//! - [`job`]: domain types (ids, statuses, jobs, audit entries, requests, filters).
//! - [`store`]: the [`JobStore`] operations.
//! - [`queue`]: the Redis streams, the message format and the Lua scripts.
//! - [`dispatch`]: consuming deliveries as fenced attempts; reclaiming abandoned ones.
//! - [`reconcile`]: the reconciler.
//! - [`retry`], [`clock`]: the injected policy parts.
//! - [`metrics`]: the Prometheus series ([`JobMetrics`]).
//! - [`error`]: the one domain [`Error`], with [`Error::retryable`].

pub mod clock;
pub mod dispatch;
pub mod error;
pub mod job;
pub mod metrics;
pub mod migrate;
pub mod pool;
pub mod queue;
pub mod reconcile;
pub mod retry;
pub mod store;

pub use clock::{Clock, ManualClock, SystemClock};
pub use dispatch::{Claimed, DispatchConfig, Dispatcher, ReclaimReport};
pub use error::{Error, Result};
pub use job::{
    AuditEntry, AuditKind, Enqueued, Job, JobDetail, JobFilter, JobId, JobPage, JobStatus, Lease,
    NewJob, PageRequest, QueueCounts, TypePause,
};
pub use metrics::JobMetrics;
pub use migrate::{MigrationReport, migrate};
pub use pool::{PgConfig, connect};
pub use queue::{
    ConsumerInfo, Delivery, Message, Outcome, QueueDepth, Rates, RedisConfig, RedisQueue,
};
pub use reconcile::{ReconcileConfig, ReconcileReport, Reconciler, redrive_type};
pub use retry::{FullJitter, Jitter, NoJitter, RetryPolicy};
pub use store::{DeadLetterFilter, JobStore, ReplayReport, StoreConfig};
