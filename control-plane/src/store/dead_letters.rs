//! Dead letters: jobs whose every attempt failed (status `dead`). Operators list them,
//! inspect them (with [`JobStore::get`]), replay one or all matching a filter, or purge one.

use super::rows::{Audit, JOB_COLUMNS, UNFINISHED_SQL, job_from_row, lock_job};
use super::{JobStore, page_limit};
use crate::error::{Error, Result};
use crate::job::{AuditKind, Job, JobFilter, JobId, JobPage, JobStatus, PageRequest};

/// Which dead letters a listing or bulk replay covers (both optional, combined with AND).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeadLetterFilter {
    /// Only this handler.
    pub job_type: Option<String>,
    /// Only this queue.
    pub queue: Option<String>,
}

/// What a bulk replay did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReplayReport {
    /// Jobs moved back to `queued`, oldest first.
    pub replayed: Vec<JobId>,
    /// Dead letters left dead because an unfinished job holds their dedup key (or another
    /// operator replayed or purged them meanwhile).
    pub skipped: Vec<JobId>,
}

impl JobStore {
    /// A page of dead letters, newest first.
    ///
    /// # Errors
    /// [`Error::Pool`] / [`Error::Db`] on database failure.
    pub async fn list_dead_letters(
        &self,
        filter: &DeadLetterFilter,
        page: PageRequest,
    ) -> Result<JobPage> {
        let filter = JobFilter {
            status: Some(JobStatus::Dead),
            job_type: filter.job_type.clone(),
            queue: filter.queue.clone(),
        };
        self.list(&filter, page).await
    }

    /// Replays a dead letter: `dead` → `queued`, due now, attempts back to 0, error and
    /// worker cleared. The trail keeps every earlier attempt and gains `replayed` (with the
    /// attempt count before the reset).
    ///
    /// # Errors
    /// [`Error::NotFound`]; [`Error::InvalidTransition`] if the job is not dead;
    /// [`Error::DedupConflict`] if an unfinished job now holds its dedup key;
    /// [`Error::Pool`] / [`Error::Db`] on database failure.
    pub async fn replay(&self, id: JobId) -> Result<Job> {
        let now = self.now();
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        let locked = lock_job(&tx, id).await?;
        if locked.status != JobStatus::Dead {
            return Err(Error::InvalidTransition {
                id,
                from: locked.status,
                action: "replay",
            });
        }
        let holder = tx
            .query_opt(
                &format!(
                    "SELECT h.id FROM jobs d JOIN jobs h
                         ON h.queue = d.queue AND h.dedup_key = d.dedup_key
                     WHERE d.id = $1 AND h.status IN {UNFINISHED_SQL}"
                ),
                &[&id.as_uuid()],
            )
            .await?;
        if let Some(holder) = holder {
            return Err(Error::DedupConflict {
                id,
                existing: JobId::from_uuid(holder.try_get(0)?),
            });
        }
        let row = tx
            .query_one(
                &format!(
                    "UPDATE jobs SET status = 'queued', attempt = 0, run_at = $2,
                         last_error = NULL, worker_id = NULL, started_at = NULL,
                         finished_at = NULL, updated_at = $2
                     WHERE id = $1 RETURNING {JOB_COLUMNS}"
                ),
                &[&id.as_uuid(), &now],
            )
            .await?;
        Audit::new(id.as_uuid(), now, AuditKind::Replayed, locked.attempt)
            .append(&tx)
            .await?;
        let job = job_from_row(&row)?;
        tx.commit().await?;
        Ok(job)
    }

    /// Replays up to `limit` (clamped to `1..=500`) dead letters matching `filter`, oldest
    /// first, each in its own short transaction (so one conflict does not undo the rest and
    /// no long lock is held). Call again while `replayed` is non-empty to drain a backlog.
    ///
    /// # Errors
    /// [`Error::Pool`] / [`Error::Db`] on database failure (jobs replayed before it stay
    /// replayed).
    pub async fn replay_matching(
        &self,
        filter: &DeadLetterFilter,
        limit: u32,
    ) -> Result<ReplayReport> {
        let ids: Vec<JobId> = {
            let client = self.pool.get().await?;
            let rows = client
                .query(
                    "SELECT id FROM jobs
                     WHERE status = 'dead'
                       AND ($1::text IS NULL OR job_type = $1)
                       AND ($2::text IS NULL OR queue = $2)
                     ORDER BY id LIMIT $3",
                    &[&filter.job_type, &filter.queue, &page_limit(limit)],
                )
                .await?;
            rows.iter()
                .map(|r| r.try_get(0).map(JobId::from_uuid))
                .collect::<Result<_, _>>()?
        };
        let mut report = ReplayReport::default();
        for id in ids {
            match self.replay(id).await {
                Ok(_) => report.replayed.push(id),
                Err(
                    Error::DedupConflict { .. }
                    | Error::InvalidTransition { .. }
                    | Error::NotFound(_),
                ) => report.skipped.push(id),
                Err(e) => return Err(e),
            }
        }
        Ok(report)
    }

    /// Deletes a dead letter (payload and all). Its audit trail stays, ending in `purged`.
    ///
    /// # Errors
    /// [`Error::NotFound`]; [`Error::InvalidTransition`] if the job is not dead;
    /// [`Error::Pool`] / [`Error::Db`] on database failure.
    pub async fn purge(&self, id: JobId) -> Result<()> {
        let now = self.now();
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        let locked = lock_job(&tx, id).await?;
        if locked.status != JobStatus::Dead {
            return Err(Error::InvalidTransition {
                id,
                from: locked.status,
                action: "purge",
            });
        }
        tx.execute("DELETE FROM jobs WHERE id = $1", &[&id.as_uuid()])
            .await?;
        Audit::new(id.as_uuid(), now, AuditKind::Purged, locked.attempt)
            .append(&tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }
}
