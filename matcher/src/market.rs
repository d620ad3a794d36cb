//! A market's static rules: tick, lot, price band and size limits.

use crate::types::{MarketId, Price, Quantity, Symbol};

/// Most price levels one side of a book may span. The ladder is a dense array over the
/// band (that is what makes level lookup O(1) with no tree), so the band is bounded:
/// 2^20 levels cost 24 MiB per side.
pub const MAX_LEVELS: u64 = 1 << 20;

/// The rules of one market. Construct with [`MarketConfig::new`], which checks every
/// invariant the engine relies on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MarketConfig {
    id: MarketId,
    symbol: Symbol,
    tick_size: u64,
    lot_size: u64,
    min_price: Price,
    max_price: Price,
    max_quantity: Quantity,
    max_resting_orders: u32,
}

/// Why a [`MarketConfig`] is not acceptable.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum MarketConfigError {
    /// Tick size or lot size is zero.
    #[error("tick size and lot size must be positive")]
    ZeroIncrement,
    /// `min_price > max_price`, or a bound is not a multiple of the tick size.
    #[error("price band must be ordered and both bounds on tick")]
    BadBand,
    /// The band holds more than [`MAX_LEVELS`] ticks.
    #[error("price band spans {levels} ticks; at most {max} are allowed")]
    BandTooWide {
        /// Ticks in the band.
        levels: u64,
        /// [`MAX_LEVELS`].
        max: u64,
    },
    /// `max_quantity` is zero or not a multiple of the lot size.
    #[error("max quantity must be a positive multiple of the lot size")]
    BadMaxQuantity,
    /// `max_resting_orders` is zero.
    #[error("max resting orders must be positive")]
    NoCapacity,
    /// `max_resting_orders * max_quantity` does not fit in 64 bits, so a level total could
    /// overflow.
    #[error("max resting orders times max quantity overflows 64 bits")]
    CapacityOverflow,
}

impl MarketConfig {
    /// Builds a market, checking that prices on tick inside the band map to ladder slots,
    /// that quantities line up with lots, and that no level or book total can overflow.
    ///
    /// # Errors
    /// The first [`MarketConfigError`] found.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        id: MarketId,
        symbol: Symbol,
        tick_size: u64,
        lot_size: u64,
        min_price: Price,
        max_price: Price,
        max_quantity: Quantity,
        max_resting_orders: u32,
    ) -> Result<Self, MarketConfigError> {
        if tick_size == 0 || lot_size == 0 {
            return Err(MarketConfigError::ZeroIncrement);
        }
        if min_price > max_price || !on_tick(min_price, tick_size) || !on_tick(max_price, tick_size)
        {
            return Err(MarketConfigError::BadBand);
        }
        let span = max_price.0.abs_diff(min_price.0) / tick_size;
        let levels = span.saturating_add(1);
        if levels > MAX_LEVELS {
            return Err(MarketConfigError::BandTooWide {
                levels,
                max: MAX_LEVELS,
            });
        }
        if max_quantity.0 == 0 || !max_quantity.0.is_multiple_of(lot_size) {
            return Err(MarketConfigError::BadMaxQuantity);
        }
        if max_resting_orders == 0 {
            return Err(MarketConfigError::NoCapacity);
        }
        if u64::from(max_resting_orders)
            .checked_mul(max_quantity.0)
            .is_none()
        {
            return Err(MarketConfigError::CapacityOverflow);
        }
        Ok(Self {
            id,
            symbol,
            tick_size,
            lot_size,
            min_price,
            max_price,
            max_quantity,
            max_resting_orders,
        })
    }

    /// The market's stable id.
    #[must_use]
    pub fn id(&self) -> MarketId {
        self.id
    }
    /// The market's symbol.
    #[must_use]
    pub fn symbol(&self) -> Symbol {
        self.symbol
    }
    /// Price units per tick: a valid price is a multiple of this.
    #[must_use]
    pub fn tick_size(&self) -> u64 {
        self.tick_size
    }
    /// Quantity units per lot: a valid quantity is a multiple of this.
    #[must_use]
    pub fn lot_size(&self) -> u64 {
        self.lot_size
    }
    /// Lowest acceptable limit price.
    #[must_use]
    pub fn min_price(&self) -> Price {
        self.min_price
    }
    /// Highest acceptable limit price.
    #[must_use]
    pub fn max_price(&self) -> Price {
        self.max_price
    }
    /// Largest acceptable order quantity.
    #[must_use]
    pub fn max_quantity(&self) -> Quantity {
        self.max_quantity
    }
    /// Most orders that may rest in this market at once.
    #[must_use]
    pub fn max_resting_orders(&self) -> u32 {
        self.max_resting_orders
    }

    /// Ticks in the band: the length of each side's ladder.
    pub(crate) fn levels(&self) -> u32 {
        let span = self.max_price.0.abs_diff(self.min_price.0) / self.tick_size;
        // Bounded by MAX_LEVELS in `new`.
        #[allow(clippy::cast_possible_truncation)]
        let levels = (span + 1) as u32;
        levels
    }

    /// Ladder index of a price already known to be on tick and inside the band.
    #[inline]
    pub(crate) fn level_index(&self, price: Price) -> u32 {
        let offset = price.0.abs_diff(self.min_price.0) / self.tick_size;
        // price is inside the band, so offset < MAX_LEVELS.
        #[allow(clippy::cast_possible_truncation)]
        let index = offset as u32;
        index
    }

    /// The price of ladder index `index`.
    #[inline]
    pub(crate) fn level_price(&self, index: u32) -> Price {
        // index * tick_size <= max_price - min_price, which fits in i64 because both
        // bounds do and the band is ordered.
        #[allow(clippy::cast_possible_wrap)]
        let offset = (u64::from(index) * self.tick_size) as i64;
        Price(self.min_price.0 + offset)
    }
}

/// Parses `ID:SYMBOL:TICK:LOT:MIN_PRICE:MAX_PRICE:MAX_QUANTITY:MAX_RESTING`, the compact
/// form command lines use (`1:BTC-USD:1:1:1:1000000:1000000:100000`).
impl std::str::FromStr for MarketConfig {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let parts: Vec<&str> = s.split(':').collect();
        let [id, symbol, tick, lot, min, max, maxq, cap] = parts.as_slice() else {
            return Err(format!(
                "market {s:?}: expected ID:SYMBOL:TICK:LOT:MIN_PRICE:MAX_PRICE:MAX_QUANTITY:MAX_RESTING"
            ));
        };
        let num = |name: &str, v: &str| -> Result<i64, String> {
            v.parse::<i64>()
                .map_err(|e| format!("market {s:?}: {name} {v:?}: {e}"))
        };
        let unsigned = |name: &str, v: &str| -> Result<u64, String> {
            v.parse::<u64>()
                .map_err(|e| format!("market {s:?}: {name} {v:?}: {e}"))
        };
        let cap = u32::try_from(unsigned("max resting", cap)?)
            .map_err(|_| format!("market {s:?}: max resting too large"))?;
        let id = u32::try_from(unsigned("id", id)?)
            .map_err(|_| format!("market {s:?}: id too large"))?;
        MarketConfig::new(
            MarketId(id),
            Symbol::new(symbol).map_err(|e| format!("market {s:?}: symbol: {e}"))?,
            unsigned("tick", tick)?,
            unsigned("lot", lot)?,
            Price(num("min price", min)?),
            Price(num("max price", max)?),
            Quantity(unsigned("max quantity", maxq)?),
            cap,
        )
        .map_err(|e| format!("market {s:?}: {e}"))
    }
}

#[inline]
fn on_tick(price: Price, tick_size: u64) -> bool {
    price.0.unsigned_abs().is_multiple_of(tick_size)
}

/// Whether `price` is a multiple of the tick size (prices are anchored at zero, so a
/// band bound on tick makes every ladder slot on tick too).
#[inline]
pub(crate) fn price_on_tick(config: &MarketConfig, price: Price) -> bool {
    on_tick(price, config.tick_size)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sym() -> Symbol {
        Symbol::new("T").unwrap()
    }

    #[test]
    fn rejects_each_broken_invariant() {
        let new = |tick, lot, lo, hi, maxq, cap| {
            MarketConfig::new(
                MarketId(1),
                sym(),
                tick,
                lot,
                Price(lo),
                Price(hi),
                Quantity(maxq),
                cap,
            )
        };
        assert_eq!(
            new(0, 1, 0, 10, 1, 1),
            Err(MarketConfigError::ZeroIncrement)
        );
        assert_eq!(new(5, 1, 10, 0, 1, 1), Err(MarketConfigError::BadBand));
        assert_eq!(new(5, 1, 3, 10, 1, 1), Err(MarketConfigError::BadBand));
        assert!(matches!(
            new(1, 1, 0, 1 << 21, 1, 1),
            Err(MarketConfigError::BandTooWide { .. })
        ));
        assert_eq!(
            new(1, 10, 0, 10, 15, 1),
            Err(MarketConfigError::BadMaxQuantity)
        );
        assert_eq!(new(1, 1, 0, 10, 1, 0), Err(MarketConfigError::NoCapacity));
        assert_eq!(
            new(1, 1, 0, 10, u64::MAX, 2),
            Err(MarketConfigError::CapacityOverflow)
        );
    }

    #[test]
    fn level_index_and_price_are_inverse() {
        let m = MarketConfig::new(
            MarketId(1),
            sym(),
            5,
            1,
            Price(-50),
            Price(100),
            Quantity(10),
            4,
        )
        .unwrap();
        assert_eq!(m.levels(), 31);
        for i in 0..m.levels() {
            let p = m.level_price(i);
            assert!(price_on_tick(&m, p));
            assert_eq!(m.level_index(p), i);
        }
        assert_eq!(m.level_price(0), Price(-50));
        assert_eq!(m.level_price(30), Price(100));
    }
}
