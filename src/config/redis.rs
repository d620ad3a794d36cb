//! `[redis]`: the control plane's job queues (streams, delayed sets).
//!
//! A section of its own rather than `gateway.redis_url`: that one is optional (unset turns
//! `Idempotency-Key` off) and serves a cache the gateway can lose, while the queues need a
//! key prefix shared by every producer and worker and may well live on another Redis
//! (a persistent one in production). Both default to the same local server.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Where the job queues live.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RedisSection {
    /// `redis://[:password@]host:port/db` (`TRADEPLANE_REDIS__URL`).
    pub url: String,
    /// Pooled connections: each poll loop holds one while it blocks, job outcomes borrow
    /// one briefly.
    pub pool_size: usize,
    /// Bound on connecting and on any one command, in milliseconds.
    pub op_timeout_ms: u64,
    /// Namespace of every key (`[A-Za-z0-9_.-]{1,64}`): producers and workers of one
    /// deployment must agree on it.
    pub prefix: String,
}

impl Default for RedisSection {
    fn default() -> Self {
        Self {
            url: "redis://127.0.0.1:6379/0".into(),
            pool_size: 32,
            op_timeout_ms: 2_000,
            prefix: "tp".into(),
        }
    }
}

// The URL may hold a password.
impl std::fmt::Debug for RedisSection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisSection")
            .field("url", &"<redacted>")
            .field("pool_size", &self.pool_size)
            .field("op_timeout_ms", &self.op_timeout_ms)
            .field("prefix", &self.prefix)
            .finish()
    }
}

impl RedisSection {
    /// The control plane's queue configuration.
    #[must_use]
    pub fn redis_config(&self) -> control_plane::RedisConfig {
        control_plane::RedisConfig {
            url: self.url.clone(),
            pool_size: self.pool_size,
            op_timeout: Duration::from_millis(self.op_timeout_ms),
            prefix: self.prefix.clone(),
        }
    }
}
