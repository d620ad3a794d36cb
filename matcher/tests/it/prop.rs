//! Property tests: random command sequences run through the engine and the reference
//! book (`reference.rs`) side by side, with the engine's invariants checked after every
//! command.
//!
//! Commands are generated as abstract operations ([`Op`]) and made concrete just before
//! they run, against the state reached so far: that is how cancels and amends mostly
//! name orders that exist (picked from the live book or from every order ever accepted),
//! and new orders sometimes reuse a client order id on purpose.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use matcher::{
    AccountId, Amend, Cancel, CancelAll, ClientOrderId, Command, CommandKind, Engine, EngineConfig,
    Event, EventKind, MarketConfig, MarketId, NewOrder, OrderId, OrderRef, OrderType, Price,
    Quantity, Seq, Side, StpMode, Symbol, TimeInForce, Timestamp, UnknownMarket,
};
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::strategy::ValueTree;
use proptest::test_runner::TestCaseError;

use crate::reference::Reference;

/// First market: tick 1, lot 1, a 31-tick band.
const MARKET_A: MarketId = MarketId(7);
/// Second market: tick 5, lot 10, a 73-tick band reaching below zero (so the engine's
/// level bitmap spans two words; generated prices straddle index 64).
const MARKET_B: MarketId = MarketId(3);
/// Not configured.
const UNKNOWN_MARKET: MarketId = MarketId(99);
/// Accounts 1..=ACCOUNTS trade; few, so self-trades are common.
const ACCOUNTS: u64 = 4;

fn market_a() -> MarketConfig {
    MarketConfig::new(
        MARKET_A,
        Symbol::new("AAA-USD").expect("valid symbol"),
        1,
        1,
        Price(100),
        Price(130),
        Quantity(50),
        8,
    )
    .expect("valid market")
}

fn market_b() -> MarketConfig {
    MarketConfig::new(
        MARKET_B,
        Symbol::new("BBB-USD").expect("valid symbol"),
        5,
        10,
        Price(-300),
        Price(60),
        Quantity(200),
        12,
    )
    .expect("valid market")
}

fn engine_config(window: u32) -> EngineConfig {
    EngineConfig {
        markets: vec![market_a(), market_b()],
        client_id_window: window,
    }
}

/// Centre of the generated prices of a market.
fn mid(config: &MarketConfig) -> i64 {
    if config.id() == MARKET_A { 115 } else { 20 }
}

// ---------------------------------------------------------------------------------------
// Abstract operations and their generators.

#[derive(Clone, Copy, Debug)]
enum MarketSel {
    A,
    B,
    Unknown,
}

impl MarketSel {
    fn id(self) -> MarketId {
        match self {
            MarketSel::A => MARKET_A,
            MarketSel::B => MARKET_B,
            MarketSel::Unknown => UNKNOWN_MARKET,
        }
    }
}

/// A price near the middle (`mode` < 88), off tick, or out of band.
#[derive(Clone, Copy, Debug)]
struct PriceSel {
    mode: u8,
    offset: i64,
}

/// A few lots (`mode` < 88), zero, off lot, or too large.
#[derive(Clone, Copy, Debug)]
struct QtySel {
    mode: u8,
    lots: u64,
}

#[derive(Clone, Copy, Debug)]
enum ClientSel {
    Fresh,
    /// One of the account's earlier client order ids.
    Reuse(Index),
    /// A client order id any account used (so accounts share ids).
    Borrow(Index),
}

#[derive(Clone, Copy, Debug)]
struct NewSpec {
    market: MarketSel,
    account: u64,
    side: Side,
    /// `None`: a market order.
    limit: Option<PriceSel>,
    quantity: QtySel,
    tif: TimeInForce,
    post_only: bool,
    stp: StpMode,
    client: ClientSel,
}

#[derive(Clone, Copy, Debug)]
enum TargetKind {
    /// A resting order.
    Live,
    /// Any order ever accepted (often finished).
    Historical,
    /// An id or client id never used.
    Unknown,
}

#[derive(Clone, Copy, Debug)]
struct Target {
    kind: TargetKind,
    by_client: bool,
    pick: Index,
    /// `None`: the order's owner; otherwise this account.
    account: Option<u64>,
}

#[derive(Clone, Copy, Debug)]
enum AmendPrice {
    Keep,
    Same,
    New(PriceSel),
    /// The opposite best price, this many ticks beyond it (so the amend crosses).
    Cross(i64),
}

#[derive(Clone, Copy, Debug)]
enum AmendQty {
    Keep,
    /// The order's current total plus this many lots.
    Relative(i64),
    Absolute(QtySel),
}

#[derive(Clone, Copy, Debug)]
enum Op {
    New(NewSpec),
    Cancel(Target),
    Amend(Target, AmendPrice, AmendQty),
    CancelAll {
        account: u64,
        market: Option<MarketSel>,
    },
}

fn market_sel() -> impl Strategy<Value = MarketSel> {
    prop_oneof![
        10 => Just(MarketSel::A),
        10 => Just(MarketSel::B),
        1 => Just(MarketSel::Unknown),
    ]
}

fn price_sel() -> impl Strategy<Value = PriceSel> {
    (0u8..100, -6i64..=6).prop_map(|(mode, offset)| PriceSel { mode, offset })
}

fn qty_sel() -> impl Strategy<Value = QtySel> {
    (0u8..100, 1u64..=6).prop_map(|(mode, lots)| QtySel { mode, lots })
}

fn account() -> impl Strategy<Value = u64> {
    1..=ACCOUNTS
}

/// How a case's operations are weighted.
#[derive(Clone, Copy, Debug)]
enum Mix {
    /// Orders come and go: a thin book, many rejects and cancels.
    Churn,
    /// Mostly resting orders and few cancels: deep books that fill up (`book_full`).
    Deep,
}

fn new_spec(mix: Mix) -> impl Strategy<Value = NewSpec> {
    let (gtc, post_only) = match mix {
        Mix::Churn => (3, 0.15),
        Mix::Deep => (8, 0.3),
    };
    (
        market_sel(),
        account(),
        prop_oneof![Just(Side::Buy), Just(Side::Sell)],
        prop_oneof![6 => price_sel().prop_map(Some), 1 => Just(None)],
        qty_sel(),
        prop_oneof![
            gtc => Just(TimeInForce::Gtc),
            1 => Just(TimeInForce::Ioc),
            1 => Just(TimeInForce::Fok),
        ],
        prop::bool::weighted(post_only),
        prop_oneof![
            Just(StpMode::CancelNewest),
            Just(StpMode::CancelOldest),
            Just(StpMode::CancelBoth),
            Just(StpMode::DecrementAndCancel),
        ],
        prop_oneof![
            10 => Just(ClientSel::Fresh),
            2 => any::<Index>().prop_map(ClientSel::Reuse),
            1 => any::<Index>().prop_map(ClientSel::Borrow),
        ],
        // Below 85, an impossible type / time in force / post-only mix is made possible.
        0u8..100,
    )
        .prop_map(
            |(market, account, side, limit, quantity, tif, post_only, stp, client, sane)| {
                let (tif, post_only) = match (limit, tif, post_only) {
                    _ if sane >= 85 => (tif, post_only),
                    (None, TimeInForce::Gtc, _) => (TimeInForce::Ioc, false),
                    (None, tif, _) => (tif, false),
                    (Some(_), _, true) => (TimeInForce::Gtc, true),
                    (Some(_), tif, false) => (tif, false),
                };
                NewSpec {
                    market,
                    account,
                    side,
                    limit,
                    quantity,
                    tif,
                    post_only,
                    stp,
                    client,
                }
            },
        )
}

fn target() -> impl Strategy<Value = Target> {
    (
        prop_oneof![
            7 => Just(TargetKind::Live),
            2 => Just(TargetKind::Historical),
            1 => Just(TargetKind::Unknown),
        ],
        prop::bool::weighted(0.3),
        any::<Index>(),
        prop_oneof![6 => Just(None), 1 => account().prop_map(Some)],
    )
        .prop_map(|(kind, by_client, pick, account)| Target {
            kind,
            by_client,
            pick,
            account,
        })
}

fn op(mix: Mix) -> impl Strategy<Value = Op> {
    let (new, cancel, amend, cancel_all) = match mix {
        Mix::Churn => (14, 2, 4, 1),
        Mix::Deep => (30, 1, 4, 1),
    };
    prop_oneof![
        new => new_spec(mix).prop_map(Op::New),
        cancel => target().prop_map(Op::Cancel),
        amend => (
            target(),
            prop_oneof![
                2 => Just(AmendPrice::Keep),
                1 => Just(AmendPrice::Same),
                3 => price_sel().prop_map(AmendPrice::New),
                2 => (0i64..=2).prop_map(AmendPrice::Cross),
            ],
            prop_oneof![
                2 => Just(AmendQty::Keep),
                3 => (-3i64..=3).prop_map(AmendQty::Relative),
                1 => qty_sel().prop_map(AmendQty::Absolute),
            ],
        )
            .prop_map(|(t, p, q)| Op::Amend(t, p, q)),
        cancel_all => (account(), prop::option::weighted(0.6, market_sel()))
            .prop_map(|(account, market)| Op::CancelAll { account, market }),
    ]
}

/// The client order id window: mostly 4 (so eviction happens), sometimes 0 or 1.
fn window() -> impl Strategy<Value = u32> {
    prop_oneof![4 => Just(4u32), 1 => Just(0u32), 1 => Just(1u32)]
}

/// One case: a window and up to `max` operations under one mix.
fn case(min: usize, max: usize) -> impl Strategy<Value = (u32, Vec<Op>)> {
    (window(), prop_oneof![Just(Mix::Churn), Just(Mix::Deep)])
        .prop_flat_map(move |(w, mix)| (Just(w), prop::collection::vec(op(mix), min..=max)))
}

// ---------------------------------------------------------------------------------------
// Making operations concrete.

fn config_of(market: MarketId) -> MarketConfig {
    if market == MARKET_B {
        market_b()
    } else {
        market_a()
    }
}

fn tick(config: &MarketConfig) -> i64 {
    i64::try_from(config.tick_size()).expect("small tick")
}

fn price(config: &MarketConfig, sel: PriceSel) -> Price {
    let tick = tick(config);
    let valid = mid(config) + sel.offset * tick;
    Price(match sel.mode {
        0..88 => valid,
        88..94 if tick > 1 => valid + 1,
        _ if sel.offset >= 0 => config.max_price().0 + tick,
        _ => config.min_price().0 - tick,
    })
}

fn quantity(config: &MarketConfig, sel: QtySel) -> Quantity {
    let lot = config.lot_size();
    Quantity(match sel.mode {
        0..88 => sel.lots * lot,
        88..91 => 0,
        91..95 if lot > 1 => sel.lots * lot + 1,
        _ => config.max_quantity().0 + lot,
    })
}

/// What the tests remember about an accepted order.
#[derive(Clone, Copy, Debug)]
struct Known {
    id: OrderId,
    account: AccountId,
    client_order_id: ClientOrderId,
    market: MarketId,
    stp: StpMode,
}

/// Per accepted order: the quantities the event stream reports.
#[derive(Clone, Copy, Debug, Default)]
struct Ledger {
    submitted: u64,
    /// Amend increases minus amend decreases of the total quantity.
    amended: i128,
    filled: u64,
    cancelled: u64,
    /// The total quantity as the events imply it: submitted, set by amends, lowered by
    /// cancellations (decrements lower an order's total).
    total: u64,
    done: bool,
}

impl Ledger {
    fn supply(&self) -> i128 {
        i128::from(self.submitted) + self.amended
    }
}

macro_rules! check {
    ($cond:expr, $($msg:tt)+) => {
        if !$cond {
            return Err(format!($($msg)+));
        }
    };
}

macro_rules! check_eq {
    ($left:expr, $right:expr, $($msg:tt)+) => {{
        let (l, r) = (&$left, &$right);
        if l != r {
            return Err(format!(
                "{}\n  left: {:?}\n right: {:?}",
                format!($($msg)+),
                l,
                r
            ));
        }
    }};
}

/// Engine, twin engine and reference, run in lockstep, with the bookkeeping the
/// properties need.
struct Harness {
    engine: Engine,
    twin: Engine,
    reference: Reference,
    commands: Vec<Command>,
    last_seq: u64,
    next_id: u64,
    ledger: BTreeMap<OrderId, Ledger>,
    live: usize,
    history: Vec<Known>,
    client_ids: BTreeMap<AccountId, Vec<ClientOrderId>>,
    next_client_id: u64,
    /// Compare `Engine::depth` with the reference after every command too.
    check_depth: bool,
    /// How often each kind of outcome happened, to show the generators reach them all.
    outcomes: BTreeMap<(&'static str, &'static str), usize>,
    /// The order taking liquidity in the current command, and whether it is an amend.
    taker: Option<(Known, bool)>,
}

impl Harness {
    fn new(window: u32, check_depth: bool) -> Self {
        let config = engine_config(window);
        Self {
            engine: Engine::new(config.clone()).expect("valid engine config"),
            twin: Engine::new(config.clone()).expect("valid engine config"),
            reference: Reference::new(&config),
            commands: Vec::new(),
            last_seq: 0,
            next_id: 1,
            ledger: BTreeMap::new(),
            live: 0,
            history: Vec::new(),
            client_ids: BTreeMap::new(),
            next_client_id: 1,
            check_depth,
            outcomes: BTreeMap::new(),
            taker: None,
        }
    }

    fn saw(&mut self, kind: &'static str, detail: &'static str) {
        *self.outcomes.entry((kind, detail)).or_default() += 1;
    }

    fn fresh_client_id(&mut self) -> ClientOrderId {
        let n = self.next_client_id;
        self.next_client_id += 1;
        ClientOrderId::new(&format!("c-{n}")).expect("valid client order id")
    }

    /// The order a cancel or amend names, the account that asks, and the market whose
    /// rules its new price and quantity follow.
    fn target(&self, t: Target) -> (AccountId, OrderRef, MarketId, Option<Known>) {
        let live = self.reference.all_resting();
        let known = match t.kind {
            TargetKind::Live if !live.is_empty() => {
                let o = live[t.pick.index(live.len())];
                Some(Known {
                    id: o.order_id,
                    account: o.account,
                    client_order_id: o.client_order_id,
                    market: o.market,
                    stp: o.stp,
                })
            }
            TargetKind::Historical if !self.history.is_empty() => {
                Some(self.history[t.pick.index(self.history.len())])
            }
            _ => None,
        };
        let (owner, id, client, market) = match known {
            Some(k) => (k.account, k.id, k.client_order_id, k.market),
            None => (
                AccountId(1),
                OrderId(1_000_000 + t.pick.index(1000) as u64),
                ClientOrderId::new("zz-unknown").expect("valid client order id"),
                MARKET_A,
            ),
        };
        let account = t.account.map_or(owner, AccountId);
        let order = if t.by_client {
            OrderRef::Client(client)
        } else {
            OrderRef::Id(id)
        };
        (account, order, market, known)
    }

    fn command(&mut self, op: Op, timestamp: Timestamp) -> Command {
        let kind = match op {
            Op::New(s) => {
                let market = s.market.id();
                let config = config_of(market);
                let account = AccountId(s.account);
                let used = self.client_ids.get(&account).filter(|v| !v.is_empty());
                let client_order_id = match (s.client, used) {
                    (ClientSel::Reuse(i), Some(used)) => used[i.index(used.len())],
                    (ClientSel::Borrow(i), _) if !self.history.is_empty() => {
                        self.history[i.index(self.history.len())].client_order_id
                    }
                    _ => self.fresh_client_id(),
                };
                CommandKind::NewOrder(NewOrder {
                    market,
                    account,
                    client_order_id,
                    side: s.side,
                    order_type: match s.limit {
                        Some(p) => OrderType::Limit {
                            price: price(&config, p),
                        },
                        None => OrderType::Market,
                    },
                    quantity: quantity(&config, s.quantity),
                    time_in_force: s.tif,
                    post_only: s.post_only,
                    stp: s.stp,
                })
            }
            Op::Cancel(t) => {
                let (account, order, _, _) = self.target(t);
                CommandKind::Cancel(Cancel { account, order })
            }
            Op::Amend(t, p, q) => {
                let (account, order, market, known) = self.target(t);
                let config = config_of(market);
                let current = known.and_then(|k| self.reference.order(k.id));
                let price = match p {
                    AmendPrice::Keep => None,
                    AmendPrice::Same => Some(current.map_or(Price(mid(&config)), |o| o.price)),
                    AmendPrice::New(sel) => Some(price(&config, sel)),
                    AmendPrice::Cross(ticks) => {
                        let side = current.map_or(Side::Buy, |o| o.side);
                        let (bid, ask) = self.reference.best_prices(market);
                        let beyond = ticks * tick(&config);
                        Some(match side {
                            Side::Buy => ask.map_or(Price(mid(&config)), |p| Price(p.0 + beyond)),
                            Side::Sell => bid.map_or(Price(mid(&config)), |p| Price(p.0 - beyond)),
                        })
                    }
                };
                let lot = i64::try_from(config.lot_size()).expect("small lot");
                let quantity = match q {
                    AmendQty::Keep => None,
                    AmendQty::Relative(lots) => {
                        let base = current
                            .map_or(0, |o| i64::try_from(o.quantity.0).expect("small quantity"));
                        Some(Quantity(
                            u64::try_from((base + lots * lot).max(0)).expect("clamped at zero"),
                        ))
                    }
                    AmendQty::Absolute(sel) => Some(quantity(&config, sel)),
                };
                CommandKind::Amend(Amend {
                    account,
                    order,
                    price,
                    quantity,
                })
            }
            Op::CancelAll { account, market } => CommandKind::CancelAll(CancelAll {
                account: AccountId(account),
                market: market.map(MarketSel::id),
            }),
        };
        Command { timestamp, kind }
    }

    /// Runs `op` and checks every property; on failure, the message lists the concrete
    /// commands that led there.
    fn run(&mut self, op: Op) -> Result<(), TestCaseError> {
        let timestamp = Timestamp(1_000 + 10 * self.commands.len() as u64);
        let command = self.command(op, timestamp);
        self.commands.push(command);
        self.step(&command).map_err(|msg| {
            let mut s = format!("{msg}\ncommands ({}):\n", self.commands.len());
            for (i, c) in self.commands.iter().enumerate() {
                let _ = writeln!(s, "  {i:3}: {c:?}");
            }
            TestCaseError::fail(s)
        })
    }

    fn step(&mut self, command: &Command) -> Result<(), String> {
        let events: Vec<Event> = self.engine.process(command).to_vec();
        let expected = self.reference.process(command);
        check_eq!(
            events,
            expected,
            "events differ from the reference (left: engine, right: reference)"
        );

        // Determinism: a second engine fed the same commands agrees exactly.
        let twin: Vec<Event> = self.twin.process(command).to_vec();
        check_eq!(events, twin, "a second engine emitted other events");
        check_eq!(
            self.engine.state_hash(),
            self.twin.state_hash(),
            "a second engine has another state hash"
        );

        // Gapless sequence numbers from 1, each stamped with the command's time.
        for e in &events {
            check_eq!(e.seq, Seq(self.last_seq + 1), "sequence gap at {e:?}");
            check_eq!(e.timestamp, command.timestamp, "timestamp of {e:?}");
            self.last_seq = e.seq.0;
        }
        check_eq!(self.engine.last_seq(), Seq(self.last_seq), "last_seq");
        check_eq!(
            self.engine.next_order_id(),
            OrderId(self.next_id + count_accepted(&events)),
            "next_order_id"
        );

        let touched = self.account_for(&events)?;

        // Books: same resting orders as the reference, never crossed.
        let mut resting = Vec::new();
        for market in [MARKET_A, MARKET_B] {
            let got = self
                .engine
                .resting_orders(market)
                .expect("configured market");
            let want = self
                .reference
                .resting_orders(market)
                .expect("configured market");
            check_eq!(
                got,
                want,
                "resting orders of {market:?} (left: engine, right: reference)"
            );
            check_eq!(
                self.engine
                    .resting_count(market)
                    .expect("configured market") as usize,
                got.len(),
                "resting_count of {market:?}"
            );
            check!(
                got.len() <= config_of(market).max_resting_orders() as usize,
                "{market:?} holds more than its maximum"
            );
            let (bid, ask) = self.engine.best_prices(market).expect("configured market");
            if let (Some(bid), Some(ask)) = (bid, ask) {
                check!(bid < ask, "{market:?} is crossed: bid {bid:?} ask {ask:?}");
            }
            check_eq!(
                bid,
                got.iter()
                    .filter(|o| o.side == Side::Buy)
                    .map(|o| o.price)
                    .max(),
                "best bid of {market:?}"
            );
            check_eq!(
                ask,
                got.iter()
                    .filter(|o| o.side == Side::Sell)
                    .map(|o| o.price)
                    .min(),
                "best ask of {market:?}"
            );
            if self.check_depth {
                for levels in [1, 3, 100] {
                    check_eq!(
                        self.engine
                            .depth(market, levels)
                            .expect("configured market"),
                        self.reference
                            .depth(market, levels)
                            .expect("configured market"),
                        "depth({market:?}, {levels})"
                    );
                }
            }
            resting.extend(got);
        }
        check_eq!(
            self.engine.resting_orders(UNKNOWN_MARKET),
            Err(UnknownMarket(UNKNOWN_MARKET)),
            "resting orders of an unknown market"
        );

        // Quantity conservation, per order.
        check_eq!(
            resting.len(),
            self.live,
            "resting orders vs accepted and not done"
        );
        for o in &resting {
            let l = self
                .ledger
                .get(&o.order_id)
                .ok_or_else(|| format!("resting order {:?} was never accepted", o.order_id))?;
            check!(!l.done, "resting order {:?} is done", o.order_id);
            check_eq!(o.filled.0, l.filled, "filled of {:?}", o.order_id);
            check_eq!(o.quantity.0, l.total, "total quantity of {:?}", o.order_id);
            check_eq!(
                o.quantity.0,
                o.filled.0 + o.remaining.0,
                "quantity = filled + remaining of {:?}",
                o.order_id
            );
            check_eq!(
                l.supply(),
                i128::from(l.filled + o.remaining.0 + l.cancelled),
                "conservation of live {:?}: {l:?}, remaining {:?}",
                o.order_id,
                o.remaining
            );
            check_eq!(
                self.engine.order(o.order_id),
                Some(*o),
                "order({:?})",
                o.order_id
            );
            check_eq!(
                self.engine.order_by_client_id(o.account, o.client_order_id),
                Some(*o),
                "order_by_client_id of {:?}",
                o.order_id
            );
        }
        for id in touched {
            let l = self.ledger[&id];
            if l.done {
                check!(
                    self.engine.order(id).is_none(),
                    "done order {id:?} is still live"
                );
                let k = self.history[usize::try_from(id.0 - 1).expect("ids are small")];
                check!(
                    self.engine
                        .order_by_client_id(k.account, k.client_order_id)
                        .is_none_or(|o| o.order_id != id),
                    "done order {id:?} is still found by its client order id"
                );
                check_eq!(
                    l.supply(),
                    i128::from(l.filled + l.cancelled),
                    "conservation of done {id:?}: {l:?}"
                );
            }
        }

        // Per-account views agree with the reference.
        for a in 1..=ACCOUNTS {
            let account = AccountId(a);
            for market in [None, Some(MARKET_A), Some(MARKET_B)] {
                check_eq!(
                    self.engine.open_orders(account, market),
                    self.reference.open_orders(account, market),
                    "open_orders({account:?}, {market:?})"
                );
            }
        }
        Ok(())
    }

    /// Notes what kind of outcome `e` is (before the ledger books it).
    fn tally(&mut self, e: &Event) {
        match e.kind {
            EventKind::Accepted(a) => {
                self.saw(
                    "accepted",
                    if a.order.order_type == OrderType::Market {
                        "market"
                    } else {
                        "limit"
                    },
                );
                let reused = self
                    .client_ids
                    .get(&a.order.account)
                    .is_some_and(|v| v.contains(&a.order.client_order_id));
                if reused {
                    self.saw("accepted", "client id reused after eviction");
                }
                let shared = self.history.iter().any(|k| {
                    k.account != a.order.account && k.client_order_id == a.order.client_order_id
                });
                if shared {
                    self.saw("accepted", "client id another account uses");
                }
                self.taker = Some((
                    Known {
                        id: a.order_id,
                        account: a.order.account,
                        client_order_id: a.order.client_order_id,
                        market: a.order.market,
                        stp: a.order.stp,
                    },
                    false,
                ));
            }
            EventKind::Rejected(r) => {
                self.saw("rejected", r.reason.code());
                if r.reason == matcher::RejectReason::Duplicate {
                    let done = r
                        .order_id
                        .and_then(|id| self.ledger.get(&id))
                        .is_some_and(|l| l.done);
                    self.saw(
                        "duplicate",
                        if done {
                            "of a finished order"
                        } else {
                            "of a live order"
                        },
                    );
                }
            }
            EventKind::Trade(_) => {
                let amended = self.taker.is_some_and(|(_, amended)| amended);
                self.saw(
                    "trade",
                    if amended {
                        "by an amended order"
                    } else {
                        "by a new order"
                    },
                );
            }
            EventKind::Cancelled(c) => {
                self.saw("cancelled", c.reason.code());
                if c.reason == matcher::CancelReason::SelfTradePrevention
                    && let Some((taker, _)) = self.taker
                {
                    self.saw(
                        "self-trade prevention",
                        match taker.stp {
                            StpMode::CancelNewest => "cancel newest",
                            StpMode::CancelOldest => "cancel oldest",
                            StpMode::CancelBoth => "cancel both",
                            StpMode::DecrementAndCancel => "decrement and cancel",
                        },
                    );
                }
                if c.remaining.0 > 0 {
                    self.saw("cancelled", "partially (decrement)");
                }
            }
            EventKind::Amended(a) => {
                if !a.kept_priority {
                    let k = self.history[usize::try_from(a.order_id.0 - 1).expect("ids are small")];
                    self.taker = Some((k, true));
                }
                self.saw(
                    "amended",
                    if a.kept_priority {
                        "kept priority"
                    } else {
                        "lost priority"
                    },
                );
            }
            EventKind::Done(_) => self.saw("done", ""),
        }
    }

    /// Books the events of one command into the ledger and the generators' memory;
    /// returns the orders they touched.
    fn account_for(&mut self, events: &[Event]) -> Result<Vec<OrderId>, String> {
        let mut touched = Vec::new();
        self.taker = None;
        for e in events {
            self.tally(e);
            match e.kind {
                EventKind::Accepted(a) => {
                    check_eq!(a.order_id, OrderId(self.next_id), "order ids count from 1");
                    self.next_id += 1;
                    self.live += 1;
                    self.ledger.insert(
                        a.order_id,
                        Ledger {
                            submitted: a.order.quantity.0,
                            total: a.order.quantity.0,
                            ..Ledger::default()
                        },
                    );
                    touched.push(a.order_id);
                    self.history.push(Known {
                        id: a.order_id,
                        account: a.order.account,
                        client_order_id: a.order.client_order_id,
                        market: a.order.market,
                        stp: a.order.stp,
                    });
                    self.client_ids
                        .entry(a.order.account)
                        .or_default()
                        .push(a.order.client_order_id);
                }
                EventKind::Rejected(_) => {}
                EventKind::Trade(t) => {
                    check!(t.maker_account != t.taker_account, "self-trade: {t:?}");
                    check!(t.quantity.0 > 0, "empty trade {t:?}");
                    entry(&mut self.ledger, &mut touched, e, t.maker_order_id)?.filled +=
                        t.quantity.0;
                    entry(&mut self.ledger, &mut touched, e, t.taker_order_id)?.filled +=
                        t.quantity.0;
                }
                EventKind::Cancelled(c) => {
                    let l = entry(&mut self.ledger, &mut touched, e, c.order_id)?;
                    check!(c.quantity.0 > 0, "empty cancel {c:?}");
                    check!(l.total >= c.quantity.0, "cancel beyond the total: {c:?}");
                    l.cancelled += c.quantity.0;
                    l.total -= c.quantity.0;
                }
                EventKind::Amended(a) => {
                    let l = entry(&mut self.ledger, &mut touched, e, a.order_id)?;
                    l.amended += i128::from(a.quantity.0) - i128::from(l.total);
                    l.total = a.quantity.0;
                    check_eq!(
                        a.quantity.0 - a.remaining.0,
                        l.filled,
                        "filled behind {a:?}"
                    );
                }
                EventKind::Done(d) => {
                    let l = entry(&mut self.ledger, &mut touched, e, d.order_id)?;
                    check_eq!(d.filled.0, l.filled, "filled reported by {d:?}");
                    l.done = true;
                    self.live -= 1;
                }
            }
        }
        touched.sort_unstable();
        touched.dedup();
        Ok(touched)
    }
}

/// The ledger entry of `id`, which `e` names: it must exist and not be done.
fn entry<'a>(
    ledger: &'a mut BTreeMap<OrderId, Ledger>,
    touched: &mut Vec<OrderId>,
    e: &Event,
    id: OrderId,
) -> Result<&'a mut Ledger, String> {
    touched.push(id);
    let l = ledger
        .get_mut(&id)
        .ok_or_else(|| format!("{e:?} names an order never accepted"))?;
    check!(!l.done, "{e:?} names a done order");
    Ok(l)
}

fn count_accepted(events: &[Event]) -> u64 {
    events
        .iter()
        .filter(|e| matches!(e.kind, EventKind::Accepted(_)))
        .count() as u64
}

/// `cases` cases, unless `PROPTEST_CASES` asks for another number (for a long soak).
fn config(cases: u32) -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(cases);
    ProptestConfig {
        cases,
        // Nothing written next to the sources: a failure prints its commands instead.
        failure_persistence: None,
        max_shrink_iters: 4096,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config(256))]

    /// The engine agrees with the reference event for event and order for order, and
    /// keeps its invariants, after every command of a random sequence.
    #[test]
    fn engine_matches_reference(
        (window, ops) in case(1, 200),
    ) {
        let mut h = Harness::new(window, false);
        for op in ops {
            h.run(op)?;
        }
    }
}

proptest! {
    #![proptest_config(config(64))]

    /// `Engine::depth` is the reference book's levels, aggregated, at every step.
    #[test]
    fn depth_is_aggregated_reference_levels(
        (window, ops) in case(1, 200),
    ) {
        let mut h = Harness::new(window, true);
        for op in ops {
            h.run(op)?;
        }
        for market in [MARKET_A, MARKET_B] {
            prop_assert_eq!(
                h.engine.depth(market, usize::MAX).unwrap(),
                h.reference.depth(market, usize::MAX).unwrap()
            );
        }
        prop_assert_eq!(
            h.engine.depth(UNKNOWN_MARKET, 5),
            Err(UnknownMarket(UNKNOWN_MARKET))
        );
    }
}

/// The generators reach every outcome the properties are meant to cover: every reject
/// and cancel reason, both amend kinds, duplicates of live and finished orders, and a
/// client order id accepted again once the window has let it go.
#[test]
fn generators_reach_every_outcome() {
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let strategy = case(150, 200);
    let mut outcomes = BTreeMap::new();
    for _ in 0..24 {
        let (window, ops) = strategy.new_tree(&mut runner).unwrap().current();
        let mut h = Harness::new(window, false);
        for op in ops {
            h.run(op).unwrap();
        }
        for (k, n) in h.outcomes {
            *outcomes.entry(k).or_insert(0) += n;
        }
    }
    for (k, n) in &outcomes {
        println!("{k:?}: {n}");
    }
    let mut expected = vec![
        ("accepted", "limit"),
        ("accepted", "market"),
        ("accepted", "client id reused after eviction"),
        ("duplicate", "of a live order"),
        ("duplicate", "of a finished order"),
        ("accepted", "client id another account uses"),
        ("trade", "by a new order"),
        ("trade", "by an amended order"),
        ("self-trade prevention", "cancel newest"),
        ("self-trade prevention", "cancel oldest"),
        ("self-trade prevention", "cancel both"),
        ("self-trade prevention", "decrement and cancel"),
        ("cancelled", "partially (decrement)"),
        ("amended", "kept priority"),
        ("amended", "lost priority"),
        ("done", ""),
    ];
    for r in [
        matcher::RejectReason::UnknownMarket,
        matcher::RejectReason::PriceNotOnTick,
        matcher::RejectReason::PriceOutOfBand,
        matcher::RejectReason::ZeroQuantity,
        matcher::RejectReason::QuantityNotOnLot,
        matcher::RejectReason::QuantityTooLarge,
        matcher::RejectReason::Duplicate,
        matcher::RejectReason::BookFull,
        matcher::RejectReason::UnknownOrder,
        matcher::RejectReason::InvalidOrderType,
        matcher::RejectReason::NothingToAmend,
        matcher::RejectReason::QuantityBelowFilled,
        matcher::RejectReason::PostOnlyWouldCross,
    ] {
        expected.push(("rejected", r.code()));
    }
    for c in [
        matcher::CancelReason::User,
        matcher::CancelReason::IocRemainder,
        matcher::CancelReason::FokNotFillable,
        matcher::CancelReason::SelfTradePrevention,
        matcher::CancelReason::PostOnlyWouldCross,
    ] {
        expected.push(("cancelled", c.code()));
    }
    for k in expected {
        assert!(outcomes.contains_key(&k), "no {k:?} in {outcomes:#?}");
    }
}
