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

use std::fmt;

use matcher::{Price, Quantity};

use crate::problem::Problem;

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

/// Parses `s` into a sign and a magnitude in units of `10^-decimals`.
fn parse_units(s: &str, decimals: u32) -> Result<(bool, u64), DecimalError> {
    let (negative, unsigned) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s),
    };
    let (int_part, frac_part) = match unsigned.split_once('.') {
        Some((int_part, frac_part)) => (int_part, Some(frac_part)),
        None => (unsigned, None),
    };
    let all_digits = |part: &str| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit());
    if !all_digits(int_part) || !frac_part.is_none_or(all_digits) {
        return Err(DecimalError::Invalid);
    }
    let frac_part = frac_part.unwrap_or("");
    let significant = usize::try_from(decimals).unwrap_or(usize::MAX);
    let (kept, extra) = frac_part.split_at(frac_part.len().min(significant));
    if extra.bytes().any(|b| b != b'0') {
        return Err(DecimalError::TooManyDecimals { max: decimals });
    }

    let mut value: u64 = 0;
    for b in int_part.bytes().chain(kept.bytes()) {
        value = value
            .checked_mul(10)
            .and_then(|v| v.checked_add(u64::from(b - b'0')))
            .ok_or(DecimalError::TooLarge)?;
    }
    // Pad the fraction to `decimals` places. Zero stays zero, so only a non-zero value
    // multiplies, and it overflows within 20 steps: the loop is short for any `decimals`.
    if value != 0 {
        for _ in kept.len()..significant {
            value = value.checked_mul(10).ok_or(DecimalError::TooLarge)?;
        }
    }
    Ok((negative, value))
}

/// Writes a magnitude in units of `10^-decimals` with exactly `decimals` fraction digits.
fn format_units(negative: bool, magnitude: u64, decimals: u32) -> String {
    let digits = magnitude.to_string();
    let decimals = usize::try_from(decimals).unwrap_or(usize::MAX);
    let mut out = String::with_capacity(digits.len().max(decimals) + 3);
    if negative && magnitude != 0 {
        out.push('-');
    }
    if decimals == 0 {
        out.push_str(&digits);
        return out;
    }
    if digits.len() > decimals {
        let (int_part, frac_part) = digits.split_at(digits.len() - decimals);
        out.push_str(int_part);
        out.push('.');
        out.push_str(frac_part);
    } else {
        out.push_str("0.");
        out.extend(std::iter::repeat_n('0', decimals - digits.len()));
        out.push_str(&digits);
    }
    out
}

/// Parses an API price for a market with `precision` and `tick_size` (in price units).
///
/// # Errors
///
/// [`DecimalError::Invalid`], [`DecimalError::TooManyDecimals`],
/// [`DecimalError::TooLarge`] (outside `i64`) or [`DecimalError::NotOnTick`].
pub fn parse_price(s: &str, precision: Precision, tick_size: u64) -> Result<Price, DecimalError> {
    let (negative, magnitude) = parse_units(s, precision.price_decimals)?;
    let units = if negative {
        0_i64.checked_sub_unsigned(magnitude)
    } else {
        i64::try_from(magnitude).ok()
    }
    .ok_or(DecimalError::TooLarge)?;
    // On tick iff |price| is a multiple of the tick; a zero tick (which `MarketConfig`
    // forbids) fails closed.
    if magnitude.checked_rem(tick_size) != Some(0) {
        return Err(DecimalError::NotOnTick {
            tick_size,
            decimals: precision.price_decimals,
        });
    }
    Ok(Price(units))
}

/// Parses an API quantity for a market with `precision` and `lot_size` (in quantity
/// units).
///
/// # Errors
///
/// [`DecimalError::Negative`], [`DecimalError::Invalid`],
/// [`DecimalError::TooManyDecimals`], [`DecimalError::TooLarge`], [`DecimalError::Zero`]
/// or [`DecimalError::NotOnLot`], checked in that order.
pub fn parse_quantity(
    s: &str,
    precision: Precision,
    lot_size: u64,
) -> Result<Quantity, DecimalError> {
    let (negative, magnitude) = parse_units(s, precision.quantity_decimals)?;
    if negative {
        return Err(DecimalError::Negative);
    }
    if magnitude == 0 {
        return Err(DecimalError::Zero);
    }
    if magnitude.checked_rem(lot_size) != Some(0) {
        return Err(DecimalError::NotOnLot {
            lot_size,
            decimals: precision.quantity_decimals,
        });
    }
    Ok(Quantity(magnitude))
}

/// Writes a price with exactly the market's price decimals (`Price(-5)` at 2 → `"-0.05"`).
#[must_use]
pub fn format_price(price: Price, precision: Precision) -> String {
    format_units(
        price.0 < 0,
        price.0.unsigned_abs(),
        precision.price_decimals,
    )
}

/// Writes a quantity with exactly the market's quantity decimals (`Quantity(1500)` at 3
/// → `"1.500"`). Zero (a fully filled order's remainder) writes as `"0.000"`.
#[must_use]
pub fn format_quantity(quantity: Quantity, precision: Precision) -> String {
    format_units(false, quantity.0, precision.quantity_decimals)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::StatusCode;
    use proptest::prelude::*;

    fn p(price_decimals: u32, quantity_decimals: u32) -> Precision {
        Precision::new(price_decimals, quantity_decimals).unwrap()
    }

    #[test]
    fn precision_is_bounded() {
        assert!(Precision::new(18, 18).is_ok());
        assert_eq!(Precision::new(19, 0), Err(PrecisionError(19)));
        assert_eq!(Precision::new(0, 40), Err(PrecisionError(40)));
    }

    #[test]
    fn prices_parse() {
        use DecimalError as E;
        let two = p(2, 0);
        let cases: &[(&str, Precision, u64, Result<i64, DecimalError>)] = &[
            ("1.50", two, 1, Ok(150)),
            ("1.5", two, 1, Ok(150)),
            ("1", two, 1, Ok(100)),
            ("0", two, 1, Ok(0)),
            ("0.00", two, 1, Ok(0)),
            ("-0", two, 1, Ok(0)),
            ("-1.25", two, 1, Ok(-125)),
            ("-0.05", two, 5, Ok(-5)),
            ("007.10", two, 1, Ok(710)),
            ("1.500", two, 1, Ok(150)),
            ("1.50000000000000000000000000", two, 1, Ok(150)),
            ("1.505", two, 1, Err(E::TooManyDecimals { max: 2 })),
            ("1.5", p(0, 0), 1, Err(E::TooManyDecimals { max: 0 })),
            ("12.0", p(0, 0), 1, Ok(12)),
            ("12", p(0, 0), 1, Ok(12)),
            ("1.55", two, 5, Ok(155)),
            (
                "1.52",
                two,
                5,
                Err(E::NotOnTick {
                    tick_size: 5,
                    decimals: 2,
                }),
            ),
            (
                "-1.52",
                two,
                5,
                Err(E::NotOnTick {
                    tick_size: 5,
                    decimals: 2,
                }),
            ),
            (
                "1",
                two,
                0,
                Err(E::NotOnTick {
                    tick_size: 0,
                    decimals: 2,
                }),
            ),
            ("9223372036854775807", p(0, 0), 1, Ok(i64::MAX)),
            ("-9223372036854775808", p(0, 0), 1, Ok(i64::MIN)),
            ("9223372036854775808", p(0, 0), 1, Err(E::TooLarge)),
            ("-9223372036854775809", p(0, 0), 1, Err(E::TooLarge)),
            ("92233720368547758.07", two, 1, Ok(i64::MAX)),
            ("92233720368547758.08", two, 1, Err(E::TooLarge)),
            ("99999999999999999999999", two, 1, Err(E::TooLarge)),
            ("1", p(18, 0), 1, Ok(1_000_000_000_000_000_000)),
            ("10", p(18, 0), 1, Err(E::TooLarge)),
            ("0.000000000000000001", p(18, 0), 1, Ok(1)),
            ("", two, 1, Err(E::Invalid)),
            ("-", two, 1, Err(E::Invalid)),
            (".5", two, 1, Err(E::Invalid)),
            ("-.5", two, 1, Err(E::Invalid)),
            ("1.", two, 1, Err(E::Invalid)),
            ("1..2", two, 1, Err(E::Invalid)),
            ("1.2.3", two, 1, Err(E::Invalid)),
            ("+1", two, 1, Err(E::Invalid)),
            ("--1", two, 1, Err(E::Invalid)),
            ("1e2", two, 1, Err(E::Invalid)),
            ("1E2", two, 1, Err(E::Invalid)),
            (" 1", two, 1, Err(E::Invalid)),
            ("1 ", two, 1, Err(E::Invalid)),
            ("1,5", two, 1, Err(E::Invalid)),
            ("0x10", two, 1, Err(E::Invalid)),
            ("NaN", two, 1, Err(E::Invalid)),
            ("inf", two, 1, Err(E::Invalid)),
            ("١", two, 1, Err(E::Invalid)),
            ("1_000", two, 1, Err(E::Invalid)),
        ];
        for &(input, precision, tick, expected) in cases {
            assert_eq!(
                parse_price(input, precision, tick),
                expected.map(Price),
                "{input:?} at {precision:?}, tick {tick}"
            );
        }
    }

    #[test]
    fn quantities_parse() {
        use DecimalError as E;
        let three = p(0, 3);
        let cases: &[(&str, Precision, u64, Result<u64, DecimalError>)] = &[
            ("1.5", three, 1, Ok(1500)),
            ("1.500", three, 100, Ok(1500)),
            ("0.001", three, 1, Ok(1)),
            ("2", p(0, 0), 1, Ok(2)),
            ("18446744073709551615", p(0, 0), 1, Ok(u64::MAX)),
            ("18446744073709551616", p(0, 0), 1, Err(E::TooLarge)),
            ("18446744073709551.615", three, 1, Ok(u64::MAX)),
            ("0", three, 1, Err(E::Zero)),
            ("0.000", three, 1, Err(E::Zero)),
            ("0.0000", three, 1, Err(E::Zero)),
            ("-1", three, 1, Err(E::Negative)),
            ("-0", three, 1, Err(E::Negative)),
            ("-x", three, 1, Err(E::Invalid)),
            ("1.0001", three, 1, Err(E::TooManyDecimals { max: 3 })),
            (
                "1.001",
                three,
                10,
                Err(E::NotOnLot {
                    lot_size: 10,
                    decimals: 3,
                }),
            ),
            (
                "1",
                three,
                0,
                Err(E::NotOnLot {
                    lot_size: 0,
                    decimals: 3,
                }),
            ),
            ("", three, 1, Err(E::Invalid)),
            ("+1", three, 1, Err(E::Invalid)),
            ("1e3", three, 1, Err(E::Invalid)),
        ];
        for &(input, precision, lot, expected) in cases {
            assert_eq!(
                parse_quantity(input, precision, lot),
                expected.map(Quantity),
                "{input:?} at {precision:?}, lot {lot}"
            );
        }
    }

    #[test]
    fn formatting_writes_exactly_the_precision() {
        let cases: &[(i64, u32, &str)] = &[
            (150, 2, "1.50"),
            (5, 2, "0.05"),
            (-5, 2, "-0.05"),
            (-150, 2, "-1.50"),
            (0, 2, "0.00"),
            (0, 0, "0"),
            (42, 0, "42"),
            (-42, 0, "-42"),
            (100, 2, "1.00"),
            (1, 18, "0.000000000000000001"),
            (i64::MAX, 2, "92233720368547758.07"),
            (i64::MIN, 2, "-92233720368547758.08"),
            (i64::MIN, 0, "-9223372036854775808"),
        ];
        for &(units, decimals, expected) in cases {
            assert_eq!(format_price(Price(units), p(decimals, 0)), expected);
        }
        assert_eq!(format_quantity(Quantity(1500), p(0, 3)), "1.500");
        assert_eq!(format_quantity(Quantity(0), p(0, 3)), "0.000");
        assert_eq!(
            format_quantity(Quantity(u64::MAX), p(0, 18)),
            "18.446744073709551615"
        );
    }

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

    proptest! {
        #[test]
        fn price_round_trips(units in any::<i64>(), decimals in 0..=MAX_DECIMALS) {
            let precision = p(decimals, 0);
            let text = format_price(Price(units), precision);
            prop_assert_eq!(parse_price(&text, precision, 1), Ok(Price(units)));
        }

        #[test]
        fn quantity_round_trips(units in 1..=u64::MAX, decimals in 0..=MAX_DECIMALS) {
            let precision = p(0, decimals);
            let text = format_quantity(Quantity(units), precision);
            prop_assert_eq!(parse_quantity(&text, precision, 1), Ok(Quantity(units)));
        }

        #[test]
        fn tick_check_matches_divisibility(
            units in any::<i64>(),
            tick in 1..=1_000_u64,
            decimals in 0..=4_u32,
        ) {
            let precision = p(decimals, 0);
            let text = format_price(Price(units), precision);
            let on_tick = units.unsigned_abs() % tick == 0;
            prop_assert_eq!(parse_price(&text, precision, tick).is_ok(), on_tick);
        }

        #[test]
        fn trailing_zeros_never_change_the_value(
            units in any::<i64>(),
            decimals in 0..=6_u32,
            zeros in 0..30_usize,
        ) {
            let precision = p(decimals, 0);
            let mut text = format_price(Price(units), precision);
            if decimals == 0 && zeros > 0 {
                text.push('.');
            }
            text.extend(std::iter::repeat_n('0', zeros));
            prop_assert_eq!(parse_price(&text, precision, 1), Ok(Price(units)));
        }

        #[test]
        fn arbitrary_strings_never_panic(s in "\\PC{0,40}", decimals in 0..=MAX_DECIMALS) {
            let precision = p(decimals, decimals);
            let _ = parse_price(&s, precision, 1);
            let _ = parse_quantity(&s, precision, 1);
        }

        #[test]
        fn accepted_strings_are_plain_decimals(s in "[-+.eE0-9 ]{0,12}") {
            let precision = p(2, 2);
            if parse_price(&s, precision, 1).is_ok() {
                let unsigned = s.strip_prefix('-').unwrap_or(&s);
                prop_assert!(!unsigned.is_empty());
                prop_assert!(unsigned.bytes().all(|b| b.is_ascii_digit() || b == b'.'));
                prop_assert!(!unsigned.starts_with('.') && !unsigned.ends_with('.'));
            }
        }
    }
}
