//! `matcher-bench`: end-to-end throughput, per-command latency and allocations of the
//! matching engine on a synthetic single-market workload.
//!
//! ```sh
//! cargo run --release -p matcher --bin matcher-bench -- --ops 10000000 --seed 42
//! ```
//!
//! The workload: one market (tick 1, lot 1, band 1..=20,000 ticks) around a mid price of
//! 10,000 ticks, a few hundred accounts, and a mix of ~60% new GTC limit orders (buys at
//! mid - k, sells at mid + k, k uniform in 0..=50, 1..=100 lots), ~30% cancels of a
//! uniformly random resting order and ~10% market IOC orders (1..=200 lots, random side).
//!
//! Cancels must name orders that rest, so the command list is generated first, in an
//! untimed pass that runs an engine and follows its events. The identical commands are
//! then replayed (the engine is deterministic, so the order ids repeat) into two fresh
//! engines: one timed as a whole for throughput, with allocations counted, and one that
//! reads the clock once per command for a latency histogram. The first 10% of the
//! commands is warm-up and is not recorded in either pass.
//!
//! The last line printed is machine-readable:
//! `book=tradeplane ops=<n> ops_per_s=<int> p50_ns=<int> p99_ns=<int> p999_ns=<int>
//! max_ns=<int> allocs_per_op=<float>`.

// The counting global allocator below is the only unsafe code: it forwards every call to
// the system allocator unchanged.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use clap::Parser;
use hdrhistogram::Histogram;
use matcher::{
    AccountId, Cancel, CancelReason, ClientOrderId, Command, CommandKind, Engine, EngineConfig,
    EventKind, MarketConfig, MarketId, NewOrder, OrderId, OrderRef, OrderType, Price, Quantity,
    Side, StpMode, Symbol, TimeInForce, Timestamp,
};

/// Counts allocation calls, then hands them to [`System`].
struct CountingAlloc;

/// `alloc` and `alloc_zeroed` calls since start.
static ALLOCS: AtomicU64 = AtomicU64::new(0);
/// `realloc` calls since start.
static REALLOCS: AtomicU64 = AtomicU64::new(0);

// SAFETY: every method forwards its arguments unchanged to `System`, which implements
// `GlobalAlloc` correctly; the counters are atomics and never allocate.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: the caller upholds `GlobalAlloc::alloc`'s contract (non-zero size), which
        // is all `System.alloc` requires.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: as for `alloc`: the caller's layout is passed through unchanged.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        REALLOCS.fetch_add(1, Ordering::Relaxed);
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

/// Allocations plus reallocations so far.
fn allocations() -> u64 {
    ALLOCS.load(Ordering::Relaxed) + REALLOCS.load(Ordering::Relaxed)
}

/// Throughput and latency benchmark of the matching engine.
#[derive(Parser, Debug)]
#[command(name = "matcher-bench", version, about)]
struct Args {
    /// Commands to generate and replay; the first 10% are warm-up.
    #[arg(long, default_value_t = 10_000_000)]
    ops: u64,
    /// Seed of the workload generator.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// The market's resting-order capacity (the engine pre-sizes its pool and maps by it).
    #[arg(long, default_value_t = 1 << 20)]
    max_resting: u32,
    /// How many finished orders' client order ids stay reserved.
    #[arg(long, default_value_t = 65_536)]
    client_id_window: u32,
}

const MARKET: MarketId = MarketId(1);
const MID: i64 = 10_000;
const MAX_K: u64 = 50;
const ACCOUNTS: u64 = 500;

/// xorshift64* seeded through splitmix64: small, fast, deterministic.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        // One splitmix64 step spreads any seed (0 included) over the state space.
        let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        Self(if z == 0 { 0x2545_F491_4F6C_DD1D } else { z })
    }

    fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in `0..n` (Lemire's multiply-shift; `n > 0`).
    fn below(&mut self, n: u64) -> u64 {
        let wide = u128::from(self.next_u64()) * u128::from(n);
        // The high half of a 64x64-bit product is below 2^64 (and below n).
        #[allow(clippy::cast_possible_truncation)]
        let high = (wide >> 64) as u64;
        high
    }

    /// Uniform in `lo..=hi`.
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo + 1)
    }

    fn side(&mut self) -> Side {
        if self.next_u64() >> 63 == 0 {
            Side::Buy
        } else {
            Side::Sell
        }
    }
}

fn new_engine(args: &Args) -> Engine {
    let market = MarketConfig::new(
        MARKET,
        Symbol::new("BENCH").expect("valid symbol"),
        1,
        1,
        Price(1),
        Price(20_000),
        Quantity(1_000_000),
        args.max_resting,
    )
    .expect("valid market");
    Engine::new(EngineConfig {
        markets: vec![market],
        client_id_window: args.client_id_window,
    })
    .expect("valid engine")
}

/// What the generation pass saw.
#[derive(Debug, Default)]
struct Stats {
    limits: u64,
    cancels: u64,
    markets: u64,
    events: u64,
    trades: u64,
    traded_lots: u64,
    rejects: u64,
    stp_cancels: u64,
    peak_resting: usize,
    resting_at_warmup_end: usize,
    resting_at_end: usize,
}

/// The untimed generation pass: builds the command list by running an engine and tracking
/// which orders rest, so that every cancel names a live order.
// The three passes stay out of line so that a profiler attributes time to each.
#[inline(never)]
fn generate(args: &Args, warmup: u64) -> (Vec<Command>, Stats, u64) {
    let (ops, seed) = (args.ops, args.seed);
    const NOT_RESTING: u32 = u32::MAX;
    let mut engine = new_engine(args);
    let mut rng = Rng::new(seed);
    let capacity = usize::try_from(ops).expect("--ops fits in memory");
    let mut commands = Vec::with_capacity(capacity);
    // Resting orders and, by order id, their index in `resting`.
    let mut resting: Vec<(OrderId, AccountId)> = Vec::with_capacity(1 << 20);
    let mut position: Vec<u32> = Vec::with_capacity(capacity + 1);
    let mut next_client_id = 1u64;
    let mut stats = Stats::default();

    for i in 0..ops {
        if i == warmup {
            stats.resting_at_warmup_end = resting.len();
        }
        let roll = rng.below(100);
        let kind = if (60..90).contains(&roll) && !resting.is_empty() {
            stats.cancels += 1;
            let pick = usize::try_from(rng.below(resting.len() as u64)).expect("index fits");
            let (id, account) = resting[pick];
            CommandKind::Cancel(Cancel {
                account,
                order: OrderRef::Id(id),
            })
        } else {
            let account = AccountId(1 + rng.below(ACCOUNTS));
            let client_order_id = ClientOrderId::from_u64(next_client_id);
            next_client_id += 1;
            let (side, order_type, quantity, time_in_force) = if roll >= 90 {
                stats.markets += 1;
                (
                    rng.side(),
                    OrderType::Market,
                    rng.range(1, 200),
                    TimeInForce::Ioc,
                )
            } else {
                stats.limits += 1;
                let side = rng.side();
                let k = i64::try_from(rng.range(0, MAX_K)).expect("k <= 50");
                let price = match side {
                    Side::Buy => MID - k,
                    Side::Sell => MID + k,
                };
                (
                    side,
                    OrderType::Limit {
                        price: Price(price),
                    },
                    rng.range(1, 100),
                    TimeInForce::Gtc,
                )
            };
            CommandKind::NewOrder(NewOrder {
                market: MARKET,
                account,
                client_order_id,
                side,
                order_type,
                quantity: Quantity(quantity),
                time_in_force,
                post_only: false,
                stp: StpMode::CancelNewest,
            })
        };
        let command = Command {
            timestamp: Timestamp(i + 1),
            kind,
        };
        let events = engine.process(&command);
        stats.events += events.len() as u64;
        for event in events {
            match event.kind {
                EventKind::Accepted(a) if a.order.time_in_force == TimeInForce::Gtc => {
                    let id = usize::try_from(a.order_id.0).expect("order id fits");
                    if position.len() <= id {
                        position.resize(id + 1, NOT_RESTING);
                    }
                    position[id] = u32::try_from(resting.len()).expect("resting fits u32");
                    resting.push((a.order_id, a.order.account));
                }
                EventKind::Done(d) => {
                    let id = usize::try_from(d.order_id.0).expect("order id fits");
                    if let Some(&index) = position.get(id)
                        && index != NOT_RESTING
                    {
                        position[id] = NOT_RESTING;
                        let index = index as usize;
                        resting.swap_remove(index);
                        if let Some(&(moved, _)) = resting.get(index) {
                            let moved = usize::try_from(moved.0).expect("order id fits");
                            position[moved] = u32::try_from(index).expect("index fits u32");
                        }
                    }
                }
                EventKind::Trade(t) => {
                    stats.trades += 1;
                    stats.traded_lots += t.quantity.0;
                }
                EventKind::Rejected(_) => stats.rejects += 1,
                EventKind::Cancelled(c) if c.reason == CancelReason::SelfTradePrevention => {
                    stats.stp_cancels += 1;
                }
                _ => {}
            }
        }
        stats.peak_resting = stats.peak_resting.max(resting.len());
        commands.push(command);
    }
    stats.resting_at_end = resting.len();
    let engine_resting = engine.resting_count(MARKET).expect("market exists");
    assert_eq!(
        engine_resting as usize, stats.resting_at_end,
        "generator lost track of resting orders"
    );
    (commands, stats, engine.state_hash())
}

/// Replays `commands` into a fresh engine; times the part after `warmup` as a whole and
/// counts its allocations. Returns the elapsed time, the allocations and the final state
/// hash.
#[inline(never)]
fn throughput_pass(args: &Args, commands: &[Command], warmup: usize) -> (Duration, u64, u64) {
    let mut engine = new_engine(args);
    let (warm, recorded) = commands.split_at(warmup);
    let mut events = 0usize;
    for command in warm {
        events += engine.process(command).len();
    }
    let allocs_before = allocations();
    let start = Instant::now();
    for command in recorded {
        events += engine.process(command).len();
    }
    let elapsed = start.elapsed();
    let allocs = allocations() - allocs_before;
    std::hint::black_box(events);
    (elapsed, allocs, engine.state_hash())
}

/// Replays `commands` into a fresh engine, reading the clock once per command after
/// `warmup` and recording the gap between consecutive reads (the command, plus the clock
/// read and the histogram update). Returns the histogram and the final state hash.
#[inline(never)]
fn latency_pass(args: &Args, commands: &[Command], warmup: usize) -> (Histogram<u64>, u64) {
    let mut engine = new_engine(args);
    // Up to a minute, three significant digits: every value fits, nothing resizes.
    let mut histogram =
        Histogram::<u64>::new_with_bounds(1, 60_000_000_000, 3).expect("valid bounds");
    let (warm, recorded) = commands.split_at(warmup);
    let mut events = 0usize;
    for command in warm {
        events += engine.process(command).len();
    }
    let mut previous = Instant::now();
    for command in recorded {
        events += engine.process(command).len();
        let now = Instant::now();
        let gap = u64::try_from(now.duration_since(previous).as_nanos()).unwrap_or(u64::MAX);
        histogram.saturating_record(gap.max(1));
        previous = now;
    }
    std::hint::black_box(events);
    (histogram, engine.state_hash())
}

fn percent(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        100.0 * part as f64 / whole as f64
    }
}

fn main() {
    let args = Args::parse();
    if args.ops < 10 {
        eprintln!("--ops must be at least 10");
        std::process::exit(2);
    }
    let warmup = args.ops / 10;
    let warmup_len = usize::try_from(warmup).expect("warm-up fits in memory");
    let recorded = args.ops - warmup;

    let started = Instant::now();
    let (commands, stats, expected_hash) = generate(&args, warmup);
    println!(
        "generated {} commands (seed {}) in {:.2?}: {} new GTC limit ({:.1}%), {} cancels ({:.1}%), {} market IOC ({:.1}%)",
        args.ops,
        args.seed,
        started.elapsed(),
        stats.limits,
        percent(stats.limits, args.ops),
        stats.cancels,
        percent(stats.cancels, args.ops),
        stats.markets,
        percent(stats.markets, args.ops),
    );
    println!(
        "events {} (trades {}, {} lots; rejects {}; self-trade cancels {}); resting orders: {} after warm-up, {} at end, peak {}",
        stats.events,
        stats.trades,
        stats.traded_lots,
        stats.rejects,
        stats.stp_cancels,
        stats.resting_at_warmup_end,
        stats.resting_at_end,
        stats.peak_resting,
    );

    let (elapsed, allocs, throughput_hash) = throughput_pass(&args, &commands, warmup_len);
    let nanos = elapsed.as_nanos().max(1);
    let ops_per_s = u128::from(recorded) * 1_000_000_000 / nanos;
    println!(
        "throughput pass: {recorded} commands after {warmup} warm-up in {elapsed:.3?} ({:.1} ns/op), {allocs} allocations",
        nanos as f64 / recorded as f64,
    );

    let (histogram, latency_hash) = latency_pass(&args, &commands, warmup_len);
    println!(
        "latency pass (gap between consecutive clock reads): mean {:.1} ns, p90 {} ns, p99.99 {} ns",
        histogram.mean(),
        histogram.value_at_quantile(0.9),
        histogram.value_at_quantile(0.9999),
    );
    let deterministic = throughput_hash == expected_hash && latency_hash == expected_hash;
    println!(
        "replays deterministic (state hash {expected_hash:016x} in all three engines): {deterministic}"
    );
    if !deterministic {
        eprintln!("replay diverged from the generation pass");
        std::process::exit(1);
    }

    let allocs_per_op = allocs as f64 / recorded as f64;
    println!(
        "book=tradeplane ops={recorded} ops_per_s={ops_per_s} p50_ns={} p99_ns={} p999_ns={} max_ns={} allocs_per_op={allocs_per_op:.6}",
        histogram.value_at_quantile(0.5),
        histogram.value_at_quantile(0.99),
        histogram.value_at_quantile(0.999),
        histogram.max(),
    );
}
