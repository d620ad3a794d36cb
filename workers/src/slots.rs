//! Job slots: the pool's concurrency, and an optional tighter limit per queue.
//!
//! A job runs holding one slot of the pool and, if its queue has a limit, one of the
//! queue's. Why per queue: one slow or flooded queue (webhooks to a struggling endpoint)
//! must not take every slot from the others. The limit is per worker process; a deployment
//! limits a queue overall by its number of workers times this.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use tokio::sync::{AcquireError, OwnedSemaphorePermit, Semaphore};

/// The pool's slots.
#[derive(Debug, Clone)]
pub(crate) struct Slots {
    pool: Arc<Semaphore>,
    queues: Arc<HashMap<String, Arc<Semaphore>>>,
}

/// The right to run one job of one queue; released on drop.
#[derive(Debug)]
pub(crate) struct Slot {
    _pool: OwnedSemaphorePermit,
    _queue: Option<OwnedSemaphorePermit>,
}

impl Slots {
    pub(crate) fn new(concurrency: usize, per_queue: &BTreeMap<String, usize>) -> Self {
        Slots {
            pool: Arc::new(Semaphore::new(concurrency)),
            queues: Arc::new(
                per_queue
                    .iter()
                    .map(|(q, n)| (q.clone(), Arc::new(Semaphore::new(*n))))
                    .collect(),
            ),
        }
    }

    /// Waits for a slot of `queue` (its own limit first, so a queue at its limit does not
    /// sit on pool slots others could use).
    pub(crate) async fn acquire(&self, queue: &str) -> Result<Slot, AcquireError> {
        let queue_permit = match self.queues.get(queue) {
            Some(s) => Some(Arc::clone(s).acquire_owned().await?),
            None => None,
        };
        let pool = Arc::clone(&self.pool).acquire_owned().await?;
        Ok(Slot {
            _pool: pool,
            _queue: queue_permit,
        })
    }

    /// A slot of `queue` if one is free now.
    pub(crate) fn try_acquire(&self, queue: &str) -> Option<Slot> {
        let queue_permit = match self.queues.get(queue) {
            Some(s) => Some(Arc::clone(s).try_acquire_owned().ok()?),
            None => None,
        };
        let pool = Arc::clone(&self.pool).try_acquire_owned().ok()?;
        Some(Slot {
            _pool: pool,
            _queue: queue_permit,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_queue_limit_holds_below_the_pool_and_frees_on_drop() {
        let slots = Slots::new(3, &BTreeMap::from([("slow".to_owned(), 1)]));
        let first = slots.try_acquire("slow").expect("one slow slot");
        assert!(slots.try_acquire("slow").is_none(), "the queue's limit");
        let a = slots.try_acquire("fast").expect("other queues go on");
        let b = slots.try_acquire("fast").expect("up to the pool's limit");
        assert!(slots.try_acquire("fast").is_none(), "the pool's limit");
        drop(a);
        assert!(
            slots.try_acquire("slow").is_none(),
            "a free pool slot, but not the queue's"
        );
        drop(first);
        let again = slots.try_acquire("slow").expect("the queue's slot is back");
        drop(again);
        drop(b);
    }
}
