//! Symbol → shard routing: the market table and one pooled client per shard.
//!
//! Design decisions:
//! - **Markets are looked up by symbol** (API paths and bodies) **and by id** (engine
//!   answers); both maps are built once at start-up and never change.
//! - **One [`ShardClient`] per distinct shard address**, shared by every market on it.
//! - **Order ids name their shard.** The engine numbers orders per shard, so two shards
//!   hand out the same numbers. The public id is `ord_<shard>_<n>`, where `<shard>` is the
//!   shard's index in order of first appearance in the market configuration. Keep that
//!   order stable in configuration files (a stable shard id in configuration is the later
//!   fix).
//! - **A shard that cannot answer is a 503 with `Retry-After`**, whatever the reason
//!   (down, backing off, busy, timed out, connection lost): the client retries with the same
//!   `client_order_id`, which the engine deduplicates.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use matcher::client::{ClientConfig, ClientError, ShardClient};
use matcher::protocol::ErrorCode;
use matcher::{MarketConfig, MarketId, OrderId};

use crate::config::MarketRoute;
use crate::decimal::Precision;
use crate::problem::Problem;

/// Seconds a client is told to wait after a shard failure.
pub const SHARD_RETRY_AFTER_SECS: u32 = 1;

/// Index of a shard in the [`Shards`] table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ShardIndex(pub u16);

/// One market and where it lives.
#[derive(Clone, Debug)]
pub struct Market {
    /// The engine's configuration of the market.
    pub config: MarketConfig,
    /// Decimal places of its price and quantity units.
    pub precision: Precision,
    /// The shard serving it.
    pub shard: ShardIndex,
}

impl Market {
    /// The market's symbol as a string.
    #[must_use]
    pub fn symbol(&self) -> String {
        self.config.symbol().as_str().to_owned()
    }
}

/// The market table and the shard clients.
#[derive(Debug)]
pub struct Shards {
    clients: Vec<ShardClient>,
    markets: Vec<Market>,
    by_symbol: HashMap<String, usize>,
    by_id: HashMap<MarketId, usize>,
}

impl Shards {
    /// Builds clients (which dial lazily, on first use) and the lookup maps. Expects a
    /// validated configuration (unique symbols and ids).
    #[must_use]
    pub fn new(
        routes: &[MarketRoute],
        request_timeout: Duration,
        connections: usize,
        metrics: &std::sync::Arc<crate::metrics::Metrics>,
    ) -> Self {
        let mut addrs: Vec<SocketAddr> = Vec::new();
        let mut markets = Vec::with_capacity(routes.len());
        for route in routes {
            let index = addrs
                .iter()
                .position(|a| *a == route.shard)
                .unwrap_or_else(|| {
                    addrs.push(route.shard);
                    addrs.len() - 1
                });
            markets.push(Market {
                config: route.market,
                precision: route.precision,
                shard: ShardIndex(u16::try_from(index).unwrap_or(u16::MAX)),
            });
        }
        let clients = addrs
            .into_iter()
            .map(|addr| {
                let mut config = ClientConfig::new(addr);
                config.request_timeout = request_timeout;
                config.connect_timeout = config.connect_timeout.min(request_timeout);
                config.connections = connections;
                let metrics = std::sync::Arc::clone(metrics);
                let label = addr.to_string();
                config.observer = Some(matcher::client::RoundTripObserver(std::sync::Arc::new(
                    move |op, elapsed| metrics.observe_shard(&label, op, elapsed),
                )));
                ShardClient::new(config)
            })
            .collect();
        let by_symbol = markets
            .iter()
            .enumerate()
            .map(|(i, m)| (m.symbol(), i))
            .collect();
        let by_id = markets
            .iter()
            .enumerate()
            .map(|(i, m)| (m.config.id(), i))
            .collect();
        Self {
            clients,
            markets,
            by_symbol,
            by_id,
        }
    }

    /// Every market, in configuration order.
    pub fn markets(&self) -> impl Iterator<Item = &Market> + '_ {
        self.markets.iter()
    }

    /// The market with this symbol.
    #[must_use]
    pub fn by_symbol(&self, symbol: &str) -> Option<&Market> {
        self.by_symbol.get(symbol).map(|&i| &self.markets[i])
    }

    /// The market with this id.
    #[must_use]
    pub fn by_id(&self, id: MarketId) -> Option<&Market> {
        self.by_id.get(&id).map(|&i| &self.markets[i])
    }

    /// The client of a shard.
    #[must_use]
    pub fn client(&self, shard: ShardIndex) -> Option<&ShardClient> {
        self.clients.get(usize::from(shard.0))
    }

    /// Every shard's client.
    pub fn clients(&self) -> impl Iterator<Item = (ShardIndex, &ShardClient)> + '_ {
        self.clients
            .iter()
            .enumerate()
            .map(|(i, c)| (ShardIndex(u16::try_from(i).unwrap_or(u16::MAX)), c))
    }
}

/// Public order id prefix.
const ORDER_PREFIX: &str = "ord_";

/// The public id of an engine order on a shard: `ord_<shard>_<n>`.
#[must_use]
pub fn format_order_id(shard: ShardIndex, id: OrderId) -> String {
    format!("{ORDER_PREFIX}{}_{}", shard.0, id.0)
}

/// Reads a public order id; `None` if it is not one this gateway could have issued.
#[must_use]
pub fn parse_order_id(s: &str) -> Option<(ShardIndex, OrderId)> {
    let rest = s.strip_prefix(ORDER_PREFIX)?;
    let (shard, n) = rest.split_once('_')?;
    let digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
    if !digits(shard) || !digits(n) {
        return None;
    }
    Some((ShardIndex(shard.parse().ok()?), OrderId(n.parse().ok()?)))
}

/// The problem a failed shard request answers with: 503 with `Retry-After` when retrying
/// makes sense, a logged 500 otherwise.
#[must_use]
pub fn shard_problem(error: &ClientError, context: &str) -> Problem {
    if error.retryable() {
        tracing::warn!(%error, context, "shard unavailable");
        return Problem::unavailable(SHARD_RETRY_AFTER_SECS);
    }
    match error {
        ClientError::Server {
            code: ErrorCode::ShuttingDown,
            ..
        } => Problem::unavailable(SHARD_RETRY_AFTER_SECS),
        other => Problem::internal(other, context),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_ids_round_trip() {
        let s = format_order_id(ShardIndex(3), OrderId(42));
        assert_eq!(s, "ord_3_42");
        assert_eq!(parse_order_id(&s), Some((ShardIndex(3), OrderId(42))));
    }

    #[test]
    fn foreign_order_ids_are_refused() {
        for s in [
            "",
            "ord_",
            "ord_1",
            "ord__1",
            "ord_1_",
            "ord_a_1",
            "ord_1_-1",
            "xrd_1_1",
            "ord_1_1_1",
            "ord_70000_1",
            "ord_1_+1",
        ] {
            assert_eq!(parse_order_id(s), None, "{s}");
        }
    }
}
