//! The workload's markets and the engine that trades them.

use matcher::{Engine, EngineConfig, MarketConfig, MarketId, Price, Quantity, Symbol};

pub(super) const M1: MarketId = MarketId(1);
pub(super) const M2: MarketId = MarketId(2);
/// A tiny market that is often full, for `book_full`.
pub(super) const M3: MarketId = MarketId(3);
pub(super) const M1_MID: i64 = 1_000;
pub(super) const M2_MID: i64 = 5_000;
const WINDOW: u32 = 512;

/// The markets. Resting capacity adds up to 1,902 orders, so a cancel-all (two events per
/// order) stays within the engine's pre-sized event buffer.
pub(super) fn engine() -> Engine {
    let market = |id, symbol, tick, lot, lo, hi, max_quantity, max_resting| {
        MarketConfig::new(
            id,
            Symbol::new(symbol).expect("valid symbol"),
            tick,
            lot,
            Price(lo),
            Price(hi),
            Quantity(max_quantity),
            max_resting,
        )
        .expect("valid market")
    };
    Engine::new(EngineConfig {
        markets: vec![
            market(M1, "AAA", 1, 1, 1, 2_000, 1_000, 1_500),
            market(M2, "BBB", 5, 10, 5, 10_000, 5_000, 400),
            market(M3, "CCC", 1, 1, 1, 100, 100, 2),
        ],
        client_id_window: WINDOW,
    })
    .expect("valid engine")
}
