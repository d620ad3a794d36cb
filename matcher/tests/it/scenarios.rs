//! Hand-written scenarios: one test per order type, edge case and reject reason, each
//! asserting the exact event stream in a compact notation.

use matcher::{
    AccountId, Amend, Cancel, CancelAll, ClientOrderId, Command, CommandKind, Engine, EngineConfig,
    Event, EventKind, MarketConfig, MarketId, NewOrder, OrderId, OrderRef, OrderType, Price,
    Quantity, Side, StpMode, Symbol, TimeInForce, Timestamp,
};

const M: MarketId = MarketId(1);
/// A market with tick 5 and lot 10, for tick and lot rejects.
const COARSE: MarketId = MarketId(2);
const A: AccountId = AccountId(100);
const B: AccountId = AccountId(200);
const C: AccountId = AccountId(300);

fn market(id: MarketId, symbol: &str, tick: u64, lot: u64, cap: u32) -> MarketConfig {
    MarketConfig::new(
        id,
        Symbol::new(symbol).unwrap(),
        tick,
        lot,
        Price(0),
        Price(1000),
        Quantity(1000),
        cap,
    )
    .unwrap()
}

/// A test harness: an engine, a clock that ticks once per command, and fresh client ids.
struct Harness {
    engine: Engine,
    now: u64,
    next_client_id: u64,
}

impl Harness {
    fn new() -> Self {
        Self::with(4, 100)
    }

    fn with(window: u32, cap: u32) -> Self {
        let engine = Engine::new(EngineConfig {
            markets: vec![
                market(M, "AAA-USD", 1, 1, cap),
                market(COARSE, "BBB-USD", 5, 10, cap),
            ],
            client_id_window: window,
        })
        .unwrap();
        Self {
            engine,
            now: 1_000,
            next_client_id: 1,
        }
    }

    fn run(&mut self, kind: CommandKind) -> Vec<String> {
        self.now += 1;
        let events = self
            .engine
            .process(&Command {
                timestamp: Timestamp(self.now),
                kind,
            })
            .to_vec();
        check_invariants(&self.engine, &events);
        events.iter().map(describe).collect()
    }

    fn order(&mut self, account: AccountId, side: Side, price: Option<i64>, qty: u64) -> NewOrder {
        let client_order_id = ClientOrderId::from_u64(self.next_client_id);
        self.next_client_id += 1;
        NewOrder {
            market: M,
            account,
            client_order_id,
            side,
            order_type: price.map_or(OrderType::Market, |p| OrderType::Limit { price: Price(p) }),
            quantity: Quantity(qty),
            time_in_force: if price.is_some() {
                TimeInForce::Gtc
            } else {
                TimeInForce::Ioc
            },
            post_only: false,
            stp: StpMode::CancelNewest,
        }
    }

    fn submit(&mut self, order: NewOrder) -> Vec<String> {
        self.run(CommandKind::NewOrder(order))
    }

    fn limit(&mut self, account: AccountId, side: Side, price: i64, qty: u64) -> Vec<String> {
        let o = self.order(account, side, Some(price), qty);
        self.submit(o)
    }

    fn cancel(&mut self, account: AccountId, id: u64) -> Vec<String> {
        self.run(CommandKind::Cancel(Cancel {
            account,
            order: OrderRef::Id(OrderId(id)),
        }))
    }

    fn amend(
        &mut self,
        account: AccountId,
        id: u64,
        price: Option<i64>,
        qty: Option<u64>,
    ) -> Vec<String> {
        self.run(CommandKind::Amend(Amend {
            account,
            order: OrderRef::Id(OrderId(id)),
            price: price.map(Price),
            quantity: qty.map(Quantity),
        }))
    }

    /// Resting orders of the test market as `id@price:remaining`, priority order.
    fn book(&self) -> Vec<String> {
        self.engine
            .resting_orders(M)
            .unwrap()
            .iter()
            .map(|o| format!("{}@{}:{}", o.order_id.0, o.price.0, o.remaining.0))
            .collect()
    }
}

/// The compact notation the tests assert on.
fn describe(e: &Event) -> String {
    match &e.kind {
        EventKind::Accepted(a) => format!("accepted {}", a.order_id.0),
        EventKind::Rejected(r) => format!("rejected {}", r.reason.code()),
        EventKind::Trade(t) => format!(
            "trade maker {} taker {} {}x{}",
            t.maker_order_id.0, t.taker_order_id.0, t.quantity.0, t.price.0
        ),
        EventKind::Cancelled(c) => format!(
            "cancelled {} {} left {} {}",
            c.order_id.0,
            c.quantity.0,
            c.remaining.0,
            c.reason.code()
        ),
        EventKind::Amended(a) => format!(
            "amended {} {}x{} left {}{}",
            a.order_id.0,
            a.quantity.0,
            a.price.0,
            a.remaining.0,
            if a.kept_priority { " kept" } else { " lost" }
        ),
        EventKind::Done(d) => format!("done {} filled {}", d.order_id.0, d.filled.0),
    }
}

/// Checked after every command: gapless sequence, one timestamp, an uncrossed book.
fn check_invariants(engine: &Engine, events: &[Event]) {
    let last = engine.last_seq().0;
    let first = last + 1 - events.len() as u64;
    for (i, e) in events.iter().enumerate() {
        assert_eq!(e.seq.0, first + i as u64, "sequence gap");
    }
    for m in [M, COARSE] {
        if let (Some(bid), Some(ask)) = engine.best_prices(m).unwrap() {
            assert!(bid < ask, "crossed book: {bid:?} >= {ask:?}");
        }
    }
}

fn s(v: &[&str]) -> Vec<String> {
    v.iter().map(|x| (*x).to_owned()).collect()
}

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
fn depth_and_queries_report_the_book() {
    let mut h = Harness::new();
    h.limit(A, Side::Buy, 100, 5);
    h.limit(B, Side::Buy, 100, 3);
    h.limit(A, Side::Buy, 97, 1);
    h.limit(C, Side::Sell, 103, 2);
    h.limit(C, Side::Sell, 110, 4);
    let d = h.engine.depth(M, 1).unwrap();
    assert_eq!(d.bids.len(), 1);
    assert_eq!(
        (d.bids[0].price, d.bids[0].quantity, d.bids[0].orders),
        (Price(100), Quantity(8), 2)
    );
    assert_eq!(
        (d.asks[0].price, d.asks[0].quantity, d.asks[0].orders),
        (Price(103), Quantity(2), 1)
    );
    let d = h.engine.depth(M, 10).unwrap();
    assert_eq!((d.bids.len(), d.asks.len()), (2, 2));
    assert_eq!(d.asks[1].price, Price(110));
    assert!(h.engine.depth(MarketId(9), 1).is_err());

    let mine: Vec<u64> = h
        .engine
        .open_orders(A, Some(M))
        .iter()
        .map(|o| o.order_id.0)
        .collect();
    assert_eq!(mine, vec![1, 3]);
    let o = h.engine.order(OrderId(2)).unwrap();
    assert_eq!(
        (o.account, o.price, o.created),
        (B, Price(100), Timestamp(1002))
    );
    let by_client = h.engine.order_by_client_id(B, o.client_order_id).unwrap();
    assert_eq!(by_client, o);
    assert_eq!(h.engine.resting_count(M).unwrap(), 5);
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
