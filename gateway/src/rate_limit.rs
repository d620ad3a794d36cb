//! Per-principal rate limit: a GCRA limiter (governor) keyed by the token's subject, so
//! one client cannot starve the others whatever its connection count.
//!
//! Sits inside [`crate::middleware::authenticate`] (the key is the verified subject) and
//! outside the idempotency layer (a throttled request consumes no key). Over the quota:
//! 429 `rate_limited` with `Retry-After` in whole seconds, rounded up.
//!
//! Idle subjects are forgotten every [`RETAIN_EVERY`] checks ([`RateLimiter::retain_recent`]
//! drops those whose bucket is full again), so the map tracks active principals only
//! without a background task.

use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};

use crate::app::AppState;
use crate::auth::Principal;
use crate::problem::Problem;

/// How many checks between two sweeps of idle subjects.
pub const RETAIN_EVERY: u64 = 4096;

/// A steady rate and a burst, per principal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateLimit {
    /// Requests per second replenished.
    pub per_second: NonZeroU32,
    /// Requests that may arrive at once after a quiet period.
    pub burst: NonZeroU32,
}

/// The limiter shared by every request.
pub struct RateLimiter {
    limiter: DefaultKeyedRateLimiter<String>,
    clock: DefaultClock,
    checks: AtomicU64,
}

impl std::fmt::Debug for RateLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimiter")
            .field("tracked", &self.limiter.len())
            .finish_non_exhaustive()
    }
}

impl RateLimiter {
    /// A limiter enforcing `limit` per subject.
    #[must_use]
    pub fn new(limit: RateLimit) -> Self {
        let quota = Quota::per_second(limit.per_second).allow_burst(limit.burst);
        Self {
            limiter: DefaultKeyedRateLimiter::keyed(quota),
            clock: DefaultClock::default(),
            checks: AtomicU64::new(0),
        }
    }

    /// `Ok` if `principal` (by subject) may make a request now, else the seconds to wait
    /// (at least 1).
    ///
    /// # Errors
    /// The `Retry-After` value when over the quota.
    pub fn check(&self, principal: &Principal) -> Result<(), u32> {
        if self.checks.fetch_add(1, Ordering::Relaxed) % RETAIN_EVERY == RETAIN_EVERY - 1 {
            self.limiter.retain_recent();
        }
        // `check_key` takes `&String`: the subject is cloned only for a new entry.
        match self.limiter.check_key(&principal.subject) {
            Ok(()) => Ok(()),
            Err(not_until) => {
                let wait = not_until.wait_time_from(self.clock.now());
                let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
                Err(u32::try_from(secs.max(1)).unwrap_or(u32::MAX))
            }
        }
    }
}

/// Answers 429 with `Retry-After` when the caller is over its quota; passes everything
/// through when no limit is configured.
pub async fn rate_limit(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let Some(limiter) = state.rate_limiter() else {
        return next.run(request).await;
    };
    let Some(principal) = request.extensions().get::<Principal>() else {
        tracing::error!("rate limit reached without authentication");
        return Problem::internal_without_cause().into_response();
    };
    match limiter.check(principal) {
        Ok(()) => next.run(request).await,
        Err(retry_after) => {
            tracing::debug!(subject = %principal.subject, retry_after, "rate limited");
            Problem::rate_limited(retry_after).into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use matcher::AccountId;

    fn who(subject: &str) -> Principal {
        Principal {
            subject: subject.to_owned(),
            account: AccountId(1),
            roles: Vec::new(),
        }
    }

    #[test]
    fn a_burst_then_a_wait_per_subject() {
        let limit = RateLimit {
            per_second: NonZeroU32::MIN,
            burst: NonZeroU32::new(2).unwrap_or(NonZeroU32::MIN),
        };
        let limiter = RateLimiter::new(limit);
        assert_eq!(limiter.check(&who("a")), Ok(()));
        assert_eq!(limiter.check(&who("a")), Ok(()));
        assert_eq!(limiter.check(&who("a")), Err(1));
        // Another subject has its own bucket.
        assert_eq!(limiter.check(&who("b")), Ok(()));
    }
}
