//! Every new-order reject reason, duplicate client order ids and their window, and invalid
//! engine configurations.

use matcher::{
    Command, CommandKind, Engine, EngineConfig, EventKind, MarketId, NewOrder, OrderId, OrderType,
    Price, Quantity, Side, TimeInForce, Timestamp,
};

use super::harness::{A, B, COARSE, Harness, M, market, s};

#[test]
fn every_new_order_reject_reason() {
    let mut h = Harness::with(4, 2);
    let base = h.order(A, Side::Buy, Some(100), 10);
    let cases: Vec<(NewOrder, &str)> = vec![
        (
            NewOrder {
                market: MarketId(7),
                ..base
            },
            "unknown_market",
        ),
        (
            NewOrder {
                order_type: OrderType::Market,
                ..base
            },
            "invalid_order_type",
        ),
        (
            NewOrder {
                post_only: true,
                time_in_force: TimeInForce::Ioc,
                ..base
            },
            "invalid_order_type",
        ),
        (
            NewOrder {
                market: COARSE,
                order_type: OrderType::Limit { price: Price(101) },
                ..base
            },
            "price_not_on_tick",
        ),
        (
            NewOrder {
                order_type: OrderType::Limit { price: Price(1001) },
                ..base
            },
            "price_out_of_band",
        ),
        (
            NewOrder {
                order_type: OrderType::Limit { price: Price(-1) },
                ..base
            },
            "price_out_of_band",
        ),
        (
            NewOrder {
                quantity: Quantity(0),
                ..base
            },
            "zero_quantity",
        ),
        (
            NewOrder {
                market: COARSE,
                quantity: Quantity(15),
                ..base
            },
            "quantity_not_on_lot",
        ),
        (
            NewOrder {
                quantity: Quantity(1001),
                ..base
            },
            "quantity_too_large",
        ),
    ];
    for (order, code) in cases {
        assert_eq!(
            h.submit(order),
            vec![format!("rejected {code}")],
            "{order:?}"
        );
    }
    // Nothing was accepted, so the first good order gets id 1.
    assert_eq!(h.submit(base), s(&["accepted 1"]));
    assert_eq!(h.submit(base), s(&["rejected duplicate"]));
    h.limit(A, Side::Buy, 99, 1);
    assert_eq!(h.limit(A, Side::Buy, 98, 1), s(&["rejected book_full"]));
    // A full book still takes orders that never rest.
    let mut ioc = h.order(B, Side::Sell, Some(100), 1);
    ioc.time_in_force = TimeInForce::Ioc;
    assert_eq!(
        h.submit(ioc),
        s(&[
            "accepted 3",
            "trade maker 1 taker 3 1x100",
            "done 3 filled 1"
        ])
    );
}

#[test]
fn duplicate_client_order_id_names_the_existing_order() {
    let mut h = Harness::new();
    let o = h.order(A, Side::Buy, Some(100), 5);
    h.submit(o);
    let events = h
        .engine
        .process(&Command {
            timestamp: Timestamp(1),
            kind: CommandKind::NewOrder(o),
        })
        .to_vec();
    let EventKind::Rejected(r) = events[0].kind else {
        panic!("expected a reject, got {events:?}");
    };
    assert_eq!(r.order_id, Some(OrderId(1)));
    assert_eq!(r.client_order_id, Some(o.client_order_id));
    // The same client order id under another account is a different order.
    assert_eq!(h.submit(NewOrder { account: B, ..o }), s(&["accepted 2"]));
}

#[test]
fn finished_client_order_ids_stay_reserved_for_the_window_then_free() {
    // Window of 2 finished orders.
    let mut h = Harness::with(2, 100);
    let first = h.order(A, Side::Buy, None, 1);
    assert_eq!(h.submit(first)[0], "accepted 1");
    // Finished (IOC into an empty book) but still inside the window: a retry is refused.
    assert_eq!(h.submit(first), s(&["rejected duplicate"]));
    let two = h.order(A, Side::Buy, None, 1);
    h.submit(two);
    assert_eq!(h.submit(first), s(&["rejected duplicate"]));
    let three = h.order(A, Side::Buy, None, 1);
    h.submit(three);
    // Two newer orders finished: the first id has left the window.
    assert_eq!(h.submit(first)[0], "accepted 4");
}

#[test]
fn engine_config_rejects_duplicate_markets() {
    let m = market(M, "AAA-USD", 1, 1, 10);
    let err = Engine::new(EngineConfig {
        markets: vec![m, m],
        client_id_window: 0,
    })
    .unwrap_err();
    assert_eq!(err, matcher::EngineConfigError::DuplicateMarketId(1));
    let err = Engine::new(EngineConfig {
        markets: vec![m, market(COARSE, "AAA-USD", 1, 1, 10)],
        client_id_window: 0,
    })
    .unwrap_err();
    assert_eq!(err, matcher::EngineConfigError::DuplicateSymbol);
}
