//! One job task: run the attempt, record its outcome, or hand it back at the deadline.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use control_plane::{Claimed, Dispatcher, Error as StoreError, Job};
use futures_util::FutureExt;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::completer::Completer;
use crate::handler::{HandlerError, JobContext, Registry};
use crate::pool::Counters;
use crate::slots::{Slot, Slots};

/// What every job task shares. Cheap to clone.
#[derive(Debug, Clone)]
pub(crate) struct Exec {
    pub(crate) dispatcher: Dispatcher,
    pub(crate) registry: Arc<Registry>,
    pub(crate) slots: Slots,
    pub(crate) job_timeout: Duration,
    /// Fires at the shutdown deadline: running attempts are dropped and handed back.
    pub(crate) abandon: CancellationToken,
    pub(crate) counters: Arc<Counters>,
    pub(crate) jobs: TaskTracker,
    /// Records successes in batches.
    pub(crate) completer: Completer,
}

/// How an attempt ended, before it is recorded.
enum Outcome {
    Succeeded,
    Failed(HandlerError),
    Abandoned,
}

/// Runs `claimed` in its slot and records the outcome.
pub(crate) async fn run_job(exec: Exec, claimed: Claimed, slot: Slot) {
    let _slot = slot;
    let job = &claimed.job;
    let ctx = JobContext {
        job_id: job.id,
        job_type: job.job_type.clone(),
        queue: job.queue.clone(),
        attempt: job.attempt,
        max_attempts: job.max_attempts,
        worker_id: claimed.lease.worker_id.clone(),
        cancel: exec.abandon.child_token(),
    };
    // A panic is caught and recorded as a failure: unrecorded, it would cost the whole
    // visibility timeout and then an attempt anyway.
    let attempt = AssertUnwindSafe(exec.registry.attempt(&ctx, job.payload.clone())).catch_unwind();
    let outcome = tokio::select! {
        // At the deadline, handing back wins over a result that is not there yet.
        biased;
        () = exec.abandon.cancelled() => Outcome::Abandoned,
        result = tokio::time::timeout(exec.job_timeout, attempt) => match result {
            Ok(Ok(Ok(()))) => Outcome::Succeeded,
            Ok(Ok(Err(e))) => Outcome::Failed(e),
            Ok(Err(panic)) => Outcome::Failed(HandlerError::Panicked(panic_text(&*panic))),
            Err(_) => Outcome::Failed(HandlerError::TimedOut(exec.job_timeout)),
        },
    };
    match outcome {
        Outcome::Succeeded => {
            let recorded = exec.completer.succeed(claimed).await;
            count(&exec, recorded, &exec.counters.succeeded);
        }
        Outcome::Failed(e) => {
            let error = e.chain();
            tracing::warn!(error = %error, "attempt failed");
            let recorded = if e.is_permanent() {
                record("give up", || exec.dispatcher.give_up(&claimed, &error)).await
            } else {
                record("fail", || exec.dispatcher.fail(&claimed, &error)).await
            };
            count(&exec, recorded, &exec.counters.failed);
        }
        Outcome::Abandoned => hand_back(&exec, &claimed).await,
    }
}

/// Hands back an attempt this worker started but has no slot for (a redelivery taken
/// over from a dead consumer): run elsewhere at once rather than left to age towards its
/// visibility timeout here.
pub(crate) async fn release(exec: Exec, claimed: Claimed) {
    hand_back(&exec, &claimed).await;
}

/// Releases the attempt: `queued` again, attempt not spent, published for another worker.
async fn hand_back(exec: &Exec, claimed: &Claimed) {
    let recorded = record("release", || exec.dispatcher.release(claimed)).await;
    if recorded.is_some() {
        tracing::info!("unfinished job handed back");
    }
    count(exec, recorded, &exec.counters.released);
}

fn count(exec: &Exec, recorded: Option<Job>, counter: &AtomicU64) {
    let counter = if recorded.is_some() {
        counter
    } else {
        &exec.counters.unrecorded
    };
    counter.fetch_add(1, Ordering::Relaxed);
}

/// Records an outcome, retrying a few times while the error is retryable (a PostgreSQL or
/// Redis blip). Gives up with a warning otherwise: the attempt stays `running` and is
/// reclaimed after the visibility timeout, so giving up loses nothing but time.
async fn record<F, Fut>(what: &'static str, mut call: F) -> Option<Job>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Job, StoreError>>,
{
    const TRIES: u32 = 4;
    for try_no in 1..=TRIES {
        match call().await {
            Ok(job) => return Some(job),
            Err(e) if e.retryable() && try_no < TRIES => {
                tracing::warn!(error = %e, try_no, "cannot {what} yet; retrying");
                tokio::time::sleep(Duration::from_millis(100) * 2u32.pow(try_no - 1)).await;
            }
            Err(e @ (StoreError::LeaseLost { .. } | StoreError::InvalidTransition { .. })) => {
                tracing::warn!(error = %e, "attempt no longer ours; outcome discarded");
                return None;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot {what}; the job will be reclaimed");
                return None;
            }
        }
    }
    None
}

fn panic_text(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "non-string panic payload".to_owned())
}
