//! What a gateway needs to start: token verification settings, the market table (which
//! shard serves which symbol, and how its decimals read), and request limits.
//!
//! Loading (defaults < file < `TRADEPLANE_*` environment < flags) belongs to the CLI; this
//! module holds the typed result and checks it once, at start-up, with messages that name
//! the offending entry.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use matcher::MarketConfig;

use crate::auth::AuthConfig;
use crate::decimal::Precision;
use crate::rate_limit::RateLimit;

/// One market as the gateway sees it: the engine's configuration (id, symbol, tick, lot,
/// band), how its integer units read as decimals, and the shard that owns its book.
#[derive(Clone, Debug)]
pub struct MarketRoute {
    /// The engine's market configuration, identical to the one the shard runs.
    pub market: MarketConfig,
    /// Decimal places of one price unit and one quantity unit.
    pub precision: Precision,
    /// The shard serving this market.
    pub shard: SocketAddr,
}

/// Where the RBAC model and policy are read from, instead of the compiled-in ones.
///
/// Both or neither: a policy is only meaningful against the model it was written for, so a
/// custom policy with the shipped model (or the reverse) is not offered. The files are read
/// at start-up and again on every reload (`POST /v1/admin/policies/reload`, SIGHUP).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyFiles {
    /// The casbin model (`model.conf`).
    pub model: PathBuf,
    /// The policy rules (`policy.csv`).
    pub policy: PathBuf,
}

/// Where the control plane's job store (PostgreSQL) and queue index (Redis) live, for the
/// `/v1/jobs` and `/v1/dead-letters` routes.
///
/// Optional as a whole: a gateway in front of the matcher alone has no database, and its job
/// routes answer 503 `control_plane_unavailable` rather than fail to start. The pools are
/// lazy, so a gateway with a control plane starts while PostgreSQL or Redis is still away
/// (those requests answer 503 `unavailable` with `Retry-After` until they are back).
#[derive(Clone, Debug)]
pub struct ControlPlaneConfig {
    /// The job store's database.
    pub postgres: control_plane::PgConfig,
    /// The queue index, with its key prefix (tests use one each).
    pub redis: control_plane::RedisConfig,
    /// Attempts and backoff of the jobs this gateway enqueues.
    pub store: control_plane::StoreConfig,
    /// The job series, served on the gateway's `/metrics` (`tradeplane dev` shares them
    /// with its worker pool, so one scrape shows both).
    pub metrics: control_plane::JobMetrics,
}

impl ControlPlaneConfig {
    /// The store and queue at `postgres_url` and `redis_url`, with default limits.
    #[must_use]
    pub fn new(postgres_url: impl Into<String>, redis_url: impl Into<String>) -> Self {
        Self {
            postgres: control_plane::PgConfig {
                url: postgres_url.into(),
                ..control_plane::PgConfig::default()
            },
            redis: control_plane::RedisConfig {
                url: redis_url.into(),
                ..control_plane::RedisConfig::default()
            },
            store: control_plane::StoreConfig::default(),
            metrics: control_plane::JobMetrics::default(),
        }
    }

    /// Checks every part.
    ///
    /// # Errors
    /// The control plane's [`control_plane::Error::Config`] for the first invalid part.
    pub fn validate(&self) -> Result<(), control_plane::Error> {
        self.postgres.validate()?;
        self.redis.validate()?;
        self.store.validate()
    }
}

/// The gateway's configuration.
#[derive(Clone, Debug)]
pub struct GatewayConfig {
    /// Bearer-token verification.
    pub auth: AuthConfig,
    /// Every market the gateway routes, each to one shard.
    pub markets: Vec<MarketRoute>,
    /// Longest a request may take end to end, shard round trip included; past it the
    /// client gets a 503 with `Retry-After`.
    pub request_timeout: Duration,
    /// Largest request body accepted, in bytes (larger: 413).
    pub body_limit: usize,
    /// Pooled connections per shard.
    pub shard_connections: usize,
    /// Redis for `Idempotency-Key` (`redis://host:port/db`). `None`: a request carrying the
    /// header answers 503 `idempotency_unavailable` rather than run unprotected.
    pub redis_url: Option<String>,
    /// Prefix of every Redis key the gateway writes (tests use one per test).
    pub redis_prefix: String,
    /// How long a finished response stays replayable.
    pub idempotency_ttl: Duration,
    /// Per-principal request rate; `None` (the default) disables the limit, so the CLI
    /// decides (a load generator with one token must not be throttled by surprise).
    pub rate_limit: Option<RateLimit>,
    /// The RBAC model and policy files; `None` (the default): the shipped policy compiled
    /// into the binary ([`crate::rbac::DEFAULT_POLICY`]), which a reload re-installs as is.
    pub policy_files: Option<PolicyFiles>,
    /// Trades kept per market from the shard feed (`GET /v1/markets/{symbol}/trades`).
    pub recent_trades: usize,
    /// Messages a WebSocket client may have queued (book deltas of a market merge into one),
    /// and publications it may fall behind the bus, before it is disconnected (close code
    /// 4008): a slow client costs only itself.
    pub stream_buffer: usize,
    /// Longest a WebSocket client may leave a batch of messages unread on its socket
    /// before it is disconnected (close code 4008): a client that stops reading is dropped
    /// even when its merged deltas would never fill its buffer.
    pub stream_stall_timeout: Duration,
    /// Shortest time between two publications of a shard's market data to WebSocket
    /// clients (zero: as soon as the previous one reached every client). Changes in
    /// between merge (book deltas) or wait (trades, order updates); a change after a quiet
    /// spell goes out at once.
    pub stream_publish_interval: Duration,
    /// The job store and queue behind `/v1/jobs` and `/v1/dead-letters`; `None` (the
    /// default): those routes answer 503 `control_plane_unavailable`.
    pub control_plane: Option<ControlPlaneConfig>,
}

impl GatewayConfig {
    /// Default end-to-end request timeout.
    pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(2);
    /// Default body limit: an order is a few hundred bytes.
    pub const DEFAULT_BODY_LIMIT: usize = 16 * 1024;
    /// Default pooled connections per shard.
    pub const DEFAULT_SHARD_CONNECTIONS: usize = 2;
    /// Default Redis key prefix.
    pub const DEFAULT_REDIS_PREFIX: &'static str = "tp:";
    /// Default replay window of an idempotent response: 24 hours.
    pub const DEFAULT_IDEMPOTENCY_TTL: Duration = Duration::from_secs(24 * 60 * 60);
    /// Default trades kept per market.
    pub const DEFAULT_RECENT_TRADES: usize = 1000;
    /// Default WebSocket backlog, in messages.
    pub const DEFAULT_STREAM_BUFFER: usize = 4096;
    /// Default stall timeout of a WebSocket client.
    pub const DEFAULT_STREAM_STALL_TIMEOUT: Duration = Duration::from_secs(10);
    /// Default shortest time between two publications of a shard: 30 ms. A publication
    /// costs every subscriber a write and a read (about 14 µs of CPU per subscriber on the
    /// 2-vCPU development machine, mostly loopback TCP); with 1,000 subscribers and
    /// 10,000 orders/s there, publishing as fast as the subscribers could take it
    /// starved the order flow (3,000 orders/s), 30 ms kept it at 10,000/s, and the
    /// fan-out latency of each publication stayed the same.
    pub const DEFAULT_STREAM_PUBLISH_INTERVAL: Duration = Duration::from_millis(30);

    /// A configuration with default limits.
    #[must_use]
    pub fn new(auth: AuthConfig, markets: Vec<MarketRoute>) -> Self {
        Self {
            auth,
            markets,
            request_timeout: Self::DEFAULT_REQUEST_TIMEOUT,
            body_limit: Self::DEFAULT_BODY_LIMIT,
            shard_connections: Self::DEFAULT_SHARD_CONNECTIONS,
            redis_url: None,
            redis_prefix: Self::DEFAULT_REDIS_PREFIX.to_owned(),
            idempotency_ttl: Self::DEFAULT_IDEMPOTENCY_TTL,
            rate_limit: None,
            policy_files: None,
            recent_trades: Self::DEFAULT_RECENT_TRADES,
            stream_buffer: Self::DEFAULT_STREAM_BUFFER,
            stream_stall_timeout: Self::DEFAULT_STREAM_STALL_TIMEOUT,
            stream_publish_interval: Self::DEFAULT_STREAM_PUBLISH_INTERVAL,
            control_plane: None,
        }
    }

    /// Checks the configuration as a whole.
    ///
    /// # Errors
    /// The first [`GatewayConfigError`] found.
    pub fn validate(&self) -> Result<(), GatewayConfigError> {
        self.auth.validate().map_err(GatewayConfigError::Auth)?;
        if self.markets.is_empty() {
            return Err(GatewayConfigError::NoMarkets);
        }
        let mut symbols = HashSet::new();
        let mut ids = HashSet::new();
        for route in &self.markets {
            let symbol = route.market.symbol();
            if !symbols.insert(symbol.as_str().to_owned()) {
                return Err(GatewayConfigError::DuplicateSymbol(
                    symbol.as_str().to_owned(),
                ));
            }
            if !ids.insert(route.market.id()) {
                return Err(GatewayConfigError::DuplicateMarketId(route.market.id().0));
            }
        }
        if self.request_timeout.is_zero() {
            return Err(GatewayConfigError::ZeroLimit("request_timeout"));
        }
        if self.body_limit == 0 {
            return Err(GatewayConfigError::ZeroLimit("body_limit"));
        }
        if self.shard_connections == 0 {
            return Err(GatewayConfigError::ZeroLimit("shard_connections"));
        }
        if self.recent_trades == 0 {
            return Err(GatewayConfigError::ZeroLimit("recent_trades"));
        }
        if self.stream_buffer == 0 {
            return Err(GatewayConfigError::ZeroLimit("stream_buffer"));
        }
        if self.stream_stall_timeout.is_zero() {
            return Err(GatewayConfigError::ZeroLimit("stream_stall_timeout"));
        }
        if self.idempotency_ttl.is_zero() {
            return Err(GatewayConfigError::ZeroLimit("idempotency_ttl"));
        }
        if let Some(url) = &self.redis_url
            && let Err(error) = redis::Client::open(url.as_str())
        {
            return Err(GatewayConfigError::RedisUrl(error.to_string()));
        }
        if let Some(control_plane) = &self.control_plane {
            control_plane
                .validate()
                .map_err(GatewayConfigError::ControlPlane)?;
        }
        Ok(())
    }
}

/// Why a [`GatewayConfig`] cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum GatewayConfigError {
    /// The authentication settings are invalid.
    #[error("auth: {0}")]
    Auth(#[source] crate::auth::ConfigError),
    /// No market is configured.
    #[error("markets: at least one market is required")]
    NoMarkets,
    /// Two markets share a symbol.
    #[error("markets: symbol {0} is configured twice")]
    DuplicateSymbol(String),
    /// Two markets share an id.
    #[error("markets: market id {0} is configured twice")]
    DuplicateMarketId(u32),
    /// `redis_url` is not a Redis URL.
    #[error("redis_url: {0}")]
    RedisUrl(String),
    /// The control plane's settings are invalid.
    #[error("control_plane: {0}")]
    ControlPlane(#[source] control_plane::Error),
    /// A limit that must be positive is zero.
    #[error("{0} must be greater than zero")]
    ZeroLimit(&'static str),
}
