//! The retry policy: exponential backoff with full jitter, bounded attempts.
//!
//! "Full jitter" (a uniform draw in `[0, min(cap, base * 2^(attempt-1))]`) spreads retries of
//! jobs that failed together — a downstream outage fails thousands at once — instead of
//! sending them back in synchronised waves. Randomness is injected through [`Jitter`] so tests
//! can pin it; the attempt cap lives on each job (`max_attempts`, default 5).

use std::fmt::Debug;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use rand::rngs::{StdRng, SysRng};
use rand::{RngExt, SeedableRng};

use crate::error::{Error, Result};

/// Backoff bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Ceiling of the first retry's delay.
    pub base: Duration,
    /// Largest delay ever drawn, whatever the attempt number.
    pub cap: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            base: Duration::from_secs(5),
            cap: Duration::from_secs(3600),
        }
    }
}

impl RetryPolicy {
    /// Checks that `0 < base <= cap`.
    ///
    /// # Errors
    /// [`Error::Config`] otherwise.
    pub fn validate(&self) -> Result<()> {
        if self.base.is_zero() || self.base > self.cap {
            return Err(Error::Config(format!(
                "retry policy needs 0 < base <= cap (base {:?}, cap {:?})",
                self.base, self.cap
            )));
        }
        Ok(())
    }

    /// The upper bound of the delay after failed attempt `attempt` (1-based):
    /// `min(cap, base * 2^(attempt-1))`, without overflow for any attempt number.
    #[must_use]
    pub fn ceiling(&self, attempt: u32) -> Duration {
        let doublings = attempt.saturating_sub(1);
        // 2^63 * base overflows any Duration: past 63 doublings the cap has long been reached.
        let factor = 1u64.checked_shl(doublings.min(63)).unwrap_or(u64::MAX);
        let factor = u32::try_from(factor).unwrap_or(u32::MAX);
        self.base
            .checked_mul(factor)
            .map_or(self.cap, |d| d.min(self.cap))
    }

    /// The delay before retrying after failed attempt `attempt`: a jittered draw below the
    /// ceiling.
    #[must_use]
    pub fn delay(&self, attempt: u32, jitter: &dyn Jitter) -> Duration {
        let ceiling = self.ceiling(attempt);
        jitter.draw(ceiling).min(ceiling)
    }
}

/// A source of random delays: returns a value in `[0, ceiling]`.
pub trait Jitter: Send + Sync + Debug {
    /// Draws a delay no larger than `ceiling`.
    fn draw(&self, ceiling: Duration) -> Duration;
}

/// Uniform full jitter from a ChaCha-based RNG: OS-seeded in production, seeded in tests.
#[derive(Debug)]
pub struct FullJitter(Mutex<StdRng>);

impl FullJitter {
    /// Seeded from the operating system's entropy.
    ///
    /// # Errors
    /// [`Error::Config`] if the OS has no entropy to give (practically never).
    pub fn from_entropy() -> Result<Self> {
        let rng = StdRng::try_from_rng(&mut SysRng)
            .map_err(|e| Error::Config(format!("no OS entropy for retry jitter: {e}")))?;
        Ok(FullJitter(Mutex::new(rng)))
    }

    /// Reproducible draws for tests.
    #[must_use]
    pub fn seeded(seed: u64) -> Self {
        FullJitter(Mutex::new(StdRng::seed_from_u64(seed)))
    }
}

impl Jitter for FullJitter {
    fn draw(&self, ceiling: Duration) -> Duration {
        // Microseconds: PostgreSQL's timestamp resolution, and a range that fits u64.
        let max = u64::try_from(ceiling.as_micros()).unwrap_or(u64::MAX);
        let mut rng = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        Duration::from_micros(rng.random_range(0..=max))
    }
}

/// Always the ceiling: plain exponential backoff. For tests that assert exact retry times.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoJitter;

impl Jitter for NoJitter {
    fn draw(&self, ceiling: Duration) -> Duration {
        ceiling
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    #[test]
    fn ceilings_double_from_base_until_the_cap() {
        let policy = RetryPolicy {
            base: secs(5),
            cap: secs(60),
        };
        let ceilings: Vec<_> = (1..=6).map(|a| policy.ceiling(a)).collect();
        assert_eq!(
            ceilings,
            [secs(5), secs(10), secs(20), secs(40), secs(60), secs(60)]
        );
        // Attempt 0 (never started) behaves like the first.
        assert_eq!(policy.ceiling(0), secs(5));
    }

    #[test]
    fn huge_attempt_numbers_saturate_at_the_cap() {
        let policy = RetryPolicy {
            base: Duration::from_millis(1),
            cap: secs(3600),
        };
        for attempt in [31, 32, 33, 63, 64, 65, 1000, u32::MAX] {
            assert_eq!(policy.ceiling(attempt), secs(3600), "attempt {attempt}");
        }
    }

    #[test]
    fn full_jitter_stays_within_the_ceiling_and_is_reproducible_per_seed() {
        let policy = RetryPolicy::default();
        let a = FullJitter::seeded(7);
        let b = FullJitter::seeded(7);
        let draws_a: Vec<_> = (1..=20).map(|n| policy.delay(n, &a)).collect();
        let draws_b: Vec<_> = (1..=20).map(|n| policy.delay(n, &b)).collect();
        assert_eq!(draws_a, draws_b);
        for (n, d) in (1..=20).zip(&draws_a) {
            assert!(*d <= policy.ceiling(n), "attempt {n}: {d:?}");
        }
        // Not degenerate: 20 draws are not all equal to their ceilings.
        assert!((1..=20).zip(&draws_a).any(|(n, d)| *d < policy.ceiling(n)));
    }

    #[test]
    fn full_jitter_covers_the_whole_range() {
        let jitter = FullJitter::seeded(42);
        let ceiling = secs(100);
        let draws: Vec<_> = (0..2000).map(|_| jitter.draw(ceiling)).collect();
        assert!(draws.iter().all(|d| *d <= ceiling));
        assert!(draws.iter().any(|d| *d < secs(10)));
        assert!(draws.iter().any(|d| *d > secs(90)));
    }

    #[test]
    fn zero_ceiling_draws_zero_and_entropy_seeding_works() {
        let jitter = FullJitter::from_entropy().expect("entropy");
        assert_eq!(jitter.draw(Duration::ZERO), Duration::ZERO);
        assert_eq!(NoJitter.draw(secs(3)), secs(3));
    }

    #[test]
    fn policy_validation_refuses_zero_base_and_base_above_cap() {
        assert!(RetryPolicy::default().validate().is_ok());
        let zero = RetryPolicy {
            base: Duration::ZERO,
            cap: secs(1),
        };
        assert!(matches!(zero.validate(), Err(Error::Config(_))));
        let inverted = RetryPolicy {
            base: secs(2),
            cap: secs(1),
        };
        assert!(matches!(inverted.validate(), Err(Error::Config(_))));
    }
}
