//! Configuration for every role: compiled-in defaults < a TOML file < `TRADEPLANE_*`
//! environment variables < command-line flags, validated once at start-up.
//!
//! Environment variables name a path with `__` between levels:
//! `TRADEPLANE_MATCHER__LISTEN=127.0.0.1:7001`, `TRADEPLANE_MATCHER__FSYNC=false`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

use matcher::{EngineConfig, MarketConfig, MarketId, Price, Quantity, Symbol};

mod postgres;
mod redis;
mod worker;

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
}

/// Token issuing and checking, shared by the gateway and `tradeplane token`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthSection {
    /// The `iss` tokens carry and the gateway requires.
    pub issuer: String,
    /// The `aud` tokens carry and the gateway requires.
    pub audience: String,
    /// The HS256 secret (at least 32 bytes). Keep it out of files: prefer
    /// `TRADEPLANE_AUTH__HS256_SECRET`.
    pub hs256_secret: Option<String>,
    /// A JWKS file with RS256 / ES256 / EdDSA public keys (re-read on an unknown `kid`).
    pub jwks_file: Option<PathBuf>,
    /// Or a JWKS URL (`https://`; plain `http://` is for loopback and logged as a warning
    /// elsewhere): fetched at start-up, where a failure is logged but does not stop the
    /// gateway (the identity provider may be down), and fetched again on an unknown `kid`
    /// (key rotation).
    pub jwks_url: Option<String>,
    /// Least time between two JWKS refreshes triggered by unknown `kid`s, in seconds: how
    /// often forged `kid`s can make the gateway re-read the file or call the URL, and how long
    /// a newly rotated key may wait to be picked up.
    pub jwks_refresh_interval_secs: u64,
}

impl Default for AuthSection {
    fn default() -> Self {
        Self {
            issuer: "tradeplane".into(),
            audience: "tradeplane-api".into(),
            hs256_secret: None,
            jwks_file: None,
            jwks_url: None,
            jwks_refresh_interval_secs: gateway::auth::JwksConfig::DEFAULT_REFRESH_MIN_INTERVAL
                .as_secs(),
        }
    }
}

impl AuthSection {
    /// The gateway's token verification settings; needs a secret or a JWKS.
    ///
    /// # Errors
    /// [`ConfigError::Invalid`] naming the setting (and its environment variable).
    pub fn verifier(&self) -> Result<gateway::auth::AuthConfig, ConfigError> {
        let mut auth = gateway::auth::AuthConfig::new(&self.issuer, &self.audience);
        if let Some(secret) = &self.hs256_secret {
            auth.hs256_secret = Some(
                gateway::auth::Hs256Secret::new(secret.as_bytes().to_vec()).map_err(|e| {
                    ConfigError::Invalid(format!(
                        "auth.hs256_secret (TRADEPLANE_AUTH__HS256_SECRET): {e}"
                    ))
                })?,
            );
        }
        let source = match (&self.jwks_file, &self.jwks_url) {
            (Some(_), Some(_)) => {
                return Err(ConfigError::Invalid(
                    "auth.jwks_file (TRADEPLANE_AUTH__JWKS_FILE) and auth.jwks_url \
                     (TRADEPLANE_AUTH__JWKS_URL) are mutually exclusive: set one"
                        .into(),
                ));
            }
            (Some(file), None) => Some(gateway::auth::JwksSource::File(file.clone())),
            (None, Some(url)) => Some(gateway::auth::JwksSource::Url(url.clone())),
            (None, None) => None,
        };
        if let Some(source) = source {
            // Zero would let every forged `kid` cause a fetch.
            if self.jwks_refresh_interval_secs == 0 {
                return Err(ConfigError::Invalid(
                    "auth.jwks_refresh_interval_secs must be greater than zero".into(),
                ));
            }
            auth.jwks = Some(gateway::auth::JwksConfig {
                source,
                refresh_min_interval: std::time::Duration::from_secs(
                    self.jwks_refresh_interval_secs,
                ),
            });
        }
        if auth.hs256_secret.is_none() && auth.jwks.is_none() {
            return Err(ConfigError::Invalid(
                "auth: no key to verify tokens with: set auth.hs256_secret \
                 (TRADEPLANE_AUTH__HS256_SECRET), auth.jwks_file (TRADEPLANE_AUTH__JWKS_FILE) \
                 or auth.jwks_url (TRADEPLANE_AUTH__JWKS_URL)"
                    .into(),
            ));
        }
        auth.validate().map_err(|e| match e {
            gateway::auth::ConfigError::InvalidJwksUrl { reason } => ConfigError::Invalid(format!(
                "auth.jwks_url (TRADEPLANE_AUTH__JWKS_URL): {reason}"
            )),
            e => ConfigError::Invalid(format!("auth: {e}")),
        })?;
        Ok(auth)
    }
}

/// Never prints the secret.
impl std::fmt::Debug for AuthSection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthSection")
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .field(
                "hs256_secret",
                &self.hs256_secret.as_ref().map(|_| "<redacted>"),
            )
            .field("jwks_file", &self.jwks_file)
            .field("jwks_url", &self.jwks_url)
            .field(
                "jwks_refresh_interval_secs",
                &self.jwks_refresh_interval_secs,
            )
            .finish()
    }
}

#[cfg(test)]
mod auth_section_tests {
    use super::*;

    fn from_toml(toml: &str) -> AuthSection {
        Figment::from(Serialized::defaults(Config::default()))
            .merge(Toml::string(toml))
            .extract::<Config>()
            .unwrap()
            .auth
    }

    fn invalid(section: &AuthSection) -> String {
        match section.verifier() {
            Err(ConfigError::Invalid(message)) => message,
            other => panic!("expected Invalid, got {other:?}"),
        }
    }

    #[test]
    fn a_jwks_url_becomes_a_url_source_with_the_refresh_interval() {
        let section = from_toml(
            "[auth]\njwks_url = \"https://idp.example/.well-known/jwks.json\"\n\
             jwks_refresh_interval_secs = 300\n",
        );
        let jwks = section.verifier().unwrap().jwks.unwrap();
        assert_eq!(
            jwks.source,
            gateway::auth::JwksSource::Url("https://idp.example/.well-known/jwks.json".into())
        );
        assert_eq!(jwks.refresh_min_interval.as_secs(), 300);
        // The default interval is the gateway's.
        let section = from_toml("[auth]\njwks_file = \"/etc/jwks.json\"\n");
        assert_eq!(
            section
                .verifier()
                .unwrap()
                .jwks
                .unwrap()
                .refresh_min_interval,
            gateway::auth::JwksConfig::DEFAULT_REFRESH_MIN_INTERVAL
        );
    }

    #[test]
    fn jwks_settings_are_validated_and_errors_name_the_setting() {
        let url = |url: &str| AuthSection {
            jwks_url: Some(url.into()),
            ..AuthSection::default()
        };
        let both = AuthSection {
            jwks_file: Some("/etc/jwks.json".into()),
            ..url("https://idp.example/jwks.json")
        };
        assert!(invalid(&both).contains("mutually exclusive"));
        for bad in ["ftp://idp.example/jwks.json", "idp.example/jwks.json", ""] {
            let message = invalid(&url(bad));
            assert!(
                message.starts_with("auth.jwks_url (TRADEPLANE_AUTH__JWKS_URL): "),
                "{bad:?}: {message}"
            );
        }
        let zero = AuthSection {
            jwks_refresh_interval_secs: 0,
            ..url("https://idp.example/jwks.json")
        };
        assert!(invalid(&zero).contains("auth.jwks_refresh_interval_secs"));
        assert!(invalid(&AuthSection::default()).contains("auth.jwks_url"));
        assert!(url("http://127.0.0.1:9/jwks.json").verifier().is_ok());
    }
}

/// One matcher shard.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MatcherSection {
    /// Order entry and feed address.
    pub listen: SocketAddr,
    /// Journal and snapshot directory.
    pub data_dir: PathBuf,
    /// The markets this shard owns.
    pub markets: Vec<MarketSpec>,
    /// Finished orders whose client order ids stay reserved.
    pub client_id_window: u32,
    /// Bytes per preallocated journal segment.
    pub segment_size: u64,
    /// `fdatasync` before acknowledging (off only for benchmarks).
    pub fsync: bool,
    /// Snapshot every this many commands (0: only on request).
    pub snapshot_every: u64,
    /// Snapshots kept; older journal segments are retired.
    pub keep_snapshots: usize,
    /// Move retired segments here instead of deleting them.
    pub archive_dir: Option<PathBuf>,
    /// Pin the matching thread to this core.
    pub core: Option<usize>,
    /// Busy-spin the matching thread when idle (else spin briefly, then park).
    pub busy_spin: bool,
}

impl Default for MatcherSection {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 7001)),
            data_dir: PathBuf::from("./data/shard-1"),
            markets: Vec::new(),
            client_id_window: 65_536,
            segment_size: 64 << 20,
            fsync: true,
            snapshot_every: 1_000_000,
            keep_snapshots: 2,
            archive_dir: None,
            core: None,
            busy_spin: false,
        }
    }
}

/// A market as configuration spells it; prices and quantities in integer units.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MarketSpec {
    /// Stable numeric id.
    pub id: u32,
    /// Symbol, e.g. `BTC-USD`.
    pub symbol: String,
    /// Price units per tick.
    pub tick_size: u64,
    /// Quantity units per lot.
    pub lot_size: u64,
    /// Lowest limit price.
    pub min_price: i64,
    /// Highest limit price.
    pub max_price: i64,
    /// Largest order quantity.
    pub max_quantity: u64,
    /// Most resting orders.
    pub max_resting_orders: u32,
}

impl MarketSpec {
    /// The engine's market rules.
    ///
    /// # Errors
    /// A message naming what is wrong.
    pub fn to_market(&self) -> Result<MarketConfig, String> {
        let symbol =
            Symbol::new(&self.symbol).map_err(|e| format!("symbol {:?}: {e}", self.symbol))?;
        MarketConfig::new(
            MarketId(self.id),
            symbol,
            self.tick_size,
            self.lot_size,
            Price(self.min_price),
            Price(self.max_price),
            Quantity(self.max_quantity),
            self.max_resting_orders,
        )
        .map_err(|e| e.to_string())
    }
}

impl From<&MarketConfig> for MarketSpec {
    fn from(m: &MarketConfig) -> Self {
        Self {
            id: m.id().0,
            symbol: m.symbol().to_string(),
            tick_size: m.tick_size(),
            lot_size: m.lot_size(),
            min_price: m.min_price().0,
            max_price: m.max_price().0,
            max_quantity: m.max_quantity().0,
            max_resting_orders: m.max_resting_orders(),
        }
    }
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

impl MatcherSection {
    /// The engine configuration these settings describe, checked.
    ///
    /// # Errors
    /// [`ConfigError::Invalid`] naming the bad market or setting.
    pub fn engine(&self) -> Result<EngineConfig, ConfigError> {
        if self.markets.is_empty() {
            return Err(ConfigError::Invalid(
                "matcher.markets is empty: a shard needs at least one market".into(),
            ));
        }
        let markets = self
            .markets
            .iter()
            .enumerate()
            .map(|(i, m)| {
                m.to_market()
                    .map_err(|e| ConfigError::Invalid(format!("matcher.markets[{i}]: {e}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let engine = EngineConfig {
            markets,
            client_id_window: self.client_id_window,
        };
        matcher::Engine::new(engine.clone())
            .map_err(|e| ConfigError::Invalid(format!("matcher: {e}")))?;
        Ok(engine)
    }

    /// The shard configuration these settings describe, checked.
    ///
    /// # Errors
    /// [`ConfigError::Invalid`] naming the bad setting.
    pub fn shard(&self) -> Result<matcher::shard::ShardConfig, ConfigError> {
        let mut c = matcher::shard::ShardConfig::new(self.engine()?, self.data_dir.clone());
        c.segment_size = self.segment_size;
        c.fsync = self.fsync;
        c.snapshot_every = self.snapshot_every;
        c.keep_snapshots = self.keep_snapshots;
        c.archive_dir.clone_from(&self.archive_dir);
        c.core = self.core;
        if self.busy_spin {
            c.wait = matcher::shard::WaitStrategy::BusySpin;
        }
        c.validate()
            .map_err(|e| ConfigError::Invalid(format!("matcher: {e}")))?;
        Ok(c)
    }
}

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
            markets: Vec::new(),
        }
    }
}

impl GatewaySection {
    /// The RBAC files: both or neither (a policy is written against one model). Whether
    /// they exist and parse is checked when the gateway loads them, before it listens.
    fn policy_files(&self) -> Result<Option<gateway::config::PolicyFiles>, ConfigError> {
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
                store: control_plane::StoreConfig::default(),
            });
        }
        config
            .validate()
            .map_err(|e| ConfigError::Invalid(format!("gateway.{e}")))?;
        Ok(config)
    }
}
