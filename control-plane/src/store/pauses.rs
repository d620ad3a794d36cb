//! Pausing job types, and the per-queue counts operators watch.
//!
//! A pause is a row, not a change to any job: deliveries of a paused type are refused at
//! start ([`crate::Error::Paused`]) and parked, and [`JobStore::pending_page`] skips them so
//! the reconciler does not publish them again. Resuming deletes the row; the caller then
//! re-drives the type's waiting jobs ([`crate::reconcile::redrive_type`]).

use std::time::SystemTime;

use super::rows::{JOB_COLUMNS, job_from_row};
use super::{JobStore, check_name, page_limit};
use crate::error::{Error, Result};
use crate::job::{Job, JobId, QueueCounts, TypePause};

impl JobStore {
    /// Pauses `job_type` (again: the first pause time stays, the reason is replaced).
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for a bad type name or a reason over 1024 bytes;
    /// [`Error::Pool`] / [`Error::Db`] on database failure.
    pub async fn pause_type(&self, job_type: &str, reason: Option<&str>) -> Result<TypePause> {
        check_name("job_type", job_type)?;
        if reason.is_some_and(|r| r.len() > 1024) {
            return Err(Error::invalid("reason", "must be at most 1024 bytes"));
        }
        let now = self.now();
        let client = self.pool.get().await?;
        let row = client
            .query_one(
                "INSERT INTO job_type_pauses (job_type, paused_at, reason) VALUES ($1, $2, $3)
                 ON CONFLICT (job_type) DO UPDATE SET reason = EXCLUDED.reason
                 RETURNING job_type, paused_at, reason",
                &[&job_type, &now, &reason],
            )
            .await?;
        pause_from_row(&row)
    }

    /// Resumes `job_type`; `false` if it was not paused.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for a bad type name; [`Error::Pool`] / [`Error::Db`].
    pub async fn resume_type(&self, job_type: &str) -> Result<bool> {
        check_name("job_type", job_type)?;
        let client = self.pool.get().await?;
        let n = client
            .execute(
                "DELETE FROM job_type_pauses WHERE job_type = $1",
                &[&job_type],
            )
            .await?;
        Ok(n > 0)
    }

    /// Every paused type, by name.
    ///
    /// # Errors
    /// [`Error::Pool`] / [`Error::Db`].
    pub async fn paused_types(&self) -> Result<Vec<TypePause>> {
        let client = self.pool.get().await?;
        let rows = client
            .query(
                "SELECT job_type, paused_at, reason FROM job_type_pauses ORDER BY job_type",
                &[],
            )
            .await?;
        rows.iter().map(pause_from_row).collect()
    }

    /// Of the jobs `ids`, those waiting to run whose type is not paused (any more): parked
    /// jobs whose type was resumed while they were being parked, to publish again.
    ///
    /// # Errors
    /// [`Error::Pool`] / [`Error::Db`].
    pub async fn unpaused_waiting(&self, ids: &[JobId]) -> Result<Vec<Job>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<uuid::Uuid> = ids.iter().map(|id| id.as_uuid()).collect();
        let client = self.pool.get().await?;
        let rows = client
            .query(
                &format!(
                    "SELECT {JOB_COLUMNS} FROM jobs
                     WHERE id = ANY($1) AND status IN ('queued', 'scheduled')
                       AND job_type NOT IN (SELECT job_type FROM job_type_pauses)"
                ),
                &[&ids],
            )
            .await?;
        rows.iter().map(job_from_row).collect()
    }

    /// Waiting jobs of `job_type` (`queued` or `scheduled`), due first, after the keyset
    /// cursor `after`: what resuming the type re-drives.
    ///
    /// # Errors
    /// [`Error::Pool`] / [`Error::Db`].
    pub async fn pending_page_of_type(
        &self,
        job_type: &str,
        after: Option<(SystemTime, JobId)>,
        limit: u32,
    ) -> Result<Vec<Job>> {
        let limit = page_limit(limit);
        let (run_at, id) = after.map_or((SystemTime::UNIX_EPOCH, uuid::Uuid::nil()), |(r, i)| {
            (r, i.as_uuid())
        });
        let client = self.pool.get().await?;
        let rows = client
            .query(
                &format!(
                    "SELECT {JOB_COLUMNS} FROM jobs
                     WHERE status IN ('queued', 'scheduled') AND job_type = $1
                       AND (run_at, id) > ($2, $3)
                     ORDER BY run_at, id LIMIT $4"
                ),
                &[&job_type, &run_at, &id, &limit],
            )
            .await?;
        rows.iter().map(job_from_row).collect()
    }

    /// Every queue that has ever held a job, with its jobs in each unfinished status and
    /// its dead letters (zeros for a queue that is all caught up).
    ///
    /// Two cheap reads rather than one big one: the queue names from `job_queues` (kept by
    /// enqueue), and the counts through the partial indexes of the four counted statuses
    /// (never the succeeded history).
    ///
    /// # Errors
    /// [`Error::Pool`] / [`Error::Db`].
    pub async fn queue_counts(&self) -> Result<Vec<QueueCounts>> {
        let client = self.pool.get().await?;
        let names = client.query("SELECT queue FROM job_queues", &[]).await?;
        // One branch per status, so each can use its partial index (a single
        // `status IN (…)` matches none of them and scans the table).
        let rows = client
            .query(
                "SELECT queue,
                        sum(n) FILTER (WHERE status = 'queued')::int8,
                        sum(n) FILTER (WHERE status = 'scheduled')::int8,
                        sum(n) FILTER (WHERE status = 'running')::int8,
                        sum(n) FILTER (WHERE status = 'dead')::int8
                 FROM (SELECT queue, 'queued' AS status, count(*) AS n FROM jobs
                       WHERE status = 'queued' GROUP BY queue
                       UNION ALL
                       SELECT queue, 'scheduled', count(*) FROM jobs
                       WHERE status = 'scheduled' GROUP BY queue
                       UNION ALL
                       SELECT queue, 'running', count(*) FROM jobs
                       WHERE status = 'running' GROUP BY queue
                       UNION ALL
                       SELECT queue, 'dead', count(*) FROM jobs
                       WHERE status = 'dead' GROUP BY queue) c
                 GROUP BY queue",
                &[],
            )
            .await?;
        let count = |row: &tokio_postgres::Row, i: usize| -> Result<u64> {
            let n: Option<i64> = row.try_get(i)?;
            Ok(n.and_then(|n| u64::try_from(n).ok()).unwrap_or(0))
        };
        let mut counts = std::collections::BTreeMap::new();
        for row in &names {
            let queue: String = row.try_get(0)?;
            counts.insert(
                queue.clone(),
                QueueCounts {
                    queue,
                    queued: 0,
                    scheduled: 0,
                    running: 0,
                    dead: 0,
                },
            );
        }
        for row in &rows {
            let queue: String = row.try_get(0)?;
            counts.insert(
                queue.clone(),
                QueueCounts {
                    queue,
                    queued: count(row, 1)?,
                    scheduled: count(row, 2)?,
                    running: count(row, 3)?,
                    dead: count(row, 4)?,
                },
            );
        }
        Ok(counts.into_values().collect())
    }
}

/// A `job_type, paused_at, reason` row.
fn pause_from_row(row: &tokio_postgres::Row) -> Result<TypePause> {
    Ok(TypePause {
        job_type: row.try_get(0)?,
        paused_at: row.try_get(1)?,
        reason: row.try_get(2)?,
    })
}
