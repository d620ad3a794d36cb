//! Looking at a deployment's queues from outside the hot path: who consumes them, and
//! removing a whole key prefix (benchmarks and test deployments clean up with it).

use std::time::Duration;

use redis::streams::StreamInfoConsumersReply;

use super::{GROUP, RedisQueue};
use crate::error::{Result, is_no_group};

impl RedisQueue {
    /// How many consumers `queue`'s group knows (0 when the group does not exist yet). A
    /// consumer joins when it registers or first reads and stays until pruned, so this
    /// counts every worker process that has polled since.
    ///
    /// # Errors
    /// [`crate::Error::Redis`] / [`crate::Error::RedisPool`].
    pub async fn consumers(&self, queue: &str) -> Result<usize> {
        Ok(self.consumer_list(queue).await?.len())
    }

    /// `queue`'s consumers with their pending deliveries and idle time. A live worker
    /// reads or reclaims at least every `reclaim_every` (5 s by default), so an idle time
    /// far beyond that is a worker that is gone: this is the workers' heartbeat, read
    /// from the group Redis already keeps, at no write per beat.
    ///
    /// # Errors
    /// [`crate::Error::Redis`] / [`crate::Error::RedisPool`].
    pub async fn consumer_list(&self, queue: &str) -> Result<Vec<ConsumerInfo>> {
        let stream = self.keys(queue).stream;
        let mut conn = self.pool.get().await?;
        let reply: redis::RedisResult<StreamInfoConsumersReply> = self
            .bounded_raw(
                self.op_timeout,
                redis::cmd("XINFO")
                    .arg("CONSUMERS")
                    .arg(&stream)
                    .arg(GROUP)
                    .query_async(&mut *conn),
            )
            .await;
        match reply {
            Ok(reply) => Ok(reply
                .consumers
                .into_iter()
                .map(|c| ConsumerInfo {
                    name: c.name,
                    pending: c.pending as u64,
                    idle: Duration::from_millis(c.idle as u64),
                })
                .collect()),
            // No stream yet answers "no such key"; no group answers NOGROUP.
            Err(e) if is_no_group(&e) || e.to_string().contains("no such key") => Ok(Vec::new()),
            Err(e) => Err(e.into()),
        }
    }

    /// Removes consumers of `queue` that hold no pending delivery and have been idle for
    /// at least `idle`, except `keep` (the caller). Every process start is a new consumer,
    /// so without this a group would list every worker that ever ran. Returns how many
    /// were removed. A consumer with pending deliveries is left for reclaim.
    ///
    /// # Errors
    /// [`crate::Error::Redis`] / [`crate::Error::RedisPool`].
    pub async fn prune_consumers(&self, queue: &str, idle: Duration, keep: &str) -> Result<usize> {
        let stream = self.keys(queue).stream;
        let mut pruned = 0;
        for c in self.consumer_list(queue).await? {
            if c.name == keep || c.pending > 0 || c.idle < idle {
                continue;
            }
            let mut conn = self.pool.get().await?;
            // Nothing can be delivered to it between the listing and this: a gone worker
            // reads nothing, and reclaim claims deliveries for itself, never for others.
            let _dropped: i64 = self
                .bounded(
                    self.op_timeout,
                    redis::cmd("XGROUP")
                        .arg("DELCONSUMER")
                        .arg(&stream)
                        .arg(GROUP)
                        .arg(&c.name)
                        .query_async(&mut *conn),
                )
                .await?;
            pruned += 1;
        }
        Ok(pruned)
    }

    /// Creates `queue`'s group if missing and registers `consumer` in it
    /// (`XGROUP CREATECONSUMER`). A read creates its consumer too, but only once it
    /// returns an entry, so an idle worker would stay invisible to [`RedisQueue::consumers`]
    /// until its first job.
    ///
    /// # Errors
    /// [`crate::Error::Redis`] / [`crate::Error::RedisPool`].
    pub async fn register_consumer(&self, queue: &str, consumer: &str) -> Result<()> {
        self.ensure_group(queue).await?;
        let stream = self.keys(queue).stream;
        let mut conn = self.pool.get().await?;
        let _created: i64 = self
            .bounded(
                self.op_timeout,
                redis::cmd("XGROUP")
                    .arg("CREATECONSUMER")
                    .arg(&stream)
                    .arg(GROUP)
                    .arg(consumer)
                    .query_async(&mut *conn),
            )
            .await?;
        Ok(())
    }

    /// Deletes every key under this queue handle's prefix (`{tp:<prefix>:…}`), walking the
    /// keyspace with `SCAN`. Returns how many keys were deleted.
    ///
    /// Only for deployments that are being thrown away (a benchmark run, a test): it
    /// removes queued work, which the store would have to re-drive.
    ///
    /// # Errors
    /// [`crate::Error::Redis`] / [`crate::Error::RedisPool`].
    pub async fn delete_prefix(&self) -> Result<usize> {
        let pattern = format!("{{tp:{}:*", self.prefix);
        let mut conn = self.pool.get().await?;
        let mut cursor = 0_u64;
        let mut deleted = 0;
        loop {
            let (next, keys): (u64, Vec<String>) = self
                .bounded(
                    self.op_timeout,
                    redis::cmd("SCAN")
                        .arg(cursor)
                        .arg("MATCH")
                        .arg(&pattern)
                        .arg("COUNT")
                        .arg(1_000)
                        .query_async(&mut *conn),
                )
                .await?;
            if !keys.is_empty() {
                let n: usize = self
                    .bounded(
                        self.op_timeout,
                        redis::cmd("DEL").arg(&keys).query_async(&mut *conn),
                    )
                    .await?;
                deleted += n;
            }
            if next == 0 {
                return Ok(deleted);
            }
            cursor = next;
        }
    }
}

/// One consumer of a queue's group: a worker process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumerInfo {
    /// Its name, the worker id (`<label>-<uuidv7>`).
    pub name: String,
    /// Deliveries it holds unacknowledged.
    pub pending: u64,
    /// Time since it last read or claimed.
    pub idle: Duration,
}
