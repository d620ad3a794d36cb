//! Looking at a deployment's queues from outside the hot path: who consumes them, and
//! removing a whole key prefix (benchmarks and test deployments clean up with it).

use super::{GROUP, RedisQueue};
use crate::error::{Result, is_no_group};

impl RedisQueue {
    /// How many consumers `queue`'s group knows (0 when the group does not exist yet). A
    /// consumer joins on its first read and stays until removed, so this counts every
    /// worker process that has polled since the group was made.
    ///
    /// # Errors
    /// [`crate::Error::Redis`] / [`crate::Error::RedisPool`].
    pub async fn consumers(&self, queue: &str) -> Result<usize> {
        let stream = self.keys(queue).stream;
        let mut conn = self.pool.get().await?;
        let reply: redis::RedisResult<Vec<redis::Value>> = self
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
            Ok(consumers) => Ok(consumers.len()),
            // No stream yet answers "no such key"; no group answers NOGROUP.
            Err(e) if is_no_group(&e) || e.to_string().contains("no such key") => Ok(0),
            Err(e) => Err(e.into()),
        }
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
