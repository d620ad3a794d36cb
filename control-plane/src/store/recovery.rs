//! What the Redis fast path needs from the source of truth: a start fenced by the message's
//! attempt, scans of work Redis may have lost, and reclaiming a dead worker's attempt.
//!
//! ```text
//! queued/scheduled --start_delivery(attempt n)--> running (attempt n + 1)
//! running (stale)  --reclaim_stale------------->  queued  (or dead after the last attempt)
//! ```

use std::time::{Duration, SystemTime};

use super::JobStore;
use super::page_limit;
use super::rows::{Audit, JOB_COLUMNS, job_from_row, lock_job};
use crate::error::{Error, Result};
use crate::job::{AuditKind, Job, JobId, JobStatus, Lease};

/// The error a reclaimed job keeps as `last_error` when its last attempt was lost.
const WORKER_LOST: &str = "worker lost: no outcome within the visibility timeout";

impl JobStore {
    /// Starts the attempt a queue message was written for: like [`JobStore::mark_started`],
    /// but only while the job has started exactly `attempt` attempts.
    ///
    /// Why the fence: Redis delivers at least once, and an old message can outlive its
    /// purpose (a reclaimed entry, a re-driven duplicate). Without it such a message could
    /// start a job that is waiting out its retry backoff, or start a replayed dead letter
    /// twice over.
    ///
    /// # Errors
    /// [`Error::InvalidTransition`] from `running` when attempt `attempt + 1` is in flight
    /// (another consumer holds this very delivery: leave the message alone);
    /// [`Error::StaleDelivery`] when the message is obsolete (acknowledge it);
    /// otherwise as [`JobStore::mark_started`].
    pub async fn start_delivery(
        &self,
        id: JobId,
        worker_id: &str,
        attempt: u32,
    ) -> Result<(Job, Lease)> {
        self.start_deliveries(worker_id, &[(id, attempt)])
            .await?
            .pop()
            .unwrap_or(Err(Error::NotFound(id)))
    }

    /// Jobs waiting to run (`queued` or `scheduled`), due first, after the keyset cursor
    /// `after` (the last job of the previous page): what the reconciler re-drives. Jobs of
    /// paused types are left out: they are parked until their type resumes.
    ///
    /// # Errors
    /// [`Error::Pool`] / [`Error::Db`] on database failure.
    pub async fn pending_page(
        &self,
        after: Option<(SystemTime, JobId)>,
        limit: u32,
    ) -> Result<Vec<Job>> {
        let limit = page_limit(limit);
        let client = self.pool.get().await?;
        // Row comparison on (run_at, id) walks the `jobs_pending_run_at` index in order.
        let rows = match after {
            None => {
                client
                    .query(
                        &format!(
                            "SELECT {JOB_COLUMNS} FROM jobs
                             WHERE status IN ('queued', 'scheduled')
                               AND job_type NOT IN (SELECT job_type FROM job_type_pauses)
                             ORDER BY run_at, id LIMIT $1"
                        ),
                        &[&limit],
                    )
                    .await?
            }
            Some((run_at, id)) => {
                client
                    .query(
                        &format!(
                            "SELECT {JOB_COLUMNS} FROM jobs
                             WHERE status IN ('queued', 'scheduled') AND (run_at, id) > ($1, $2)
                               AND job_type NOT IN (SELECT job_type FROM job_type_pauses)
                             ORDER BY run_at, id LIMIT $3"
                        ),
                        &[&run_at, &id.as_uuid(), &limit],
                    )
                    .await?
            }
        };
        rows.iter().map(job_from_row).collect()
    }

    /// Running jobs whose attempt started more than `visibility` ago by this store's clock:
    /// their workers are dead or hung, since no handler may run that long.
    ///
    /// # Errors
    /// [`Error::Pool`] / [`Error::Db`] on database failure.
    pub async fn stale_running(&self, visibility: Duration, limit: u32) -> Result<Vec<Job>> {
        let cutoff = self
            .now()
            .checked_sub(visibility)
            .unwrap_or(SystemTime::UNIX_EPOCH);
        let client = self.pool.get().await?;
        let rows = client
            .query(
                &format!(
                    "SELECT {JOB_COLUMNS} FROM jobs
                     WHERE status = 'running' AND started_at <= $1
                     ORDER BY started_at, id LIMIT $2"
                ),
                &[&cutoff, &page_limit(limit)],
            )
            .await?;
        rows.iter().map(job_from_row).collect()
    }

    /// Takes attempt `attempt` back from a worker that gave no outcome for longer than
    /// `visibility`: `running` → `queued`, due now, audited `reclaimed` with the lost worker.
    /// The lost attempt counts: a job that kills every worker it touches must end as a dead
    /// letter, not loop forever, so after its last attempt it is dead-lettered instead.
    ///
    /// The old worker is fenced out by its [`Lease`]: if it was only slow, its late outcome
    /// is refused with [`Error::LeaseLost`].
    ///
    /// Returns `None`, changing nothing, if the job is not running that attempt or started
    /// it less than `visibility` ago (someone else reclaimed it, or its worker is alive).
    ///
    /// # Errors
    /// [`Error::NotFound`]; [`Error::Pool`] / [`Error::Db`] on database failure.
    pub async fn reclaim_stale(
        &self,
        id: JobId,
        attempt: u32,
        visibility: Duration,
    ) -> Result<Option<Job>> {
        let now = self.now();
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        let locked = lock_job(&tx, id).await?;
        if locked.status != JobStatus::Running || locked.attempt != attempt {
            return Ok(None);
        }
        let started_at: Option<SystemTime> = tx
            .query_one(
                "SELECT started_at FROM jobs WHERE id = $1",
                &[&id.as_uuid()],
            )
            .await?
            .try_get(0)?;
        if started_at.is_none_or(|at| at + visibility > now) {
            return Ok(None);
        }
        let mut audit = Audit::new(id.as_uuid(), now, AuditKind::Reclaimed, attempt);
        audit.worker_id = locked.worker_id.as_deref();
        audit.error = Some(WORKER_LOST);
        audit.append(&tx).await?;
        let row = if attempt >= locked.max_attempts {
            Audit::new(id.as_uuid(), now, AuditKind::DeadLettered, attempt)
                .append(&tx)
                .await?;
            tx.query_one(
                &format!(
                    "UPDATE jobs SET status = 'dead', last_error = $2, finished_at = $3,
                         updated_at = $3
                     WHERE id = $1 RETURNING {JOB_COLUMNS}"
                ),
                &[&id.as_uuid(), &WORKER_LOST, &now],
            )
            .await?
        } else {
            tx.query_one(
                &format!(
                    "UPDATE jobs SET status = 'queued', run_at = $2, last_error = $3,
                         updated_at = $2
                     WHERE id = $1 RETURNING {JOB_COLUMNS}"
                ),
                &[&id.as_uuid(), &now, &WORKER_LOST],
            )
            .await?
        };
        let job = job_from_row(&row)?;
        tx.commit().await?;
        Ok(Some(job))
    }

    /// `queued`/`scheduled` → `running`, unfenced (the fenced start is the batch one).
    pub(crate) async fn start(&self, id: JobId, worker_id: &str) -> Result<(Job, Lease)> {
        if worker_id.is_empty() || worker_id.len() > 256 {
            return Err(Error::invalid("worker_id", "must be 1..=256 bytes"));
        }
        let now = self.now();
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        let locked = lock_job(&tx, id).await?;
        if !matches!(locked.status, JobStatus::Queued | JobStatus::Scheduled) {
            return Err(Error::InvalidTransition {
                id,
                from: locked.status,
                action: "start",
            });
        }
        let row = tx
            .query_one(
                &format!(
                    "UPDATE jobs SET status = 'running', attempt = attempt + 1, worker_id = $2,
                         started_at = $3, updated_at = $3
                     WHERE id = $1 RETURNING {JOB_COLUMNS}"
                ),
                &[&id.as_uuid(), &worker_id, &now],
            )
            .await?;
        let job = job_from_row(&row)?;
        Audit::new(id.as_uuid(), now, AuditKind::Started, job.attempt)
            .worker(worker_id)
            .append(&tx)
            .await?;
        tx.commit().await?;
        let lease = Lease {
            job_id: id,
            worker_id: worker_id.to_owned(),
            attempt: job.attempt,
        };
        Ok((job, lease))
    }
}
