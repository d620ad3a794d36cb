//! `[matcher]` and `[[markets]]`: one shard and the market catalogue.

use std::net::SocketAddr;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use matcher::{EngineConfig, MarketConfig, MarketId, Price, Quantity, Symbol};

use super::ConfigError;

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
