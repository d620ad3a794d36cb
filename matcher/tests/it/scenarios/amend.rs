//! Amends: which keep priority, which trade, and which are refused.

use matcher::{OrderId, Quantity, Side};

use super::harness::{A, B, C, Harness, M, s};

#[test]
fn amend_quantity_down_keeps_priority() {
    let mut h = Harness::new();
    h.limit(A, Side::Sell, 100, 5);
    h.limit(C, Side::Sell, 100, 5);
    assert_eq!(
        h.amend(A, 1, None, Some(2)),
        s(&["amended 1 2x100 left 2 kept"])
    );
    assert_eq!(h.book(), s(&["1@100:2", "2@100:5"]));
    let d = h.engine.depth(M, 5).unwrap();
    assert_eq!(d.asks[0].quantity, Quantity(7));
}

#[test]
fn amend_quantity_up_or_price_change_loses_priority() {
    let mut h = Harness::new();
    h.limit(A, Side::Sell, 100, 5);
    h.limit(C, Side::Sell, 100, 5);
    assert_eq!(
        h.amend(A, 1, None, Some(6)),
        s(&["amended 1 6x100 left 6 lost"])
    );
    assert_eq!(h.book(), s(&["2@100:5", "1@100:6"]));
    // A price change to the same level's neighbour and back: back of the queue.
    assert_eq!(
        h.amend(C, 2, Some(101), None),
        s(&["amended 2 5x101 left 5 lost"])
    );
    assert_eq!(
        h.amend(C, 2, Some(100), None),
        s(&["amended 2 5x100 left 5 lost"])
    );
    assert_eq!(h.book(), s(&["1@100:6", "2@100:5"]));
}

#[test]
fn amend_counts_filled_quantity_in_the_total() {
    let mut h = Harness::new();
    h.limit(A, Side::Sell, 100, 5);
    h.limit(B, Side::Buy, 100, 2);
    assert_eq!(
        h.amend(A, 1, None, Some(4)),
        s(&["amended 1 4x100 left 2 kept"])
    );
    assert_eq!(
        h.amend(A, 1, None, Some(2)),
        s(&["rejected quantity_below_filled"])
    );
}

#[test]
fn amend_to_a_crossing_price_trades_as_taker() {
    let mut h = Harness::new();
    h.limit(A, Side::Buy, 98, 5);
    h.limit(B, Side::Sell, 100, 3);
    assert_eq!(
        h.amend(A, 1, Some(100), None),
        s(&[
            "amended 1 5x100 left 5 lost",
            "trade maker 2 taker 1 3x100",
            "done 2 filled 3",
        ])
    );
    assert_eq!(h.book(), s(&["1@100:2"]));
    h.limit(B, Side::Sell, 101, 2);
    assert_eq!(
        h.amend(A, 1, Some(101), None),
        s(&[
            "amended 1 5x101 left 2 lost",
            "trade maker 3 taker 1 2x101",
            "done 3 filled 2",
            "done 1 filled 5",
        ])
    );
    assert!(h.book().is_empty());
    assert!(h.engine.order(OrderId(1)).is_none());
}

#[test]
fn post_only_amend_that_would_cross_is_rejected_and_changes_nothing() {
    let mut h = Harness::new();
    let mut p = h.order(A, Side::Buy, Some(98), 5);
    p.post_only = true;
    h.submit(p);
    h.limit(B, Side::Sell, 100, 3);
    let before = h.book();
    assert_eq!(
        h.amend(A, 1, Some(100), None),
        s(&["rejected post_only_would_cross"])
    );
    assert_eq!(h.book(), before);
}

#[test]
fn amend_rejects() {
    let mut h = Harness::new();
    h.limit(A, Side::Buy, 98, 5);
    assert_eq!(h.amend(A, 1, None, None), s(&["rejected nothing_to_amend"]));
    assert_eq!(
        h.amend(B, 1, Some(97), None),
        s(&["rejected unknown_order"])
    );
    assert_eq!(
        h.amend(A, 9, Some(97), None),
        s(&["rejected unknown_order"])
    );
    assert_eq!(
        h.amend(A, 1, Some(5000), None),
        s(&["rejected price_out_of_band"])
    );
    assert_eq!(h.amend(A, 1, None, Some(0)), s(&["rejected zero_quantity"]));
    assert_eq!(
        h.amend(A, 1, None, Some(5000)),
        s(&["rejected quantity_too_large"])
    );
}
