//! The gateway's handle on the control plane: the PostgreSQL [`JobStore`] (the record) and
//! the Redis [`RedisQueue`] (the fast path), built from [`ControlPlaneConfig`].
//!
//! Handlers commit to the store first and publish to Redis after: a job exists once its row
//! is committed, so a failed publish is logged and not reported to the client, whose request
//! did succeed. The control plane's reconciler re-drives from the store whatever Redis is
//! missing, so the job runs late rather than never.

use std::sync::Arc;
use std::time::Duration;

use control_plane::{Job, JobStore, RedisQueue, SystemClock};

use crate::config::ControlPlaneConfig;
use crate::problem::Problem;

/// Longest a request waits for its publish to Redis after the commit. The request has
/// already succeeded; a slow or absent Redis must not turn it into a timeout (503) that
/// invites the client to enqueue again.
pub const PUBLISH_BUDGET: Duration = Duration::from_millis(250);

/// Longest a resume waits for its type's waiting jobs to be published.
pub const REDRIVE_BUDGET: Duration = Duration::from_secs(2);

/// The store and the queue. Cheap to clone.
#[derive(Clone, Debug)]
pub struct ControlPlane {
    store: JobStore,
    queue: RedisQueue,
}

impl ControlPlane {
    /// Lazy pools on the configured PostgreSQL and Redis: nothing is dialled yet, so the
    /// gateway starts (and its job routes answer 503) while either is away.
    ///
    /// # Errors
    /// [`control_plane::Error::Config`] for an invalid configuration.
    pub fn connect(config: &ControlPlaneConfig) -> control_plane::Result<Self> {
        let pool = control_plane::connect(&config.postgres)?;
        let store = JobStore::new(pool, config.store)?.with_metrics(config.metrics.clone());
        let queue = RedisQueue::connect(&config.redis, Arc::new(SystemClock))?;
        Ok(Self { store, queue })
    }

    /// The job store.
    #[must_use]
    pub fn store(&self) -> &JobStore {
        &self.store
    }

    /// The Redis queues (depths and rates for operators).
    #[must_use]
    pub fn queue(&self) -> &RedisQueue {
        &self.queue
    }

    /// Publishes the waiting jobs of a resumed type, within [`REDRIVE_BUDGET`]; returns how
    /// many were published. Never fails the request: whatever is left, the reconciler
    /// publishes on its next pass.
    pub async fn redrive_type(&self, job_type: &str) -> u64 {
        let redrive = control_plane::redrive_type(&self.store, &self.queue, job_type);
        match tokio::time::timeout(REDRIVE_BUDGET, redrive).await {
            Ok(Ok(n)) => u64::try_from(n).unwrap_or(u64::MAX),
            Ok(Err(error)) => {
                tracing::warn!(%error, job_type, "re-drive after resume failed; the reconciler will");
                0
            }
            Err(_) => {
                tracing::warn!(
                    job_type,
                    "re-drive after resume timed out; the reconciler will finish it"
                );
                0
            }
        }
    }

    /// Publishes committed jobs to their Redis queues, within [`PUBLISH_BUDGET`]. Never
    /// fails the request: see the module docs.
    pub async fn publish(&self, jobs: &[Job]) {
        if jobs.is_empty() {
            return;
        }
        match tokio::time::timeout(PUBLISH_BUDGET, self.queue.publish(jobs)).await {
            Ok(Ok(_)) => {}
            Ok(Err(error)) => tracing::warn!(
                %error,
                jobs = jobs.len(),
                retryable = error.retryable(),
                "control plane: publish after commit failed; the reconciler will re-drive"
            ),
            Err(_) => tracing::warn!(
                jobs = jobs.len(),
                "control plane: publish after commit timed out; the reconciler will re-drive"
            ),
        }
    }
}

/// The 503 of every job route on a gateway without a control plane.
#[must_use]
pub fn unavailable() -> Problem {
    Problem::new(
        axum::http::StatusCode::SERVICE_UNAVAILABLE,
        "control_plane_unavailable",
        "Control plane unavailable",
    )
    .with_detail("This gateway has no control plane configured; job routes are not served.")
}
