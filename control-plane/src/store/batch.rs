//! The hot transitions in batches: starting the deliveries of one poll, and recording the
//! successes of many attempts, each in one statement (one round trip, one commit).
//!
//! Why: a job's life is three transitions (enqueue, start, succeed) and every one is a
//! committed row change plus an audit row. Done one job at a time that is five round trips
//! and a WAL flush per transition, which caps a queue on a small machine near 1,000 jobs/s;
//! graphile-worker and River batch the same way for the same reason. Each batch statement
//! keeps the single-job semantics exactly:
//!
//! - rows are locked in id order (`FOR UPDATE`), so two overlapping batches cannot
//!   deadlock, and a row changed by someone else meanwhile is re-checked against the
//!   condition (READ COMMITTED re-evaluation) before it is touched;
//! - the transition and its audit rows commit together;
//! - whatever did not match is classified afterwards, per item, with the same errors the
//!   single-job operations give.

use std::collections::HashMap;

use uuid::Uuid;

use super::JobStore;
use super::rows::{JOB_COLUMNS, job_from_row, sql_count, status};
use crate::error::{Error, Result};
use crate::job::{Job, JobId, JobStatus, Lease};

/// One job's current state, for classifying what a batch did not change.
struct Current {
    status: JobStatus,
    attempt: u32,
    worker_id: Option<String>,
    job_type: String,
}

impl JobStore {
    /// Starts the attempts that queue messages were written for, in one statement: each
    /// `(job, attempt)` starts only while the job has started exactly `attempt` attempts
    /// (see [`JobStore::start_delivery`], whose errors each item carries).
    ///
    /// Answers in input order. A job named twice starts once; the later item is refused as
    /// in flight. A job of a paused type is not started ([`Error::Paused`]).
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for a bad worker id; [`Error::Pool`] / [`Error::Db`] when the
    /// statement fails (nothing started then, unless the commit itself was lost on the way
    /// back: those attempts are reclaimed after the visibility timeout). Once the statement
    /// has committed, a failure to classify the items it passed by answers those items
    /// with [`Error::Contended`] (left pending) and never loses the starts.
    pub async fn start_deliveries(
        &self,
        worker_id: &str,
        items: &[(JobId, u32)],
    ) -> Result<Vec<Result<(Job, Lease)>>> {
        check_worker(worker_id)?;
        if items.is_empty() {
            return Ok(Vec::new());
        }
        let now = self.now();
        let ids: Vec<Uuid> = items.iter().map(|(id, _)| id.as_uuid()).collect();
        let attempts = items
            .iter()
            .map(|(_, a)| sql_count(*a))
            .collect::<Result<Vec<i32>>>()?;
        let sql = format!(
            "WITH input AS (
                 SELECT * FROM unnest($1::uuid[], $2::int4[]) AS t(id, attempt)
             ), locked AS (
                 SELECT j.id FROM jobs j JOIN input i ON j.id = i.id
                 WHERE j.status IN ('queued', 'scheduled') AND j.attempt = i.attempt
                   AND NOT EXISTS (SELECT 1 FROM job_type_pauses p
                                   WHERE p.job_type = j.job_type)
                 ORDER BY j.id FOR UPDATE OF j
             ), upd AS (
                 UPDATE jobs j SET status = 'running', attempt = j.attempt + 1,
                     worker_id = $3, started_at = $4, updated_at = $4
                 FROM (SELECT DISTINCT id AS locked_id FROM locked) l WHERE j.id = l.locked_id
                 RETURNING {JOB_COLUMNS}
             ), audit AS (
                 INSERT INTO job_audit (job_id, at, event, attempt, worker_id)
                 SELECT id, $4, 'started', attempt, $3 FROM upd
             )
             SELECT {JOB_COLUMNS} FROM upd"
        );
        let client = self.pool.get().await?;
        // Cached per pooled connection: the statement is the same on every poll, so
        // PostgreSQL parses and plans it once per connection, not once per batch.
        let statement = client.prepare_cached(&sql).await?;
        let rows = client
            .query(&statement, &[&ids, &attempts, &worker_id, &now])
            .await?;
        let mut started: HashMap<Uuid, Job> = HashMap::with_capacity(rows.len());
        for row in &rows {
            let job = job_from_row(row)?;
            started.insert(job.id.as_uuid(), job);
        }
        // An item is answered by the start of its own attempt only: a stale message for
        // a job whose fresh message started it in this batch is not mistaken for it.
        let answers: Vec<Option<Result<(Job, Lease)>>> = items
            .iter()
            .map(|&(id, attempt)| {
                let ours = started
                    .get(&id.as_uuid())
                    .is_some_and(|job| job.attempt == attempt + 1);
                let job = ours.then(|| started.remove(&id.as_uuid())).flatten()?;
                let lease = Lease {
                    job_id: id,
                    worker_id: worker_id.to_owned(),
                    attempt: job.attempt,
                };
                Some(Ok((job, lease)))
            })
            .collect();
        // The starts are committed: from here on an error must not lose them (they would
        // sit `running` under a lease nobody holds until the visibility timeout, and spend
        // an attempt).
        Ok(answer_the_rest(
            &client,
            items,
            answers,
            |&(id, _)| id,
            |&(id, attempt), c| refused_start(id, attempt, c),
        )
        .await)
    }

    /// Records the success of each leased attempt, in one statement: `running` →
    /// `succeeded` with an audit row each, for every lease that still owns its job. Answers
    /// in input order, each as [`JobStore::mark_succeeded`] would.
    ///
    /// # Errors
    /// [`Error::Pool`] / [`Error::Db`] on database failure (nothing recorded then).
    pub async fn succeed_batch(&self, leases: &[&Lease]) -> Result<Vec<Result<Job>>> {
        if leases.is_empty() {
            return Ok(Vec::new());
        }
        let now = self.now();
        let ids: Vec<Uuid> = leases.iter().map(|l| l.job_id.as_uuid()).collect();
        let attempts = leases
            .iter()
            .map(|l| sql_count(l.attempt))
            .collect::<Result<Vec<i32>>>()?;
        let workers: Vec<&str> = leases.iter().map(|l| l.worker_id.as_str()).collect();
        let sql = format!(
            "WITH input AS (
                 SELECT * FROM unnest($1::uuid[], $2::int4[], $3::text[])
                     AS t(id, attempt, worker_id)
             ), locked AS (
                 SELECT j.id FROM jobs j JOIN input i ON j.id = i.id
                 WHERE j.status = 'running' AND j.attempt = i.attempt
                   AND j.worker_id = i.worker_id
                 ORDER BY j.id FOR UPDATE OF j
             ), upd AS (
                 UPDATE jobs j SET status = 'succeeded', finished_at = $4, updated_at = $4
                 FROM (SELECT DISTINCT id AS locked_id FROM locked) l WHERE j.id = l.locked_id
                 RETURNING {JOB_COLUMNS}
             ), audit AS (
                 INSERT INTO job_audit (job_id, at, event, attempt, worker_id)
                 SELECT id, $4, 'succeeded', attempt, worker_id FROM upd
             )
             SELECT {JOB_COLUMNS} FROM upd"
        );
        let client = self.pool.get().await?;
        let statement = client.prepare_cached(&sql).await?;
        let rows = client
            .query(&statement, &[&ids, &attempts, &workers, &now])
            .await?;
        let mut done: HashMap<Uuid, Job> = HashMap::with_capacity(rows.len());
        for row in &rows {
            let job = job_from_row(row)?;
            done.insert(job.id.as_uuid(), job);
        }
        // Each lease is answered by its own attempt's record only.
        let answers: Vec<Option<Result<Job>>> = leases
            .iter()
            .map(|lease| {
                let ours = done.get(&lease.job_id.as_uuid()).is_some_and(|job| {
                    job.attempt == lease.attempt
                        && job.worker_id.as_deref() == Some(lease.worker_id.as_str())
                });
                ours.then(|| done.remove(&lease.job_id.as_uuid()))
                    .flatten()
                    .map(Ok)
            })
            .collect();
        Ok(answer_the_rest(
            &client,
            leases,
            answers,
            |l| l.job_id,
            |l, c| refused_outcome(l, c, "succeed"),
        )
        .await)
    }
}

/// Answers the items a committed batch statement passed by, from each job's state read
/// now (after the statement, so the batch's own changes are seen). The statement's work
/// is committed whatever happens here: if the read fails, those items are answered with
/// [`Error::Contended`] (their deliveries stay pending for reclaim) and nothing is lost.
async fn answer_the_rest<I, T>(
    client: &deadpool_postgres::Object,
    items: &[I],
    mut answers: Vec<Option<Result<T>>>,
    job_of: impl Fn(&I) -> JobId,
    refused: impl Fn(&I, Option<&Current>) -> Error,
) -> Vec<Result<T>> {
    let unanswered: Vec<Uuid> = items
        .iter()
        .zip(&answers)
        .filter(|(_, a)| a.is_none())
        .map(|(item, _)| job_of(item).as_uuid())
        .collect();
    let current = current(client, &unanswered).await;
    if let Err(e) = &current {
        tracing::warn!(error = %e, items = unanswered.len(), "refused batch items not classified; they stay pending");
    }
    items
        .iter()
        .zip(answers.iter_mut())
        .map(|(item, answer)| match answer.take() {
            Some(answer) => answer,
            None => match &current {
                Ok(current) => Err(refused(item, current.get(&job_of(item).as_uuid()))),
                Err(_) => Err(Error::Contended("classifying a batch's refused items")),
            },
        })
        .collect()
}

fn check_worker(worker_id: &str) -> Result<()> {
    if worker_id.is_empty() || worker_id.len() > 256 {
        return Err(Error::invalid("worker_id", "must be 1..=256 bytes"));
    }
    Ok(())
}

/// The current state of the jobs a batch did not change (none for an empty list).
async fn current(
    client: &deadpool_postgres::Object,
    ids: &[Uuid],
) -> Result<HashMap<Uuid, Current>> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let rows = client
        .query(
            "SELECT id, status, attempt, worker_id, job_type FROM jobs WHERE id = ANY($1)",
            &[&ids],
        )
        .await?;
    let mut out = HashMap::with_capacity(rows.len());
    for row in &rows {
        let attempt: i32 = row.try_get(2)?;
        out.insert(
            row.try_get(0)?,
            Current {
                status: status(row.try_get(1)?)?,
                attempt: u32::try_from(attempt)
                    .map_err(|_| Error::Corrupt(format!("negative attempt {attempt}")))?,
                worker_id: row.try_get(3)?,
                job_type: row.try_get(4)?,
            },
        );
    }
    Ok(out)
}

/// Why a fenced start was refused (the rules of [`JobStore::start_delivery`]).
fn refused_start(id: JobId, attempt: u32, current: Option<&Current>) -> Error {
    let Some(c) = current else {
        return Error::NotFound(id);
    };
    // The very attempt this message starts is running: a concurrent holder of the same
    // delivery, not an obsolete message.
    if c.status == JobStatus::Running && c.attempt == attempt + 1 {
        return Error::InvalidTransition {
            id,
            from: c.status,
            action: "start",
        };
    }
    // Startable, yet the statement passed it by: its type was paused then (it may have
    // been resumed since; the dispatcher checks again after parking it).
    if matches!(c.status, JobStatus::Queued | JobStatus::Scheduled) && c.attempt == attempt {
        return Error::Paused {
            id,
            job_type: c.job_type.clone(),
        };
    }
    Error::StaleDelivery {
        id,
        attempt,
        current: c.attempt,
        status: c.status,
    }
}

/// Why an outcome under `lease` was refused (the rules of `lock_leased`).
fn refused_outcome(lease: &Lease, current: Option<&Current>, action: &'static str) -> Error {
    let Some(c) = current else {
        return Error::NotFound(lease.job_id);
    };
    let same_attempt =
        c.attempt == lease.attempt && c.worker_id.as_deref() == Some(lease.worker_id.as_str());
    match (same_attempt, c.status) {
        (true, from @ (JobStatus::Succeeded | JobStatus::Dead | JobStatus::Cancelled)) => {
            Error::InvalidTransition {
                id: lease.job_id,
                from,
                action,
            }
        }
        _ => Error::LeaseLost {
            id: lease.job_id,
            attempt: lease.attempt,
            worker_id: lease.worker_id.clone(),
        },
    }
}
