//! `snapshot.bin`: an engine with resting orders and a recent client id window.

use matcher::{
    AccountId, Amend, Cancel, Command, CommandKind, Engine, EngineConfig, EventKind, MarketConfig,
    MarketId, NewOrder, OrderId, OrderRef, OrderType, Price, Quantity, Side, StpMode, Symbol,
    TimeInForce, Timestamp, decode_snapshot,
};

use super::file::Golden;
use super::values::{T0, UUID, cid};

fn snapshot_config() -> EngineConfig {
    let market = |id: u32, symbol: &str, tick, lot, min, max| {
        MarketConfig::new(
            MarketId(id),
            Symbol::new(symbol).unwrap(),
            tick,
            lot,
            Price(min),
            Price(max),
            Quantity(10_000),
            32,
        )
        .unwrap()
    };
    EngineConfig {
        markets: vec![
            market(3, "AAA", 1, 1, 1, 200),
            market(2, "SPREAD-Z5", 5, 10, -500, 500),
        ],
        client_id_window: 3,
    }
}

/// An engine with resting orders on both sides of two markets (two sharing a level, one
/// partly filled, one post-only, one amended) and a recent client id window that has
/// already evicted its oldest entry.
fn snapshot_engine() -> (Engine, u64) {
    let new = |market: u32, account: u64, id: &str, side, price, quantity| NewOrder {
        market: MarketId(market),
        account: AccountId(account),
        client_order_id: cid(id),
        side,
        order_type: OrderType::Limit {
            price: Price(price),
        },
        quantity: Quantity(quantity),
        time_in_force: TimeInForce::Gtc,
        post_only: false,
        stp: StpMode::CancelNewest,
    };
    let kinds = [
        // 1..=3: bids on AAA, two at 100.
        CommandKind::NewOrder(new(3, 1, "a-b1", Side::Buy, 100, 5)),
        CommandKind::NewOrder(new(3, 2, "a-b2", Side::Buy, 100, 7)),
        CommandKind::NewOrder(new(3, 1, "a-b3", Side::Buy, 98, 1)),
        // 4: an ask, then 5: a buy that fills 3 of it and finishes (window: a-x1).
        CommandKind::NewOrder(new(3, 3, "a-s1", Side::Sell, 103, 10)),
        CommandKind::NewOrder(new(3, 4, "a-x1", Side::Buy, 103, 3)),
        // 6: finished by cancel (window: a-x1, a-x2).
        CommandKind::NewOrder(new(3, 4, "a-x2", Side::Buy, 50, 2)),
        CommandKind::Cancel(Cancel {
            account: AccountId(4),
            order: OrderRef::Client(cid("a-x2")),
        }),
        // 7: a post-only ask at a negative price on the spread market.
        CommandKind::NewOrder(NewOrder {
            post_only: true,
            stp: StpMode::DecrementAndCancel,
            ..new(2, 5, UUID, Side::Sell, -25, 40)
        }),
        // 8: a bid there, amended down (new price, back of the queue, later update time).
        CommandKind::NewOrder(NewOrder {
            stp: StpMode::CancelOldest,
            ..new(2, 6, "z-b1", Side::Buy, -100, 30)
        }),
        CommandKind::Amend(Amend {
            account: AccountId(6),
            order: OrderRef::Id(OrderId(8)),
            price: Some(Price(-105)),
            quantity: Some(Quantity(20)),
        }),
        // 9, 10: two IOC orders that find nothing and finish: the window (3 long) now
        // holds a-x2, z-i1, z-i2; a-x1 was evicted.
        CommandKind::NewOrder(NewOrder {
            time_in_force: TimeInForce::Ioc,
            ..new(2, 7, "z-i1", Side::Buy, -200, 10)
        }),
        CommandKind::NewOrder(NewOrder {
            time_in_force: TimeInForce::Ioc,
            ..new(2, 7, "z-i2", Side::Sell, 500, 10)
        }),
    ];
    let mut e = Engine::new(snapshot_config()).unwrap();
    let n = kinds.len() as u64;
    for (kind, i) in kinds.into_iter().zip(0u64..) {
        let events = e.process(&Command {
            timestamp: Timestamp(T0 + 10 * i),
            kind,
        });
        assert!(
            !events
                .iter()
                .any(|ev| matches!(ev.kind, EventKind::Rejected(_))),
            "command {i} was rejected: {events:?}"
        );
    }
    (e, n)
}

#[test]
fn golden_snapshot() {
    let (mut live, command_seq) = snapshot_engine();
    let mut g = Golden::new("snapshot.bin");
    let image = live.snapshot_now();
    g.part("snapshot", |out| out.extend(image.encode(command_seq)));
    let bytes = g.check();

    let snapshot = decode_snapshot(&bytes).unwrap();
    assert_eq!(snapshot.command_seq, command_seq);
    assert_eq!(snapshot.last_event_seq, live.last_seq().0);
    assert_eq!(snapshot.next_order_id, live.next_order_id().0);
    assert_eq!(snapshot.client_id_window, 3);
    assert_eq!(snapshot.markets, snapshot_config().markets);
    let mut resting = live.resting_orders(MarketId(3)).unwrap();
    resting.extend(live.resting_orders(MarketId(2)).unwrap());
    assert_eq!(snapshot.orders, resting);
    assert_eq!(snapshot.orders.len(), 6);
    assert_eq!(
        snapshot.recent,
        vec![
            (AccountId(4), cid("a-x2"), OrderId(6)),
            (AccountId(7), cid("z-i1"), OrderId(9)),
            (AccountId(7), cid("z-i2"), OrderId(10)),
        ]
    );
    let restored = Engine::restore(snapshot_config(), &snapshot).unwrap();
    assert_eq!(restored.state_hash(), live.state_hash());
}
