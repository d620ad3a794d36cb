//! Price-time priority: what crosses, at which price, in which order, and that the same
//! commands always give the same result.

use matcher::{OrderId, Price, Quantity, Side};

use super::harness::{A, B, C, Harness, M, s};

#[test]
fn resting_orders_do_not_trade_when_not_crossed() {
    let mut h = Harness::new();
    assert_eq!(h.limit(A, Side::Buy, 99, 5), s(&["accepted 1"]));
    assert_eq!(h.limit(B, Side::Sell, 101, 5), s(&["accepted 2"]));
    assert_eq!(h.book(), s(&["1@99:5", "2@101:5"]));
    assert_eq!(
        h.engine.best_prices(M).unwrap(),
        (Some(Price(99)), Some(Price(101)))
    );
}

#[test]
fn partial_fills_across_several_levels_at_maker_prices() {
    let mut h = Harness::new();
    h.limit(A, Side::Sell, 101, 3);
    h.limit(A, Side::Sell, 102, 4);
    h.limit(C, Side::Sell, 102, 2);
    h.limit(A, Side::Sell, 104, 10);
    assert_eq!(
        h.limit(B, Side::Buy, 103, 8),
        s(&[
            "accepted 5",
            "trade maker 1 taker 5 3x101",
            "done 1 filled 3",
            "trade maker 2 taker 5 4x102",
            "done 2 filled 4",
            "trade maker 3 taker 5 1x102",
            "done 5 filled 8",
        ])
    );
    // Order 3 keeps its place with one left.
    assert_eq!(h.book(), s(&["3@102:1", "4@104:10"]));
    // A taker larger than what crosses rests its remainder at its limit.
    assert_eq!(
        h.limit(B, Side::Buy, 103, 3),
        s(&[
            "accepted 6",
            "trade maker 3 taker 6 1x102",
            "done 3 filled 2",
        ])
    );
    assert_eq!(h.book(), s(&["6@103:2", "4@104:10"]));
    let taker = h.engine.order(OrderId(6)).unwrap();
    assert_eq!(
        (taker.quantity, taker.filled, taker.remaining),
        (Quantity(3), Quantity(1), Quantity(2))
    );
}

#[test]
fn price_time_priority_within_a_level() {
    let mut h = Harness::new();
    h.limit(A, Side::Sell, 101, 2);
    h.limit(C, Side::Sell, 101, 2);
    h.limit(A, Side::Sell, 100, 1);
    assert_eq!(
        h.limit(B, Side::Buy, 101, 4),
        s(&[
            "accepted 4",
            "trade maker 3 taker 4 1x100",
            "done 3 filled 1",
            "trade maker 1 taker 4 2x101",
            "done 1 filled 2",
            "trade maker 2 taker 4 1x101",
            "done 4 filled 4",
        ])
    );
    assert_eq!(h.book(), s(&["2@101:1"]));
}

#[test]
fn band_edges_and_a_wide_empty_gap_are_found() {
    let mut h = Harness::new();
    h.limit(A, Side::Sell, 1000, 1);
    h.limit(A, Side::Buy, 0, 1);
    let m = h.order(B, Side::Buy, None, 2);
    assert_eq!(
        h.submit(m),
        s(&[
            "accepted 3",
            "trade maker 1 taker 3 1x1000",
            "done 1 filled 1",
            "cancelled 3 1 left 0 ioc_remainder",
            "done 3 filled 1",
        ])
    );
    let m = h.order(B, Side::Sell, None, 1);
    assert_eq!(
        h.submit(m),
        s(&[
            "accepted 4",
            "trade maker 2 taker 4 1x0",
            "done 2 filled 1",
            "done 4 filled 1"
        ])
    );
}

#[test]
fn same_commands_give_identical_events_and_state_hash() {
    let script = |h: &mut Harness| {
        let mut all = Vec::new();
        all.extend(h.limit(A, Side::Buy, 100, 5));
        all.extend(h.limit(B, Side::Sell, 100, 3));
        all.extend(h.amend(A, 1, Some(99), Some(4)));
        all.extend(h.limit(C, Side::Sell, 99, 1));
        all.extend(h.cancel(A, 1));
        all
    };
    let (mut x, mut y) = (Harness::new(), Harness::new());
    assert_eq!(script(&mut x), script(&mut y));
    assert_eq!(x.engine.state_hash(), y.engine.state_hash());
    let before = x.engine.state_hash();
    x.limit(A, Side::Buy, 1, 1);
    assert_ne!(x.engine.state_hash(), before);
}
