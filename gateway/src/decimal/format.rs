//! Integer units to decimal strings with exactly the market's number of decimals.

use matcher::{Price, Quantity};

use super::precision::Precision;

/// Writes a magnitude in units of `10^-decimals` with exactly `decimals` fraction digits.
pub(super) fn format_units(negative: bool, magnitude: u64, decimals: u32) -> String {
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

/// Writes a price with exactly the market's price decimals (`Price(-5)` at 2 → `"-0.05"`).
#[must_use]
pub fn format_price(price: Price, precision: Precision) -> String {
    format_units(
        price.0 < 0,
        price.0.unsigned_abs(),
        precision.price_decimals(),
    )
}

/// Writes a quantity with exactly the market's quantity decimals (`Quantity(1500)` at 3
/// → `"1.500"`). Zero (a fully filled order's remainder) writes as `"0.000"`.
#[must_use]
pub fn format_quantity(quantity: Quantity, precision: Precision) -> String {
    format_units(false, quantity.0, precision.quantity_decimals())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decimal::test_precision as p;
    use crate::decimal::{MAX_DECIMALS, parse_price, parse_quantity};
    use proptest::prelude::*;

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
    }
}
