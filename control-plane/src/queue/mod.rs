//! The Redis fast path: one stream per queue, read by one consumer group.
//!
//! Redis here is an *index* of work, never its record (DESIGN decision 5). Everything in it
//! can be rebuilt from PostgreSQL, which is why a flush or a restart without persistence
//! loses no job: the [`Reconciler`](crate::Reconciler) publishes again whatever the index
//! no longer holds, and a lost consumer group is recreated on the next read.
//!
//! # Keys
//!
//! Every key of a queue carries the hash tag `{tp:<prefix>:<queue>}`, so a queue's keys live
//! in one Redis Cluster slot and the Lua scripts may touch them together:
//!
//! - `…:stream` — due messages; consumer group [`GROUP`]; entries are deleted when acked.
//! - `…:delayed` — a sorted set of messages scored by run time (ms): delayed jobs and
//!   retries wait here and are promoted onto the stream atomically when due.
//! - `…:index` — a hash job id → attempt for every job the stream or the delayed set holds,
//!   so re-publishing is idempotent and the reconciler finds what is missing in O(1) per job.
//!
//! # Why a pool and not the `ConnectionManager` the gateway uses
//!
//! A blocking `XREADGROUP … BLOCK` occupies its connection until it returns; on one shared
//! multiplexed connection it would stall every other command of the process. deadpool-redis
//! (0.23, on the same redis 1.x and deadpool 0.13 the workspace already builds) gives each
//! blocking read a connection of its own.

mod admin;
mod message;
mod rates;
mod scripts;
mod stream;

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use deadpool_redis::{Manager, Pool, Runtime};

pub use admin::ConsumerInfo;
pub use message::{FIELD, MESSAGE_VERSION, Message};
pub use rates::{Outcome, Rates};
pub use stream::Delivery;

use crate::clock::Clock;
use crate::error::{Error, Result};
use crate::job::{Job, JobStatus};

/// The one consumer group of every queue stream: all workers of a queue compete in it.
pub const GROUP: &str = "workers";

/// How to reach Redis.
#[derive(Clone, PartialEq, Eq)]
pub struct RedisConfig {
    /// `redis://host:port/db`.
    pub url: String,
    /// Most connections the pool opens (each blocking read holds one).
    pub pool_size: usize,
    /// Bound on connecting, on waiting for a pooled connection and on any one command
    /// (a blocking read gets its block time on top).
    pub op_timeout: Duration,
    /// Namespace of every key (`[A-Za-z0-9_.-]{1,64}`), e.g. `prod`; tests use one each.
    pub prefix: String,
}

impl Default for RedisConfig {
    fn default() -> Self {
        RedisConfig {
            url: "redis://127.0.0.1:6379/0".to_owned(),
            pool_size: 16,
            op_timeout: Duration::from_secs(2),
            prefix: "tp".to_owned(),
        }
    }
}

// The URL may hold a password: never print it.
impl std::fmt::Debug for RedisConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisConfig")
            .field("url", &"<redacted>")
            .field("pool_size", &self.pool_size)
            .field("op_timeout", &self.op_timeout)
            .field("prefix", &self.prefix)
            .finish()
    }
}

impl RedisConfig {
    /// Checks the values.
    ///
    /// # Errors
    /// [`Error::Config`] for a zero pool size or timeout, or a prefix that could break the
    /// key layout (a brace would end the hash tag early).
    pub fn validate(&self) -> Result<()> {
        if self.pool_size == 0 || self.op_timeout.is_zero() {
            return Err(Error::Config(
                "redis pool_size and op_timeout must be positive".into(),
            ));
        }
        let prefix_ok = (1..=64).contains(&self.prefix.len())
            && self
                .prefix
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
        if !prefix_ok {
            return Err(Error::Config(
                "redis prefix must match [A-Za-z0-9_.-]{1,64}".into(),
            ));
        }
        Ok(())
    }
}

/// The keys of one queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueKeys {
    /// The stream of due messages.
    pub stream: String,
    /// The sorted set of messages waiting for their run time.
    pub delayed: String,
    /// Job id → attempt for every message held.
    pub index: String,
    /// Prefix of the per-10-second outcome counters (`…:rate:<bucket>`).
    rate: String,
}

impl QueueKeys {
    fn new(prefix: &str, queue: &str) -> Self {
        let tag = format!("{{tp:{prefix}:{queue}}}");
        QueueKeys {
            stream: format!("{tag}:stream"),
            delayed: format!("{tag}:delayed"),
            index: format!("{tag}:index"),
            rate: format!("{tag}:rate:"),
        }
    }

    /// The outcome counters of one 10-second bucket (see [`RedisQueue::rates`]).
    #[must_use]
    pub fn rate_bucket(&self, bucket: u64) -> String {
        format!("{}{bucket}", self.rate)
    }
}

/// How much work a queue holds in Redis.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QueueDepth {
    /// Messages on the stream (read or not; acked ones are deleted).
    pub stream: u64,
    /// Messages delivered and not yet acknowledged.
    pub pending: u64,
    /// Messages waiting for their run time.
    pub delayed: u64,
}

/// The Redis queues under one prefix. Cheap to clone.
#[derive(Clone)]
pub struct RedisQueue {
    pool: Pool,
    prefix: String,
    op_timeout: Duration,
    clock: Arc<dyn Clock>,
    publish: Arc<redis::Script>,
    promote: Arc<redis::Script>,
    ack: Arc<redis::Script>,
}

impl std::fmt::Debug for RedisQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisQueue")
            .field("prefix", &self.prefix)
            .field("op_timeout", &self.op_timeout)
            .finish_non_exhaustive()
    }
}

impl RedisQueue {
    /// A queue handle on a lazy pool: nothing is dialled until the first command, so a
    /// process starts (and reports Redis as down) while Redis is away. Run times are judged
    /// by `clock`, which should be the store's.
    ///
    /// # Errors
    /// [`Error::Config`] for an invalid configuration or URL.
    pub fn connect(config: &RedisConfig, clock: Arc<dyn Clock>) -> Result<Self> {
        config.validate()?;
        let connection = redis::AsyncConnectionConfig::new()
            .set_connection_timeout(Some(config.op_timeout))
            // Per-command bounds are applied around each call instead: a blocking read
            // legitimately outlasts any fixed response timeout.
            .set_response_timeout(None);
        let manager = Manager::new_with_config(config.url.as_str(), connection)
            // The parse error does not echo the URL, so it is safe to show.
            .map_err(|e| Error::Config(format!("redis url: {e}")))?;
        let pool = Pool::builder(manager)
            .max_size(config.pool_size)
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(config.op_timeout))
            .create_timeout(Some(config.op_timeout))
            .build()
            .map_err(|e| Error::Config(format!("redis pool: {e}")))?;
        Ok(RedisQueue {
            pool,
            prefix: config.prefix.clone(),
            op_timeout: config.op_timeout,
            clock,
            publish: Arc::new(redis::Script::new(scripts::PUBLISH)),
            promote: Arc::new(redis::Script::new(scripts::PROMOTE)),
            ack: Arc::new(redis::Script::new(scripts::ACK)),
        })
    }

    /// The keys of `queue`.
    #[must_use]
    pub fn keys(&self, queue: &str) -> QueueKeys {
        QueueKeys::new(&self.prefix, queue)
    }

    /// Publishes the next attempt of each waiting (`queued`/`scheduled`) job that the queue
    /// does not already hold: onto its stream if due, else into its delayed set. Other jobs
    /// are skipped. Call it after committing an enqueue or a retry; the reconciler calls it
    /// for everything Redis may have lost. Publishing twice is harmless.
    ///
    /// Returns how many messages were published.
    ///
    /// # Errors
    /// [`Error::Redis`] / [`Error::RedisPool`] (retryable when Redis is unreachable).
    pub async fn publish(&self, jobs: &[Job]) -> Result<usize> {
        // One script call per queue: a script may only touch one hash tag's keys.
        let mut by_queue: BTreeMap<&str, Vec<&Job>> = BTreeMap::new();
        for job in jobs {
            if matches!(job.status, JobStatus::Queued | JobStatus::Scheduled) {
                by_queue.entry(job.queue.as_str()).or_default().push(job);
            }
        }
        let now = unix_ms(self.clock.now());
        let mut published = 0;
        for (queue, jobs) in by_queue {
            let keys = self.keys(queue);
            let mut call = self.publish.prepare_invoke();
            call.key(&keys.stream)
                .key(&keys.delayed)
                .key(&keys.index)
                .arg(now)
                .arg(FIELD);
            for job in jobs {
                call.arg(job.id.to_string())
                    .arg(job.attempt)
                    .arg(unix_ms(job.run_at))
                    .arg(Message::for_job(job).encode());
            }
            let mut conn = self.pool.get().await?;
            let n: usize = self
                .bounded(self.op_timeout, call.invoke_async(&mut *conn))
                .await?;
            published += n;
        }
        Ok(published)
    }

    /// Moves up to `limit` messages of `queue` whose run time has come (by the injected
    /// clock) from the delayed set onto the stream. Returns how many moved.
    ///
    /// # Errors
    /// [`Error::Redis`] / [`Error::RedisPool`].
    pub async fn promote(&self, queue: &str, limit: usize) -> Result<usize> {
        let keys = self.keys(queue);
        let now = unix_ms(self.clock.now());
        let mut call = self.promote.prepare_invoke();
        call.key(&keys.stream)
            .key(&keys.delayed)
            .arg(now)
            .arg(limit.max(1))
            .arg(FIELD);
        let mut conn = self.pool.get().await?;
        self.bounded(self.op_timeout, call.invoke_async(&mut *conn))
            .await
    }

    /// The queue's depth in Redis (zeros for a queue Redis does not know).
    ///
    /// # Errors
    /// [`Error::Redis`] / [`Error::RedisPool`].
    pub async fn depth(&self, queue: &str) -> Result<QueueDepth> {
        let keys = self.keys(queue);
        let mut conn = self.pool.get().await?;
        let (stream, delayed): (u64, u64) = self
            .bounded(
                self.op_timeout,
                redis::pipe()
                    .cmd("XLEN")
                    .arg(&keys.stream)
                    .cmd("ZCARD")
                    .arg(&keys.delayed)
                    .query_async(&mut *conn),
            )
            .await?;
        let summary: redis::RedisResult<(u64, redis::Value, redis::Value, redis::Value)> = self
            .bounded_raw(
                self.op_timeout,
                redis::cmd("XPENDING")
                    .arg(&keys.stream)
                    .arg(GROUP)
                    .query_async(&mut *conn),
            )
            .await;
        let pending = match summary {
            Ok((pending, ..)) => pending,
            Err(e) if crate::error::is_no_group(&e) => 0,
            Err(e) => return Err(e.into()),
        };
        Ok(QueueDepth {
            stream,
            pending,
            delayed,
        })
    }

    /// Runs one Redis call with a deadline; an expired deadline is a retryable I/O error.
    async fn bounded<T>(
        &self,
        limit: Duration,
        call: impl Future<Output = redis::RedisResult<T>>,
    ) -> Result<T> {
        Ok(self.bounded_raw(limit, call).await?)
    }

    async fn bounded_raw<T>(
        &self,
        limit: Duration,
        call: impl Future<Output = redis::RedisResult<T>>,
    ) -> redis::RedisResult<T> {
        match tokio::time::timeout(limit, call).await {
            Ok(result) => result,
            Err(_) => Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "redis command timed out",
            )
            .into()),
        }
    }
}

/// Milliseconds since the Unix epoch (0 before it; saturating far in the future). Lua
/// numbers are doubles, exact for integers below 2^53 ms (year 287,396).
fn unix_ms(at: SystemTime) -> u64 {
    at.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_share_one_hash_tag_per_queue() {
        let keys = QueueKeys::new("prod", "webhooks");
        assert_eq!(keys.stream, "{tp:prod:webhooks}:stream");
        assert_eq!(keys.delayed, "{tp:prod:webhooks}:delayed");
        assert_eq!(keys.index, "{tp:prod:webhooks}:index");
    }

    #[test]
    fn config_validation_guards_the_key_layout() {
        assert!(RedisConfig::default().validate().is_ok());
        for bad in ["", "a}b", "a{b", "sp ace", &"x".repeat(65)] {
            let config = RedisConfig {
                prefix: bad.to_owned(),
                ..RedisConfig::default()
            };
            assert!(config.validate().is_err(), "{bad:?}");
        }
        let zero = RedisConfig {
            pool_size: 0,
            ..RedisConfig::default()
        };
        assert!(zero.validate().is_err());
    }

    #[test]
    fn unix_ms_saturates_before_the_epoch() {
        assert_eq!(unix_ms(SystemTime::UNIX_EPOCH - Duration::from_secs(1)), 0);
        assert_eq!(
            unix_ms(SystemTime::UNIX_EPOCH + Duration::from_millis(1_800_000_000_123)),
            1_800_000_000_123
        );
    }
}
