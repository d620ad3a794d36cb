//! `shard-bench`: a shard with fsync on, driven over loopback at a constant offered rate
//! (or as fast as it acknowledges), with latency measured from each request's intended
//! send time so that a stalled shard cannot hide its stall (no coordinated omission).
//! The disk's own `fdatasync` latency is measured on the same directory in the same run,
//! before the load, as the floor any durable acknowledgement stands on.
//!
//! ```text
//! cargo run --release -p matcher --bin shard-bench -- --duration 20 --rate max --connections 4
//! cargo run --release -p matcher --bin shard-bench -- --duration 20 --rate 100000 --connections 4
//! ```
//! Last line:
//! `bench=shard rate=<offered|max> orders_per_s=<int> ack_p50_us=<int> ack_p99_us=<int>
//! ack_p999_us=<int> fsync_p50_us=<int> fsync_p99_us=<int>`

// Benchmark arithmetic: durations and counts far below the types' limits.
#![allow(
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_precision_loss
)]
use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use clap::Parser;
use hdrhistogram::Histogram;
use matcher::protocol::{Request, encode_request};
use matcher::shard::{self, ShardConfig};
use matcher::{
    AccountId, Cancel, ClientOrderId, CommandKind, EngineConfig, MarketConfig, MarketId, NewOrder,
    OrderRef, OrderType, Price, Quantity, Side, StpMode, Symbol, TimeInForce,
};
use tokio_util::sync::CancellationToken;

#[derive(Parser)]
#[command(name = "shard-bench")]
struct Args {
    /// Seconds of load.
    #[arg(long, default_value_t = 20)]
    duration: u64,
    /// Offered orders per second, or `max`.
    #[arg(long, default_value = "max")]
    rate: String,
    /// Client connections.
    #[arg(long, default_value_t = 4)]
    connections: usize,
    /// Requests each connection may have unanswered at `--rate max`.
    #[arg(long, default_value_t = 2048)]
    window: u64,
    /// Journal directory (default: a fresh directory under the system temp dir).
    #[arg(long)]
    data_dir: Option<std::path::PathBuf>,
    /// Snapshot every N commands (the shard's default; 0 for none).
    #[arg(long, default_value_t = 1_000_000)]
    snapshot_every: u64,
    /// Journal segment size in MiB.
    #[arg(long, default_value_t = 64)]
    segment_mb: u64,
    /// Seed of the order mix.
    #[arg(long, default_value_t = 42)]
    seed: u64,
}

/// splitmix64: a small, good, deterministic generator.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

const MID: i64 = 10_000;

/// The order mix of the matcher benchmark: ~60 % limits near mid, ~30 % cancels of
/// earlier orders (by client order id), ~10 % marketable IOC orders.
fn command(rng: &mut Rng, conn: u64, k: u64) -> CommandKind {
    let r = rng.next();
    let account = AccountId(conn * 1000 + r % 50);
    let cid = |n: u64| ClientOrderId::from_u64((conn << 40) | n);
    match r % 10 {
        0..=2 if k > 10 => CommandKind::Cancel(Cancel {
            account,
            order: OrderRef::Client(cid(k - 1 - (r >> 8) % k.min(5_000))),
        }),
        3 => CommandKind::NewOrder(NewOrder {
            market: MarketId(1),
            account,
            client_order_id: cid(k),
            side: if (r >> 4) & 1 == 0 {
                Side::Buy
            } else {
                Side::Sell
            },
            order_type: OrderType::Market,
            quantity: Quantity(1 + (r >> 16) % 200),
            time_in_force: TimeInForce::Ioc,
            post_only: false,
            stp: StpMode::CancelNewest,
        }),
        _ => {
            let side = if (r >> 4) & 1 == 0 {
                Side::Buy
            } else {
                Side::Sell
            };
            let off = ((r >> 8) % 51) as i64;
            let price = match side {
                Side::Buy => MID - off,
                Side::Sell => MID + off,
            };
            CommandKind::NewOrder(NewOrder {
                market: MarketId(1),
                account,
                client_order_id: cid(k),
                side,
                order_type: OrderType::Limit {
                    price: Price(price),
                },
                quantity: Quantity(1 + (r >> 16) % 100),
                time_in_force: TimeInForce::Gtc,
                post_only: false,
                stp: StpMode::CancelNewest,
            })
        }
    }
}

/// `fdatasync` latency of 4 KiB writes into a preallocated file in `dir`, in µs.
fn fsync_probe(dir: &Path, n: usize) -> Histogram<u64> {
    let path = dir.join("fsync-probe");
    let size = (n as u64 + 1) * 4096;
    let f = std::fs::File::create(&path).expect("probe file");
    let zeros = vec![0u8; 1 << 20];
    let mut written = 0;
    while written < size {
        let len = zeros.len().min((size - written) as usize);
        f.write_all_at(&zeros[..len], written).expect("probe write");
        written += len as u64;
    }
    f.sync_all().expect("probe sync");
    let block = vec![7u8; 4096];
    let mut h = Histogram::<u64>::new(3).expect("histogram");
    for i in 0..n {
        let t = Instant::now();
        f.write_all_at(&block, i as u64 * 4096)
            .expect("probe write");
        f.sync_data().expect("probe sync");
        let _ = h.record(t.elapsed().as_micros() as u64);
    }
    drop(f);
    let _ = std::fs::remove_file(&path);
    h
}

fn main() {
    let args = Args::parse();
    let offered: Option<u64> = match args.rate.as_str() {
        "max" => None,
        r => Some(r.parse().expect("--rate is a number or `max`")),
    };
    let tmp;
    let dir = match &args.data_dir {
        Some(d) => d.clone(),
        None => {
            tmp = std::env::temp_dir().join(format!("shard-bench-{}", std::process::id()));
            tmp.clone()
        }
    };
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("data dir");

    let fsync = fsync_probe(&dir, 2000);
    println!(
        "fsync probe ({}): p50 {} us, p99 {} us, p99.9 {} us, max {} us",
        dir.display(),
        fsync.value_at_quantile(0.5),
        fsync.value_at_quantile(0.99),
        fsync.value_at_quantile(0.999),
        fsync.max()
    );

    let market = MarketConfig::new(
        MarketId(1),
        Symbol::new("BENCH").expect("symbol"),
        1,
        1,
        Price(1),
        Price(20_000),
        Quantity(1_000_000),
        4_000_000,
    )
    .expect("market");
    let mut config = ShardConfig::new(
        EngineConfig {
            markets: vec![market],
            client_id_window: 65_536,
        },
        dir.clone(),
    );
    config.fsync = true;
    config.segment_size = args.segment_mb << 20;
    config.snapshot_every = args.snapshot_every;

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .thread_name("shard-io")
        .build()
        .expect("runtime");
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("listen");
    let addr = listener.local_addr().expect("addr");
    let stop = CancellationToken::new();
    let server = runtime.spawn(shard::run(config, listener, stop.clone()));

    // Wait until the shard serves (recovery and segment preallocation done).
    let probe = matcher::client::ShardClient::new(matcher::client::ClientConfig::new(addr));
    runtime.block_on(async {
        let mut tries = 0;
        while probe.ping().await.is_err() {
            tries += 1;
            assert!(tries < 10_000, "the shard never started");
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    });
    let conns = args.connections.max(1);
    let duration = Duration::from_secs(args.duration);
    // Intended send times (ns since start), indexed by request id.
    let capacity = offered.map_or(40_000_000, |r| (r * args.duration + 1024) as usize);
    let intended: Arc<Vec<AtomicU64>> =
        Arc::new((0..capacity).map(|_| AtomicU64::new(0)).collect());
    let acked = Arc::new(AtomicU64::new(0));
    let sent = Arc::new(AtomicU64::new(0));
    let start = Instant::now() + Duration::from_millis(300);
    let warmup_ns = (duration.as_nanos() / 10) as u64;

    let answered: Arc<Vec<AtomicU64>> = Arc::new((0..conns).map(|_| AtomicU64::new(0)).collect());
    let mut writers = Vec::new();
    let mut readers = Vec::new();
    for c in 0..conns {
        let stream = loop {
            match TcpStream::connect(addr) {
                Ok(s) => break s,
                Err(_) => std::thread::yield_now(),
            }
        };
        stream.set_nodelay(true).expect("nodelay");
        let mut rd = stream.try_clone().expect("clone");
        let intended_r = Arc::clone(&intended);
        let acked_r = Arc::clone(&acked);
        let answered_r = Arc::clone(&answered);
        readers.push(std::thread::spawn(move || {
            let mut h = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).expect("histogram");
            let mut buf = vec![0u8; 1 << 20];
            let mut have = 0usize;
            let mut busy = 0u64;
            loop {
                let n = match rd.read(&mut buf[have..]) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => n,
                };
                have += n;
                let now = start.elapsed().as_nanos() as u64;
                let mut at = 0;
                while have - at >= 4 {
                    let len =
                        u32::from_le_bytes(buf[at..at + 4].try_into().unwrap_or([0; 4])) as usize;
                    if have - at < 4 + len {
                        break;
                    }
                    let kind = buf[at + 5];
                    let id = u64::from_le_bytes(buf[at + 6..at + 14].try_into().unwrap_or([0; 8]));
                    if kind == 128 {
                        let t0 = intended_r[id as usize].load(Ordering::Relaxed);
                        if t0 >= warmup_ns {
                            let _ = h.record(((now.saturating_sub(t0)) / 1000).max(1));
                            acked_r.fetch_add(1, Ordering::Relaxed);
                        }
                    } else {
                        busy += 1;
                    }
                    answered_r[c].fetch_add(1, Ordering::Release);
                    at += 4 + len;
                }
                buf.copy_within(at..have, 0);
                have -= at;
                if have + 65_536 > buf.len() {
                    buf.resize(buf.len() * 2, 0);
                }
            }
            (h, busy)
        }));
        writers.push(stream);
    }
    // One sender thread for every connection, sleeping between rounds: a load generator
    // that spins on this 2-core machine would take the cores the shard needs.
    let sender = {
        let intended = Arc::clone(&intended);
        let answered = Arc::clone(&answered);
        let seed = args.seed;
        let window = args.window;
        let per_conn = offered.map(|r| r as f64 / conns as f64);
        std::thread::spawn(move || {
            let mut rngs: Vec<Rng> = (0..conns)
                .map(|c| Rng(seed ^ (c as u64).wrapping_mul(0x1234_5678_9abc_def1)))
                .collect();
            let mut counts = vec![0u64; conns];
            let mut frame = Vec::with_capacity(64 * 1024);
            while Instant::now() < start {
                std::thread::sleep(Duration::from_micros(100));
            }
            'run: loop {
                let now = start.elapsed();
                if now >= duration {
                    break;
                }
                let now_ns = now.as_nanos() as u64;
                let mut sent_any = false;
                for c in 0..conns {
                    frame.clear();
                    let c64 = c as u64;
                    let k = &mut counts[c];
                    let room = match per_conn {
                        Some(_) => u64::MAX,
                        None => window
                            .saturating_sub(k.saturating_sub(answered[c].load(Ordering::Acquire)))
                            .min(512),
                    };
                    let mut n = 0;
                    while n < room && frame.len() < 60_000 {
                        let due = match per_conn {
                            Some(rate) => ((*k as f64) * 1e9 / rate) as u64,
                            None => now_ns,
                        };
                        if due > now_ns {
                            break;
                        }
                        let id = *k * conns as u64 + c64;
                        if id as usize >= intended.len() {
                            break 'run;
                        }
                        intended[id as usize].store(due, Ordering::Relaxed);
                        encode_request(
                            &mut frame,
                            id,
                            &Request::Command(command(&mut rngs[c], c64, *k)),
                        );
                        *k += 1;
                        n += 1;
                    }
                    if !frame.is_empty() {
                        sent_any = true;
                        if writers[c].write_all(&frame).is_err() {
                            break 'run;
                        }
                    }
                }
                if !sent_any || per_conn.is_some() {
                    std::thread::sleep(Duration::from_micros(20));
                }
            }
            (writers, counts)
        })
    };
    let (streams, expected) = sender.join().expect("sender");
    sent.fetch_add(expected.iter().sum::<u64>(), Ordering::Relaxed);
    // Let the last answers arrive (bounded), then close.
    let drain_until = Instant::now() + Duration::from_secs(10);
    while Instant::now() < drain_until
        && expected
            .iter()
            .enumerate()
            .any(|(c, k)| answered[c].load(Ordering::Acquire) < *k)
    {
        std::thread::sleep(Duration::from_millis(5));
    }
    for s in &streams {
        let _ = s.shutdown(std::net::Shutdown::Both);
    }
    let mut hist = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).expect("histogram");
    let mut busy = 0;
    for r in readers {
        let (h, b) = r.join().expect("reader");
        let _ = hist.add(h);
        busy += b;
    }
    stop.cancel();
    let _ = runtime.block_on(server);

    let measured_s = duration.as_secs_f64() * 0.9;
    let orders_per_s = (acked.load(Ordering::Relaxed) as f64 / measured_s) as u64;
    println!(
        "sent {} requests on {} connections, {} acknowledged after warm-up, {} busy/other answers",
        sent.load(Ordering::Relaxed),
        conns,
        acked.load(Ordering::Relaxed),
        busy
    );
    println!(
        "ack latency from intended send: p50 {} us, p99 {} us, p99.9 {} us, max {} us",
        hist.value_at_quantile(0.5),
        hist.value_at_quantile(0.99),
        hist.value_at_quantile(0.999),
        hist.max()
    );
    if args.data_dir.is_none() {
        let _ = std::fs::remove_dir_all(&dir);
    }
    println!(
        "bench=shard rate={} orders_per_s={} ack_p50_us={} ack_p99_us={} ack_p999_us={} fsync_p50_us={} fsync_p99_us={}",
        offered.map_or("max".to_owned(), |r| r.to_string()),
        orders_per_s,
        hist.value_at_quantile(0.5),
        hist.value_at_quantile(0.99),
        hist.value_at_quantile(0.999),
        fsync.value_at_quantile(0.5),
        fsync.value_at_quantile(0.99),
    );
}
