//! The worker-side and cancel transitions:
//!
//! ```text
//! queued/scheduled --start--> running --succeed--> succeeded
//!                                     --fail-----> scheduled (retry at now + backoff)
//!                                     --fail-----> dead      (after the last attempt)
//!                                     --release--> queued    (attempt given back)
//! queued/scheduled --cancel-> cancelled
//! ```

use super::rows::{Audit, JOB_COLUMNS, job_from_row, lock_job, lock_leased};
use super::{JobStore, bounded_error};
use crate::error::{Error, Result};
use crate::job::{AuditKind, Job, JobId, JobStatus, Lease};

impl JobStore {
    /// Starts the next attempt: `queued`/`scheduled` → `running`, attempt + 1. The returned
    /// [`Lease`] is what the worker hands back to record the outcome.
    ///
    /// Due-ness is not checked here: the queue (Redis) only delivers due jobs, and a worker
    /// whose clock runs slightly ahead of ours must not be refused.
    ///
    /// # Errors
    /// [`Error::NotFound`]; [`Error::InvalidTransition`] if the job is running or finished
    /// (a duplicate delivery: drop it); [`Error::InvalidInput`] for an empty worker id;
    /// [`Error::Pool`] / [`Error::Db`] on database failure.
    pub async fn mark_started(&self, id: JobId, worker_id: &str) -> Result<(Job, Lease)> {
        self.start(id, worker_id).await
    }

    /// Records success of the leased attempt: `running` → `succeeded`.
    ///
    /// # Errors
    /// [`Error::LeaseLost`] if the lease no longer owns the job; [`Error::InvalidTransition`]
    /// if this attempt's outcome was already recorded; [`Error::NotFound`];
    /// [`Error::Pool`] / [`Error::Db`] on database failure.
    pub async fn mark_succeeded(&self, lease: &Lease) -> Result<Job> {
        self.succeed_batch(&[lease])
            .await?
            .pop()
            .unwrap_or(Err(Error::NotFound(lease.job_id)))
    }

    /// Records failure of the leased attempt. With attempts left the job goes back to
    /// `scheduled` at now + a jittered backoff (audited `failed` + `retry_scheduled`);
    /// after the last attempt it becomes a dead letter (`failed` + `dead_lettered`), its full
    /// history in the audit trail. The error is kept (cut to [`super::MAX_ERROR_LEN`] bytes).
    ///
    /// # Errors
    /// As [`JobStore::mark_succeeded`].
    pub async fn mark_failed(&self, lease: &Lease, error: &str) -> Result<Job> {
        self.fail(lease, error, false).await
    }

    /// Records a failure that retrying cannot cure (a payload the handler can never
    /// decode, a request the downstream refuses for good): the job becomes a dead letter
    /// at once, whatever attempts it has left, audited `failed` + `dead_lettered`. An
    /// operator who fixes the cause replays it.
    ///
    /// # Errors
    /// As [`JobStore::mark_succeeded`].
    pub async fn mark_failed_permanently(&self, lease: &Lease, error: &str) -> Result<Job> {
        self.fail(lease, error, true).await
    }

    async fn fail(&self, lease: &Lease, error: &str, give_up: bool) -> Result<Job> {
        let error = bounded_error(error);
        let now = self.now();
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        let locked = lock_leased(&tx, lease, "fail").await?;
        let exhausted = give_up || lease.attempt >= locked.max_attempts;
        let id = lease.job_id.as_uuid();
        let mut failed =
            Audit::new(id, now, AuditKind::Failed, lease.attempt).worker(&lease.worker_id);
        failed.error = Some(error);
        failed.append(&tx).await?;
        let row = if exhausted {
            Audit::new(id, now, AuditKind::DeadLettered, lease.attempt)
                .append(&tx)
                .await?;
            tx.query_one(
                &format!(
                    "UPDATE jobs SET status = 'dead', last_error = $2, finished_at = $3,
                         updated_at = $3
                     WHERE id = $1 RETURNING {JOB_COLUMNS}"
                ),
                &[&id, &error, &now],
            )
            .await?
        } else {
            let retry_at = now + self.retry_delay(lease.attempt);
            let mut retry = Audit::new(id, now, AuditKind::RetryScheduled, lease.attempt);
            retry.retry_at = Some(retry_at);
            retry.append(&tx).await?;
            tx.query_one(
                &format!(
                    "UPDATE jobs SET status = 'scheduled', run_at = $2, last_error = $3,
                         updated_at = $4
                     WHERE id = $1 RETURNING {JOB_COLUMNS}"
                ),
                &[&id, &retry_at, &error, &now],
            )
            .await?
        };
        let job = job_from_row(&row)?;
        tx.commit().await?;
        Ok(job)
    }

    /// Hands the leased attempt back unfinished: `running` → `queued`, due now, with the
    /// attempt count lowered by one, audited `released` (attempt and worker of the attempt
    /// given back).
    ///
    /// Why the attempt is not spent: a graceful stop (SIGTERM, a deploy) is the worker's
    /// choice, not the job's failure. Counting it would dead-letter healthy jobs during a
    /// series of rolling deploys. Contrast [`JobStore::reclaim_stale`], where the worker
    /// vanished without a word and the attempt *does* count, so a job that crashes every
    /// worker it touches still ends as a dead letter. The next start re-uses the same
    /// attempt number, so the message already queued for it (attempt − 1) starts it again.
    ///
    /// # Errors
    /// As [`JobStore::mark_succeeded`]: [`Error::LeaseLost`] if the attempt was reclaimed
    /// meanwhile (nothing to hand back), [`Error::InvalidTransition`] if its outcome was
    /// already recorded.
    pub async fn release(&self, lease: &Lease) -> Result<Job> {
        let now = self.now();
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        lock_leased(&tx, lease, "release").await?;
        let row = tx
            .query_one(
                &format!(
                    "UPDATE jobs SET status = 'queued', attempt = attempt - 1, run_at = $2,
                         updated_at = $2
                     WHERE id = $1 RETURNING {JOB_COLUMNS}"
                ),
                &[&lease.job_id.as_uuid(), &now],
            )
            .await?;
        Audit::new(
            lease.job_id.as_uuid(),
            now,
            AuditKind::Released,
            lease.attempt,
        )
        .worker(&lease.worker_id)
        .append(&tx)
        .await?;
        let job = job_from_row(&row)?;
        tx.commit().await?;
        Ok(job)
    }

    /// Cancels a job that has not started: `queued`/`scheduled` → `cancelled`. Its dedup
    /// key is free again.
    ///
    /// A running job cannot be cancelled here: its worker could not be told, and would then
    /// record an outcome for a cancelled job. (Cooperative cancellation of running jobs comes
    /// with the workers.)
    ///
    /// # Errors
    /// [`Error::NotFound`]; [`Error::InvalidTransition`] if it is running or finished;
    /// [`Error::Pool`] / [`Error::Db`] on database failure.
    pub async fn cancel(&self, id: JobId) -> Result<Job> {
        let now = self.now();
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        let locked = lock_job(&tx, id).await?;
        if !matches!(locked.status, JobStatus::Queued | JobStatus::Scheduled) {
            return Err(Error::InvalidTransition {
                id,
                from: locked.status,
                action: "cancel",
            });
        }
        let row = tx
            .query_one(
                &format!(
                    "UPDATE jobs SET status = 'cancelled', finished_at = $2, updated_at = $2
                     WHERE id = $1 RETURNING {JOB_COLUMNS}"
                ),
                &[&id.as_uuid(), &now],
            )
            .await?;
        Audit::new(id.as_uuid(), now, AuditKind::Cancelled, locked.attempt)
            .append(&tx)
            .await?;
        let job = job_from_row(&row)?;
        tx.commit().await?;
        Ok(job)
    }
}
