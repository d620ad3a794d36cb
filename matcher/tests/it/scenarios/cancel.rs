//! Cancels by order id and client order id, and cancel-all.

use matcher::{Cancel, CancelAll, CommandKind, MarketId, OrderRef, Side};

use super::harness::{A, B, COARSE, Harness, M, s};

#[test]
fn cancel_of_a_live_filled_unknown_or_foreign_order() {
    let mut h = Harness::new();
    h.limit(A, Side::Buy, 100, 5);
    h.limit(A, Side::Buy, 99, 5);
    h.limit(B, Side::Sell, 100, 5);
    assert_eq!(h.cancel(A, 1), s(&["rejected unknown_order"]), "filled");
    assert_eq!(
        h.cancel(A, 42),
        s(&["rejected unknown_order"]),
        "never existed"
    );
    assert_eq!(
        h.cancel(B, 2),
        s(&["rejected unknown_order"]),
        "someone else's"
    );
    assert_eq!(
        h.cancel(A, 2),
        s(&["cancelled 2 5 left 0 user", "done 2 filled 0"])
    );
    assert_eq!(h.cancel(A, 2), s(&["rejected unknown_order"]), "twice");
}

#[test]
fn cancel_by_client_order_id_and_partially_filled_order_reports_its_fill() {
    let mut h = Harness::new();
    let o = h.order(A, Side::Buy, Some(100), 5);
    let cid = o.client_order_id;
    h.submit(o);
    h.limit(B, Side::Sell, 100, 2);
    assert_eq!(
        h.run(CommandKind::Cancel(Cancel {
            account: B,
            order: OrderRef::Client(cid),
        })),
        s(&["rejected unknown_order"])
    );
    assert_eq!(
        h.run(CommandKind::Cancel(Cancel {
            account: A,
            order: OrderRef::Client(cid),
        })),
        s(&["cancelled 1 3 left 0 user", "done 1 filled 2"])
    );
}

#[test]
fn cancel_all_is_per_account_oldest_first_and_optionally_per_market() {
    let mut h = Harness::new();
    h.limit(A, Side::Buy, 90, 1);
    h.limit(B, Side::Buy, 91, 1);
    h.limit(A, Side::Sell, 110, 1);
    let mut other = h.order(A, Side::Buy, Some(100), 10);
    other.market = COARSE;
    h.submit(other);
    assert_eq!(
        h.run(CommandKind::CancelAll(CancelAll {
            account: A,
            market: Some(MarketId(99)),
        })),
        s(&["rejected unknown_market"])
    );
    assert_eq!(
        h.run(CommandKind::CancelAll(CancelAll {
            account: A,
            market: Some(M),
        })),
        s(&[
            "cancelled 1 1 left 0 user",
            "done 1 filled 0",
            "cancelled 3 1 left 0 user",
            "done 3 filled 0",
        ])
    );
    assert_eq!(h.book(), s(&["2@91:1"]));
    assert_eq!(h.engine.open_orders(A, None).len(), 1);
    assert_eq!(
        h.run(CommandKind::CancelAll(CancelAll {
            account: A,
            market: None,
        })),
        s(&["cancelled 4 10 left 0 user", "done 4 filled 0"])
    );
    assert!(h.engine.open_orders(A, None).is_empty());
}
