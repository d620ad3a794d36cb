//! Outcome rates per queue, counted where outcomes are acknowledged.
//!
//! The acknowledgement script adds each batch of outcomes to a counter hash for the current
//! 10-second bucket (`{tag}:rate:<bucket>`, fields `succeeded` and `failed`), which expires
//! on its own after a few minutes. Reading the rate is six `HMGET`s, whatever the volume;
//! counting the same from the audit table would scan every row of the last minute.
//!
//! Like everything in Redis these are an index, not a record: a flush loses a minute of
//! statistics and nothing else. Exact history is in the audit trail.

use std::time::SystemTime;

use super::{RedisQueue, unix_ms};
use crate::error::Result;

/// Width of one counter bucket.
pub(crate) const RATE_BUCKET_MS: u64 = 10_000;
/// Buckets summed into a per-minute rate.
const BUCKETS_PER_MINUTE: u64 = 6;
/// How long a bucket lives: long enough to be read for a minute after it closes.
pub(crate) const RATE_BUCKET_TTL_MS: u64 = 3 * 60_000;

/// How an acknowledged attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Its success was recorded.
    Succeeded,
    /// Its failure was recorded (retried or dead-lettered).
    Failed,
}

impl Outcome {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Outcome::Succeeded => "succeeded",
            Outcome::Failed => "failed",
        }
    }
}

/// A queue's outcomes over the last whole minute.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Rates {
    /// Successes recorded in the minute that ended at the last 10-second boundary.
    pub succeeded_per_minute: u64,
    /// Failed attempts recorded in that minute.
    pub failed_per_minute: u64,
}

/// The bucket number of `at`.
pub(crate) fn rate_bucket(at: SystemTime) -> u64 {
    unix_ms(at) / RATE_BUCKET_MS
}

impl RedisQueue {
    /// `queue`'s outcomes over the six whole 10-second buckets before the current one (by
    /// the injected clock).
    ///
    /// # Errors
    /// [`crate::Error::Redis`] / [`crate::Error::RedisPool`].
    pub async fn rates(&self, queue: &str) -> Result<Rates> {
        let keys = self.keys(queue);
        let now = rate_bucket(self.clock.now());
        let mut pipe = redis::pipe();
        for bucket in now.saturating_sub(BUCKETS_PER_MINUTE)..now {
            pipe.cmd("HMGET")
                .arg(keys.rate_bucket(bucket))
                .arg(Outcome::Succeeded.as_str())
                .arg(Outcome::Failed.as_str());
        }
        let mut conn = self.pool.get().await?;
        let buckets: Vec<(Option<u64>, Option<u64>)> = self
            .bounded(self.op_timeout, pipe.query_async(&mut *conn))
            .await?;
        Ok(buckets
            .into_iter()
            .fold(Rates::default(), |acc, (s, f)| Rates {
                succeeded_per_minute: acc.succeeded_per_minute + s.unwrap_or(0),
                failed_per_minute: acc.failed_per_minute + f.unwrap_or(0),
            }))
    }
}
