//! State shared by the shard's threads: the inbound ring, durability counters, the live
//! feed, and the wake-up protocol for the matching thread.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::thread::Thread;

use bytes::Bytes;
use crossbeam_queue::ArrayQueue;
use crossbeam_utils::CachePadded;
use tokio::sync::{OwnedSemaphorePermit, broadcast, mpsc};

use crate::protocol::Request;

/// A connection's outbound queue: encoded response frames.
pub(crate) type ConnTx = mpsc::UnboundedSender<Bytes>;

/// A request on its way to the matching thread.
#[derive(Debug)]
pub(crate) struct Inbound {
    pub(crate) conn: Arc<ConnTx>,
    pub(crate) request_id: u64,
    pub(crate) request: Request,
    /// Held until the response is handed to the connection: bounds in-flight requests.
    pub(crate) permit: Option<OwnedSemaphorePermit>,
}

/// Durable records, published to live feed subscribers after their `fdatasync`.
#[derive(Debug)]
pub(crate) struct LiveBatch {
    /// Whole journal frames.
    pub(crate) records: Bytes,
    /// Event sequence numbers the batch covers, inclusive (`first > last` when it has
    /// none).
    pub(crate) first_event_seq: u64,
    pub(crate) last_event_seq: u64,
}

/// Everything the threads share.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) ring: ArrayQueue<Inbound>,
    /// Set while the matching thread is (about to be) parked.
    sleeping: CachePadded<AtomicBool>,
    matcher: OnceLock<Thread>,
    /// Set while the journal thread holds a batch.
    pub(crate) journal_busy: CachePadded<AtomicBool>,
    /// Last durable command and event sequence numbers.
    pub(crate) durable_command_seq: CachePadded<AtomicU64>,
    pub(crate) durable_event_seq: CachePadded<AtomicU64>,
    /// The same durable command sequence, for threads that wait on it.
    durable_wait: (Mutex<u64>, Condvar),
    /// No new work: drain and stop.
    pub(crate) stopping: AtomicBool,
    /// The journal failed: nothing more is acknowledged.
    pub(crate) failed: AtomicBool,
    pub(crate) live: broadcast::Sender<Arc<LiveBatch>>,
}

impl Shared {
    pub(crate) fn new(ring_capacity: usize, command_seq: u64, event_seq: u64) -> Self {
        let (live, _) = broadcast::channel(1024);
        Self {
            ring: ArrayQueue::new(ring_capacity),
            sleeping: CachePadded::new(AtomicBool::new(false)),
            matcher: OnceLock::new(),
            journal_busy: CachePadded::new(AtomicBool::new(false)),
            durable_command_seq: CachePadded::new(AtomicU64::new(command_seq)),
            durable_event_seq: CachePadded::new(AtomicU64::new(event_seq)),
            durable_wait: (Mutex::new(command_seq), Condvar::new()),
            stopping: AtomicBool::new(false),
            failed: AtomicBool::new(false),
            live,
        }
    }

    /// Registers the calling thread as the matching thread.
    pub(crate) fn register_matcher(&self) {
        let _ = self.matcher.set(std::thread::current());
    }

    /// Wakes the matching thread if it is parked.
    #[inline]
    pub(crate) fn wake_matcher(&self) {
        if self.sleeping.load(Ordering::SeqCst)
            && let Some(t) = self.matcher.get()
        {
            t.unpark();
        }
    }

    /// Parks the matching thread unless `ready` says there is work, waking at the latest
    /// after `timeout`. Producers set their work visible before calling `wake_matcher`,
    /// and the flag is set before `ready` is checked, so no wake-up is lost.
    pub(crate) fn park_matcher(&self, ready: impl Fn() -> bool, timeout: std::time::Duration) {
        self.sleeping.store(true, Ordering::SeqCst);
        if !ready() {
            std::thread::park_timeout(timeout);
        }
        self.sleeping.store(false, Ordering::SeqCst);
    }

    /// Records that commands up to `command_seq` (events up to `event_seq`) are durable.
    pub(crate) fn set_durable(&self, command_seq: u64, event_seq: u64) {
        self.durable_event_seq.store(event_seq, Ordering::Release);
        self.durable_command_seq
            .store(command_seq, Ordering::Release);
        let (lock, cv) = &self.durable_wait;
        if let Ok(mut d) = lock.lock() {
            *d = command_seq;
            cv.notify_all();
        }
    }

    /// Blocks until command `command_seq` is durable; `false` if the journal failed or the
    /// shard stopped first.
    pub(crate) fn wait_durable(&self, command_seq: u64) -> bool {
        let (lock, cv) = &self.durable_wait;
        let Ok(mut d) = lock.lock() else {
            return false;
        };
        while *d < command_seq {
            if self.failed.load(Ordering::Acquire) {
                return false;
            }
            match cv.wait_timeout(d, std::time::Duration::from_millis(100)) {
                Ok((guard, _)) => d = guard,
                Err(_) => return false,
            }
        }
        true
    }

    /// Wakes threads waiting on durability (after a failure or at shutdown).
    pub(crate) fn notify_waiters(&self) {
        self.durable_wait.1.notify_all();
    }
}
