//! Taking over a dead consumer's deliveries, and settling abandoned attempts.

use super::{Claimed, Dispatcher, Start};
use crate::error::Result;
use crate::job::{JobId, JobStatus};
use crate::queue::Delivery;

/// What one [`Dispatcher::reclaim`] call did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ReclaimReport {
    /// Claimed deliveries whose job had never started (the consumer died right after
    /// reading): started here, to be run by the caller.
    pub redelivered: Vec<Claimed>,
    /// Abandoned attempts moved back to `queued` and published again.
    pub requeued: Vec<JobId>,
    /// Abandoned last attempts: the jobs are dead letters now.
    pub dead_lettered: Vec<JobId>,
    /// Obsolete messages acknowledged without running anything.
    pub dropped: usize,
    /// Deliveries whose attempt is running and not yet past the visibility timeout.
    pub in_flight: usize,
}

/// A consumer idle for this many visibility timeouts, holding nothing, is a worker that
/// is gone and is removed from the group.
const PRUNE_AFTER_VISIBILITY_TIMEOUTS: u32 = 10;

impl Dispatcher {
    /// Removes `queue`'s consumers that are gone (idle for ten visibility timeouts,
    /// holding no delivery), so the group lists live workers only. Returns how many.
    ///
    /// # Errors
    /// [`crate::Error::Redis`] / [`crate::Error::RedisPool`].
    pub async fn prune_consumers(&self, queue: &str) -> Result<usize> {
        let idle = self
            .config
            .visibility_timeout
            .saturating_mul(PRUNE_AFTER_VISIBILITY_TIMEOUTS);
        self.queue
            .prune_consumers(queue, idle, &self.consumer)
            .await
    }

    /// Takes over `queue`'s deliveries pending longer than `claim_min_idle` and settles each
    /// with the store: never-started jobs are started here, abandoned attempts (older than
    /// the visibility timeout) are requeued and published again, obsolete messages dropped.
    ///
    /// # Errors
    /// [`Error::Redis`] / [`Error::RedisPool`] / [`Error::Pool`] / [`Error::Db`].
    pub async fn reclaim(&self, queue: &str) -> Result<ReclaimReport> {
        let claimed = self
            .queue
            .claim_idle(
                queue,
                &self.consumer,
                self.config.claim_min_idle,
                self.config.batch,
            )
            .await?;
        let mut report = ReclaimReport::default();
        for (delivery, start) in self.start_each(claimed).await? {
            match start {
                Start::Started(claimed) => report.redelivered.push(*claimed),
                Start::InFlight => {
                    // Per item: an error here must not drop the redeliveries already
                    // started above (they run under our lease).
                    if let Err(e) = self.reclaim_abandoned(&delivery, &mut report).await {
                        tracing::warn!(entry = %delivery.entry_id, error = %e, "could not reclaim an abandoned attempt; the next pass will");
                    }
                }
                Start::Obsolete => report.dropped += 1,
                Start::Failed(e) => {
                    tracing::warn!(entry = %delivery.entry_id, error = %e, "could not settle a claimed delivery; the next pass will");
                }
            }
        }
        Ok(report)
    }

    /// Takes back the attempt a claimed delivery started if it is abandoned (past the
    /// visibility timeout): requeued and published, or dead-lettered after its last.
    async fn reclaim_abandoned(
        &self,
        delivery: &Delivery,
        report: &mut ReclaimReport,
    ) -> Result<()> {
        let message = &delivery.message;
        let reclaimed = self
            .store
            .reclaim_stale(
                message.job_id,
                message.attempt + 1,
                self.config.visibility_timeout,
            )
            .await?;
        match reclaimed {
            Some(job) if job.status == JobStatus::Dead => {
                self.store.metrics().dead_lettered(&job);
                self.queue.ack(delivery).await?;
                report.dead_lettered.push(job.id);
            }
            Some(job) => {
                // Publish the new attempt before forgetting the old one, so the job is
                // never absent from Redis in between.
                self.queue.publish(std::slice::from_ref(&job)).await?;
                self.queue.ack(delivery).await?;
                report.requeued.push(job.id);
            }
            None => report.in_flight += 1,
        }
        Ok(())
    }
}
