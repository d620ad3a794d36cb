//! Criterion micro-benchmarks of the engine's three hot paths: `insert` (a non-crossing GTC
//! limit order into a book of ~1,000 resting orders), `cancel` (of a resting order in such
//! a book) and `sweep` (a market order taking 10 levels of 5 orders each).
//!
//! Each path runs against two engine sizes, because the engine pre-sizes its pool and id
//! maps by the configured capacity and the cost of a command depends on that size, not
//! only on how many orders rest: `cap4k` (4,096 resting orders, a 1,024-order client id
//! window: everything stays in cache) and `cap1m` (2^20 resting orders and a 65,536-order
//! window, as in `matcher-bench`).
//!
//! The book is kept steady with `iter_custom`: only the measured commands are timed, and
//! the commands that restore the book (cancelling what `insert` added, re-adding what
//! `cancel` removed, rebuilding what `sweep` took) run untimed between them.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use matcher::{
    AccountId, Cancel, ClientOrderId, Command, CommandKind, Engine, EngineConfig, MarketConfig,
    MarketId, NewOrder, OrderId, OrderRef, OrderType, Price, Quantity, Side, StpMode, Symbol,
    TimeInForce, Timestamp,
};

const MARKET: MarketId = MarketId(1);
const MID: i64 = 10_000;
/// Resting orders in the background book: 10 per level on 50 levels a side.
const BACKGROUND_PER_SIDE: u32 = 500;
/// Commands timed per `Instant` pair in `insert` and `cancel`.
const BATCH: u64 = 64;
/// `BATCH`, as a capacity.
const BATCH_LEN: usize = 64;
/// Maker accounts; the sweeping taker uses another one, so self-trade prevention never
/// fires.
const MAKERS: u64 = 50;
const TAKER: AccountId = AccountId(1_000);

/// The engine sizes each path runs against: name, resting-order capacity, client id window.
const SIZES: [(&str, u32, u32); 2] = [("cap4k", 4_096, 1_024), ("cap1m", 1 << 20, 65_536)];

/// An engine plus the counters that keep its commands valid.
struct Fixture {
    engine: Engine,
    next_client_id: u64,
    clock: u64,
    rng: u64,
}

impl Fixture {
    /// An engine with `BACKGROUND_PER_SIDE` bids at `MID - 50 ..= MID - 1` and, unless
    /// `asks` is false, as many asks at `MID + 1 ..= MID + 50`.
    fn new(max_resting: u32, window: u32, asks: bool) -> Self {
        let market = MarketConfig::new(
            MARKET,
            Symbol::new("BENCH").expect("valid symbol"),
            1,
            1,
            Price(1),
            Price(20_000),
            Quantity(1_000_000),
            max_resting,
        )
        .expect("valid market");
        let engine = Engine::new(EngineConfig {
            markets: vec![market],
            client_id_window: window,
        })
        .expect("valid engine");
        let mut fixture = Self {
            engine,
            next_client_id: 1,
            clock: 0,
            rng: 0x9E37_79B9_7F4A_7C15,
        };
        for i in 0..BACKGROUND_PER_SIDE {
            let offset = i64::from(i % 50) + 1;
            let account = AccountId(1 + u64::from(i) % MAKERS);
            let bid = fixture.limit(account, Side::Buy, MID - offset, 10);
            fixture.engine.process(&bid);
            if asks {
                let ask = fixture.limit(account, Side::Sell, MID + offset, 10);
                fixture.engine.process(&ask);
            }
        }
        fixture
    }

    fn tick(&mut self) -> Timestamp {
        self.clock += 1;
        Timestamp(self.clock)
    }

    /// xorshift64: a cheap deterministic source of level offsets and accounts.
    fn random(&mut self, n: u64) -> u64 {
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        self.rng % n
    }

    fn limit(&mut self, account: AccountId, side: Side, price: i64, quantity: u64) -> Command {
        self.order(
            account,
            side,
            OrderType::Limit {
                price: Price(price),
            },
            quantity,
            TimeInForce::Gtc,
        )
    }

    fn order(
        &mut self,
        account: AccountId,
        side: Side,
        order_type: OrderType,
        quantity: u64,
        time_in_force: TimeInForce,
    ) -> Command {
        let client_order_id = ClientOrderId::from_u64(self.next_client_id);
        self.next_client_id += 1;
        Command {
            timestamp: self.tick(),
            kind: CommandKind::NewOrder(NewOrder {
                market: MARKET,
                account,
                client_order_id,
                side,
                order_type,
                quantity: Quantity(quantity),
                time_in_force,
                post_only: false,
                stp: StpMode::CancelNewest,
            }),
        }
    }

    fn cancel(&mut self, account: AccountId, id: OrderId) -> Command {
        Command {
            timestamp: self.tick(),
            kind: CommandKind::Cancel(Cancel {
                account,
                order: OrderRef::Id(id),
            }),
        }
    }

    /// `n` non-crossing GTC limit orders on random levels of both sides, with their owners.
    fn passive_orders(&mut self, n: u64, out: &mut Vec<(Command, AccountId)>) {
        out.clear();
        for _ in 0..n {
            let account = AccountId(1 + self.random(MAKERS));
            let offset = i64::try_from(self.random(50)).expect("below 50") + 1;
            let command = if self.random(2) == 0 {
                self.limit(account, Side::Buy, MID - offset, 10)
            } else {
                self.limit(account, Side::Sell, MID + offset, 10)
            };
            out.push((command, account));
        }
    }

    fn resting(&self) -> u32 {
        self.engine.resting_count(MARKET).expect("market exists")
    }
}

/// A new non-crossing GTC limit order into ~1,000 resting orders; the inserted orders are
/// cancelled again, untimed, after each batch.
fn insert(c: &mut Criterion) {
    let mut group = c.benchmark_group("insert");
    for (name, max_resting, window) in SIZES {
        let mut f = Fixture::new(max_resting, window, true);
        let base = f.resting();
        let mut orders = Vec::with_capacity(BATCH_LEN);
        let mut undo = Vec::with_capacity(BATCH_LEN);
        group.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                let mut left = iters;
                while left > 0 {
                    let n = left.min(BATCH);
                    f.passive_orders(n, &mut orders);
                    let first = f.engine.next_order_id().0;
                    let start = Instant::now();
                    for (command, _) in &orders {
                        black_box(f.engine.process(command).len());
                    }
                    total += start.elapsed();
                    undo.clear();
                    for (i, (_, account)) in (0u64..).zip(&orders) {
                        undo.push(f.cancel(*account, OrderId(first + i)));
                    }
                    for command in &undo {
                        f.engine.process(command);
                    }
                    assert_eq!(f.resting(), base, "the book must stay steady");
                    left -= n;
                }
                total
            });
        });
    }
    group.finish();
}

/// Cancel a resting order of a ~1,000-order book; the orders cancelled are added,
/// untimed, before each batch (at the back of random levels) and cancelled in a shuffled
/// order.
fn cancel(c: &mut Criterion) {
    let mut group = c.benchmark_group("cancel");
    for (name, max_resting, window) in SIZES {
        let mut f = Fixture::new(max_resting, window, true);
        let base = f.resting();
        let mut orders = Vec::with_capacity(BATCH_LEN);
        let mut cancels = Vec::with_capacity(BATCH_LEN);
        group.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                let mut left = iters;
                while left > 0 {
                    let n = left.min(BATCH);
                    f.passive_orders(n, &mut orders);
                    let first = f.engine.next_order_id().0;
                    for (command, _) in &orders {
                        f.engine.process(command);
                    }
                    cancels.clear();
                    for (i, (_, account)) in (0u64..).zip(&orders) {
                        cancels.push(f.cancel(*account, OrderId(first + i)));
                    }
                    // Fisher-Yates, so cancels do not simply walk the insertion order.
                    for i in (1..cancels.len()).rev() {
                        let j = usize::try_from(f.random(i as u64 + 1)).expect("index fits");
                        cancels.swap(i, j);
                    }
                    let start = Instant::now();
                    for command in &cancels {
                        black_box(f.engine.process(command).len());
                    }
                    total += start.elapsed();
                    assert_eq!(f.resting(), base, "the book must stay steady");
                    left -= n;
                }
                total
            });
        });
    }
    group.finish();
}

/// A market IOC buy of 500 lots sweeping 10 ask levels of 5 orders of 10 lots (50 trades,
/// 50 makers done), above 500 resting bids; the asks are rebuilt, untimed, before each
/// sweep.
fn sweep(c: &mut Criterion) {
    const LEVELS: i64 = 10;
    const PER_LEVEL: u64 = 5;
    const LOTS: u64 = 10;
    const ASKS: usize = 50;
    let mut group = c.benchmark_group("sweep");
    for (name, max_resting, window) in SIZES {
        let mut f = Fixture::new(max_resting, window, false);
        let base = f.resting();
        let mut asks = Vec::with_capacity(ASKS);
        group.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    asks.clear();
                    for level in 1..=LEVELS {
                        for _ in 0..PER_LEVEL {
                            let account = AccountId(1 + f.random(MAKERS));
                            let ask = f.limit(account, Side::Sell, MID + level, LOTS);
                            asks.push(ask);
                        }
                    }
                    for ask in &asks {
                        f.engine.process(ask);
                    }
                    let quantity = LOTS * PER_LEVEL * LEVELS.unsigned_abs();
                    let market = f.order(
                        TAKER,
                        Side::Buy,
                        OrderType::Market,
                        quantity,
                        TimeInForce::Ioc,
                    );
                    let start = Instant::now();
                    black_box(f.engine.process(&market).len());
                    total += start.elapsed();
                    debug_assert_eq!(f.resting(), base);
                }
                assert_eq!(f.resting(), base, "the sweep must take every ask");
                total
            });
        });
    }
    group.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(50)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
}

criterion_group! {
    name = benches;
    config = config();
    targets = insert, cancel, sweep
}
criterion_main!(benches);
