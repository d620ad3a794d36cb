//! `snapshot-bench`: how long a snapshot holds up the matching loop with many resting
//! orders.
//!
//! ```text
//! cargo run --release -p matcher --bin snapshot-bench -- --orders 1000000
//! ```
//! Fills a book with `--orders` resting orders, then takes a snapshot the way the shard
//! does: `begin_snapshot` at a command boundary, then `continue_snapshot(16)` between
//! commands while orders keep arriving, cancelling and trading (so copy-on-write chunk
//! copies happen inside commands too). Reports the longest single pause the matching loop
//! saw, and the off-thread encode time. Last line:
//! `bench=snapshot orders=<n> begin_us=<int> max_step_us=<int> max_command_us=<int>
//! steps=<int> encode_ms=<int> bytes=<int>`

// Benchmark arithmetic: durations and counts far below the types' limits.
#![allow(
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_precision_loss
)]
use std::time::Instant;

use clap::Parser;
use matcher::{
    AccountId, Cancel, ClientOrderId, Command, CommandKind, Engine, EngineConfig, MarketConfig,
    MarketId, NewOrder, OrderId, OrderRef, OrderType, Price, Quantity, Side, StpMode, Symbol,
    TimeInForce, Timestamp,
};

#[derive(Parser)]
#[command(name = "snapshot-bench")]
struct Args {
    /// Resting orders when the snapshot begins.
    #[arg(long, default_value_t = 1_000_000)]
    orders: u64,
    /// Pool chunks copied per step.
    #[arg(long, default_value_t = 16)]
    chunks: usize,
}

fn order(n: u64, side: Side, price: i64, qty: u64) -> Command {
    Command {
        timestamp: Timestamp(n),
        kind: CommandKind::NewOrder(NewOrder {
            market: MarketId(1),
            account: AccountId(n % 1000),
            client_order_id: ClientOrderId::from_u64(n),
            side,
            order_type: OrderType::Limit {
                price: Price(price),
            },
            quantity: Quantity(qty),
            time_in_force: TimeInForce::Gtc,
            post_only: false,
            stp: StpMode::CancelNewest,
        }),
    }
}

fn main() {
    let args = Args::parse();
    let cap = u32::try_from(args.orders * 2).expect("orders fit in u32");
    let mut engine = Engine::new(EngineConfig {
        markets: vec![
            MarketConfig::new(
                MarketId(1),
                Symbol::new("SNAP").expect("symbol"),
                1,
                1,
                Price(1),
                Price(200_000),
                Quantity(1_000_000),
                cap,
            )
            .expect("market"),
        ],
        client_id_window: 65_536,
    })
    .expect("engine");
    // Bids below 100,000, asks above: nothing trades while filling.
    let mut n = 0u64;
    while n < args.orders {
        n += 1;
        let (side, price) = if n.is_multiple_of(2) {
            (Side::Buy, 99_999 - (n % 50_000) as i64)
        } else {
            (Side::Sell, 100_001 + (n % 50_000) as i64)
        };
        engine.process(&order(n, side, price, 1 + n % 100));
    }
    // Fill the recent client id window too.
    for i in 0..70_000u64 {
        n += 1;
        engine.process(&order(n, Side::Buy, 99_999, 1));
        engine.process(&Command {
            timestamp: Timestamp(n),
            kind: CommandKind::Cancel(Cancel {
                account: AccountId(n % 1000),
                order: OrderRef::Id(OrderId(engine.next_order_id().0 - 1)),
            }),
        });
        let _ = i;
    }
    let resting = engine.resting_count(MarketId(1)).expect("market");
    println!("resting orders: {resting}");

    let t = Instant::now();
    assert!(engine.begin_snapshot());
    let begin_us = t.elapsed().as_micros();
    let mut max_step = 0u128;
    let mut max_command = 0u128;
    let mut steps = 0u64;
    let mut x = 7u64;
    let image = loop {
        // A few commands between steps: new orders, cancels across the whole pool (each
        // may copy its chunk first), and crossing orders that trade.
        for _ in 0..8 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            n += 1;
            let command = match x % 3 {
                0 => Command {
                    timestamp: Timestamp(n),
                    kind: CommandKind::Cancel(Cancel {
                        account: AccountId((x >> 8) % args.orders % 1000),
                        order: OrderRef::Id(OrderId(1 + (x >> 8) % args.orders)),
                    }),
                },
                1 => order(
                    n,
                    Side::Buy,
                    100_001 + ((x >> 20) % 50_000) as i64,
                    1 + (x >> 40) % 50,
                ),
                _ => order(
                    n,
                    Side::Sell,
                    99_999 - ((x >> 20) % 50_000) as i64,
                    1 + (x >> 40) % 50,
                ),
            };
            let t = Instant::now();
            engine.process(&command);
            max_command = max_command.max(t.elapsed().as_micros());
        }
        let t = Instant::now();
        let done = engine.continue_snapshot(args.chunks);
        max_step = max_step.max(t.elapsed().as_micros());
        steps += 1;
        if let Some(image) = done {
            break image;
        }
    };
    let t = Instant::now();
    let bytes = image.encode(n);
    let encode_ms = t.elapsed().as_millis();
    println!(
        "snapshot of {resting} orders: begin {begin_us} us, {steps} steps of {} chunks, longest step {max_step} us, longest command meanwhile {max_command} us; encoded off-thread in {encode_ms} ms ({} bytes)",
        args.chunks,
        bytes.len()
    );
    println!(
        "bench=snapshot orders={resting} begin_us={begin_us} max_step_us={max_step} max_command_us={max_command} steps={steps} encode_ms={encode_ms} bytes={}",
        bytes.len()
    );
}
