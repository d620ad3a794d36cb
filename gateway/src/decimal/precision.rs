//! How many decimals a market's integer units stand for.

/// The most decimals a precision may have: `10^19` no longer fits a `u64`, so with more,
/// not even one whole unit could be represented.
pub const MAX_DECIMALS: u32 = 18;

/// How many decimal places one integer unit represents, per market: a price unit of 0.01
/// is `price_decimals = 2`; a quantity unit of 1 is `quantity_decimals = 0`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Precision {
    price_decimals: u32,
    quantity_decimals: u32,
}

/// A [`Precision`] with more than [`MAX_DECIMALS`] decimals.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("a market precision has at most {MAX_DECIMALS} decimals, got {0}")]
pub struct PrecisionError(pub u32);

impl Precision {
    /// A precision.
    ///
    /// # Errors
    ///
    /// [`PrecisionError`] if either count exceeds [`MAX_DECIMALS`].
    pub const fn new(price_decimals: u32, quantity_decimals: u32) -> Result<Self, PrecisionError> {
        if price_decimals > MAX_DECIMALS {
            return Err(PrecisionError(price_decimals));
        }
        if quantity_decimals > MAX_DECIMALS {
            return Err(PrecisionError(quantity_decimals));
        }
        Ok(Self {
            price_decimals,
            quantity_decimals,
        })
    }

    /// Decimal places of one price unit.
    #[must_use]
    pub const fn price_decimals(self) -> u32 {
        self.price_decimals
    }

    /// Decimal places of one quantity unit.
    #[must_use]
    pub const fn quantity_decimals(self) -> u32 {
        self.quantity_decimals
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn precision_is_bounded() {
        assert!(Precision::new(18, 18).is_ok());
        assert_eq!(Precision::new(19, 0), Err(PrecisionError(19)));
        assert_eq!(Precision::new(0, 40), Err(PrecisionError(40)));
    }
}
