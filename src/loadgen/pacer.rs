//! Open-loop pacing: request slots released at a constant rate, claimed by idle connections.
//!
//! Slot `k` is *intended* to be sent at `start + k / rate`. A pacer thread releases slots as
//! their time comes; any idle connection claims the next one. When every connection is busy
//! the released slots wait, and their latency keeps counting from the intended time: this
//! is what avoids coordinated omission (a slow server must not slow the generator down and
//! so hide its own slowness).
//!
//! Why a dedicated OS thread instead of `tokio::time::sleep_until`: Tokio's timer wheel
//! has millisecond resolution, so every request would leave up to a millisecond late and
//! that delay would count as server latency: against a 1 ms p99 target the measurement
//! would be mostly the generator. `std::thread::sleep` (nanosleep) is accurate to tens of
//! microseconds, and the release itself is two atomics and a [`Notify`] permit.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

/// The shared slot counter between the pacer and the connections.
#[derive(Debug)]
pub(crate) struct Slots {
    start: Instant,
    /// Nanoseconds between consecutive slots; `None` sends as fast as possible.
    interval_ns: Option<u64>,
    released: AtomicU64,
    claimed: AtomicU64,
    closed: AtomicBool,
    notify: Notify,
}

/// A claimed slot: its number and when it should have been sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Slot {
    pub(crate) index: u64,
    pub(crate) intended: Instant,
}

impl Slots {
    /// Slots at `rate` per second from `start` (`None`: unpaced, each connection sends its
    /// next request as soon as the previous one is answered).
    pub(crate) fn new(start: Instant, rate: Option<u64>) -> Arc<Self> {
        Arc::new(Self {
            start,
            interval_ns: rate.map(|r| 1_000_000_000 / r.max(1)),
            released: AtomicU64::new(0),
            claimed: AtomicU64::new(0),
            closed: AtomicBool::new(false),
            notify: Notify::new(),
        })
    }

    /// When slot `index` is meant to be sent.
    pub(crate) fn intended(&self, index: u64) -> Instant {
        match self.interval_ns {
            Some(ns) => self.start + Duration::from_nanos(index.saturating_mul(ns)),
            None => self.start,
        }
    }

    /// Releases every slot due at `now`; returns how many are released in total.
    pub(crate) fn release_due(&self, now: Instant) -> u64 {
        let Some(ns) = self.interval_ns else {
            return u64::MAX;
        };
        let elapsed =
            u64::try_from(now.saturating_duration_since(self.start).as_nanos()).unwrap_or(u64::MAX);
        let due = elapsed / ns + 1;
        let before = self.released.fetch_max(due, Ordering::AcqRel);
        for _ in before..due {
            // One permit per slot: wakes one waiting connection, or lets the next one that
            // checks find the slot without waiting.
            self.notify.notify_one();
        }
        due.max(before)
    }

    /// No more slots: waiting connections wake up and [`Self::claim`] answers `None`.
    pub(crate) fn close(&self) {
        self.closed.store(true, Ordering::Release);
        self.notify.notify_waiters();
        // A connection between its check and its wait holds no waiter yet: leave a permit.
        self.notify.notify_one();
    }

    fn try_claim(&self) -> Option<Slot> {
        if self.interval_ns.is_none() && self.closed.load(Ordering::Acquire) {
            return None;
        }
        let released = self.released.load(Ordering::Acquire);
        let mut claimed = self.claimed.load(Ordering::Relaxed);
        loop {
            if self.interval_ns.is_some() && claimed >= released {
                return None;
            }
            match self.claimed.compare_exchange_weak(
                claimed,
                claimed + 1,
                Ordering::AcqRel,
                Ordering::Relaxed,
            ) {
                Ok(_) => {
                    return Some(Slot {
                        index: claimed,
                        intended: self.intended(claimed),
                    });
                }
                Err(now) => claimed = now,
            }
        }
    }

    /// The next slot, waiting for the pacer if none is due; `None` once closed and every
    /// released slot is claimed. Slots released before the close are still handed out:
    /// dropping them would hide exactly the requests a stalled server delayed.
    pub(crate) async fn claim(&self) -> Option<Slot> {
        loop {
            if let Some(slot) = self.try_claim() {
                return Some(slot);
            }
            if self.closed.load(Ordering::Acquire) {
                // Pass the wake-up on to the next waiter.
                self.notify.notify_one();
                return None;
            }
            self.notify.notified().await;
        }
    }

    /// Slots claimed so far (for the progress bar).
    pub(crate) fn claimed(&self) -> u64 {
        self.claimed.load(Ordering::Relaxed)
    }
}

/// Releases slots on time until `end`, then closes them. Runs on its own thread.
pub(crate) fn pace(slots: &Slots, end: Instant) {
    if slots.interval_ns.is_none() {
        // Unpaced: nothing to release; just close at the end.
        sleep_until(end);
        slots.close();
        return;
    }
    loop {
        let now = Instant::now();
        if now >= end {
            break;
        }
        let released = slots.release_due(now);
        let next = slots.intended(released).min(end);
        if next > now {
            sleep_until(next);
        }
    }
    // Every slot meant to leave before `end` is released, including the last partial one.
    slots.release_due(end - Duration::from_nanos(1));
    slots.close();
}

fn sleep_until(deadline: Instant) {
    let now = Instant::now();
    if deadline > now {
        std::thread::sleep(deadline - now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_released_on_schedule_and_claimed_once() {
        let start = Instant::now();
        let slots = Slots::new(start, Some(1_000));
        assert_eq!(
            slots.try_claim(),
            None,
            "nothing is due before the first release"
        );
        // At start + 2.5 ms, slots 0, 1 and 2 are due.
        assert_eq!(slots.release_due(start + Duration::from_micros(2_500)), 3);
        let claimed: Vec<_> = std::iter::from_fn(|| slots.try_claim()).collect();
        assert_eq!(
            claimed,
            (0..3)
                .map(|i| Slot {
                    index: i,
                    intended: start + Duration::from_millis(i),
                })
                .collect::<Vec<_>>()
        );
        // Releasing again for an earlier instant never takes slots back.
        assert_eq!(slots.release_due(start), 3);
        assert_eq!(slots.try_claim(), None);
    }

    #[test]
    fn unpaced_slots_are_always_available_until_closed() {
        let start = Instant::now();
        let slots = Slots::new(start, None);
        for i in 0..5 {
            assert_eq!(slots.try_claim().map(|s| s.index), Some(i));
        }
        slots.close();
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        assert_eq!(rt.block_on(slots.claim()), None);
    }

    #[test]
    fn slots_released_before_the_close_are_still_handed_out() {
        let start = Instant::now();
        let slots = Slots::new(start, Some(1_000));
        slots.release_due(start + Duration::from_micros(1_500));
        slots.close();
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        let indexes: Vec<_> = rt.block_on(async {
            let mut out = Vec::new();
            while let Some(slot) = slots.claim().await {
                out.push(slot.index);
            }
            out
        });
        assert_eq!(indexes, [0, 1]);
    }

    #[test]
    fn close_wakes_a_waiting_connection() {
        let slots = Slots::new(Instant::now(), Some(1));
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        rt.block_on(async {
            let waiter = {
                let slots = Arc::clone(&slots);
                tokio::spawn(async move { slots.claim().await })
            };
            // Let the waiter register before closing; `close` must wake it either way.
            tokio::task::yield_now().await;
            slots.close();
            assert_eq!(waiter.await.expect("join"), None);
        });
    }
}
