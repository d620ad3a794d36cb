//! The two markets the properties trade in, and an unknown one.

use matcher::{EngineConfig, MarketConfig, MarketId, Price, Quantity, Symbol};

/// First market: tick 1, lot 1, a 31-tick band.
pub(super) const MARKET_A: MarketId = MarketId(7);
/// Second market: tick 5, lot 10, a 73-tick band reaching below zero (so the engine's
/// level bitmap spans two words; generated prices straddle index 64).
pub(super) const MARKET_B: MarketId = MarketId(3);
/// Not configured.
pub(super) const UNKNOWN_MARKET: MarketId = MarketId(99);
/// Accounts 1..=ACCOUNTS trade; few, so self-trades are common.
pub(super) const ACCOUNTS: u64 = 4;

fn market_a() -> MarketConfig {
    MarketConfig::new(
        MARKET_A,
        Symbol::new("AAA-USD").expect("valid symbol"),
        1,
        1,
        Price(100),
        Price(130),
        Quantity(50),
        8,
    )
    .expect("valid market")
}

fn market_b() -> MarketConfig {
    MarketConfig::new(
        MARKET_B,
        Symbol::new("BBB-USD").expect("valid symbol"),
        5,
        10,
        Price(-300),
        Price(60),
        Quantity(200),
        12,
    )
    .expect("valid market")
}

pub(super) fn engine_config(window: u32) -> EngineConfig {
    EngineConfig {
        markets: vec![market_a(), market_b()],
        client_id_window: window,
    }
}

/// Centre of the generated prices of a market.
pub(super) fn mid(config: &MarketConfig) -> i64 {
    if config.id() == MARKET_A { 115 } else { 20 }
}

pub(super) fn config_of(market: MarketId) -> MarketConfig {
    if market == MARKET_B {
        market_b()
    } else {
        market_a()
    }
}

pub(super) fn tick(config: &MarketConfig) -> i64 {
    i64::try_from(config.tick_size()).expect("small tick")
}
