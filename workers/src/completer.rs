//! Recording successes in batches: job tasks hand their finished attempts to one
//! completer task, which records whatever has gathered in one statement
//! ([`Dispatcher::succeed_many`]) and acknowledges the deliveries in one script call.
//!
//! Why a task of its own: a noop job costs microseconds, its bookkeeping a committed
//! PostgreSQL transaction. Recorded one by one, the commits are the throughput limit;
//! gathered while the previous batch is being written, many successes share one commit,
//! and batches grow by themselves exactly when load is high (no timer, no added latency
//! when idle). Failures stay on the single-job path: they are rare and each has its own
//! retry time to compute.
//!
//! A job task waits for its answer before freeing its slot, so the pool's concurrency
//! still bounds the work in flight, and a graceful stop waits for the recording too.

use std::time::Duration;

use control_plane::{Claimed, Dispatcher, Error as StoreError, Job};
use tokio::sync::{mpsc, oneshot};

/// Most successes recorded in one statement.
const MAX_BATCH: usize = 256;
/// Tries for a batch whose statement fails with a retryable error.
const TRIES: u32 = 4;

/// One finished attempt waiting to be recorded.
struct Completion {
    claimed: Claimed,
    reply: oneshot::Sender<Option<Job>>,
}

/// The job tasks' handle on the completer.
#[derive(Debug, Clone)]
pub(crate) struct Completer {
    tx: mpsc::Sender<Completion>,
}

/// The completer task's end, run by the pool.
#[derive(Debug)]
pub(crate) struct CompleterTask {
    rx: mpsc::Receiver<Completion>,
}

impl std::fmt::Debug for Completion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Completion")
            .field("job", &self.claimed.job.id)
            .finish_non_exhaustive()
    }
}

/// A completer handle and its task; `capacity` bounds the successes waiting (the pool's
/// concurrency, since each waiting job task holds a slot).
pub(crate) fn channel(capacity: usize) -> (Completer, CompleterTask) {
    let (tx, rx) = mpsc::channel(capacity.max(1));
    (Completer { tx }, CompleterTask { rx })
}

impl Completer {
    /// Records the attempt's success; `None` if it could not be recorded (the attempt is
    /// then reclaimed after the visibility timeout, or was no longer ours).
    pub(crate) async fn succeed(&self, claimed: Claimed) -> Option<Job> {
        let (reply, answer) = oneshot::channel();
        self.tx.send(Completion { claimed, reply }).await.ok()?;
        answer.await.ok().flatten()
    }
}

impl CompleterTask {
    /// Records batches until every [`Completer`] handle is gone.
    pub(crate) async fn run(mut self, dispatcher: Dispatcher) {
        let mut batch = Vec::with_capacity(MAX_BATCH);
        while let Some(first) = self.rx.recv().await {
            batch.push(first);
            while batch.len() < MAX_BATCH {
                match self.rx.try_recv() {
                    Ok(more) => batch.push(more),
                    Err(_) => break,
                }
            }
            record(&dispatcher, std::mem::take(&mut batch)).await;
        }
        tracing::debug!("completer stopped");
    }
}

/// Records one batch, retrying the statement while its error is retryable; answers every
/// job task.
async fn record(dispatcher: &Dispatcher, batch: Vec<Completion>) {
    // Taken apart, not cloned: a claim carries the job's payload.
    let (claims, replies): (Vec<Claimed>, Vec<_>) =
        batch.into_iter().map(|c| (c.claimed, c.reply)).unzip();
    let mut outcomes = None;
    for try_no in 1..=TRIES {
        match dispatcher.succeed_many(&claims).await {
            Ok(o) => {
                outcomes = Some(o);
                break;
            }
            Err(e) if e.retryable() && try_no < TRIES => {
                tracing::warn!(error = %e, try_no, jobs = claims.len(), "cannot record successes yet; retrying");
                tokio::time::sleep(Duration::from_millis(100) * 2u32.pow(try_no - 1)).await;
            }
            Err(e) => {
                tracing::error!(error = %e, jobs = claims.len(), "cannot record successes; the jobs will be reclaimed");
                break;
            }
        }
    }
    let mut outcomes = outcomes.map(Vec::into_iter);
    for (claimed, reply) in claims.iter().zip(replies) {
        let answer = match outcomes.as_mut().and_then(Iterator::next) {
            Some(Ok(job)) => Some(job),
            Some(Err(
                e @ (StoreError::LeaseLost { .. } | StoreError::InvalidTransition { .. }),
            )) => {
                tracing::warn!(job = %claimed.job.id, error = %e, "attempt no longer ours; outcome discarded");
                None
            }
            Some(Err(e)) => {
                tracing::error!(job = %claimed.job.id, error = %e, "cannot record success");
                None
            }
            None => None,
        };
        let _ = reply.send(answer);
    }
}
