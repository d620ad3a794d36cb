//! Fill-or-kill, immediate-or-cancel, market and post-only orders.

use matcher::{Side, TimeInForce};

use super::harness::{A, B, Harness, s};

#[test]
fn fok_exactly_fillable_fills_and_one_lot_short_leaves_the_book_untouched() {
    let mut h = Harness::new();
    h.limit(A, Side::Sell, 101, 3);
    h.limit(A, Side::Sell, 102, 4);
    let before = h.engine.state_hash();
    let mut short = h.order(B, Side::Buy, Some(102), 8);
    short.time_in_force = TimeInForce::Fok;
    assert_eq!(
        h.submit(short),
        s(&[
            "accepted 3",
            "cancelled 3 8 left 0 fok_not_fillable",
            "done 3 filled 0"
        ])
    );
    assert_eq!(h.book(), s(&["1@101:3", "2@102:4"]));
    assert_ne!(before, h.engine.state_hash(), "sequence and ids moved on");
    let mut exact = h.order(B, Side::Buy, Some(102), 7);
    exact.time_in_force = TimeInForce::Fok;
    assert_eq!(
        h.submit(exact),
        s(&[
            "accepted 4",
            "trade maker 1 taker 4 3x101",
            "done 1 filled 3",
            "trade maker 2 taker 4 4x102",
            "done 2 filled 4",
            "done 4 filled 7",
        ])
    );
    assert!(h.book().is_empty());
}

#[test]
fn fok_limit_ignores_liquidity_beyond_its_price() {
    let mut h = Harness::new();
    h.limit(A, Side::Sell, 101, 3);
    h.limit(A, Side::Sell, 105, 10);
    let mut fok = h.order(B, Side::Buy, Some(104), 5);
    fok.time_in_force = TimeInForce::Fok;
    assert_eq!(
        h.submit(fok),
        s(&[
            "accepted 3",
            "cancelled 3 5 left 0 fok_not_fillable",
            "done 3 filled 0"
        ])
    );
}

#[test]
fn ioc_remainder_is_cancelled() {
    let mut h = Harness::new();
    h.limit(A, Side::Buy, 100, 2);
    let mut ioc = h.order(B, Side::Sell, Some(100), 5);
    ioc.time_in_force = TimeInForce::Ioc;
    assert_eq!(
        h.submit(ioc),
        s(&[
            "accepted 2",
            "trade maker 1 taker 2 2x100",
            "done 1 filled 2",
            "cancelled 2 3 left 0 ioc_remainder",
            "done 2 filled 2",
        ])
    );
    assert!(h.book().is_empty());
}

#[test]
fn market_order_into_an_empty_book_is_cancelled_whole() {
    let mut h = Harness::new();
    let m = h.order(A, Side::Buy, None, 5);
    assert_eq!(
        h.submit(m),
        s(&[
            "accepted 1",
            "cancelled 1 5 left 0 ioc_remainder",
            "done 1 filled 0"
        ])
    );
}

#[test]
fn market_order_into_a_thin_book_takes_everything_at_any_price() {
    let mut h = Harness::new();
    h.limit(A, Side::Buy, 100, 1);
    h.limit(A, Side::Buy, 5, 1);
    let m = h.order(B, Side::Sell, None, 5);
    assert_eq!(
        h.submit(m),
        s(&[
            "accepted 3",
            "trade maker 1 taker 3 1x100",
            "done 1 filled 1",
            "trade maker 2 taker 3 1x5",
            "done 2 filled 1",
            "cancelled 3 3 left 0 ioc_remainder",
            "done 3 filled 2",
        ])
    );
}

#[test]
fn market_fok_fills_completely_or_not_at_all() {
    let mut h = Harness::new();
    h.limit(A, Side::Buy, 100, 2);
    let mut m = h.order(B, Side::Sell, None, 3);
    m.time_in_force = TimeInForce::Fok;
    assert_eq!(
        h.submit(m),
        s(&[
            "accepted 2",
            "cancelled 2 3 left 0 fok_not_fillable",
            "done 2 filled 0"
        ])
    );
    let mut m = h.order(B, Side::Sell, None, 2);
    m.time_in_force = TimeInForce::Fok;
    assert_eq!(
        h.submit(m),
        s(&[
            "accepted 3",
            "trade maker 1 taker 3 2x100",
            "done 1 filled 2",
            "done 3 filled 2"
        ])
    );
}

#[test]
fn post_only_that_would_cross_is_cancelled_and_otherwise_rests() {
    let mut h = Harness::new();
    h.limit(A, Side::Sell, 101, 2);
    let mut p = h.order(B, Side::Buy, Some(101), 2);
    p.post_only = true;
    assert_eq!(
        h.submit(p),
        s(&[
            "accepted 2",
            "cancelled 2 2 left 0 post_only_would_cross",
            "done 2 filled 0"
        ])
    );
    let mut p = h.order(B, Side::Buy, Some(100), 2);
    p.post_only = true;
    assert_eq!(h.submit(p), s(&["accepted 3"]));
    assert_eq!(h.book(), s(&["3@100:2", "1@101:2"]));
}
