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
        let store = JobStore::new(pool, config.store)?;
        let queue = RedisQueue::connect(&config.redis, Arc::new(SystemClock))?;
        Ok(Self { store, queue })
    }

    /// The job store.
    #[must_use]
    pub fn store(&self) -> &JobStore {
        &self.store
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
