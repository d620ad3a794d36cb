//! Snapshots: taken while commands keep running, restored, and checked against a replay.

use matcher::{
    AccountId, Cancel, ClientOrderId, Command, CommandKind, Engine, EngineConfig, MarketConfig,
    MarketId, NewOrder, OrderId, OrderRef, OrderType, Price, Quantity, Side, StpMode, Symbol,
    TimeInForce, Timestamp, decode_snapshot,
};

fn config() -> EngineConfig {
    let market = |id: u32, sym: &str| {
        MarketConfig::new(
            MarketId(id),
            Symbol::new(sym).unwrap(),
            1,
            1,
            Price(1),
            Price(2000),
            Quantity(1000),
            20_000,
        )
        .unwrap()
    };
    EngineConfig {
        markets: vec![market(1, "AAA"), market(2, "BBB")],
        client_id_window: 64,
    }
}

/// A deterministic mixed workload that keeps thousands of orders resting.
fn commands(n: usize, seed: u64) -> Vec<Command> {
    let mut x = seed | 1;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let mut out = Vec::with_capacity(n);
    let mut placed = 0u64;
    for i in 0..n as u64 {
        let r = next();
        let market = MarketId(1 + (r % 2) as u32);
        let account = AccountId(1 + (r >> 8) % 7);
        let kind = match (r >> 16) % 10 {
            0..=6 => {
                placed += 1;
                let side = if (r >> 24) % 2 == 0 {
                    Side::Buy
                } else {
                    Side::Sell
                };
                let off = ((r >> 32) % 300) as i64;
                let price = match side {
                    Side::Buy => 1000 - off,
                    Side::Sell => 1001 + off,
                };
                let marketable = (r >> 40) % 20 == 0;
                CommandKind::NewOrder(NewOrder {
                    market,
                    account,
                    client_order_id: ClientOrderId::from_u64(i),
                    side,
                    order_type: if marketable {
                        OrderType::Market
                    } else {
                        OrderType::Limit {
                            price: Price(price),
                        }
                    },
                    quantity: Quantity(1 + (r >> 48) % 50),
                    time_in_force: if marketable {
                        TimeInForce::Ioc
                    } else {
                        TimeInForce::Gtc
                    },
                    post_only: false,
                    stp: StpMode::DecrementAndCancel,
                })
            }
            _ => CommandKind::Cancel(Cancel {
                account,
                order: OrderRef::Id(OrderId(1 + (r >> 24) % placed.max(1))),
            }),
        };
        out.push(Command {
            timestamp: Timestamp(1_000 + i),
            kind,
        });
    }
    out
}

#[test]
fn snapshot_taken_while_running_restores_the_state_at_its_start() {
    let cmds = commands(40_000, 7);
    let (before, after) = cmds.split_at(25_000);

    let mut live = Engine::new(config()).unwrap();
    for c in before {
        live.process(c);
    }
    let resting =
        live.resting_count(MarketId(1)).unwrap() + live.resting_count(MarketId(2)).unwrap();
    assert!(
        resting > 8_192,
        "the pool must span several copy chunks ({resting})"
    );
    let hash_at_start = live.state_hash();
    assert!(live.begin_snapshot());
    assert!(!live.begin_snapshot(), "one snapshot at a time");

    // Commands keep changing the book while the copy advances one chunk at a time.
    let mut image = None;
    let mut live_events = Vec::new();
    for c in after {
        live_events.push(live.process(c).to_vec());
        if image.is_none() {
            image = live.continue_snapshot(1);
        }
    }
    let image = image.expect("the copy finishes within the run");
    let bytes = image.encode(before.len() as u64);
    assert_eq!(
        bytes,
        image.encode(before.len() as u64),
        "deterministic bytes"
    );
    let snapshot = decode_snapshot(&bytes).unwrap();
    assert_eq!(snapshot.command_seq, before.len() as u64);

    let mut restored = Engine::restore(config(), &snapshot).unwrap();
    assert_eq!(restored.state_hash(), hash_at_start);
    for (c, expected) in after.iter().zip(&live_events) {
        assert_eq!(restored.process(c), expected.as_slice());
    }
    assert_eq!(restored.state_hash(), live.state_hash());
}

#[test]
fn snapshot_of_an_empty_engine_and_damage_detection() {
    let mut e = Engine::new(config()).unwrap();
    let bytes = e.snapshot_now().encode(0);
    let s = decode_snapshot(&bytes).unwrap();
    assert!(s.orders.is_empty());
    assert_eq!(
        Engine::restore(config(), &s).unwrap().state_hash(),
        e.state_hash()
    );

    for c in commands(500, 3) {
        e.process(&c);
    }
    let bytes = e.snapshot_now().encode(500);
    for i in [0, 9, bytes.len() / 2, bytes.len() - 1] {
        let mut bad = bytes.clone();
        bad[i] ^= 1;
        assert!(decode_snapshot(&bad).is_err(), "flipped byte {i}");
    }
    assert!(decode_snapshot(&bytes[..bytes.len() - 1]).is_err());

    let mut other = config();
    other.client_id_window = 3;
    let err = Engine::restore(other, &decode_snapshot(&bytes).unwrap()).unwrap_err();
    assert!(err.to_string().contains("client id window"), "{err}");
}
