//! The reconciler: re-drives from PostgreSQL whatever Redis lost.
//!
//! Redis can lose messages (a restart without persistence, a flush, a failover that drops
//! the last writes) and the publish after an enqueue can fail or never happen (the process
//! died between commit and publish). The store still knows every unfinished job, so one
//! pass repairs everything:
//!
//! 1. **Abandoned attempts.** Running jobs whose attempt started longer ago than the
//!    visibility timeout (by the injected clock) had their worker die; if Redis also lost
//!    the delivery, nobody would ever reclaim them. They go back to `queued` (or dead after
//!    their last attempt) and are published again.
//! 2. **Waiting jobs.** Every `queued`/`scheduled` job is published; the publish script
//!    skips jobs whose attempt the queue's index already holds, so only what is missing is
//!    added (due ones to the stream, later ones to the delayed set).
//!
//! Duplicates are harmless: a message starts a job only through the attempt fence of
//! [`JobStore::start_delivery`], so of two messages for one attempt exactly one runs it.

use std::time::{Duration, SystemTime};

use tokio_util::sync::CancellationToken;

use crate::error::{Error, Result};
use crate::job::{JobId, JobStatus};
use crate::queue::RedisQueue;
use crate::store::JobStore;

/// How the reconciler scans.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReconcileConfig {
    /// Attempts older than this are presumed lost; the same value as the dispatchers'
    /// `visibility_timeout` (> handler timeout + margin).
    pub visibility_timeout: Duration,
    /// Jobs per PostgreSQL page and per publish call.
    pub batch: u32,
}

impl Default for ReconcileConfig {
    fn default() -> Self {
        ReconcileConfig {
            visibility_timeout: Duration::from_secs(45),
            batch: 500,
        }
    }
}

/// What one pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReconcileReport {
    /// Waiting jobs looked at.
    pub scanned: usize,
    /// Messages published because Redis did not hold them.
    pub republished: usize,
    /// Abandoned attempts moved back to `queued`.
    pub reclaimed: usize,
    /// Abandoned last attempts dead-lettered.
    pub dead_lettered: usize,
}

/// Re-drives the store's unfinished jobs into Redis.
#[derive(Debug, Clone)]
pub struct Reconciler {
    store: JobStore,
    queue: RedisQueue,
    config: ReconcileConfig,
}

impl Reconciler {
    /// A reconciler over `store` and `queue`.
    ///
    /// # Errors
    /// [`Error::Config`] for a zero timeout or batch.
    pub fn new(store: JobStore, queue: RedisQueue, config: ReconcileConfig) -> Result<Self> {
        if config.visibility_timeout.is_zero() || config.batch == 0 {
            return Err(Error::Config(
                "reconciler visibility_timeout and batch must be positive".into(),
            ));
        }
        Ok(Reconciler {
            store,
            queue,
            config,
        })
    }

    /// One full pass (see the module docs).
    ///
    /// # Errors
    /// [`Error::Pool`] / [`Error::Db`] / [`Error::Redis`] / [`Error::RedisPool`]; a pass cut
    /// short is simply repeated by the next one.
    pub async fn run_once(&self) -> Result<ReconcileReport> {
        let mut report = ReconcileReport::default();
        self.reclaim_abandoned(&mut report).await?;
        let mut after: Option<(SystemTime, JobId)> = None;
        loop {
            let page = self.store.pending_page(after, self.config.batch).await?;
            let Some(last) = page.last() else { break };
            after = Some((last.run_at, last.id));
            report.scanned += page.len();
            report.republished += self.queue.publish(&page).await?;
            if page.len() < usize::try_from(self.config.batch).unwrap_or(usize::MAX) {
                break;
            }
        }
        if report.republished > 0 || report.reclaimed > 0 {
            tracing::info!(?report, "reconciler re-drove jobs Redis did not hold");
        }
        Ok(report)
    }

    /// Runs a pass every `every` until `cancel` fires. A failed pass is logged and retried
    /// on the next tick: the reconciler is the safety net, so it must outlive outages of
    /// either store.
    pub async fn run(&self, every: Duration, cancel: CancellationToken) {
        loop {
            if let Err(e) = self.run_once().await {
                tracing::warn!(error = %e, retryable = e.retryable(), "reconciler pass failed");
            }
            tokio::select! {
                () = cancel.cancelled() => break,
                () = tokio::time::sleep(every) => {}
            }
        }
        tracing::info!("reconciler stopped");
    }

    async fn reclaim_abandoned(&self, report: &mut ReconcileReport) -> Result<()> {
        // Each reclaimed job leaves the stale set, so re-reading the first page progresses;
        // a page that changes nothing (raced by a dispatcher) ends the step.
        loop {
            let stale = self
                .store
                .stale_running(self.config.visibility_timeout, self.config.batch)
                .await?;
            let mut progressed = false;
            for job in &stale {
                let reclaimed = self
                    .store
                    .reclaim_stale(job.id, job.attempt, self.config.visibility_timeout)
                    .await?;
                match reclaimed {
                    Some(job) if job.status == JobStatus::Dead => {
                        self.store.metrics().dead_lettered(&job);
                        report.dead_lettered += 1;
                    }
                    Some(job) => {
                        report.reclaimed += 1;
                        report.republished +=
                            self.queue.publish(std::slice::from_ref(&job)).await?;
                    }
                    None => continue,
                }
                progressed = true;
            }
            if !progressed || stale.len() < usize::try_from(self.config.batch).unwrap_or(0) {
                return Ok(());
            }
        }
    }
}

/// Publishes every waiting job of `job_type` that Redis does not hold: what resuming a
/// paused type does, so its parked jobs run at once instead of at the next reconciler
/// pass. Returns how many messages were published.
///
/// # Errors
/// [`Error::Pool`] / [`Error::Db`] / [`Error::Redis`] / [`Error::RedisPool`]; whatever a
/// failed call did not publish, the reconciler's next pass does.
pub async fn redrive_type(store: &JobStore, queue: &RedisQueue, job_type: &str) -> Result<usize> {
    const PAGE: u32 = 500;
    let mut after: Option<(SystemTime, JobId)> = None;
    let mut published = 0;
    loop {
        let page = store.pending_page_of_type(job_type, after, PAGE).await?;
        let Some(last) = page.last() else { break };
        after = Some((last.run_at, last.id));
        published += queue.publish(&page).await?;
        if page.len() < PAGE as usize {
            break;
        }
    }
    Ok(published)
}
