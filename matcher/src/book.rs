//! One market's order book: its rules and its two ladders.

use crate::ladder::Ladder;
use crate::market::MarketConfig;
use crate::types::Side;

/// One market's book.
#[derive(Debug)]
pub(crate) struct Book {
    pub(crate) config: MarketConfig,
    pub(crate) bids: Ladder,
    pub(crate) asks: Ladder,
    /// Orders resting now, bounded by `config.max_resting_orders()`.
    pub(crate) resting: u32,
}

impl Book {
    pub(crate) fn new(config: MarketConfig) -> Self {
        let levels = config.levels();
        Self {
            config,
            bids: Ladder::new(Side::Buy, levels),
            asks: Ladder::new(Side::Sell, levels),
            resting: 0,
        }
    }

    /// The ladder an order of `side` rests on.
    #[inline]
    pub(crate) fn own_ladder_mut(&mut self, side: Side) -> &mut Ladder {
        match side {
            Side::Buy => &mut self.bids,
            Side::Sell => &mut self.asks,
        }
    }

    /// The ladder an order of `side` trades against.
    #[inline]
    pub(crate) fn opposite_ladder(&self, side: Side) -> &Ladder {
        match side {
            Side::Buy => &self.asks,
            Side::Sell => &self.bids,
        }
    }

    /// Whether a limit order of `side` at ladder index `index` would trade now.
    #[inline]
    pub(crate) fn crosses(&self, side: Side, index: u32) -> bool {
        match self.opposite_ladder(side).best() {
            None => false,
            Some(best) => crosses_level(side, index, best),
        }
    }
}

/// Whether a taker of `side` limited at ladder index `limit` may trade at level `level`.
#[inline]
pub(crate) fn crosses_level(side: Side, limit: u32, level: u32) -> bool {
    match side {
        Side::Buy => level <= limit,
        Side::Sell => level >= limit,
    }
}
