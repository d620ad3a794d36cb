//! `[worker]`: the job worker pool of `tradeplane worker`.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{Config, ConfigError};

/// How a worker process runs jobs. Times are in milliseconds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WorkerSection {
    /// Queues to consume (`--queue`).
    pub queues: Vec<String>,
    /// Jobs run at once (`--concurrency`).
    pub concurrency: usize,
    /// Tighter limits for some queues in this process, e.g.
    /// `[worker.queue_concurrency]` `webhooks = 8`.
    pub queue_concurrency: BTreeMap<String, usize>,
    /// Worker id prefix; each start appends a UUIDv7.
    pub name: String,
    /// Longest one attempt may run.
    pub job_timeout_ms: u64,
    /// An attempt without an outcome for this long is presumed lost and reclaimed; must
    /// exceed `job_timeout_ms` by at least a second.
    pub visibility_timeout_ms: u64,
    /// After SIGTERM, how long in-flight jobs may finish before they are handed back.
    pub shutdown_grace_ms: u64,
    /// Longest a poll waits in Redis (also bounds how fast a stop is noticed).
    pub poll_block_ms: u64,
    /// Pause between passes over dead workers' deliveries.
    pub reclaim_every_ms: u64,
    /// Pause between reconciler passes (re-driving what Redis lost); 0 turns it off.
    pub reconcile_every_ms: u64,
    /// Serve `/metrics` (the job series, OpenMetrics text) and `/healthz` here; unset:
    /// no HTTP listener (`tradeplane dev` serves them on the gateway instead).
    pub metrics_listen: Option<std::net::SocketAddr>,
    /// `http.request`: limit on connecting.
    pub http_connect_timeout_ms: u64,
    /// `http.request`: limit on a whole exchange (keep it under `job_timeout_ms`).
    pub http_timeout_ms: u64,
}

impl Default for WorkerSection {
    fn default() -> Self {
        let pool = workers::PoolConfig::default();
        let http = workers::HttpConfig::default();
        Self {
            queues: pool.queues,
            concurrency: pool.concurrency,
            queue_concurrency: pool.queue_concurrency,
            name: pool.label,
            job_timeout_ms: ms(pool.job_timeout),
            visibility_timeout_ms: ms(pool.dispatch.visibility_timeout),
            shutdown_grace_ms: ms(pool.shutdown_grace),
            poll_block_ms: ms(pool.poll_block),
            reclaim_every_ms: ms(pool.reclaim_every),
            reconcile_every_ms: pool.reconcile_every.map_or(0, ms),
            metrics_listen: None,
            http_connect_timeout_ms: ms(http.connect_timeout),
            http_timeout_ms: ms(http.timeout),
        }
    }
}

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

impl Config {
    /// The worker process's configuration (`[worker]`, `[postgres]`, `[redis]`), checked.
    ///
    /// # Errors
    /// [`ConfigError::Invalid`] naming the bad setting.
    pub fn worker(&self) -> Result<workers::WorkerConfig, ConfigError> {
        let w = &self.worker;
        let visibility = Duration::from_millis(w.visibility_timeout_ms);
        let pool = workers::PoolConfig {
            queues: w.queues.clone(),
            concurrency: w.concurrency,
            queue_concurrency: w.queue_concurrency.clone(),
            label: w.name.clone(),
            job_timeout: Duration::from_millis(w.job_timeout_ms),
            shutdown_grace: Duration::from_millis(w.shutdown_grace_ms),
            poll_block: Duration::from_millis(w.poll_block_ms),
            reclaim_every: Duration::from_millis(w.reclaim_every_ms),
            reconcile_every: (w.reconcile_every_ms > 0)
                .then(|| Duration::from_millis(w.reconcile_every_ms)),
            dispatch: control_plane::DispatchConfig {
                visibility_timeout: visibility,
                claim_min_idle: visibility,
                ..control_plane::DispatchConfig::default()
            },
        };
        pool.validate()
            .map_err(|e| ConfigError::Invalid(format!("worker: {e}")))?;
        let redis = self.redis.redis_config();
        redis
            .validate()
            .map_err(|e| ConfigError::Invalid(format!("redis: {e}")))?;
        Ok(workers::WorkerConfig {
            postgres: self.postgres.pg_config(),
            store: self.jobs.store_config()?,
            redis,
            pool,
            http: workers::HttpConfig {
                connect_timeout: Duration::from_millis(w.http_connect_timeout_ms),
                timeout: Duration::from_millis(w.http_timeout_ms),
                ..workers::HttpConfig::default()
            },
            metrics: control_plane::JobMetrics::default(),
        })
    }
}
