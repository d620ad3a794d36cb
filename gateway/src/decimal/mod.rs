//! Decimal strings in the API, integer units in the engine.
//!
//! Each market has a [`Precision`]: how many decimal places one integer price unit and one
//! integer quantity unit stand for. With `price_decimals = 2`, the engine's `Price(150)`
//! is the API's `"1.50"`. Conversion is exact integer arithmetic on the digits; nothing
//! here is ever a float, and nothing is ever rounded.
//!
//! # Accepted syntax
//!
//! `-?[0-9]+(\.[0-9]+)?`, and the `-` for prices only (some instruments trade at negative
//! prices; a quantity with a `-` is [`DecimalError::Negative`]). No exponent, no `+`, no
//! whitespace, no leading or trailing `.`, not empty. Leading zeros are accepted (`"01.5"`).
//!
//! More fraction digits than the precision are accepted **only if the extra digits are
//! zeros**: `"1.500"` is `150` at two decimals, `"1.505"` is
//! [`DecimalError::TooManyDecimals`]. The value is then exact, so accepting it loses
//! nothing, and clients that format every market with one fixed number of decimals work;
//! a non-zero extra digit would need rounding, which the API never does silently.
//!
//! # Output
//!
//! [`format_price`] and [`format_quantity`] always write exactly the precision's number of
//! decimals (`"1.50"`, and no `.` at zero decimals), so outputs of one market compare as
//! strings. Parsing an output gives back the same integer.
//!
//! # Errors as problems
//!
//! [`DecimalError::to_problem`] gives the 422 the API answers with, naming the field. The
//! tick, lot and zero checks use the codes the engine's rejections map to in
//! [`crate::problem::from_reject`], so a client sees one code for one mistake.

mod error;
mod format;
mod parse;
mod precision;

pub use error::DecimalError;
pub use format::{format_price, format_quantity};
pub use parse::{parse_price, parse_quantity};
pub use precision::{MAX_DECIMALS, Precision, PrecisionError};

/// A precision the tests know to be valid.
#[cfg(test)]
fn test_precision(price_decimals: u32, quantity_decimals: u32) -> Precision {
    Precision::new(price_decimals, quantity_decimals).unwrap()
}
