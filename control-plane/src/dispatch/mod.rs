//! The consumer side of the fast path: turning Redis deliveries into fenced job attempts,
//! recording their outcomes, and taking over a dead consumer's deliveries.
//!
//! The rule that makes at-least-once delivery safe: **a delivery is acknowledged only when
//! the store says it is finished with** — its attempt's outcome is recorded, or the message
//! is obsolete ([`Error::StaleDelivery`], the job is gone). A delivery whose attempt is
//! running elsewhere is left pending, so if that worker dies the entry is still there for
//! [`Dispatcher::reclaim`] to find.
//!
//! Whether an attempt is abandoned is judged by the *store's* clock (`started_at` older than
//! the visibility timeout), not by Redis's idle time: the store's clock is the injected one,
//! and the lease check there is what fences a slow-but-alive worker out anyway.

mod reclaim;

pub use reclaim::ReclaimReport;

use std::time::Duration;

use crate::error::{Error, Result};
use crate::job::{Job, JobId, JobStatus, Lease};
use crate::queue::{Delivery, Outcome, RedisQueue};
use crate::store::JobStore;

/// Timing of deliveries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DispatchConfig {
    /// How long an attempt may go without an outcome before it is presumed lost and
    /// reclaimed. **Must exceed the longest handler timeout plus a margin** (PostgreSQL
    /// latency, clock skew, pauses): otherwise a live but slow attempt is reclaimed and runs
    /// twice (Svix PR #2181 used handler timeout + 5 s as the floor). Default 45 s, for
    /// handlers bounded at 30 s.
    pub visibility_timeout: Duration,
    /// Redis-side idle time before `XAUTOCLAIM` takes a pending entry. Equal to the
    /// visibility timeout by default; lower only makes reclaim look at live entries sooner
    /// (the store still decides), which tests use because Redis's clock cannot be injected.
    pub claim_min_idle: Duration,
    /// Most deliveries read, claimed or promoted per call.
    pub batch: usize,
}

impl Default for DispatchConfig {
    fn default() -> Self {
        DispatchConfig {
            visibility_timeout: Duration::from_secs(45),
            claim_min_idle: Duration::from_secs(45),
            batch: 64,
        }
    }
}

impl DispatchConfig {
    /// Checks that timeouts and the batch are positive and that `claim_min_idle` does not
    /// exceed the visibility timeout (reclaim would then lag behind its own promise).
    ///
    /// # Errors
    /// [`Error::Config`] otherwise.
    pub fn validate(&self) -> Result<()> {
        if self.visibility_timeout.is_zero() || self.batch == 0 {
            return Err(Error::Config(
                "visibility_timeout and batch must be positive".into(),
            ));
        }
        if self.claim_min_idle > self.visibility_timeout {
            return Err(Error::Config(
                "claim_min_idle must not exceed visibility_timeout".into(),
            ));
        }
        Ok(())
    }
}

/// A started attempt: run the job, then report with [`Dispatcher::succeed`] or
/// [`Dispatcher::fail`].
#[derive(Debug, Clone, PartialEq)]
pub struct Claimed {
    /// The job, as started (status `running`).
    pub job: Job,
    /// The right to record this attempt's outcome.
    pub lease: Lease,
    /// The Redis delivery, acknowledged once the outcome is recorded.
    pub delivery: Delivery,
}

/// What starting a delivery came to.
#[derive(Debug)]
pub(crate) enum Start {
    /// Ours to run.
    Started(Box<Claimed>),
    /// Obsolete, acknowledged.
    Obsolete,
    /// Its attempt is running under another consumer: left pending.
    InFlight,
    /// Not started for another reason: left pending.
    Failed(Error),
}

/// One consumer of the Redis queues, writing outcomes to the store.
#[derive(Debug, Clone)]
pub struct Dispatcher {
    store: JobStore,
    queue: RedisQueue,
    consumer: String,
    config: DispatchConfig,
}

impl Dispatcher {
    /// A consumer named `<label>-<uuidv7>`: unique per process start, so a restarted
    /// process never inherits (and never blocks the recovery of) its predecessor's pending
    /// entries (apalis #504). The name is also the worker id in the store.
    ///
    /// # Errors
    /// [`Error::Config`] for an invalid configuration or a label that is not 1..=200 bytes.
    pub fn new(
        store: JobStore,
        queue: RedisQueue,
        label: &str,
        config: DispatchConfig,
    ) -> Result<Self> {
        config.validate()?;
        if label.is_empty() || label.len() > 200 {
            return Err(Error::Config("consumer label must be 1..=200 bytes".into()));
        }
        let consumer = format!("{label}-{}", uuid::Uuid::now_v7().simple());
        Ok(Dispatcher {
            store,
            queue,
            consumer,
            config,
        })
    }

    /// This consumer's name (and worker id).
    #[must_use]
    pub fn consumer(&self) -> &str {
        &self.consumer
    }

    /// Makes this consumer known in `queue`'s group (so operators and
    /// [`RedisQueue::consumers`] see an idle worker too).
    ///
    /// # Errors
    /// [`Error::Redis`] / [`Error::RedisPool`].
    pub async fn register(&self, queue: &str) -> Result<()> {
        self.queue.register_consumer(queue, &self.consumer).await
    }

    /// Promotes `queue`'s due delayed messages, reads new deliveries (waiting up to `block`
    /// for one), and starts their attempts.
    ///
    /// # Errors
    /// [`Error::Redis`] / [`Error::RedisPool`] / [`Error::Pool`] / [`Error::Db`]. Deliveries
    /// read but not started stay pending and are reclaimed later.
    pub async fn poll(&self, queue: &str, block: Option<Duration>) -> Result<Vec<Claimed>> {
        self.poll_at_most(queue, self.config.batch, block).await
    }

    /// [`Dispatcher::poll`], reading at most `max` deliveries (and never more than the
    /// configured batch). A worker pool asks for exactly as many as it has free slots:
    /// every delivery read is started in the store at once, and an attempt started
    /// without a slot to run in would only age towards its visibility timeout.
    ///
    /// # Errors
    /// As [`Dispatcher::poll`].
    pub async fn poll_at_most(
        &self,
        queue: &str,
        max: usize,
        block: Option<Duration>,
    ) -> Result<Vec<Claimed>> {
        let count = max.clamp(1, self.config.batch);
        self.queue.promote(queue, self.config.batch).await?;
        let deliveries = self.queue.read(queue, &self.consumer, count, block).await?;
        self.start_many(deliveries).await
    }

    /// Records success and acknowledges the delivery.
    ///
    /// # Errors
    /// [`Error::LeaseLost`] if the attempt was reclaimed meanwhile (the delivery is
    /// acknowledged: a newer attempt owns the job); otherwise as
    /// [`JobStore::mark_succeeded`], leaving the delivery pending on a retryable error.
    pub async fn succeed(&self, claimed: &Claimed) -> Result<Job> {
        self.succeed_many(std::slice::from_ref(claimed))
            .await?
            .pop()
            .unwrap_or(Err(Error::NotFound(claimed.job.id)))
    }

    /// [`Dispatcher::succeed`] for many attempts: one statement records them all
    /// ([`JobStore::succeed_batch`]), one script call per queue acknowledges them. Answers
    /// in input order.
    ///
    /// # Errors
    /// [`Error::Pool`] / [`Error::Db`] when nothing could be recorded (every delivery stays
    /// pending). A failed acknowledgement after recording is only logged: the entries stay
    /// pending, and reclaiming them later finds them obsolete and acknowledges them.
    pub async fn succeed_many(&self, claims: &[Claimed]) -> Result<Vec<Result<Job>>> {
        let leases: Vec<&Lease> = claims.iter().map(|c| &c.lease).collect();
        let outcomes = self.store.succeed_batch(&leases).await?;
        // Recorded ones count in the queue's rates; refused ones (the attempt is no longer
        // ours) are only acknowledged.
        let (mut recorded, mut refused) = (Vec::new(), Vec::new());
        for (claimed, outcome) in claims.iter().zip(&outcomes) {
            match outcome {
                Ok(job) => {
                    self.store.metrics().succeeded(job);
                    recorded.push(claimed.delivery.clone());
                }
                Err(Error::LeaseLost { .. } | Error::InvalidTransition { .. }) => {
                    refused.push(claimed.delivery.clone());
                }
                Err(_) => {}
            }
        }
        for (deliveries, counted) in [(recorded, Some(Outcome::Succeeded)), (refused, None)] {
            if deliveries.is_empty() {
                continue;
            }
            if let Err(e) = self.queue.ack_many(&deliveries, counted).await {
                tracing::warn!(error = %e, entries = deliveries.len(), "outcomes recorded but not acknowledged; reclaim will");
            }
        }
        Ok(outcomes)
    }

    /// Records failure; a retry is published into the delayed set before the delivery is
    /// acknowledged (if publishing fails, the reconciler publishes it later).
    ///
    /// # Errors
    /// As [`Dispatcher::succeed`].
    pub async fn fail(&self, claimed: &Claimed, error: &str) -> Result<Job> {
        let outcome = self.store.mark_failed(&claimed.lease, error).await;
        self.after_failure(claimed, outcome).await
    }

    /// Records a failure that retrying cannot cure: the job is dead-lettered at once
    /// ([`JobStore::mark_failed_permanently`]) and the delivery acknowledged.
    ///
    /// # Errors
    /// As [`Dispatcher::succeed`].
    pub async fn give_up(&self, claimed: &Claimed, error: &str) -> Result<Job> {
        let outcome = self
            .store
            .mark_failed_permanently(&claimed.lease, error)
            .await;
        self.after_failure(claimed, outcome).await
    }

    async fn after_failure(&self, claimed: &Claimed, outcome: Result<Job>) -> Result<Job> {
        if let Ok(job) = &outcome {
            self.store.metrics().failed(job);
        }
        if let Ok(job) = &outcome
            && job.status == JobStatus::Scheduled
            && let Err(e) = self.queue.publish(std::slice::from_ref(job)).await
        {
            tracing::warn!(job = %job.id, error = %e, "retry not published; the reconciler will");
        }
        self.settle(claimed, outcome).await
    }

    /// Hands an unfinished attempt back ([`JobStore::release`]: `queued` again, attempt
    /// not spent), acknowledges its delivery and publishes the job again, so any consumer
    /// takes it at once instead of after the visibility timeout.
    ///
    /// The order matters: the queue's index still holds the job at the very attempt the
    /// new message carries, so publishing first would be skipped as a duplicate; the
    /// acknowledgement clears that entry. Should publishing fail after it, the job is
    /// `queued` in the store and absent from Redis, which is exactly what the
    /// [`Reconciler`](crate::Reconciler) re-drives.
    ///
    /// # Errors
    /// [`Error::LeaseLost`] / [`Error::InvalidTransition`] if the attempt is no longer ours
    /// to hand back (the delivery is acknowledged); otherwise as [`JobStore::release`],
    /// leaving the delivery pending (it is reclaimed after the visibility timeout).
    pub async fn release(&self, claimed: &Claimed) -> Result<Job> {
        let outcome = self.store.release(&claimed.lease).await;
        let job = self.settle(claimed, outcome).await?;
        if let Err(e) = self.queue.publish(std::slice::from_ref(&job)).await {
            tracing::warn!(
                job = %job.id,
                error = %e,
                "released job not published; the reconciler will"
            );
        }
        Ok(job)
    }

    /// Reads `queue`'s depth in Redis into the `jobs_queue_depth` gauges and returns it.
    ///
    /// # Errors
    /// [`Error::Redis`] / [`Error::RedisPool`].
    pub async fn observe_depth(&self, queue: &str) -> Result<crate::QueueDepth> {
        let depth = self.queue.depth(queue).await?;
        self.store.metrics().set_depth(queue, depth);
        Ok(depth)
    }

    /// Starts the deliveries' attempts in one statement; acknowledges the obsolete ones.
    /// Deliveries whose attempt runs elsewhere, or that hit an unexpected error, stay
    /// pending for reclaim.
    async fn start_many(&self, deliveries: Vec<Delivery>) -> Result<Vec<Claimed>> {
        let mut started = Vec::with_capacity(deliveries.len());
        for (delivery, start) in self.start_each(deliveries).await? {
            match start {
                Start::Started(claimed) => started.push(*claimed),
                Start::Obsolete | Start::InFlight => {}
                Start::Failed(e) => {
                    tracing::warn!(entry = %delivery.entry_id, error = %e, "could not start a delivery; it will be reclaimed");
                }
            }
        }
        Ok(started)
    }

    /// Starts each delivery's attempt and acknowledges the obsolete ones.
    pub(crate) async fn start_each(
        &self,
        deliveries: Vec<Delivery>,
    ) -> Result<Vec<(Delivery, Start)>> {
        if deliveries.is_empty() {
            return Ok(Vec::new());
        }
        let items: Vec<(JobId, u32)> = deliveries
            .iter()
            .map(|d| (d.message.job_id, d.message.attempt))
            .collect();
        let results = self.start_deliveries(&items).await?;
        let mut obsolete = Vec::new();
        let mut parked = Vec::new();
        let out: Vec<(Delivery, Start)> = deliveries
            .into_iter()
            .zip(results)
            .map(|(delivery, result)| {
                let start = match result {
                    Ok((job, lease)) => {
                        self.store.metrics().started(&job);
                        Start::Started(Box::new(Claimed {
                            job,
                            lease,
                            delivery: delivery.clone(),
                        }))
                    }
                    Err(Error::NotFound(_) | Error::StaleDelivery { .. }) => {
                        obsolete.push(delivery.clone());
                        Start::Obsolete
                    }
                    // A paused type's job is parked: acknowledged here, left `queued` in the
                    // store, skipped by the reconciler, published again on resume.
                    Err(Error::Paused { id, .. }) => {
                        parked.push(id);
                        obsolete.push(delivery.clone());
                        Start::Obsolete
                    }
                    // Refused with this only when the delivery's own attempt runs.
                    Err(Error::InvalidTransition { .. }) => Start::InFlight,
                    Err(e) => Start::Failed(e),
                };
                (delivery, start)
            })
            .collect();
        // The starts are committed: a failed acknowledgement must not lose them. The
        // entries stay pending, and reclaim finds them obsolete later.
        if let Err(e) = self.queue.ack_many(&obsolete, None).await {
            tracing::warn!(error = %e, entries = obsolete.len(), "obsolete deliveries not acknowledged; reclaim will");
        } else {
            self.unpark_resumed(&parked).await;
        }
        Ok(out)
    }

    /// Publishes again the just-parked jobs whose type was resumed meanwhile. Resume
    /// deletes the pause, then publishes; parking acknowledges, then checks here: so a job
    /// that resume's publish skipped (its message was not yet acknowledged) is published
    /// by this check, and one parked after the check is published by resume. A failure is
    /// logged: the reconciler publishes unpaused waiting jobs on its next pass.
    async fn unpark_resumed(&self, parked: &[JobId]) {
        if parked.is_empty() {
            return;
        }
        let republished = async {
            let jobs = self.store.unpaused_waiting(parked).await?;
            self.queue.publish(&jobs).await
        };
        match republished.await {
            Ok(0) => {}
            Ok(n) => tracing::info!(
                jobs = n,
                "published jobs whose type resumed while they were parked"
            ),
            Err(e) => tracing::warn!(error = %e, "parked jobs not re-checked; the reconciler will"),
        }
    }

    /// [`JobStore::start_deliveries`], repeated after a retryable failure (a connection cut
    /// by a PostgreSQL restart, failover or `pg_terminate_backend`). The deliveries are read
    /// already: given up on, they would stay pending until reclaim takes them after
    /// `claim_min_idle`. Repeating is safe: a failed statement changed nothing, and one that
    /// did commit unseen is refused by the attempt fence (in flight) rather than run twice.
    async fn start_deliveries(&self, items: &[(JobId, u32)]) -> Result<Vec<Result<(Job, Lease)>>> {
        const TRIES: u32 = 3;
        let mut try_no = 1;
        loop {
            match self.store.start_deliveries(&self.consumer, items).await {
                Err(e) if e.retryable() && try_no < TRIES => {
                    tracing::warn!(error = %e, try_no, "cannot start deliveries yet; retrying");
                    tokio::time::sleep(Duration::from_millis(50) * 2_u32.pow(try_no - 1)).await;
                    try_no += 1;
                }
                outcome => return outcome,
            }
        }
    }

    /// Acknowledges after a recorded outcome, or after learning the attempt is not ours to
    /// record any more; leaves the delivery pending on any other error.
    async fn settle(&self, claimed: &Claimed, outcome: Result<Job>) -> Result<Job> {
        match outcome {
            Ok(job) => {
                // Released attempts (back to `queued`) did not end; failures did.
                let counted = (job.status != JobStatus::Queued).then_some(Outcome::Failed);
                self.queue
                    .ack_many(std::slice::from_ref(&claimed.delivery), counted)
                    .await?;
                Ok(job)
            }
            Err(e @ (Error::LeaseLost { .. } | Error::InvalidTransition { .. })) => {
                self.queue.ack(&claimed.delivery).await?;
                Err(e)
            }
            Err(e) => Err(e),
        }
    }
}
