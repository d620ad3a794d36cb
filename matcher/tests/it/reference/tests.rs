//! The reference checked by hand, so that it is not only ever compared with the engine.

use matcher::{
    AccountId, ClientOrderId, Command, CommandKind, EngineConfig, Event, EventKind, MarketConfig,
    MarketId, NewOrder, OrderId, OrderType, Price, Quantity, RejectReason, Rejected, Seq, Side,
    StpMode, TimeInForce, Timestamp,
};

use super::Reference;

fn config() -> EngineConfig {
    EngineConfig {
        markets: vec![
            MarketConfig::new(
                MarketId(1),
                matcher::Symbol::new("T").unwrap(),
                1,
                1,
                Price(1),
                Price(100),
                Quantity(1000),
                4,
            )
            .unwrap(),
        ],
        client_id_window: 2,
    }
}

fn limit(account: u64, cid: u64, side: Side, price: i64, qty: u64, stp: StpMode) -> Command {
    Command {
        timestamp: Timestamp(cid),
        kind: CommandKind::NewOrder(NewOrder {
            market: MarketId(1),
            account: AccountId(account),
            client_order_id: ClientOrderId::from_u64(cid),
            side,
            order_type: OrderType::Limit {
                price: Price(price),
            },
            quantity: Quantity(qty),
            time_in_force: TimeInForce::Gtc,
            post_only: false,
            stp,
        }),
    }
}

fn kinds(events: &[Event]) -> Vec<EventKind> {
    events.iter().map(|e| e.kind).collect()
}

/// A hand-checked walk through a trade and a decrement, so the reference is not only
/// ever compared with the engine.
#[test]
fn reference_trades_and_decrements_by_hand() {
    let mut r = Reference::new(&config());
    let dec = StpMode::DecrementAndCancel;
    r.process(&limit(1, 1, Side::Sell, 10, 5, dec));
    r.process(&limit(2, 2, Side::Sell, 10, 5, dec));
    let ev = r.process(&limit(1, 3, Side::Buy, 10, 7, dec));
    assert_eq!(ev.first().unwrap().seq, Seq(3));
    let who = |id, account| (OrderId(id), AccountId(account));
    let got: Vec<_> = kinds(&ev)
        .into_iter()
        .map(|k| match k {
            EventKind::Accepted(a) => ("accepted", who(a.order_id.0, 1), 0, 0),
            EventKind::Cancelled(c) => (
                "cancelled",
                (c.order_id, c.account),
                c.quantity.0,
                c.remaining.0,
            ),
            EventKind::Done(d) => ("done", (d.order_id, d.account), d.filled.0, 0),
            EventKind::Trade(t) => (
                "trade",
                (t.maker_order_id, t.maker_account),
                t.quantity.0,
                t.taker_remaining.0,
            ),
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    assert_eq!(
        got,
        vec![
            ("accepted", who(3, 1), 0, 0),
            // Own maker 1 (5) meets taker 3 (7): both lose 5, maker done.
            ("cancelled", who(1, 1), 5, 0),
            ("done", who(1, 1), 0, 0),
            ("cancelled", who(3, 1), 5, 2),
            // Then 2 trade with account 2's maker.
            ("trade", who(2, 2), 2, 0),
            ("done", who(3, 1), 2, 0),
        ]
    );
    let rest = r.resting_orders(MarketId(1)).unwrap();
    assert_eq!(rest.len(), 1);
    assert_eq!(rest[0].order_id, OrderId(2));
    assert_eq!(rest[0].remaining, Quantity(3));
    assert_eq!(rest[0].filled, Quantity(2));
    // Window of 2: orders 1 and 3 finished; client id 1 is still reserved.
    let dup = r.process(&limit(1, 1, Side::Buy, 5, 1, dec));
    assert!(matches!(
        dup[0].kind,
        EventKind::Rejected(Rejected {
            reason: RejectReason::Duplicate,
            order_id: Some(OrderId(1)),
            ..
        })
    ));
}
