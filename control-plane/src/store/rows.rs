//! Row mapping and the small SQL helpers every store operation shares.

use std::time::SystemTime;

use deadpool_postgres::Transaction;
use tokio_postgres::Row;
use uuid::Uuid;

use crate::error::{Error, Result};
use crate::job::{AuditEntry, AuditKind, Job, JobId, JobStatus, Lease};

/// The columns [`job_from_row`] reads, in its order.
pub(crate) const JOB_COLUMNS: &str = "id, queue, job_type, payload, status, attempt, \
    max_attempts, run_at, dedup_key, last_error, worker_id, created_at, updated_at, \
    started_at, finished_at";

/// The statuses that hold a dedup key, as SQL (must match the partial unique index).
pub(crate) const UNFINISHED_SQL: &str = "('queued', 'scheduled', 'running')";

fn count(row: &Row, idx: usize) -> Result<u32> {
    let n: i32 = row.try_get(idx)?;
    u32::try_from(n).map_err(|_| Error::Corrupt(format!("negative count {n}")))
}

pub(crate) fn status(text: &str) -> Result<JobStatus> {
    text.parse()
        .map_err(|_| Error::Corrupt(format!("unknown job status `{text}`")))
}

pub(crate) fn job_from_row(row: &Row) -> Result<Job> {
    Ok(Job {
        id: JobId::from_uuid(row.try_get(0)?),
        queue: row.try_get(1)?,
        job_type: row.try_get(2)?,
        payload: row.try_get(3)?,
        status: status(row.try_get(4)?)?,
        attempt: count(row, 5)?,
        max_attempts: count(row, 6)?,
        run_at: row.try_get(7)?,
        dedup_key: row.try_get(8)?,
        last_error: row.try_get(9)?,
        worker_id: row.try_get(10)?,
        created_at: row.try_get(11)?,
        updated_at: row.try_get(12)?,
        started_at: row.try_get(13)?,
        finished_at: row.try_get(14)?,
    })
}

/// The columns [`audit_from_row`] reads, in its order.
pub(crate) const AUDIT_COLUMNS: &str = "id, at, event, attempt, worker_id, error, retry_at";

pub(crate) fn audit_from_row(row: &Row) -> Result<AuditEntry> {
    let kind: &str = row.try_get(2)?;
    Ok(AuditEntry {
        seq: row.try_get(0)?,
        at: row.try_get(1)?,
        kind: kind
            .parse()
            .map_err(|_| Error::Corrupt(format!("unknown audit event `{kind}`")))?,
        attempt: count(row, 3)?,
        worker_id: row.try_get(4)?,
        error: row.try_get(5)?,
        retry_at: row.try_get(6)?,
    })
}

/// One audit row to append.
#[derive(Debug)]
pub(crate) struct Audit<'a> {
    pub(crate) job: Uuid,
    pub(crate) at: SystemTime,
    pub(crate) kind: AuditKind,
    pub(crate) attempt: u32,
    pub(crate) worker_id: Option<&'a str>,
    pub(crate) error: Option<&'a str>,
    pub(crate) retry_at: Option<SystemTime>,
}

impl<'a> Audit<'a> {
    pub(crate) fn new(job: Uuid, at: SystemTime, kind: AuditKind, attempt: u32) -> Self {
        Audit {
            job,
            at,
            kind,
            attempt,
            worker_id: None,
            error: None,
            retry_at: None,
        }
    }

    pub(crate) fn worker(mut self, worker_id: &'a str) -> Self {
        self.worker_id = Some(worker_id);
        self
    }

    /// Appends the row inside the caller's transaction: a transition and its audit entry
    /// commit together or not at all.
    pub(crate) async fn append(self, tx: &Transaction<'_>) -> Result<()> {
        let attempt = sql_count(self.attempt)?;
        tx.execute(
            "INSERT INTO job_audit (job_id, at, event, attempt, worker_id, error, retry_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
            &[
                &self.job,
                &self.at,
                &self.kind.as_str(),
                &attempt,
                &self.worker_id,
                &self.error,
                &self.retry_at,
            ],
        )
        .await?;
        Ok(())
    }
}

pub(crate) fn sql_count(n: u32) -> Result<i32> {
    i32::try_from(n).map_err(|_| Error::invalid("count", format!("{n} is too large")))
}

/// A job's state as read under `FOR UPDATE`.
#[derive(Debug)]
pub(crate) struct Locked {
    pub(crate) status: JobStatus,
    pub(crate) attempt: u32,
    pub(crate) max_attempts: u32,
    pub(crate) worker_id: Option<String>,
}

/// Reads the job and locks its row until the transaction ends, so the transition decided on
/// this state cannot race another one.
pub(crate) async fn lock_job(tx: &Transaction<'_>, id: JobId) -> Result<Locked> {
    let row = tx
        .query_opt(
            "SELECT status, attempt, max_attempts, worker_id FROM jobs WHERE id = $1 FOR UPDATE",
            &[&id.as_uuid()],
        )
        .await?
        .ok_or(Error::NotFound(id))?;
    Ok(Locked {
        status: status(row.try_get(0)?)?,
        attempt: count(&row, 1)?,
        max_attempts: count(&row, 2)?,
        worker_id: row.try_get(3)?,
    })
}

/// Locks the job and checks that `lease` still owns a running attempt.
///
/// A finished job whose last attempt is the lease's gets [`Error::InvalidTransition`] (the
/// outcome was already recorded); anything else that does not match is [`Error::LeaseLost`].
pub(crate) async fn lock_leased(
    tx: &Transaction<'_>,
    lease: &Lease,
    action: &'static str,
) -> Result<Locked> {
    let locked = lock_job(tx, lease.job_id).await?;
    let same_attempt = locked.attempt == lease.attempt
        && locked.worker_id.as_deref() == Some(lease.worker_id.as_str());
    match (same_attempt, locked.status) {
        (true, JobStatus::Running) => Ok(locked),
        (true, from @ (JobStatus::Succeeded | JobStatus::Dead | JobStatus::Cancelled)) => {
            Err(Error::InvalidTransition {
                id: lease.job_id,
                from,
                action,
            })
        }
        _ => Err(Error::LeaseLost {
            id: lease.job_id,
            attempt: lease.attempt,
            worker_id: lease.worker_id.clone(),
        }),
    }
}
