//! Configuration for every role: compiled-in defaults < a TOML file < `TRADEPLANE_*`
//! environment variables < command-line flags, validated once at start-up.
//!
//! Environment variables name a path with `__` between levels:
//! `TRADEPLANE_MATCHER__LISTEN=127.0.0.1:7001`, `TRADEPLANE_MATCHER__FSYNC=false`.

use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

use matcher::MarketConfig;

mod auth;
mod gateway_section;
mod jobs;
mod matcher_section;
mod postgres;
mod redis;
mod worker;

pub use auth::AuthSection;
pub use gateway_section::{GatewayMarket, GatewaySection};
pub use jobs::JobsSection;
pub use matcher_section::{MarketSpec, MatcherSection};
pub use postgres::PostgresSection;
pub use redis::RedisSection;
pub use worker::WorkerSection;

/// The whole configuration.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Token issuing and checking.
    pub auth: AuthSection,
    /// The market catalogue shared by every role: engine rules by symbol. The gateway
    /// takes a market's rules from here, or else from `matcher.markets`.
    pub markets: Vec<MarketSpec>,
    /// One matcher shard.
    pub matcher: MatcherSection,
    /// The HTTP gateway.
    pub gateway: GatewaySection,
    /// The control plane's database.
    pub postgres: PostgresSection,
    /// The control plane's job queues.
    pub redis: RedisSection,
    /// The job worker pool.
    pub worker: WorkerSection,
    /// Retries and attempt limits of jobs (every role that enqueues or runs them).
    pub jobs: JobsSection,
}

/// Why the configuration cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file named on the command line does not exist.
    #[error("configuration file {0} not found")]
    MissingFile(PathBuf),
    /// A source did not parse, or a value has the wrong type or an unknown key.
    #[error("invalid configuration: {0}")]
    Parse(String),
    /// The values parse but do not make sense together.
    #[error("invalid configuration: {0}")]
    Invalid(String),
}

/// Merges the layers, lowest first: defaults, `file`, the `TRADEPLANE_*` environment,
/// then `overrides` (command-line flags, serialized with absent flags skipped).
///
/// # Errors
/// [`ConfigError`] for a missing file, a parse error or an unknown key.
pub fn load(file: Option<&Path>, overrides: &impl Serialize) -> Result<Config, ConfigError> {
    let mut figment = Figment::from(Serialized::defaults(Config::default()));
    if let Some(path) = file {
        if !path.exists() {
            return Err(ConfigError::MissingFile(path.to_owned()));
        }
        figment = figment.merge(Toml::file_exact(path));
    }
    figment
        // `TRADEPLANE_CONFIG` names the file; it is not a setting.
        .merge(Env::prefixed("TRADEPLANE_").ignore(&["config"]).split("__"))
        .merge(Serialized::defaults(overrides))
        .extract()
        .map_err(|e| ConfigError::Parse(e.to_string()))
}

impl Config {
    /// The engine rules for `symbol`: from `markets`, else from `matcher.markets`.
    ///
    /// # Errors
    /// [`ConfigError::Invalid`] if the two lists disagree or the rules are invalid.
    fn market_rules(&self, symbol: &str) -> Result<Option<MarketConfig>, ConfigError> {
        let top = self
            .markets
            .iter()
            .enumerate()
            .find(|(_, m)| m.symbol == symbol);
        let shard = self
            .matcher
            .markets
            .iter()
            .enumerate()
            .find(|(_, m)| m.symbol == symbol);
        match (top, shard) {
            (Some((_, a)), Some((_, b))) if a != b => Err(ConfigError::Invalid(format!(
                "markets and matcher.markets disagree on the rules of {symbol}"
            ))),
            (Some((i, m)), _) => m
                .to_market()
                .map(Some)
                .map_err(|e| ConfigError::Invalid(format!("markets[{i}]: {e}"))),
            (None, Some((i, m))) => m
                .to_market()
                .map(Some)
                .map_err(|e| ConfigError::Invalid(format!("matcher.markets[{i}]: {e}"))),
            (None, None) => Ok(None),
        }
    }

    /// The gateway configuration these settings describe, checked.
    ///
    /// # Errors
    /// [`ConfigError::Invalid`] naming the bad setting.
    pub fn gateway(&self) -> Result<gateway::config::GatewayConfig, ConfigError> {
        let g = &self.gateway;
        if g.markets.is_empty() {
            return Err(ConfigError::Invalid(
                "gateway.markets is empty: the gateway needs at least one market".into(),
            ));
        }
        let routes = g
            .markets
            .iter()
            .enumerate()
            .map(|(i, m)| {
                let market = self.market_rules(&m.symbol)?.ok_or_else(|| {
                    ConfigError::Invalid(format!(
                        "gateway.markets[{i}]: no rules for {:?}: add a [[markets]] (or \
                         [[matcher.markets]]) entry with that symbol",
                        m.symbol
                    ))
                })?;
                let precision =
                    gateway::decimal::Precision::new(m.price_decimals, m.quantity_decimals)
                        .map_err(|e| ConfigError::Invalid(format!("gateway.markets[{i}]: {e}")))?;
                Ok(gateway::config::MarketRoute {
                    market,
                    precision,
                    shard: m.shard,
                })
            })
            .collect::<Result<Vec<_>, ConfigError>>()?;
        for (name, zero) in [
            ("gateway.request_timeout_ms", g.request_timeout_ms == 0),
            ("gateway.body_limit", g.body_limit == 0),
            ("gateway.shard_connections", g.shard_connections == 0),
        ] {
            if zero {
                return Err(ConfigError::Invalid(format!(
                    "{name} must be greater than zero"
                )));
            }
        }
        let mut config = gateway::config::GatewayConfig::new(self.auth.verifier()?, routes);
        config.request_timeout = std::time::Duration::from_millis(g.request_timeout_ms);
        config.body_limit = g.body_limit;
        config.recent_trades = g.recent_trades;
        config.stream_buffer = g.stream_buffer;
        config.stream_stall_timeout = std::time::Duration::from_millis(g.stream_stall_timeout_ms);
        config.stream_publish_interval =
            std::time::Duration::from_millis(g.stream_publish_interval_ms);
        config.shard_connections = g.shard_connections;
        config.redis_url.clone_from(&g.redis_url);
        config.rate_limit = std::num::NonZeroU32::new(g.rate_limit_per_second).map(|per_second| {
            gateway::rate_limit::RateLimit {
                per_second,
                burst: std::num::NonZeroU32::new(g.rate_limit_burst).unwrap_or(per_second),
            }
        });
        config.policy_files = g.policy_files()?;
        if g.control_plane {
            config.control_plane = Some(gateway::config::ControlPlaneConfig {
                postgres: self.postgres.pg_config(),
                redis: self.redis.redis_config(),
                store: self.jobs.store_config()?,
                metrics: control_plane::JobMetrics::default(),
            });
        }
        config
            .validate()
            .map_err(|e| ConfigError::Invalid(format!("gateway.{e}")))?;
        Ok(config)
    }
}
