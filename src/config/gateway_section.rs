//! `[gateway]`: where the gateway listens, its limits and its routes.

use std::net::SocketAddr;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::ConfigError;

/// The HTTP gateway: where it listens, its limits, and per market the API precision and
/// the shard that owns the book.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GatewaySection {
    /// HTTP address.
    pub listen: SocketAddr,
    /// End-to-end request timeout in milliseconds (past it: 503 with `Retry-After`).
    pub request_timeout_ms: u64,
    /// Largest request body in bytes.
    pub body_limit: usize,
    /// Pooled connections per shard.
    pub shard_connections: usize,
    /// Redis for `Idempotency-Key` (a request carrying the header answers 503 while it is
    /// unreachable, rather than risk running twice).
    pub redis_url: Option<String>,
    /// Per-principal requests per second (0: no limit).
    pub rate_limit_per_second: u32,
    /// Requests a principal may send at once after a quiet period.
    pub rate_limit_burst: u32,
    /// The casbin RBAC model file; set together with `rbac_policy`. Neither set: the
    /// policy shipped in the binary. Reloaded by `POST /v1/admin/policies/reload` and SIGHUP.
    pub rbac_model: Option<PathBuf>,
    /// The RBAC policy file (`policy.csv`); set together with `rbac_model`.
    pub rbac_policy: Option<PathBuf>,
    /// Serve the job and dead-letter API from the control plane (`[postgres]`, `[redis]`).
    /// Connections open lazily: with the databases down, those routes answer 503 and
    /// everything else works. `false` turns the routes' backend off (always 503).
    pub control_plane: bool,
    /// Trades kept per market from the shard feed (`GET /v1/markets/{symbol}/trades`).
    pub recent_trades: usize,
    /// Messages a WebSocket client may have queued before it is disconnected (4008).
    pub stream_buffer: usize,
    /// Milliseconds a WebSocket client may leave messages unread before it is
    /// disconnected (4008).
    pub stream_stall_timeout_ms: u64,
    /// Shortest milliseconds between two publications of a shard's market data to
    /// WebSocket clients (book deltas in between merge).
    pub stream_publish_interval_ms: u64,
    /// The markets the gateway routes.
    pub markets: Vec<GatewayMarket>,
}

impl Default for GatewaySection {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            request_timeout_ms: duration_ms(
                gateway::config::GatewayConfig::DEFAULT_REQUEST_TIMEOUT,
            ),
            body_limit: gateway::config::GatewayConfig::DEFAULT_BODY_LIMIT,
            shard_connections: gateway::config::GatewayConfig::DEFAULT_SHARD_CONNECTIONS,
            redis_url: Some("redis://127.0.0.1:6379".into()),
            rate_limit_per_second: 1_000,
            rate_limit_burst: 2_000,
            rbac_model: None,
            rbac_policy: None,
            control_plane: true,
            recent_trades: gateway::config::GatewayConfig::DEFAULT_RECENT_TRADES,
            stream_buffer: gateway::config::GatewayConfig::DEFAULT_STREAM_BUFFER,
            stream_stall_timeout_ms: duration_ms(
                gateway::config::GatewayConfig::DEFAULT_STREAM_STALL_TIMEOUT,
            ),
            stream_publish_interval_ms: duration_ms(
                gateway::config::GatewayConfig::DEFAULT_STREAM_PUBLISH_INTERVAL,
            ),
            markets: Vec::new(),
        }
    }
}

impl GatewaySection {
    /// The RBAC files: both or neither (a policy is written against one model). Whether
    /// they exist and parse is checked when the gateway loads them, before it listens.
    pub(super) fn policy_files(&self) -> Result<Option<gateway::config::PolicyFiles>, ConfigError> {
        match (&self.rbac_model, &self.rbac_policy) {
            (Some(model), Some(policy)) => Ok(Some(gateway::config::PolicyFiles {
                model: model.clone(),
                policy: policy.clone(),
            })),
            (None, None) => Ok(None),
            (model, _) => {
                let (set, missing) = if model.is_some() {
                    ("rbac_model", "rbac_policy")
                } else {
                    ("rbac_policy", "rbac_model")
                };
                Err(ConfigError::Invalid(format!(
                    "gateway.{set} is set but gateway.{missing} is not: set both \
                     (TRADEPLANE_GATEWAY__RBAC_MODEL, TRADEPLANE_GATEWAY__RBAC_POLICY) or \
                     neither (the policy shipped in the binary)"
                )))
            }
        }
    }
}

fn duration_ms(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// One market as the gateway routes it; its engine rules come from `[[markets]]` or
/// `[[matcher.markets]]` with the same symbol.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GatewayMarket {
    /// Symbol, e.g. `BTC-USD`.
    pub symbol: String,
    /// Decimal places of one price unit (`2`: a price unit is 0.01).
    pub price_decimals: u32,
    /// Decimal places of one quantity unit.
    pub quantity_decimals: u32,
    /// The shard serving this market.
    pub shard: SocketAddr,
}
