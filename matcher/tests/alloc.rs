//! The engine allocates nothing per command once warm: a counting global allocator watches
//! one million mixed commands (every order type, time in force, self-trade-prevention mode,
//! cancel and amend form, cancel-all and reject reason) and must see zero allocations and
//! zero reallocations.
//!
//! Tests in one binary run on parallel threads and share the global allocator, so it
//! counts only on a thread that has switched counting on (a thread-local flag), and the
//! count is thread-local too.

// The counting global allocator is the only unsafe code: it forwards every call to the
// system allocator unchanged.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::collections::HashMap;
use std::hint::black_box;

use matcher::{
    AccountId, Amend, Cancel, CancelAll, CancelReason, ClientOrderId, Command, CommandKind, Engine,
    EngineConfig, EventKind, MarketConfig, MarketId, NewOrder, OrderId, OrderRef, OrderType, Price,
    Quantity, RejectReason, Side, StpMode, Symbol, TimeInForce, Timestamp,
};

/// Counts allocation calls made while the current thread's flag is on, then hands every
/// call to [`System`].
struct CountingAlloc;

thread_local! {
    /// Whether this thread's allocations are being counted.
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    /// Allocations (`alloc`, `alloc_zeroed`, `realloc`) counted on this thread.
    static COUNT: Cell<u64> = const { Cell::new(0) };
}

/// Notes one allocation call if this thread is counting. Const-initialised `Cell`s have
/// no destructor, so touching them never allocates and works during thread teardown.
fn note_allocation() {
    if COUNTING.try_with(Cell::get).unwrap_or(false) {
        let _ = COUNT.try_with(|n| n.set(n.get() + 1));
    }
}

// SAFETY: every method forwards its arguments unchanged to `System`, which implements
// `GlobalAlloc` correctly; the bookkeeping only touches thread-local `Cell`s, which neither
// allocate nor unwind.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note_allocation();
        // SAFETY: the caller upholds `GlobalAlloc::alloc`'s contract (non-zero size), which
        // is all `System.alloc` requires.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note_allocation();
        // SAFETY: as for `alloc`: the caller's layout is passed through unchanged.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note_allocation();
        // SAFETY: `ptr` was allocated by this allocator, i.e. by `System`, with `layout`,
        // and the caller guarantees `new_size` is valid for it.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` was allocated by this allocator, i.e. by `System`, with `layout`.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: CountingAlloc = CountingAlloc;

/// Runs `f` with counting on for this thread; returns its result and the number of
/// allocations and reallocations it made.
fn count_allocations<R>(f: impl FnOnce() -> R) -> (R, u64) {
    COUNT.with(|n| n.set(0));
    COUNTING.with(|c| c.set(true));
    let result = f();
    COUNTING.with(|c| c.set(false));
    (result, COUNT.with(Cell::get))
}

// ---------------------------------------------------------------------------------------
// The workload.

const M1: MarketId = MarketId(1);
const M2: MarketId = MarketId(2);
/// A tiny market that is often full, for `book_full`.
const M3: MarketId = MarketId(3);
const M1_MID: i64 = 1_000;
const M2_MID: i64 = 5_000;
const ACCOUNTS: u64 = 6;
const WINDOW: u32 = 512;
const WARMUP: usize = 200_000;
const MEASURED: usize = 1_000_000;

/// The markets. Resting capacity adds up to 1,902 orders, so a cancel-all (two events per
/// order) stays within the engine's pre-sized event buffer.
fn engine() -> Engine {
    let market = |id, symbol, tick, lot, lo, hi, max_quantity, max_resting| {
        MarketConfig::new(
            id,
            Symbol::new(symbol).expect("valid symbol"),
            tick,
            lot,
            Price(lo),
            Price(hi),
            Quantity(max_quantity),
            max_resting,
        )
        .expect("valid market")
    };
    Engine::new(EngineConfig {
        markets: vec![
            market(M1, "AAA", 1, 1, 1, 2_000, 1_000, 1_500),
            market(M2, "BBB", 5, 10, 5, 10_000, 5_000, 400),
            market(M3, "CCC", 1, 1, 1, 100, 100, 2),
        ],
        client_id_window: WINDOW,
    })
    .expect("valid engine")
}

/// xorshift64*.
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform enough in `0..n`.
    fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo + 1)
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    fn side(&mut self) -> Side {
        if self.chance(50) {
            Side::Buy
        } else {
            Side::Sell
        }
    }

    fn stp(&mut self) -> StpMode {
        match self.below(4) {
            0 => StpMode::CancelNewest,
            1 => StpMode::CancelOldest,
            2 => StpMode::CancelBoth,
            _ => StpMode::DecrementAndCancel,
        }
    }

    fn index(&mut self, len: usize) -> usize {
        usize::try_from(self.below(len as u64)).expect("index fits")
    }
}

/// A live order, as the generator follows it.
#[derive(Clone, Copy, Debug)]
struct Live {
    id: OrderId,
    account: AccountId,
    client_order_id: ClientOrderId,
    post_only: bool,
}

/// Generates valid-looking (and deliberately invalid) commands against its own engine,
/// following its events to know which orders are live.
struct Generator {
    engine: Engine,
    rng: Rng,
    clock: u64,
    next_client_id: u64,
    live: Vec<Live>,
    index: HashMap<OrderId, usize>,
    /// Client order ids of recently finished orders, for duplicate rejects.
    finished: Vec<(AccountId, ClientOrderId)>,
}

impl Generator {
    fn new(seed: u64) -> Self {
        Self {
            engine: engine(),
            rng: Rng(seed | 1),
            clock: 0,
            next_client_id: 1,
            live: Vec::new(),
            index: HashMap::new(),
            finished: Vec::new(),
        }
    }

    /// The next command; also applied to the generator's engine.
    fn next_command(&mut self) -> Command {
        self.clock += 1;
        let kind = self.kind();
        let command = Command {
            timestamp: Timestamp(self.clock),
            kind,
        };
        let events = self.engine.process(&command);
        for event in events {
            match event.kind {
                EventKind::Accepted(a) if a.order.time_in_force == TimeInForce::Gtc => {
                    self.index.insert(a.order_id, self.live.len());
                    self.live.push(Live {
                        id: a.order_id,
                        account: a.order.account,
                        client_order_id: a.order.client_order_id,
                        post_only: a.order.post_only,
                    });
                }
                EventKind::Accepted(a) => {
                    self.finished
                        .push((a.order.account, a.order.client_order_id));
                }
                EventKind::Done(d) => {
                    if let Some(i) = self.index.remove(&d.order_id) {
                        let gone = self.live.swap_remove(i);
                        self.finished.push((gone.account, gone.client_order_id));
                        if let Some(moved) = self.live.get(i) {
                            self.index.insert(moved.id, i);
                        }
                    }
                }
                _ => {}
            }
        }
        if self.finished.len() > 256 {
            self.finished.drain(..128);
        }
        command
    }

    fn client_id(&mut self) -> ClientOrderId {
        self.next_client_id += 1;
        ClientOrderId::from_u64(self.next_client_id)
    }

    fn account(&mut self) -> AccountId {
        AccountId(1 + self.rng.below(ACCOUNTS))
    }

    fn random_live(&mut self) -> Option<Live> {
        if self.live.is_empty() {
            None
        } else {
            let i = self.rng.index(self.live.len());
            Some(self.live[i])
        }
    }

    fn new_order(
        &mut self,
        market: MarketId,
        side: Side,
        order_type: OrderType,
        quantity: u64,
        time_in_force: TimeInForce,
        post_only: bool,
    ) -> CommandKind {
        let account = self.account();
        let client_order_id = self.client_id();
        let stp = self.rng.stp();
        CommandKind::NewOrder(NewOrder {
            market,
            account,
            client_order_id,
            side,
            order_type,
            quantity: Quantity(quantity),
            time_in_force,
            post_only,
            stp,
        })
    }

    /// A limit price near the middle of `market`: a few ticks through it (crossing) to 20
    /// ticks behind it.
    fn price(&mut self, market: MarketId, side: Side) -> Price {
        let (mid, tick) = if market == M1 {
            (M1_MID, 1)
        } else {
            (M2_MID, 5)
        };
        let k = i64::try_from(self.rng.range(0, 23)).expect("small") - 3;
        Price(match side {
            Side::Buy => mid - k * tick,
            Side::Sell => mid + k * tick,
        })
    }

    /// A valid quantity for `market`, up to `max_lots` lots.
    fn quantity(&mut self, market: MarketId, max_lots: u64) -> u64 {
        let lot = if market == M1 { 1 } else { 10 };
        lot * self.rng.range(1, max_lots)
    }

    fn market(&mut self) -> MarketId {
        if self.rng.chance(70) { M1 } else { M2 }
    }

    fn limit(&mut self, time_in_force: TimeInForce, post_only: bool) -> CommandKind {
        let market = self.market();
        let side = self.rng.side();
        let price = self.price(market, side);
        let quantity = self.quantity(market, 100);
        self.new_order(
            market,
            side,
            OrderType::Limit { price },
            quantity,
            time_in_force,
            post_only,
        )
    }

    fn market_order(&mut self, time_in_force: TimeInForce) -> CommandKind {
        let market = self.market();
        let side = self.rng.side();
        let quantity = self.quantity(market, 300);
        self.new_order(
            market,
            side,
            OrderType::Market,
            quantity,
            time_in_force,
            false,
        )
    }

    fn kind(&mut self) -> CommandKind {
        let roll = self.rng.below(100);
        match roll {
            0..=24 => self.limit(TimeInForce::Gtc, false),
            25..=29 => self.limit(TimeInForce::Gtc, true),
            30..=34 => self.limit(TimeInForce::Ioc, false),
            35..=38 => self.limit(TimeInForce::Fok, false),
            39..=42 => self.market_order(TimeInForce::Ioc),
            43..=44 => self.market_order(TimeInForce::Fok),
            45..=61 => self.cancel(false),
            62..=66 => self.cancel(true),
            67..=74 => self.amend_keeping_priority(),
            75..=82 => self.amend_losing_priority(),
            83..=84 => {
                let account = self.account();
                let market = match self.rng.below(3) {
                    0 => None,
                    1 => Some(M1),
                    _ => Some(M2),
                };
                CommandKind::CancelAll(CancelAll { account, market })
            }
            85..=86 => {
                // Book full when market 3 already holds its two orders.
                let account = self.account();
                let client_order_id = self.client_id();
                CommandKind::NewOrder(NewOrder {
                    market: M3,
                    account,
                    client_order_id,
                    side: Side::Buy,
                    order_type: OrderType::Limit { price: Price(10) },
                    quantity: Quantity(1),
                    time_in_force: TimeInForce::Gtc,
                    post_only: false,
                    stp: StpMode::CancelNewest,
                })
            }
            _ => self.reject(),
        }
    }

    fn cancel(&mut self, by_client_id: bool) -> CommandKind {
        let Some(order) = self.random_live() else {
            return self.limit(TimeInForce::Gtc, false);
        };
        CommandKind::Cancel(Cancel {
            account: order.account,
            order: if by_client_id {
                OrderRef::Client(order.client_order_id)
            } else {
                OrderRef::Id(order.id)
            },
        })
    }

    /// Same price, smaller quantity (still above what filled).
    fn amend_keeping_priority(&mut self) -> CommandKind {
        let Some(order) = self.random_live() else {
            return self.limit(TimeInForce::Gtc, false);
        };
        let view = self.engine.order(order.id).expect("live order");
        let lot = self.engine.market(view.market).expect("market").lot_size();
        if view.remaining.0 < 2 * lot {
            return self.amend_losing_priority();
        }
        let lots_left = view.remaining.0 / lot;
        let quantity = view.filled.0 + lot * self.rng.range(1, lots_left - 1);
        CommandKind::Amend(Amend {
            account: order.account,
            order: OrderRef::Id(order.id),
            price: if self.rng.chance(50) {
                Some(view.price)
            } else {
                None
            },
            quantity: Some(Quantity(quantity)),
        })
    }

    /// A new price (which may cross and trade), and sometimes a larger quantity.
    fn amend_losing_priority(&mut self) -> CommandKind {
        let Some(order) = self.random_live() else {
            return self.limit(TimeInForce::Gtc, false);
        };
        let view = self.engine.order(order.id).expect("live order");
        if view.market == M3 {
            return self.cancel(false);
        }
        let price = self.price(view.market, view.side);
        let grow = self.rng.chance(30);
        let quantity = grow.then(|| view.quantity.0 + self.quantity(view.market, 20));
        let by_client_id = self.rng.chance(20);
        CommandKind::Amend(Amend {
            account: order.account,
            order: if by_client_id {
                OrderRef::Client(order.client_order_id)
            } else {
                OrderRef::Id(order.id)
            },
            price: (price != view.price || quantity.is_none()).then_some(price),
            quantity: quantity.map(Quantity),
        })
    }

    /// A command the engine must refuse, cycling through every reason.
    fn reject(&mut self) -> CommandKind {
        let account = self.account();
        let limit = |price| OrderType::Limit {
            price: Price(price),
        };
        match self.rng.below(13) {
            0 => self.new_order(
                MarketId(99),
                Side::Buy,
                limit(100),
                1,
                TimeInForce::Gtc,
                false,
            ),
            1 => self.new_order(M1, Side::Buy, OrderType::Market, 1, TimeInForce::Gtc, false),
            2 => self.new_order(M1, Side::Sell, limit(1_000), 1, TimeInForce::Ioc, true),
            3 => self.new_order(M2, Side::Buy, limit(5_003), 10, TimeInForce::Gtc, false),
            4 => self.new_order(M1, Side::Sell, limit(5_000), 1, TimeInForce::Gtc, false),
            5 => self.new_order(M1, Side::Buy, limit(990), 0, TimeInForce::Gtc, false),
            6 => self.new_order(M2, Side::Buy, limit(4_900), 15, TimeInForce::Gtc, false),
            7 => self.new_order(M1, Side::Buy, limit(990), 1_001, TimeInForce::Gtc, false),
            8 => {
                // A client order id still live or within the recent window.
                let reuse = if self.rng.chance(50) {
                    self.random_live().map(|o| (o.account, o.client_order_id))
                } else {
                    self.finished.last().copied()
                };
                let Some((account, client_order_id)) = reuse else {
                    return self.limit(TimeInForce::Gtc, false);
                };
                CommandKind::NewOrder(NewOrder {
                    market: M1,
                    account,
                    client_order_id,
                    side: Side::Buy,
                    order_type: limit(980),
                    quantity: Quantity(1),
                    time_in_force: TimeInForce::Gtc,
                    post_only: false,
                    stp: StpMode::CancelNewest,
                })
            }
            9 => {
                // A finished order, or a live one of another account.
                let order = match self.random_live() {
                    Some(o) if self.rng.chance(50) => OrderRef::Id(o.id),
                    _ => OrderRef::Id(OrderId(1 + self.rng.below(self.clock))),
                };
                let account = AccountId(ACCOUNTS + 1);
                if self.rng.chance(50) {
                    CommandKind::Cancel(Cancel { account, order })
                } else {
                    CommandKind::Amend(Amend {
                        account,
                        order,
                        price: None,
                        quantity: Some(Quantity(1)),
                    })
                }
            }
            10 => {
                let Some(order) = self.random_live() else {
                    return self.limit(TimeInForce::Gtc, false);
                };
                CommandKind::Amend(Amend {
                    account: order.account,
                    order: OrderRef::Id(order.id),
                    price: None,
                    quantity: None,
                })
            }
            11 => {
                // Quantity at what has filled: look for a partly filled order.
                for _ in 0..8 {
                    let Some(order) = self.random_live() else {
                        break;
                    };
                    let view = self.engine.order(order.id).expect("live order");
                    if !view.filled.is_zero() {
                        return CommandKind::Amend(Amend {
                            account: order.account,
                            order: OrderRef::Id(order.id),
                            price: None,
                            quantity: Some(view.filled),
                        });
                    }
                }
                CommandKind::CancelAll(CancelAll {
                    account,
                    market: Some(MarketId(99)),
                })
            }
            _ => {
                // A post-only order amended to cross the opposite best.
                for _ in 0..16 {
                    let Some(order) = self.random_live() else {
                        break;
                    };
                    if !order.post_only {
                        continue;
                    }
                    let view = self.engine.order(order.id).expect("live order");
                    let (bid, ask) = self.engine.best_prices(view.market).expect("market");
                    let opposite = match view.side {
                        Side::Buy => ask,
                        Side::Sell => bid,
                    };
                    if let Some(price) = opposite {
                        return CommandKind::Amend(Amend {
                            account: order.account,
                            order: OrderRef::Id(order.id),
                            price: Some(price),
                            quantity: None,
                        });
                    }
                }
                self.limit(TimeInForce::Gtc, true)
            }
        }
    }
}

/// What the measured window did, tallied without allocating.
#[derive(Debug, Default)]
struct Tally {
    events: u64,
    /// Accepted, Rejected, Trade, Cancelled, Amended, Done.
    kinds: [u64; 6],
    /// By `RejectReason as usize`.
    rejects: [u64; 14],
    /// By `CancelReason as usize`.
    cancels: [u64; 6],
    /// Amended without and with kept priority.
    amends: [u64; 2],
    /// Self-trade-prevention cancellations that left quantity (decrement and cancel).
    stp_decrements: u64,
}

impl Tally {
    fn add(&mut self, kind: &EventKind) {
        self.events += 1;
        match kind {
            EventKind::Accepted(_) => self.kinds[0] += 1,
            EventKind::Rejected(r) => {
                self.kinds[1] += 1;
                self.rejects[r.reason as usize] += 1;
            }
            EventKind::Trade(_) => self.kinds[2] += 1,
            EventKind::Cancelled(c) => {
                self.kinds[3] += 1;
                self.cancels[c.reason as usize] += 1;
                if c.reason == CancelReason::SelfTradePrevention && !c.remaining.is_zero() {
                    self.stp_decrements += 1;
                }
            }
            EventKind::Amended(a) => {
                self.kinds[4] += 1;
                self.amends[usize::from(a.kept_priority)] += 1;
            }
            EventKind::Done(_) => self.kinds[5] += 1,
        }
    }
}

#[test]
fn counter_counts_allocations_on_this_thread_only() {
    let (v, n) = count_allocations(|| black_box(Vec::<u64>::with_capacity(16)));
    assert_eq!(n, 1, "one Vec allocation");
    let mut v = v;
    let ((), n) = count_allocations(|| v.reserve(1_000));
    assert_eq!(n, 1, "one reallocation");
    let ((), n) = count_allocations(|| black_box(()));
    assert_eq!(n, 0, "nothing allocated");
    let ((), n) = count_allocations(|| {
        std::thread::spawn(|| black_box(vec![1u8; 64]))
            .join()
            .map(drop)
            .expect("thread ran");
    });
    assert!(n >= 1, "spawning allocates on this thread");
    // The engine's own allocations are seen too: a depth query builds vectors.
    let engine = engine();
    let (depth, n) = count_allocations(|| engine.depth(M1, 5));
    assert!(depth.is_ok());
    assert!(n >= 2, "depth allocates its two sides, saw {n}");
}

#[test]
fn a_million_mixed_commands_allocate_nothing_once_warm() {
    // Pre-generate against one engine (the generator allocates freely), then replay the
    // identical commands into a fresh engine: ids repeat, so every cancel and amend hits.
    let mut generator = Generator::new(0x05EE_D0FA_110C);
    let commands: Vec<Command> = (0..WARMUP + MEASURED)
        .map(|_| generator.next_command())
        .collect();
    let (warmup, measured) = commands.split_at(WARMUP);

    let mut engine = engine();
    for command in warmup {
        engine.process(command);
    }
    let mut tally = Tally::default();
    let ((), allocations) = count_allocations(|| {
        for command in measured {
            for event in engine.process(command) {
                tally.add(&event.kind);
            }
        }
    });

    assert_eq!(
        engine.state_hash(),
        generator.engine.state_hash(),
        "the replay must reproduce the generator's engine"
    );
    assert_eq!(
        allocations, 0,
        "the engine allocated {allocations} times in {MEASURED} commands ({tally:?})"
    );

    // The window exercised what it claims to.
    assert!(
        tally.kinds.iter().all(|&n| n > 0),
        "every event kind: {tally:?}"
    );
    for reason in [
        RejectReason::UnknownMarket,
        RejectReason::PriceNotOnTick,
        RejectReason::PriceOutOfBand,
        RejectReason::ZeroQuantity,
        RejectReason::QuantityNotOnLot,
        RejectReason::QuantityTooLarge,
        RejectReason::Duplicate,
        RejectReason::BookFull,
        RejectReason::UnknownOrder,
        RejectReason::InvalidOrderType,
        RejectReason::NothingToAmend,
        RejectReason::QuantityBelowFilled,
        RejectReason::PostOnlyWouldCross,
    ] {
        assert!(tally.rejects[reason as usize] > 0, "{reason:?}: {tally:?}");
    }
    for reason in [
        CancelReason::User,
        CancelReason::IocRemainder,
        CancelReason::FokNotFillable,
        CancelReason::SelfTradePrevention,
        CancelReason::PostOnlyWouldCross,
    ] {
        assert!(tally.cancels[reason as usize] > 0, "{reason:?}: {tally:?}");
    }
    assert!(
        tally.amends.iter().all(|&n| n > 0),
        "both amend kinds: {tally:?}"
    );
    assert!(tally.stp_decrements > 0, "decrement and cancel: {tally:?}");
}
