//! Consuming a queue stream: read, acknowledge, reclaim, and surviving a lost group.
//!
//! A Redis restart without persistence (or a flush) removes the stream *and its consumer
//! group*; every later `XREADGROUP`/`XAUTOCLAIM` then fails with `NOGROUP` forever unless
//! someone recreates the group (svix #1844 looped exactly like that). Here every read and
//! claim that meets `NOGROUP` recreates the group (`MKSTREAM`, from id `0` so entries the
//! reconciler re-published before the group existed are still delivered) and retries once.

use std::collections::BTreeMap;
use std::time::Duration;

use redis::streams::{StreamAutoClaimReply, StreamId, StreamReadReply};

use super::rates::{Outcome, RATE_BUCKET_TTL_MS, rate_bucket};
use super::{FIELD, GROUP, Message, RedisQueue};
use crate::error::{Error, Result, is_no_group};

/// One message handed to one consumer. It stays pending (owned by that consumer, and
/// reclaimable by others once idle) until [`RedisQueue::ack`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// The queue it came from.
    pub queue: String,
    /// The stream entry id.
    pub entry_id: String,
    /// The message.
    pub message: Message,
}

impl RedisQueue {
    /// Creates `queue`'s consumer group (and stream) if missing. Reads and claims do this on
    /// `NOGROUP` by themselves; calling it at start-up only saves that first round trip.
    ///
    /// # Errors
    /// [`Error::Redis`] / [`Error::RedisPool`].
    pub async fn ensure_group(&self, queue: &str) -> Result<()> {
        let stream = self.keys(queue).stream;
        let mut conn = self.pool.get().await?;
        let created: redis::RedisResult<()> = self
            .bounded_raw(
                self.op_timeout,
                redis::cmd("XGROUP")
                    .arg("CREATE")
                    .arg(&stream)
                    .arg(GROUP)
                    .arg("0")
                    .arg("MKSTREAM")
                    .query_async(&mut *conn),
            )
            .await;
        match created {
            Err(e) if e.code() != Some("BUSYGROUP") => Err(e.into()),
            _ => Ok(()),
        }
    }

    /// Reads up to `count` new messages of `queue` for `consumer`, waiting up to `block` for
    /// the first (`None`: answer at once). Entries that are not messages are dropped (acked
    /// and deleted, since no version of this code wrote them); entries of a newer version
    /// stay pending for a newer consumer.
    ///
    /// # Errors
    /// [`Error::Redis`] / [`Error::RedisPool`].
    pub async fn read(
        &self,
        queue: &str,
        consumer: &str,
        count: usize,
        block: Option<Duration>,
    ) -> Result<Vec<Delivery>> {
        let stream = self.keys(queue).stream;
        let mut cmd = redis::cmd("XREADGROUP");
        cmd.arg("GROUP")
            .arg(GROUP)
            .arg(consumer)
            .arg("COUNT")
            .arg(count.max(1));
        if let Some(block) = block {
            cmd.arg("BLOCK")
                .arg(u64::try_from(block.as_millis()).unwrap_or(u64::MAX).max(1));
        }
        cmd.arg("STREAMS").arg(&stream).arg(">");
        let limit = self.op_timeout + block.unwrap_or_default();
        let reply: Option<StreamReadReply> = self.with_group(queue, limit, &cmd).await?;
        let entries = reply
            .into_iter()
            .flat_map(|r| r.keys)
            .flat_map(|k| k.ids)
            .collect();
        self.deliveries(queue, entries).await
    }

    /// Takes over up to `count` of `queue`'s messages that have been pending (delivered, not
    /// acknowledged) for at least `min_idle` by Redis's clock, so a dead consumer's messages
    /// are delivered again. The caller decides with the store whether each one is really
    /// abandoned: Redis's idle time only says nobody acknowledged it.
    ///
    /// # Errors
    /// [`Error::Redis`] / [`Error::RedisPool`].
    pub async fn claim_idle(
        &self,
        queue: &str,
        consumer: &str,
        min_idle: Duration,
        count: usize,
    ) -> Result<Vec<Delivery>> {
        let stream = self.keys(queue).stream;
        let mut cmd = redis::cmd("XAUTOCLAIM");
        cmd.arg(&stream)
            .arg(GROUP)
            .arg(consumer)
            .arg(u64::try_from(min_idle.as_millis()).unwrap_or(u64::MAX))
            .arg("0-0")
            .arg("COUNT")
            .arg(count.max(1));
        // Entries deleted while pending are dropped from the pending list by Redis itself
        // (reported in `deleted_ids`), so only live entries come back.
        let reply: StreamAutoClaimReply = self.with_group(queue, self.op_timeout, &cmd).await?;
        self.deliveries(queue, reply.claimed).await
    }

    /// Acknowledges and deletes the delivery's entry, and forgets its job in the queue's
    /// index unless a newer attempt of the job was published since. Acknowledging twice, or
    /// after Redis lost the stream, is harmless.
    ///
    /// # Errors
    /// [`Error::Redis`] / [`Error::RedisPool`].
    pub async fn ack(&self, delivery: &Delivery) -> Result<()> {
        self.ack_many(std::slice::from_ref(delivery), None).await
    }

    /// [`RedisQueue::ack`] for many deliveries: one script call per queue. With an
    /// `outcome`, the deliveries are attempts that ended so, counted in the queue's rates
    /// ([`RedisQueue::rates`]).
    ///
    /// # Errors
    /// [`Error::Redis`] / [`Error::RedisPool`].
    pub async fn ack_many(&self, deliveries: &[Delivery], outcome: Option<Outcome>) -> Result<()> {
        let mut by_queue: BTreeMap<&str, Vec<(&str, String, u32)>> = BTreeMap::new();
        for d in deliveries {
            by_queue.entry(d.queue.as_str()).or_default().push((
                d.entry_id.as_str(),
                d.message.job_id.to_string(),
                d.message.attempt,
            ));
        }
        for (queue, entries) in by_queue {
            self.ack_entries(queue, &entries, outcome).await?;
        }
        Ok(())
    }

    async fn ack_entries(
        &self,
        queue: &str,
        entries: &[(&str, String, u32)],
        outcome: Option<Outcome>,
    ) -> Result<()> {
        if entries.is_empty() {
            return Ok(());
        }
        let keys = self.keys(queue);
        let bucket = keys.rate_bucket(rate_bucket(self.clock.now()));
        let mut call = self.ack.prepare_invoke();
        call.key(&keys.stream)
            .key(&keys.index)
            .key(&bucket)
            .arg(GROUP)
            .arg(outcome.map_or("", Outcome::as_str))
            .arg(RATE_BUCKET_TTL_MS);
        for (entry_id, job, attempt) in entries {
            call.arg(*entry_id).arg(job).arg(*attempt);
        }
        let mut conn = self.pool.get().await?;
        let _acked: u64 = self
            .bounded(self.op_timeout, call.invoke_async(&mut *conn))
            .await?;
        Ok(())
    }

    /// Runs a group command, recreating the group once on `NOGROUP`.
    async fn with_group<T: redis::FromRedisValue>(
        &self,
        queue: &str,
        limit: Duration,
        cmd: &redis::Cmd,
    ) -> Result<T> {
        let mut conn = self.pool.get().await?;
        match self.bounded_raw(limit, cmd.query_async(&mut *conn)).await {
            Err(e) if is_no_group(&e) => {
                drop(conn);
                tracing::warn!(
                    queue,
                    "consumer group missing (Redis restarted or flushed?): recreating it"
                );
                self.ensure_group(queue).await?;
                let mut conn = self.pool.get().await?;
                self.bounded(limit, cmd.query_async(&mut *conn)).await
            }
            other => Ok(other?),
        }
    }

    /// Decodes entries; drops garbage, skips newer versions.
    async fn deliveries(&self, queue: &str, entries: Vec<StreamId>) -> Result<Vec<Delivery>> {
        let mut out = Vec::with_capacity(entries.len());
        for entry in entries {
            let raw = entry.map.get(FIELD).and_then(|v| match v {
                redis::Value::BulkString(bytes) => Some(bytes.as_slice()),
                _ => None,
            });
            let decoded = raw.map_or_else(
                || Err(Error::BadMessage(format!("no `{FIELD}` field"))),
                Message::decode,
            );
            match decoded {
                Ok(message) => out.push(Delivery {
                    queue: queue.to_owned(),
                    entry_id: entry.id,
                    message,
                }),
                Err(Error::UnknownMessageVersion(v)) => {
                    tracing::warn!(queue, entry = %entry.id, version = v, "leaving a newer message version for a newer consumer");
                }
                Err(e) => {
                    tracing::error!(queue, entry = %entry.id, error = %e, "dropping a malformed stream entry");
                    self.ack_entries(queue, &[(entry.id.as_str(), String::new(), 0)], None)
                        .await?;
                }
            }
        }
        Ok(out)
    }
}
