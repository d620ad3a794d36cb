//! Why a decimal string was refused, and the 422 problem that says so.

use std::fmt;

use super::format::format_units;
use crate::problem::Problem;

/// Why a decimal string was refused. Carries no field name: the caller knows which field it
/// parsed and passes it to [`DecimalError::to_problem`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DecimalError {
    /// Not a plain decimal string (empty, exponent, `+`, whitespace, stray `.`, …).
    Invalid,
    /// A non-zero digit beyond the market's precision.
    TooManyDecimals {
        /// The most decimals the field takes.
        max: u32,
    },
    /// The value does not fit the engine's integer type.
    TooLarge,
    /// The price is not a multiple of the tick size (zero tick sizes reject every price).
    NotOnTick {
        /// The tick size in price units.
        tick_size: u64,
        /// The price precision, to show the tick size as a decimal.
        decimals: u32,
    },
    /// The quantity is not a multiple of the lot size (zero lot sizes reject every
    /// quantity).
    NotOnLot {
        /// The lot size in quantity units.
        lot_size: u64,
        /// The quantity precision, to show the lot size as a decimal.
        decimals: u32,
    },
    /// A quantity of zero.
    Zero,
    /// A quantity with a minus sign.
    Negative,
}

impl DecimalError {
    /// The stable code the API answers with.
    #[must_use]
    pub const fn code(self) -> &'static str {
        match self {
            DecimalError::Invalid => "invalid_decimal",
            DecimalError::TooManyDecimals { .. } => "too_many_decimals",
            DecimalError::TooLarge => "decimal_too_large",
            DecimalError::NotOnTick { .. } => "price_not_on_tick",
            DecimalError::NotOnLot { .. } => "quantity_not_on_lot",
            DecimalError::Zero => "zero_quantity",
            DecimalError::Negative => "negative_quantity",
        }
    }

    /// The 422 problem naming `field` (the API member that held the string).
    #[must_use]
    pub fn to_problem(&self, field: &str) -> Problem {
        Problem::unprocessable(self.code(), field, format!("`{field}` {self}"))
    }
}

impl fmt::Display for DecimalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            DecimalError::Invalid => f.write_str(
                "must be a plain decimal string such as \"12.5\" (digits, an optional '.' \
                 and fraction digits; no exponent, sign '+' or whitespace)",
            ),
            DecimalError::TooManyDecimals { max } => {
                write!(f, "has more than {max} decimal places")
            }
            DecimalError::TooLarge => f.write_str("is too large"),
            DecimalError::NotOnTick {
                tick_size,
                decimals,
            } => write!(
                f,
                "must be a multiple of the tick size {}",
                format_units(false, tick_size, decimals)
            ),
            DecimalError::NotOnLot { lot_size, decimals } => write!(
                f,
                "must be a multiple of the lot size {}",
                format_units(false, lot_size, decimals)
            ),
            DecimalError::Zero => f.write_str("must be greater than zero"),
            DecimalError::Negative => f.write_str("must not be negative"),
        }
    }
}

impl std::error::Error for DecimalError {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decimal::test_precision as p;
    use crate::decimal::{parse_price, parse_quantity};
    use axum::http::StatusCode;

    #[test]
    fn errors_become_422_naming_the_field() {
        let err = parse_price("1.52", p(2, 0), 5).unwrap_err();
        let problem = err.to_problem("price");
        assert_eq!(problem.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(problem.code(), "price_not_on_tick");
        assert_eq!(problem.field(), Some("price"));
        assert_eq!(
            problem.detail(),
            Some("`price` must be a multiple of the tick size 0.05")
        );

        let problem = parse_quantity("1.0001", p(0, 3), 1)
            .unwrap_err()
            .to_problem("quantity");
        assert_eq!(problem.code(), "too_many_decimals");
        assert_eq!(
            problem.detail(),
            Some("`quantity` has more than 3 decimal places")
        );

        let codes = [
            (DecimalError::Invalid, "invalid_decimal"),
            (DecimalError::TooLarge, "decimal_too_large"),
            (DecimalError::Zero, "zero_quantity"),
            (DecimalError::Negative, "negative_quantity"),
            (
                DecimalError::NotOnLot {
                    lot_size: 1,
                    decimals: 0,
                },
                "quantity_not_on_lot",
            ),
        ];
        for (err, code) in codes {
            let problem = err.to_problem("quantity");
            assert_eq!(problem.code(), code);
            assert_eq!(problem.status(), StatusCode::UNPROCESSABLE_ENTITY);
            assert_eq!(problem.field(), Some("quantity"));
        }
    }

    #[test]
    fn engine_and_gateway_agree_on_codes() {
        use matcher::RejectReason as R;
        let pairs = [
            (
                DecimalError::NotOnTick {
                    tick_size: 1,
                    decimals: 0,
                },
                R::PriceNotOnTick,
            ),
            (
                DecimalError::NotOnLot {
                    lot_size: 1,
                    decimals: 0,
                },
                R::QuantityNotOnLot,
            ),
            (DecimalError::Zero, R::ZeroQuantity),
        ];
        for (err, reason) in pairs {
            assert_eq!(err.code(), crate::problem::from_reject(reason).code());
        }
    }
}
