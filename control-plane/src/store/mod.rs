//! The job store: every job and every transition, in PostgreSQL.
//!
//! Each operation is one short transaction that changes the job row and appends its audit
//! entry together. Transitions lock the row (`FOR UPDATE`) and check the status they start
//! from, so a transition from an unexpected status is an error, never a silent double
//! transition; outcomes are fenced by a [`Lease`](crate::Lease) (worker id + attempt).

mod batch;
mod dead_letters;
mod pauses;
mod read;
mod recovery;
mod rows;
mod transitions;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::SystemTime;

use deadpool_postgres::Pool;
use uuid::Uuid;

pub use dead_letters::{DeadLetterFilter, ReplayReport};

use crate::clock::{Clock, SystemClock};
use crate::error::{Error, Result};
use crate::job::{Enqueued, Job, JobId, JobStatus, NewJob};
use crate::metrics::JobMetrics;
use crate::retry::{FullJitter, Jitter, RetryPolicy};
use rows::{JOB_COLUMNS, UNFINISHED_SQL, job_from_row, sql_count};

/// Most jobs one `enqueue_batch` call takes (one statement, bounded transaction size).
pub const MAX_BATCH: usize = 1000;

/// Longest error message kept per failure (the rest is cut; the worker logs it in full).
pub const MAX_ERROR_LEN: usize = 4096;

/// How jobs are retried and bounded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreConfig {
    /// Attempts for a job that does not ask for a number (5).
    pub default_max_attempts: u32,
    /// The most attempts any job may have; larger requests are lowered to it (25).
    pub max_attempts_cap: u32,
    /// Backoff between attempts.
    pub retry: RetryPolicy,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            default_max_attempts: 5,
            max_attempts_cap: 25,
            retry: RetryPolicy::default(),
        }
    }
}

impl StoreConfig {
    /// Checks `1 <= default_max_attempts <= max_attempts_cap` and the retry policy.
    ///
    /// # Errors
    /// [`Error::Config`] otherwise.
    pub fn validate(&self) -> Result<()> {
        if self.default_max_attempts == 0 || self.default_max_attempts > self.max_attempts_cap {
            return Err(Error::Config(format!(
                "need 1 <= default_max_attempts ({}) <= max_attempts_cap ({})",
                self.default_max_attempts, self.max_attempts_cap
            )));
        }
        sql_count(self.max_attempts_cap)
            .map_err(|_| Error::Config("max_attempts_cap too large".into()))?;
        self.retry.validate()
    }
}

/// The PostgreSQL job store. Cheap to clone (the pool and the injected parts are shared).
#[derive(Debug, Clone)]
pub struct JobStore {
    pool: Pool,
    config: StoreConfig,
    clock: Arc<dyn Clock>,
    jitter: Arc<dyn Jitter>,
    metrics: JobMetrics,
}

impl JobStore {
    /// A store on the system clock with OS-seeded jitter.
    ///
    /// # Errors
    /// [`Error::Config`] for an invalid configuration.
    pub fn new(pool: Pool, config: StoreConfig) -> Result<Self> {
        let jitter = FullJitter::from_entropy()?;
        Self::with_time(pool, config, Arc::new(SystemClock), Arc::new(jitter))
    }

    /// A store with injected time and randomness (tests, simulations).
    ///
    /// # Errors
    /// [`Error::Config`] for an invalid configuration.
    pub fn with_time(
        pool: Pool,
        config: StoreConfig,
        clock: Arc<dyn Clock>,
        jitter: Arc<dyn Jitter>,
    ) -> Result<Self> {
        config.validate()?;
        Ok(JobStore {
            pool,
            config,
            clock,
            jitter,
            metrics: JobMetrics::default(),
        })
    }

    /// This store (and every dispatcher over it) counting into `metrics`.
    #[must_use]
    pub fn with_metrics(mut self, metrics: JobMetrics) -> Self {
        self.metrics = metrics;
        self
    }

    /// The series this store and its dispatchers count into.
    #[must_use]
    pub fn metrics(&self) -> &JobMetrics {
        &self.metrics
    }

    /// The pool (for migrations and health checks).
    #[must_use]
    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    /// Enqueues one job; see [`JobStore::enqueue_batch`].
    ///
    /// # Errors
    /// As [`JobStore::enqueue_batch`].
    pub async fn enqueue(&self, job: NewJob) -> Result<Enqueued> {
        let mut out = self.enqueue_batch(vec![job]).await?;
        out.pop().ok_or(Error::Contended("enqueue"))
    }

    /// Enqueues up to [`MAX_BATCH`] jobs in one transaction, answering in input order. A job
    /// whose dedup key is held by an unfinished job in its queue (including an earlier one in
    /// the same batch) is not created: its answer is the existing job with `created: false`.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for an empty or oversized batch, a bad queue or type name, an
    /// empty or over-long dedup key, or `max_attempts` 0 (nothing is enqueued then);
    /// [`Error::Contended`] if holders of a dedup key kept finishing under us;
    /// [`Error::Pool`] / [`Error::Db`] on database failure.
    pub async fn enqueue_batch(&self, jobs: Vec<NewJob>) -> Result<Vec<Enqueued>> {
        if jobs.is_empty() || jobs.len() > MAX_BATCH {
            return Err(Error::invalid(
                "jobs",
                format!("a batch holds 1..={MAX_BATCH} jobs"),
            ));
        }
        let now = self.clock.now();
        let prepared = jobs
            .into_iter()
            .map(|job| self.prepare(job, now))
            .collect::<Result<Vec<_>>>()?;
        let mut answers: Vec<Option<Enqueued>> = vec![None; prepared.len()];
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        // Three rounds: a dedup holder that finishes between our insert and our read frees
        // its key, so the next round inserts. Losing that race three times in a row is
        // contention worth reporting.
        for _round in 0..3 {
            let pending: Vec<usize> = (0..prepared.len())
                .filter(|&i| answers[i].is_none())
                .collect();
            if pending.is_empty() {
                break;
            }
            let batch: Vec<&Prepared> = pending.iter().map(|&i| &prepared[i]).collect();
            let inserted = insert(&tx, &batch, now).await?;
            let existing = existing_holders(&tx, &batch, &inserted).await?;
            for &i in &pending {
                let p = &prepared[i];
                answers[i] = if let Some(job) = inserted.get(&p.id) {
                    Some(Enqueued {
                        job: job.clone(),
                        created: true,
                    })
                } else {
                    p.dedup_key
                        .as_ref()
                        .and_then(|key| existing.get(&(p.queue.clone(), key.clone())))
                        .map(|job| Enqueued {
                            job: job.clone(),
                            created: false,
                        })
                };
            }
        }
        let answers = answers
            .into_iter()
            .collect::<Option<Vec<_>>>()
            .ok_or(Error::Contended("enqueue"))?;
        tx.commit().await?;
        for answer in answers.iter().filter(|a| a.created) {
            self.metrics.enqueued(&answer.job);
        }
        Ok(answers)
    }

    fn prepare(&self, job: NewJob, now: SystemTime) -> Result<Prepared> {
        check_name("queue", &job.queue)?;
        check_name("job_type", &job.job_type)?;
        if let Some(key) = &job.dedup_key
            && (key.is_empty() || key.len() > 256)
        {
            return Err(Error::invalid("dedup_key", "must be 1..=256 bytes"));
        }
        let max_attempts = match job.max_attempts {
            None => self.config.default_max_attempts,
            Some(0) => return Err(Error::invalid("max_attempts", "must be at least 1")),
            Some(n) => n.min(self.config.max_attempts_cap),
        };
        let run_at = job.run_at.unwrap_or(now);
        Ok(Prepared {
            id: JobId::generate().as_uuid(),
            status: if run_at > now {
                JobStatus::Scheduled
            } else {
                JobStatus::Queued
            },
            queue: job.queue,
            job_type: job.job_type,
            payload: job.payload,
            max_attempts: sql_count(max_attempts)?,
            run_at,
            dedup_key: job.dedup_key,
        })
    }
}

/// A queue or type name, refused with [`Error::InvalidInput`] naming `field` unless
/// [`crate::job::is_valid_name`].
pub(crate) fn check_name(field: &'static str, name: &str) -> Result<()> {
    if crate::job::is_valid_name(name) {
        Ok(())
    } else {
        Err(Error::invalid(field, "must match [A-Za-z0-9_.:-]{1,128}"))
    }
}

/// A validated job, ready to insert.
#[derive(Debug)]
struct Prepared {
    id: Uuid,
    queue: String,
    job_type: String,
    payload: serde_json::Value,
    status: JobStatus,
    max_attempts: i32,
    run_at: SystemTime,
    dedup_key: Option<String>,
}

/// One statement for the whole batch: rows are inserted in input order (so the first of two
/// equal dedup keys wins), conflicting dedup keys are skipped, and an `enqueued` audit row is
/// written for each inserted job.
async fn insert(
    tx: &deadpool_postgres::Transaction<'_>,
    batch: &[&Prepared],
    now: SystemTime,
) -> Result<HashMap<Uuid, Job>> {
    let ids: Vec<Uuid> = batch.iter().map(|p| p.id).collect();
    let queues: Vec<&str> = batch.iter().map(|p| p.queue.as_str()).collect();
    let types: Vec<&str> = batch.iter().map(|p| p.job_type.as_str()).collect();
    let payloads: Vec<&serde_json::Value> = batch.iter().map(|p| &p.payload).collect();
    let statuses: Vec<&str> = batch.iter().map(|p| p.status.as_str()).collect();
    let max_attempts: Vec<i32> = batch.iter().map(|p| p.max_attempts).collect();
    let run_ats: Vec<SystemTime> = batch.iter().map(|p| p.run_at).collect();
    let keys: Vec<Option<&str>> = batch.iter().map(|p| p.dedup_key.as_deref()).collect();
    let sql = format!(
        "WITH input AS (
             SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::jsonb[], $5::text[],
                                  $6::int4[], $7::timestamptz[], $8::text[])
                 WITH ORDINALITY AS t(id, queue, job_type, payload, status, max_attempts,
                                      run_at, dedup_key, ord)
         ), ins AS (
             INSERT INTO jobs (id, queue, job_type, payload, status, attempt, max_attempts,
                               run_at, dedup_key, created_at, updated_at)
             SELECT id, queue, job_type, payload, status, 0, max_attempts, run_at, dedup_key,
                    $9, $9
             FROM input ORDER BY ord
             ON CONFLICT (queue, dedup_key)
                 WHERE dedup_key IS NOT NULL AND status IN {UNFINISHED_SQL}
                 DO NOTHING
             RETURNING {JOB_COLUMNS}
         ), audit AS (
             INSERT INTO job_audit (job_id, at, event, attempt)
             SELECT id, created_at, 'enqueued', 0 FROM ins
         ), queues AS (
             INSERT INTO job_queues (queue) SELECT DISTINCT queue FROM ins
             ON CONFLICT (queue) DO NOTHING
         )
         SELECT {JOB_COLUMNS} FROM ins"
    );
    let statement = tx.prepare_cached(&sql).await?;
    let rows = tx
        .query(
            &statement,
            &[
                &ids,
                &queues,
                &types,
                &payloads,
                &statuses,
                &max_attempts,
                &run_ats,
                &keys,
                &now,
            ],
        )
        .await?;
    rows.iter()
        .map(|row| job_from_row(row).map(|job| (job.id.as_uuid(), job)))
        .collect()
}

/// The unfinished jobs holding the dedup keys of the batch's jobs that were not inserted.
async fn existing_holders(
    tx: &deadpool_postgres::Transaction<'_>,
    batch: &[&Prepared],
    inserted: &HashMap<Uuid, Job>,
) -> Result<HashMap<(String, String), Job>> {
    let (queues, keys): (Vec<&str>, Vec<&str>) = batch
        .iter()
        .filter(|p| !inserted.contains_key(&p.id))
        .filter_map(|p| p.dedup_key.as_deref().map(|k| (p.queue.as_str(), k)))
        .unzip();
    if keys.is_empty() {
        return Ok(HashMap::new());
    }
    let sql = format!(
        "SELECT {JOB_COLUMNS} FROM jobs
         WHERE (queue, dedup_key) IN (SELECT * FROM unnest($1::text[], $2::text[]))
           AND status IN {UNFINISHED_SQL}"
    );
    let rows = tx.query(&sql, &[&queues, &keys]).await?;
    let mut out = HashMap::with_capacity(rows.len());
    for row in &rows {
        let job = job_from_row(row)?;
        if let Some(key) = job.dedup_key.clone() {
            out.insert((job.queue.clone(), key), job);
        }
    }
    Ok(out)
}

/// Clamps a page size to `1..=500`.
pub(crate) fn page_limit(limit: u32) -> i64 {
    i64::from(limit.clamp(1, 500))
}

/// Truncates an error message to [`MAX_ERROR_LEN`] bytes on a character boundary.
pub(crate) fn bounded_error(error: &str) -> &str {
    if error.len() <= MAX_ERROR_LEN {
        return error;
    }
    let mut end = MAX_ERROR_LEN;
    while !error.is_char_boundary(end) {
        end -= 1;
    }
    &error[..end]
}

// Shared by the transition modules.
impl JobStore {
    pub(crate) fn now(&self) -> SystemTime {
        self.clock.now()
    }

    pub(crate) fn retry_delay(&self, attempt: u32) -> std::time::Duration {
        self.config.retry.delay(attempt, self.jitter.as_ref())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked() {
        assert!(check_name("queue", "webhooks").is_ok());
        assert!(check_name("queue", "http.request:v1-a_b").is_ok());
        for bad in ["", "has space", "slash/", "ünïcode", &"x".repeat(129)] {
            assert!(check_name("queue", bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn long_errors_are_cut_on_a_char_boundary() {
        let short = "boom";
        assert_eq!(bounded_error(short), short);
        let long = "é".repeat(MAX_ERROR_LEN);
        let cut = bounded_error(&long);
        assert!(cut.len() <= MAX_ERROR_LEN && cut.len() >= MAX_ERROR_LEN - 1);
    }

    #[test]
    fn config_validation() {
        assert!(StoreConfig::default().validate().is_ok());
        let zero = StoreConfig {
            default_max_attempts: 0,
            ..StoreConfig::default()
        };
        assert!(zero.validate().is_err());
        let above = StoreConfig {
            default_max_attempts: 30,
            ..StoreConfig::default()
        };
        assert!(above.validate().is_err());
    }
}
