//! Price and quantity checks against a market's rules, in the documented reject order.

use crate::event::RejectReason;
use crate::market::{MarketConfig, price_on_tick};
use crate::types::{Price, Quantity};

#[inline]
pub(crate) fn check_price(config: &MarketConfig, price: Price) -> Result<(), RejectReason> {
    if !price_on_tick(config, price) {
        Err(RejectReason::PriceNotOnTick)
    } else if price < config.min_price() || price > config.max_price() {
        Err(RejectReason::PriceOutOfBand)
    } else {
        Ok(())
    }
}

#[inline]
pub(crate) fn check_quantity(
    config: &MarketConfig,
    quantity: Quantity,
) -> Result<(), RejectReason> {
    if quantity.is_zero() {
        Err(RejectReason::ZeroQuantity)
    } else if !quantity.0.is_multiple_of(config.lot_size()) {
        Err(RejectReason::QuantityNotOnLot)
    } else if quantity > config.max_quantity() {
        Err(RejectReason::QuantityTooLarge)
    } else {
        Ok(())
    }
}
