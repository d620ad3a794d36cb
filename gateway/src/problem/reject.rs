//! The matching engine's reject reasons as problems: [`from_reject`].

use axum::http::StatusCode;
use matcher::RejectReason;

use super::Problem;

/// Maps an engine rejection to the problem the API answers with. Every variant is covered
/// (the match is exhaustive, so a new variant fails to compile here); codes are stable.
///
/// Codes equal the engine's [`RejectReason::code`] except where the API names the
/// resource: `unknown_market` → `market_not_found`, `unknown_order` → `order_not_found`,
/// `duplicate` → `duplicate_client_order_id`. The decimal checks in
/// [`crate::decimal`] use the same codes for the same conditions, so a client sees one
/// code whichever layer caught the mistake.
///
/// `book_full` is 503 with `Retry-After: 1`, not 429: 429 tells a client that *it* sent
/// too much, and a client that respects a rate limit cannot cause or clear a full book. A
/// full book is a market-wide capacity limit that clears as orders fill or are cancelled,
/// which is what 503 with Retry-After says. (The gateway sends nothing to Nginx that makes
/// it retry: POSTs are not idempotent, so `proxy_next_upstream` leaves them alone.)
///
/// `post_only_would_cross` is 409: the request is well-formed, but conflicts with the
/// book's current state and may succeed later.
#[must_use]
pub fn from_reject(reason: RejectReason) -> Problem {
    use RejectReason as R;
    use StatusCode as S;
    let unprocessable = S::UNPROCESSABLE_ENTITY;
    let (status, code, title, field, detail): (_, _, _, Option<&str>, &str) = match reason {
        R::UnknownMarket => (
            S::NOT_FOUND,
            "market_not_found",
            "Market not found",
            Some("market"),
            "No market by that id or symbol.",
        ),
        R::PriceNotOnTick => (
            unprocessable,
            "price_not_on_tick",
            "Price not on tick",
            Some("price"),
            "The price is not a multiple of the market's tick size.",
        ),
        R::PriceOutOfBand => (
            unprocessable,
            "price_out_of_band",
            "Price out of band",
            Some("price"),
            "The price is outside the market's price band.",
        ),
        R::ZeroQuantity => (
            unprocessable,
            "zero_quantity",
            "Zero quantity",
            Some("quantity"),
            "The quantity must be greater than zero.",
        ),
        R::QuantityNotOnLot => (
            unprocessable,
            "quantity_not_on_lot",
            "Quantity not on lot",
            Some("quantity"),
            "The quantity is not a multiple of the market's lot size.",
        ),
        R::QuantityTooLarge => (
            unprocessable,
            "quantity_too_large",
            "Quantity too large",
            Some("quantity"),
            "The quantity exceeds the market's maximum order quantity.",
        ),
        R::Duplicate => (
            S::CONFLICT,
            "duplicate_client_order_id",
            "Duplicate client order id",
            Some("client_order_id"),
            "This account already used the client order id on a live or recent order.",
        ),
        R::BookFull => (
            S::SERVICE_UNAVAILABLE,
            "book_full",
            "Book full",
            None,
            "The market holds its maximum number of resting orders; retry later.",
        ),
        R::UnknownOrder => (
            S::NOT_FOUND,
            "order_not_found",
            "Order not found",
            None,
            "No live order of this account by that id.",
        ),
        R::InvalidOrderType => (
            unprocessable,
            "invalid_order_type",
            "Invalid order type",
            None,
            "This combination of order type, time in force and post-only is not allowed \
             (a market order must be IOC or FOK; a post-only order must be a GTC limit order).",
        ),
        R::NothingToAmend => (
            unprocessable,
            "nothing_to_amend",
            "Nothing to amend",
            None,
            "The amend changes neither price nor quantity.",
        ),
        R::QuantityBelowFilled => (
            unprocessable,
            "quantity_below_filled",
            "Quantity below filled",
            Some("quantity"),
            "The amended quantity is at or below what has already filled.",
        ),
        R::PostOnlyWouldCross => (
            S::CONFLICT,
            "post_only_would_cross",
            "Post-only order would cross",
            Some("price"),
            "At the amended price the post-only order would take liquidity; it is unchanged.",
        ),
    };
    let mut problem = Problem::new(status, code, title).with_detail(detail);
    if let Some(field) = field {
        problem = problem.with_field(field);
    }
    if reason == R::BookFull {
        problem = problem.with_retry_after(1);
    }
    problem
}

impl From<RejectReason> for Problem {
    fn from(reason: RejectReason) -> Self {
        from_reject(reason)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_reject_reason_has_a_stable_problem() {
        use RejectReason as R;
        let expected = [
            (R::UnknownMarket, 404, "market_not_found", Some("market")),
            (R::PriceNotOnTick, 422, "price_not_on_tick", Some("price")),
            (R::PriceOutOfBand, 422, "price_out_of_band", Some("price")),
            (R::ZeroQuantity, 422, "zero_quantity", Some("quantity")),
            (
                R::QuantityNotOnLot,
                422,
                "quantity_not_on_lot",
                Some("quantity"),
            ),
            (
                R::QuantityTooLarge,
                422,
                "quantity_too_large",
                Some("quantity"),
            ),
            (
                R::Duplicate,
                409,
                "duplicate_client_order_id",
                Some("client_order_id"),
            ),
            (R::BookFull, 503, "book_full", None),
            (R::UnknownOrder, 404, "order_not_found", None),
            (R::InvalidOrderType, 422, "invalid_order_type", None),
            (R::NothingToAmend, 422, "nothing_to_amend", None),
            (
                R::QuantityBelowFilled,
                422,
                "quantity_below_filled",
                Some("quantity"),
            ),
            (
                R::PostOnlyWouldCross,
                409,
                "post_only_would_cross",
                Some("price"),
            ),
        ];
        // The reasons are `repr(u8)` from 1: this catches a table that misses a variant
        // added without a new row (the exhaustive match in `from_reject` catches the rest).
        assert_eq!(expected.len(), R::PostOnlyWouldCross as usize);
        for (reason, status, code, field) in expected {
            let problem = from_reject(reason);
            assert_eq!(problem.status().as_u16(), status, "{reason:?}");
            assert_eq!(problem.code(), code, "{reason:?}");
            assert_eq!(problem.field(), field, "{reason:?}");
            assert!(problem.detail().is_some(), "{reason:?}");
            assert_eq!(problem.retry_after(), (reason == R::BookFull).then_some(1));
        }
    }
}
