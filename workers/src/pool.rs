//! The worker pool: poll loops feeding up to `concurrency` job tasks, a reclaim loop, an
//! optional reconcile loop, and the graceful stop.
//!
//! # Tasks, and how each stops
//!
//! Every task runs inside a named tracing span (`worker.poll{queue}`, `worker.reclaim`,
//! `worker.reconcile`, `worker.job{job,type,attempt}`), and all stop from the one
//! [`CancellationToken`] given to [`WorkerPool::run`]:
//!
//! 1. **Stop fetching.** Poll and reclaim loops check the token between calls and exit. A
//!    poll is never dropped mid-flight (a delivery read and started but dropped would sit
//!    `running` until the visibility timeout and then cost an attempt); instead each blocks
//!    in Redis for at most `poll_block`, which bounds how long stopping takes.
//! 2. **Finish in flight.** Job tasks keep running until `shutdown_grace` after the signal.
//! 3. **Hand back the rest.** Past the deadline each remaining job task drops its handler
//!    future and releases its attempt ([`Dispatcher::release`]): `queued` again, the attempt
//!    not spent, no dead letter, published for another worker at once.
//!
//! # No heartbeats, bounded attempts instead
//!
//! The store's lease is the attempt's `started_at` plus the visibility timeout; there is no
//! renewal. Instead every attempt is cut off at `job_timeout`, and the configuration is
//! refused unless `job_timeout + LEASE_MARGIN <= visibility_timeout`, so a live worker always
//! records its outcome before anyone may reclaim the attempt. Why not heartbeats: a renewed
//! lease lets a hung handler hold its job forever (River #1258: jobs `running` for 91 days),
//! and liveness of the *process* is exactly what the lease already measures. Long work
//! belongs in several jobs (or workflow steps that checkpoint), not one long attempt.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use control_plane::{
    DispatchConfig, Dispatcher, JobStore, ReconcileConfig, Reconciler, RedisQueue,
};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument;

use crate::completer::{self, CompleterTask};
use crate::error::WorkerError;
use crate::handler::Registry;
use crate::job::{Exec, release, run_job};
use crate::slots::{Slot, Slots};

/// The least time between an attempt's timeout and its visibility timeout: PostgreSQL
/// latency for recording the outcome, clock skew between workers, scheduling pauses.
pub const LEASE_MARGIN: Duration = Duration::from_secs(1);

/// How a pool runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolConfig {
    /// Queues to consume (one poll loop each).
    pub queues: Vec<String>,
    /// Jobs run at once, across all queues.
    pub concurrency: usize,
    /// Tighter limits for some queues (jobs of that queue run at once in this process).
    pub queue_concurrency: BTreeMap<String, usize>,
    /// Consumer label; the worker id is `<label>-<uuidv7>`, unique per start.
    pub label: String,
    /// Longest one attempt may run before it fails with a timeout.
    pub job_timeout: Duration,
    /// How long in-flight jobs may finish after the stop signal before they are handed back.
    pub shutdown_grace: Duration,
    /// Longest a poll waits in Redis for work (also the bound on noticing a stop).
    pub poll_block: Duration,
    /// Pause between reclaim passes (taking over dead consumers' deliveries).
    pub reclaim_every: Duration,
    /// Pause between reconciler passes; `None` leaves reconciling to another process.
    pub reconcile_every: Option<Duration>,
    /// Visibility timeout, Redis idle threshold and batch size.
    pub dispatch: DispatchConfig,
}

impl Default for PoolConfig {
    fn default() -> Self {
        PoolConfig {
            queues: vec!["default".to_owned()],
            concurrency: 16,
            queue_concurrency: BTreeMap::new(),
            label: "worker".to_owned(),
            job_timeout: Duration::from_secs(30),
            shutdown_grace: Duration::from_secs(20),
            poll_block: Duration::from_secs(1),
            reclaim_every: Duration::from_secs(5),
            reconcile_every: Some(Duration::from_secs(30)),
            dispatch: DispatchConfig::default(),
        }
    }
}

impl PoolConfig {
    /// Checks the values (see the module docs for the lease rule).
    ///
    /// # Errors
    /// [`WorkerError::Config`] naming the bad setting.
    pub fn validate(&self) -> Result<(), WorkerError> {
        let bad = |m: &str| Err(WorkerError::Config(m.to_owned()));
        if self.queues.is_empty() {
            return bad("at least one queue is needed");
        }
        if self.concurrency == 0 {
            return bad("concurrency must be at least 1");
        }
        for (queue, limit) in &self.queue_concurrency {
            if *limit == 0 {
                return Err(WorkerError::Config(format!(
                    "queue_concurrency.{queue} must be at least 1"
                )));
            }
            if !self.queues.contains(queue) {
                return Err(WorkerError::Config(format!(
                    "queue_concurrency names `{queue}`, which this worker does not consume"
                )));
            }
        }
        if [
            self.job_timeout,
            self.poll_block,
            self.reclaim_every,
            self.reconcile_every.unwrap_or(Duration::MAX),
        ]
        .iter()
        .any(Duration::is_zero)
        {
            return bad(
                "job_timeout, poll_block, reclaim_every and reconcile_every must be positive",
            );
        }
        if self.job_timeout.saturating_add(LEASE_MARGIN) > self.dispatch.visibility_timeout {
            return Err(WorkerError::Config(format!(
                "job_timeout ({:?}) + {LEASE_MARGIN:?} must not exceed visibility_timeout ({:?}): \
                 a live attempt would be reclaimed and run twice",
                self.job_timeout, self.dispatch.visibility_timeout
            )));
        }
        self.dispatch.validate().map_err(WorkerError::from)
    }
}

/// What a pool did before it stopped.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StopReport {
    /// Attempts recorded as succeeded.
    pub succeeded: u64,
    /// Attempts recorded as failed (retried or dead-lettered).
    pub failed: u64,
    /// Attempts handed back unfinished at the shutdown deadline.
    pub released: u64,
    /// Attempts whose outcome could not be recorded (lease lost, or the store unreachable);
    /// the store reclaims those jobs after the visibility timeout.
    pub unrecorded: u64,
}

#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) succeeded: AtomicU64,
    pub(crate) failed: AtomicU64,
    pub(crate) released: AtomicU64,
    pub(crate) unrecorded: AtomicU64,
}

impl Counters {
    fn report(&self) -> StopReport {
        StopReport {
            succeeded: self.succeeded.load(Ordering::Relaxed),
            failed: self.failed.load(Ordering::Relaxed),
            released: self.released.load(Ordering::Relaxed),
            unrecorded: self.unrecorded.load(Ordering::Relaxed),
        }
    }
}

/// A set of workers on the given queues.
#[derive(Debug)]
pub struct WorkerPool {
    exec: Exec,
    completer: CompleterTask,
    reconciler: Option<Reconciler>,
    config: PoolConfig,
}

impl WorkerPool {
    /// A pool over `store` and `queue` running `registry`'s handlers.
    ///
    /// # Errors
    /// [`WorkerError::Config`] for an invalid configuration.
    pub fn new(
        store: JobStore,
        queue: RedisQueue,
        registry: Registry,
        config: PoolConfig,
    ) -> Result<Self, WorkerError> {
        config.validate()?;
        let dispatcher =
            Dispatcher::new(store.clone(), queue.clone(), &config.label, config.dispatch)?;
        let reconciler = match config.reconcile_every {
            Some(_) => Some(Reconciler::new(
                store,
                queue,
                ReconcileConfig {
                    visibility_timeout: config.dispatch.visibility_timeout,
                    ..ReconcileConfig::default()
                },
            )?),
            None => None,
        };
        let (completer, completer_task) = completer::channel(config.concurrency);
        Ok(WorkerPool {
            completer: completer_task,
            exec: Exec {
                completer,
                dispatcher,
                registry: Arc::new(registry),
                slots: Slots::new(config.concurrency, &config.queue_concurrency),
                job_timeout: config.job_timeout,
                abandon: CancellationToken::new(),
                counters: Arc::new(Counters::default()),
                jobs: TaskTracker::new(),
            },
            reconciler,
            config,
        })
    }

    /// This pool's worker id (as recorded in the store's audit trail).
    #[must_use]
    pub fn worker_id(&self) -> &str {
        self.exec.dispatcher.consumer()
    }

    /// Runs until `shutdown` fires, then stops gracefully (module docs) and reports.
    pub async fn run(self, shutdown: CancellationToken) -> StopReport {
        let exec = self.exec;
        let span = tracing::info_span!("worker.pool", worker = %exec.dispatcher.consumer());
        async move {
            // The loops watch `shutdown`; job tasks (each started with its slot) watch only
            // `abandon` (the deadline).
            let loops = TaskTracker::new();
            for queue in &self.config.queues {
                let span = tracing::info_span!("worker.poll", queue = %queue);
                loops.spawn(
                    poll_loop(
                        exec.clone(),
                        queue.clone(),
                        self.config.poll_block,
                        shutdown.clone(),
                    )
                    .instrument(span),
                );
            }
            let config = &self.config;
            let reclaim = reclaim_loop(
                exec.clone(),
                config.queues.clone(),
                config.reclaim_every,
                shutdown.clone(),
            );
            loops.spawn(reclaim.instrument(tracing::info_span!("worker.reclaim")));
            if let (Some(reconciler), Some(every)) = (self.reconciler, config.reconcile_every) {
                let stop = shutdown.clone();
                loops.spawn(
                    async move { reconciler.run(every, stop).await }
                        .instrument(tracing::info_span!("worker.reconcile")),
                );
            }
            loops.close();
            // Ends once every job task and this pool's `exec` are gone (their handles).
            let completer = tokio::spawn(
                self.completer
                    .run(exec.dispatcher.clone())
                    .instrument(tracing::info_span!("worker.completer")),
            );
            tracing::info!(
                queues = ?config.queues,
                concurrency = config.concurrency,
                "worker pool started"
            );

            shutdown.cancelled().await;
            let grace = config.shutdown_grace;
            let deadline = tokio::time::Instant::now() + grace;
            tracing::info!(?grace, "stopping: no new jobs; finishing in-flight ones");
            loops.wait().await;
            exec.jobs.close();
            if tokio::time::timeout_at(deadline, exec.jobs.wait())
                .await
                .is_err()
            {
                tracing::warn!(
                    unfinished = exec.jobs.len(),
                    "shutdown deadline passed: handing unfinished jobs back"
                );
                exec.abandon.cancel();
                exec.jobs.wait().await;
            }
            let report = exec.counters.report();
            drop(exec);
            if let Err(e) = completer.await {
                tracing::error!(error = %e, "completer task failed");
            }
            tracing::info!(?report, "worker pool stopped");
            report
        }
        .instrument(span)
        .await
    }
}

/// Waits for free slots, then reads at most that many deliveries and runs each.
async fn poll_loop(exec: Exec, queue: String, block: Duration, shutdown: CancellationToken) {
    let mut backoff = ErrorBackoff::default();
    // Visibility only: the first read registers the consumer anyway.
    if let Err(e) = exec.dispatcher.register(&queue).await {
        tracing::warn!(error = %e, "could not register in the consumer group");
    }
    while !shutdown.is_cancelled() {
        let first = tokio::select! {
            () = shutdown.cancelled() => break,
            permit = exec.slots.acquire(&queue) => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
        };
        let mut permits = vec![first];
        while let Some(permit) = exec.slots.try_acquire(&queue) {
            permits.push(permit);
        }
        match exec
            .dispatcher
            .poll_at_most(&queue, permits.len(), Some(block))
            .await
        {
            Ok(claims) => {
                backoff.reset();
                for (claimed, permit) in claims.into_iter().zip(permits) {
                    exec.spawn_job(claimed, permit);
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, retryable = e.retryable(), "poll failed");
                drop(permits);
                backoff.wait(&shutdown).await;
            }
        }
    }
    tracing::debug!("poll loop stopped");
}

/// Takes over deliveries of dead consumers; never-started ones are run here if a slot is
/// free and handed back otherwise, abandoned attempts are requeued for any poller. Each pass
/// also refreshes the queues' depth gauges.
async fn reclaim_loop(
    exec: Exec,
    queues: Vec<String>,
    every: Duration,
    shutdown: CancellationToken,
) {
    loop {
        for queue in &queues {
            match exec.dispatcher.reclaim(queue).await {
                Ok(report) => {
                    if !report.requeued.is_empty() || !report.dead_lettered.is_empty() {
                        tracing::info!(
                            queue,
                            requeued = report.requeued.len(),
                            dead_lettered = report.dead_lettered.len(),
                            "reclaimed abandoned attempts"
                        );
                    }
                    // Started here already: run now if a slot is free, else hand back at
                    // once (waiting for a slot would age the attempt towards its
                    // visibility timeout and cost it an attempt).
                    for claimed in report.redelivered {
                        match exec.slots.try_acquire(&claimed.job.queue) {
                            Some(slot) => exec.spawn_job(claimed, slot),
                            None => {
                                exec.jobs.spawn(release(exec.clone(), claimed));
                            }
                        }
                    }
                }
                Err(e) => tracing::warn!(queue, error = %e, "reclaim failed"),
            }
            if let Err(e) = exec.dispatcher.observe_depth(queue).await {
                tracing::debug!(queue, error = %e, "queue depth not read");
            }
            match exec.dispatcher.prune_consumers(queue).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(queue, pruned = n, "removed consumers of gone workers"),
                Err(e) => tracing::debug!(queue, error = %e, "consumers not pruned"),
            }
        }
        tokio::select! {
            () = shutdown.cancelled() => break,
            () = tokio::time::sleep(every) => {}
        }
    }
    tracing::debug!("reclaim loop stopped");
}

/// Exponential pause after failed polls (100 ms doubling to 5 s), so an outage of Redis or
/// PostgreSQL is not met with a busy loop.
#[derive(Debug, Default)]
struct ErrorBackoff(u32);

impl ErrorBackoff {
    fn reset(&mut self) {
        self.0 = 0;
    }

    async fn wait(&mut self, shutdown: &CancellationToken) {
        let pause = Duration::from_millis(100)
            .saturating_mul(1 << self.0.min(6))
            .min(Duration::from_secs(5));
        self.0 = self.0.saturating_add(1);
        tokio::select! {
            () = shutdown.cancelled() => {}
            () = tokio::time::sleep(pause) => {}
        }
    }
}

impl Exec {
    fn spawn_job(&self, claimed: control_plane::Claimed, slot: Slot) {
        let span = tracing::info_span!(
            "worker.job",
            job = %claimed.job.id,
            r#type = %claimed.job.job_type,
            attempt = claimed.job.attempt
        );
        self.jobs
            .spawn(run_job(self.clone(), claimed, slot).instrument(span));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_job_timeout_must_leave_a_margin_under_the_lease() {
        assert!(PoolConfig::default().validate().is_ok());
        let tight = PoolConfig {
            job_timeout: Duration::from_secs(45),
            ..PoolConfig::default()
        };
        let err = tight.validate().expect_err("no margin");
        assert!(err.to_string().contains("visibility_timeout"), "{err}");
        for bad in [
            PoolConfig {
                queues: vec![],
                ..PoolConfig::default()
            },
            PoolConfig {
                concurrency: 0,
                ..PoolConfig::default()
            },
            PoolConfig {
                poll_block: Duration::ZERO,
                ..PoolConfig::default()
            },
        ] {
            assert!(bad.validate().is_err(), "{bad:?}");
        }
    }
}
