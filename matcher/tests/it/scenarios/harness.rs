//! The scenarios' harness: two markets, an engine with a clock that ticks once per command,
//! and the compact event notation the tests assert on.

use matcher::{
    AccountId, Amend, Cancel, ClientOrderId, Command, CommandKind, Engine, EngineConfig, Event,
    EventKind, MarketConfig, MarketId, NewOrder, OrderId, OrderRef, OrderType, Price, Quantity,
    Side, StpMode, Symbol, TimeInForce, Timestamp,
};

pub(super) const M: MarketId = MarketId(1);
/// A market with tick 5 and lot 10, for tick and lot rejects.
pub(super) const COARSE: MarketId = MarketId(2);
pub(super) const A: AccountId = AccountId(100);
pub(super) const B: AccountId = AccountId(200);
pub(super) const C: AccountId = AccountId(300);

pub(super) fn market(id: MarketId, symbol: &str, tick: u64, lot: u64, cap: u32) -> MarketConfig {
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
pub(super) struct Harness {
    pub(super) engine: Engine,
    now: u64,
    next_client_id: u64,
}

impl Harness {
    pub(super) fn new() -> Self {
        Self::with(4, 100)
    }

    pub(super) fn with(window: u32, cap: u32) -> Self {
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

    pub(super) fn run(&mut self, kind: CommandKind) -> Vec<String> {
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

    pub(super) fn order(
        &mut self,
        account: AccountId,
        side: Side,
        price: Option<i64>,
        qty: u64,
    ) -> NewOrder {
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

    pub(super) fn submit(&mut self, order: NewOrder) -> Vec<String> {
        self.run(CommandKind::NewOrder(order))
    }

    pub(super) fn limit(
        &mut self,
        account: AccountId,
        side: Side,
        price: i64,
        qty: u64,
    ) -> Vec<String> {
        let o = self.order(account, side, Some(price), qty);
        self.submit(o)
    }

    pub(super) fn cancel(&mut self, account: AccountId, id: u64) -> Vec<String> {
        self.run(CommandKind::Cancel(Cancel {
            account,
            order: OrderRef::Id(OrderId(id)),
        }))
    }

    pub(super) fn amend(
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
    pub(super) fn book(&self) -> Vec<String> {
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

pub(super) fn s(v: &[&str]) -> Vec<String> {
    v.iter().map(|x| (*x).to_owned()).collect()
}
