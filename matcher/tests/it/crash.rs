//! Crash test: a real `matcher` child process driven by concurrent pipelined clients and
//! killed with SIGKILL at random moments. After every kill:
//! - every acknowledged command's events are in the journal, byte for byte, at their
//!   sequence numbers (nothing acknowledged is lost);
//! - every acknowledged order is live in the recovered state or finished in the journal;
//! - the state recovered from snapshot + journal equals a clean replay of the whole
//!   journal (same `state_hash`);
//! - the restarted shard continues the sequence without a gap, and the same clients
//!   reconnect to it.
//!
//! `CRASH_KILLS` sets the number of kills (default 20); a soak run sets it higher.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use matcher::client::{ClientConfig, ShardClient};
use matcher::journal::{self, for_each_record};
use matcher::shard::{self, ShardConfig};
use matcher::{AccountId, Cancel, CommandKind, Engine, Event, EventKind, OrderId, OrderRef, Side};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::shard::{engine_config, limit};

const SEGMENT: u64 = 256 * 1024;

struct Child_ {
    child: Child,
}

impl Drop for Child_ {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn market_args() -> Vec<String> {
    engine_config()
        .markets
        .iter()
        .flat_map(|m| {
            [
                "--market".to_owned(),
                format!(
                    "{}:{}:{}:{}:{}:{}:{}:{}",
                    m.id().0,
                    m.symbol(),
                    m.tick_size(),
                    m.lot_size(),
                    m.min_price().0,
                    m.max_price().0,
                    m.max_quantity().0,
                    m.max_resting_orders()
                ),
            ]
        })
        .collect()
}

/// Starts the shard; returns once it logs that it is serving (recovery done).
async fn spawn_shard(dir: &Path, archive: &Path, port: u16) -> Child_ {
    let mut log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(archive.join("shard.log"))
        .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_matcher"))
        .arg("serve")
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .args(["--data-dir", dir.to_str().unwrap()])
        .args(["--archive-dir", archive.to_str().unwrap()])
        .args(["--segment-size", &SEGMENT.to_string()])
        .args(["--snapshot-every", "700"])
        .args(["--keep-snapshots", "2"])
        .args([
            "--client-id-window",
            &engine_config().client_id_window.to_string(),
        ])
        .args(market_args())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (ready_tx, ready_rx) = tokio::sync::oneshot::channel::<Result<(), String>>();
    std::thread::spawn(move || {
        use std::io::{BufRead, Write};
        let mut ready = Some(ready_tx);
        for line in std::io::BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            let _ = writeln!(log, "{line}");
            if line.contains("shard serving")
                && let Some(r) = ready.take()
            {
                let _ = r.send(Ok(()));
            }
        }
        if let Some(r) = ready.take() {
            let _ = r.send(Err("the shard exited before serving".into()));
        }
    });
    tokio::time::timeout(Duration::from_secs(60), ready_rx)
        .await
        .expect("shard start timed out")
        .unwrap()
        .unwrap_or_else(|e| panic!("{e}: see {}", archive.join("shard.log").display()));
    Child_ { child }
}

/// A tiny deterministic PRNG for the load (the kill timing comes from it too).
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

type Acked = Arc<Mutex<Vec<(u64, Vec<Event>)>>>;

/// One client task: keeps `depth` requests in flight until cancelled.
async fn drive(
    c: ShardClient,
    task: u64,
    seed: u64,
    depth: usize,
    acked: Acked,
    stop: CancellationToken,
) {
    let mut rng = Rng(seed | 1);
    let mut in_flight = JoinSet::new();
    let mut mine: Vec<OrderId> = Vec::new();
    let mut n = 0u64;
    loop {
        while in_flight.len() < depth && !stop.is_cancelled() {
            let r = rng.next();
            let account = task * 10 + r % 3;
            let command = if r % 10 < 2 && !mine.is_empty() {
                let id = mine[(r >> 8) as usize % mine.len()];
                CommandKind::Cancel(Cancel {
                    account: AccountId(account),
                    order: OrderRef::Id(id),
                })
            } else {
                n += 1;
                let side = if (r >> 4).is_multiple_of(2) {
                    Side::Buy
                } else {
                    Side::Sell
                };
                let cid = (seed << 32) ^ (task << 48) ^ n;
                limit(
                    account,
                    cid,
                    side,
                    100 + ((r >> 16) % 9) as i64 - 4,
                    1 + (r >> 24) % 20,
                )
            };
            let c = c.clone();
            in_flight.spawn(async move { c.submit(command).await });
        }
        let Some(done) = in_flight.join_next().await else {
            return;
        };
        if let Ok(Ok(ack)) = done {
            for e in &ack.events {
                if let EventKind::Accepted(a) = e.kind {
                    mine.push(a.order_id);
                    if mine.len() > 256 {
                        mine.remove(0);
                    }
                }
            }
            acked.lock().unwrap().push((ack.command_seq, ack.events));
        }
    }
}

/// Copies every journal segment (archived and live) into `to`.
fn gather_segments(dirs: &[&Path], to: &Path) {
    for d in dirs {
        if let Ok(entries) = std::fs::read_dir(d) {
            for e in entries {
                let p: PathBuf = e.unwrap().path();
                let name = p.file_name().unwrap().to_str().unwrap().to_owned();
                if name.ends_with(".seg") && name.as_bytes()[0].is_ascii_digit() {
                    std::fs::copy(&p, to.join(&name)).unwrap();
                }
            }
        }
    }
}

/// Pings until the client's reconnect backoff lets it through to a serving shard.
async fn ping(c: &ShardClient) -> (u64, u64) {
    for _ in 0..200 {
        match c.ping().await {
            Ok(p) => return p,
            Err(e) if e.retryable() => tokio::time::sleep(Duration::from_millis(5)).await,
            Err(e) => panic!("{e}"),
        }
    }
    panic!("the client never reconnected");
}

fn shard_config(dir: &Path) -> ShardConfig {
    let mut c = ShardConfig::new(engine_config(), dir.to_owned());
    c.segment_size = SEGMENT;
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_shard_loses_no_acknowledged_order() {
    let kills: usize = std::env::var("CRASH_KILLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20);
    let dir = tempfile::tempdir().unwrap();
    let archive = tempfile::tempdir().unwrap();
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let addr = format!("127.0.0.1:{port}").parse().unwrap();
    // The same clients across every restart: they must reconnect by themselves.
    let clients: Vec<ShardClient> = (0..3)
        .map(|_| {
            let mut c = ClientConfig::new(addr);
            c.request_timeout = Duration::from_secs(10);
            c.backoff_initial = Duration::from_millis(5);
            c.backoff_max = Duration::from_millis(20);
            ShardClient::new(c)
        })
        .collect();
    let acked: Acked = Arc::default();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut checked_orders = 0usize;
    let mut last_command_seq = 0u64;

    for kill in 0..kills {
        let mut child = spawn_shard(dir.path(), archive.path(), port).await;
        // The restarted shard answers (after at most one client backoff), continuing
        // where the journal ended.
        let (command_seq, _) = ping(&clients[0]).await;
        assert!(
            command_seq >= last_command_seq,
            "kill {kill}: went backwards"
        );

        let stop = CancellationToken::new();
        let mut load = JoinSet::new();
        for (t, c) in clients.iter().enumerate() {
            load.spawn(drive(
                c.clone(),
                t as u64,
                rng.next(),
                32,
                Arc::clone(&acked),
                stop.clone(),
            ));
        }
        // Let it run a random while, then SIGKILL mid-flight.
        tokio::time::sleep(Duration::from_millis(80 + rng.next() % 250)).await;
        child.child.kill().unwrap();
        child.child.wait().unwrap();
        stop.cancel();
        while load.join_next().await.is_some() {}

        // Recover in-process (as the restart will), and replay the whole journal cleanly.
        let recovered = shard::recover(&shard_config(dir.path())).unwrap();
        let copy = tempfile::tempdir().unwrap();
        gather_segments(&[archive.path(), dir.path()], copy.path());
        let scan = journal::scan(copy.path(), false, SEGMENT).unwrap();
        let mut clean = Engine::new(engine_config()).unwrap();
        let mut journal_events: Vec<Event> = Vec::new();
        for_each_record(&scan, 1, u64::MAX, |r| {
            assert_eq!(clean.process(&r.command), r.events.as_slice());
            journal_events.extend(r.events);
            Ok(())
        })
        .unwrap();
        assert_eq!(
            recovered.engine.state_hash(),
            clean.state_hash(),
            "kill {kill}: snapshot + replay differs from a clean replay"
        );
        for (i, e) in journal_events.iter().enumerate() {
            assert_eq!(e.seq.0, i as u64 + 1, "kill {kill}: event sequence gap");
        }
        last_command_seq = recovered.command_seq;

        // Nothing acknowledged is lost.
        let acked_now = acked.lock().unwrap().clone();
        let mut done: HashSet<OrderId> = HashSet::new();
        for e in &journal_events {
            if let EventKind::Done(d) = e.kind {
                done.insert(d.order_id);
            }
        }
        for (command_seq, events) in &acked_now {
            assert!(
                *command_seq <= recovered.command_seq,
                "kill {kill}: acked command {command_seq} lost"
            );
            for e in events {
                assert_eq!(
                    journal_events.get(e.seq.0 as usize - 1),
                    Some(e),
                    "kill {kill}: acknowledged event {} differs or is missing",
                    e.seq.0
                );
                if let EventKind::Accepted(a) = e.kind {
                    let live = recovered.engine.order(a.order_id).is_some();
                    assert!(
                        live || done.contains(&a.order_id),
                        "kill {kill}: acknowledged order {} vanished",
                        a.order_id.0
                    );
                    checked_orders += 1;
                }
            }
        }
    }

    // A last start: the sequence goes on without a gap, and the feed replays it all.
    let _child = spawn_shard(dir.path(), archive.path(), port).await;
    ping(&clients[1]).await;
    let ack = clients[1]
        .submit(limit(99, 1, Side::Buy, 1, 1))
        .await
        .unwrap();
    assert_eq!(ack.command_seq, last_command_seq + 1);
    let total = acked.lock().unwrap().len();
    assert!(
        total > kills * 10,
        "too little load to mean anything: {total} acks"
    );
    eprintln!(
        "crash test: {kills} kills, {total} acknowledged commands, {checked_orders} order checks, 0 lost"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_drains_syncs_and_exits_zero_then_verify_journal_reports_clean() {
    let dir = tempfile::tempdir().unwrap();
    let archive = tempfile::tempdir().unwrap();
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let addr = format!("127.0.0.1:{port}").parse().unwrap();
    let mut child = spawn_shard(dir.path(), archive.path(), port).await;
    let c = {
        let mut config = ClientConfig::new(addr);
        config.request_timeout = Duration::from_secs(10);
        ShardClient::new(config)
    };
    let acked: Acked = Arc::default();
    let stop = CancellationToken::new();
    let load = tokio::spawn(drive(c.clone(), 0, 5, 64, Arc::clone(&acked), stop.clone()));
    // Once load is flowing, ask the shard to stop.
    while acked.lock().unwrap().len() < 500 {
        tokio::task::yield_now().await;
    }
    let status = Command::new("kill")
        .args(["-TERM", &child.child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = tokio::task::spawn_blocking(move || {
        let s = child.child.wait().unwrap();
        (s, child)
    })
    .await
    .unwrap()
    .0;
    assert_eq!(exit.code(), Some(0), "graceful exit");
    stop.cancel();
    load.await.unwrap();

    // Everything acknowledged is in the journal; the tail is clean (no torn record).
    let out = Command::new(env!("CARGO_BIN_EXE_matcher"))
        .args(["verify-journal", "--data-dir", dir.path().to_str().unwrap()])
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{report}");
    assert!(report.contains("journal ok"), "{report}");
    assert!(!report.contains("torn"), "{report}");
    let scan = journal::scan(dir.path(), false, SEGMENT).unwrap();
    let max_acked = acked.lock().unwrap().iter().map(|(s, _)| *s).max().unwrap();
    assert!(scan.last_command_seq >= max_acked);

    // Damage in the middle: verify-journal names the file and offset and fails.
    let seg = &scan.segments[0].path;
    let mut bytes = std::fs::read(seg).unwrap();
    bytes[journal::SEGMENT_HEADER + 30] ^= 0xff;
    std::fs::write(seg, &bytes).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_matcher"))
        .args(["verify-journal", "--data-dir", dir.path().to_str().unwrap()])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("offset 64"), "{err}");
    assert!(
        err.contains(seg.file_name().unwrap().to_str().unwrap()),
        "{err}"
    );
}
