//! Self-trade prevention: each mode, and how it limits what a fill-or-kill order may count.

use matcher::{OrderId, Quantity, Side, StpMode, TimeInForce};

use super::harness::{A, B, Harness, s};

fn stp_setup(h: &mut Harness) {
    // Book: 1 (B) 2@100, 2 (A) 3@100, 3 (B) 2@101.
    h.limit(B, Side::Sell, 100, 2);
    h.limit(A, Side::Sell, 100, 3);
    h.limit(B, Side::Sell, 101, 2);
}

fn stp_taker(h: &mut Harness, stp: StpMode, qty: u64) -> Vec<String> {
    let mut o = h.order(A, Side::Buy, Some(101), qty);
    o.stp = stp;
    h.submit(o)
}

#[test]
fn stp_cancel_newest_cancels_the_taker_and_keeps_the_maker() {
    let mut h = Harness::new();
    stp_setup(&mut h);
    assert_eq!(
        stp_taker(&mut h, StpMode::CancelNewest, 6),
        s(&[
            "accepted 4",
            "trade maker 1 taker 4 2x100",
            "done 1 filled 2",
            "cancelled 4 4 left 0 self_trade_prevention",
            "done 4 filled 2",
        ])
    );
    assert_eq!(h.book(), s(&["2@100:3", "3@101:2"]));
}

#[test]
fn stp_cancel_oldest_cancels_the_maker_and_keeps_matching() {
    let mut h = Harness::new();
    stp_setup(&mut h);
    assert_eq!(
        stp_taker(&mut h, StpMode::CancelOldest, 6),
        s(&[
            "accepted 4",
            "trade maker 1 taker 4 2x100",
            "done 1 filled 2",
            "cancelled 2 3 left 0 self_trade_prevention",
            "done 2 filled 0",
            "trade maker 3 taker 4 2x101",
            "done 3 filled 2",
        ])
    );
    assert_eq!(h.book(), s(&["4@101:2"]));
}

#[test]
fn stp_cancel_both_cancels_maker_then_taker() {
    let mut h = Harness::new();
    stp_setup(&mut h);
    assert_eq!(
        stp_taker(&mut h, StpMode::CancelBoth, 6),
        s(&[
            "accepted 4",
            "trade maker 1 taker 4 2x100",
            "done 1 filled 2",
            "cancelled 2 3 left 0 self_trade_prevention",
            "done 2 filled 0",
            "cancelled 4 4 left 0 self_trade_prevention",
            "done 4 filled 2",
        ])
    );
    assert_eq!(h.book(), s(&["3@101:2"]));
}

#[test]
fn stp_decrement_shrinks_both_and_cancels_what_reaches_zero() {
    // Taker larger than the self maker: the maker goes, the taker goes on matching.
    let mut h = Harness::new();
    stp_setup(&mut h);
    assert_eq!(
        stp_taker(&mut h, StpMode::DecrementAndCancel, 6),
        s(&[
            "accepted 4",
            "trade maker 1 taker 4 2x100",
            "done 1 filled 2",
            "cancelled 2 3 left 0 self_trade_prevention",
            "done 2 filled 0",
            "cancelled 4 3 left 1 self_trade_prevention",
            "trade maker 3 taker 4 1x101",
            "done 4 filled 3",
        ])
    );
    assert_eq!(h.book(), s(&["3@101:1"]));

    // Taker smaller than the self maker: the taker goes, the maker stays, smaller, in
    // place, and its total quantity shrinks with it.
    let mut h = Harness::new();
    stp_setup(&mut h);
    assert_eq!(
        stp_taker(&mut h, StpMode::DecrementAndCancel, 3),
        s(&[
            "accepted 4",
            "trade maker 1 taker 4 2x100",
            "done 1 filled 2",
            "cancelled 2 1 left 2 self_trade_prevention",
            "cancelled 4 1 left 0 self_trade_prevention",
            "done 4 filled 2",
        ])
    );
    assert_eq!(h.book(), s(&["2@100:2", "3@101:2"]));
    let maker = h.engine.order(OrderId(2)).unwrap();
    assert_eq!((maker.quantity, maker.filled), (Quantity(2), Quantity(0)));
}

#[test]
fn fok_counts_liquidity_only_up_to_a_self_order_unless_cancel_oldest() {
    for (stp, fillable) in [
        (StpMode::CancelNewest, false),
        (StpMode::CancelBoth, false),
        (StpMode::DecrementAndCancel, false),
        (StpMode::CancelOldest, true),
    ] {
        let mut h = Harness::new();
        stp_setup(&mut h);
        let mut o = h.order(A, Side::Buy, Some(101), 4);
        o.stp = stp;
        o.time_in_force = TimeInForce::Fok;
        let events = h.submit(o);
        assert_eq!(
            events.iter().any(|e| e.ends_with("fok_not_fillable")),
            !fillable,
            "{stp:?}: {events:?}"
        );
    }
}
