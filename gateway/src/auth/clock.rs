//! Injected monotonic time, so tests control when a JWKS refresh is due.

use std::time::Instant;

/// A source of monotonic time.
///
/// Any `Fn() -> Instant + Send + Sync` is a clock, so tests can pass a closure over a shared,
/// manually advanced instant.
pub trait Clock: Send + Sync {
    /// The current instant.
    fn now(&self) -> Instant;
}

/// The real monotonic clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Instant {
        Instant::now()
    }
}

impl<F> Clock for F
where
    F: Fn() -> Instant + Send + Sync,
{
    fn now(&self) -> Instant {
        self()
    }
}
