//! Decimal strings to integer units: exact, never rounded.

use matcher::{Price, Quantity};

use super::error::DecimalError;
use super::precision::Precision;

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

/// Parses an API price for a market with `precision` and `tick_size` (in price units).
///
/// # Errors
///
/// [`DecimalError::Invalid`], [`DecimalError::TooManyDecimals`],
/// [`DecimalError::TooLarge`] (outside `i64`) or [`DecimalError::NotOnTick`].
pub fn parse_price(s: &str, precision: Precision, tick_size: u64) -> Result<Price, DecimalError> {
    let (negative, magnitude) = parse_units(s, precision.price_decimals())?;
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
            decimals: precision.price_decimals(),
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
    let (negative, magnitude) = parse_units(s, precision.quantity_decimals())?;
    if negative {
        return Err(DecimalError::Negative);
    }
    if magnitude == 0 {
        return Err(DecimalError::Zero);
    }
    if magnitude.checked_rem(lot_size) != Some(0) {
        return Err(DecimalError::NotOnLot {
            lot_size,
            decimals: precision.quantity_decimals(),
        });
    }
    Ok(Quantity(magnitude))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decimal::test_precision as p;
    use crate::decimal::{MAX_DECIMALS, format_price};
    use proptest::prelude::*;

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

    proptest! {
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
