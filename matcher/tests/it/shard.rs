//! The shard server in-process: order entry over TCP, durability before acks, queries,
//! the event feed across the journal/live seam, snapshots, restart and recovery, and
//! malformed input.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use matcher::client::{ClientConfig, ClientError, ShardClient};
use matcher::protocol::{ErrorCode, Request, Response, decode_response, encode_request};
use matcher::shard::{self, ShardConfig, WaitStrategy};
use matcher::{
    AccountId, Cancel, ClientOrderId, CommandKind, EngineConfig, Event, EventKind, MarketConfig,
    MarketId, NewOrder, OrderRef, OrderType, Price, Quantity, Side, StpMode, Symbol, TimeInForce,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub(crate) fn engine_config() -> EngineConfig {
    let m = |id: u32, s: &str| {
        MarketConfig::new(
            MarketId(id),
            Symbol::new(s).unwrap(),
            1,
            1,
            Price(1),
            Price(100_000),
            Quantity(1_000_000),
            100_000,
        )
        .unwrap()
    };
    EngineConfig {
        markets: vec![m(1, "AAA-USD"), m(2, "BBB-USD")],
        client_id_window: 1024,
    }
}

pub(crate) struct Running {
    pub(crate) addr: SocketAddr,
    pub(crate) stop: CancellationToken,
    pub(crate) task: JoinHandle<Result<(), shard::ShardError>>,
}

pub(crate) async fn start(dir: &Path, tweak: impl FnOnce(&mut ShardConfig)) -> Running {
    let mut config = ShardConfig::new(engine_config(), dir.to_owned());
    config.segment_size = 256 * 1024;
    config.wait = WaitStrategy::SpinThenPark;
    config.snapshot_every = 0;
    tweak(&mut config);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let stop = CancellationToken::new();
    let task = tokio::spawn(shard::run(config, listener, stop.clone()));
    Running { addr, stop, task }
}

impl Running {
    pub(crate) async fn shutdown(self) {
        self.stop.cancel();
        self.task.await.unwrap().unwrap();
    }
}

pub(crate) fn client(addr: SocketAddr) -> ShardClient {
    let mut c = ClientConfig::new(addr);
    c.request_timeout = Duration::from_secs(10);
    ShardClient::new(c)
}

pub(crate) fn limit(account: u64, cid: u64, side: Side, price: i64, qty: u64) -> CommandKind {
    CommandKind::NewOrder(NewOrder {
        market: MarketId(1),
        account: AccountId(account),
        client_order_id: ClientOrderId::from_u64(cid),
        side,
        order_type: OrderType::Limit {
            price: Price(price),
        },
        quantity: Quantity(qty),
        time_in_force: TimeInForce::Gtc,
        post_only: false,
        stp: StpMode::CancelNewest,
    })
}

#[tokio::test]
async fn orders_are_acknowledged_queried_and_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let shard = start(dir.path(), |_| {}).await;
    let c = client(shard.addr);

    let ack = c.submit(limit(1, 1, Side::Buy, 100, 5)).await.unwrap();
    assert_eq!(ack.command_seq, 1);
    assert!(matches!(ack.events[0].kind, EventKind::Accepted(_)));
    let ack = c.submit(limit(2, 1, Side::Sell, 100, 2)).await.unwrap();
    assert!(
        ack.events
            .iter()
            .any(|e| matches!(e.kind, EventKind::Trade(_)))
    );
    // The same client order id again is a duplicate, never a second order.
    let dup = c.submit(limit(1, 1, Side::Buy, 100, 5)).await.unwrap();
    assert!(matches!(dup.events[0].kind, EventKind::Rejected(r) if r.reason.code() == "duplicate"));

    let open = c.open_orders(AccountId(1), None).await.unwrap();
    assert_eq!(open.len(), 1);
    assert_eq!(open[0].remaining, Quantity(3));
    let depth = c.depth(MarketId(1), 5).await.unwrap().unwrap();
    assert_eq!(depth.bids[0].quantity, Quantity(3));
    assert!(c.depth(MarketId(9), 5).await.unwrap().is_none());
    // A market the shard does not own is a clear reject.
    let mut other = limit(1, 2, Side::Buy, 100, 1);
    if let CommandKind::NewOrder(o) = &mut other {
        o.market = MarketId(77);
    }
    let ack = c.submit(other).await.unwrap();
    assert!(
        matches!(ack.events[0].kind, EventKind::Rejected(r) if r.reason.code() == "unknown_market")
    );
    let (cmd, ev) = c.ping().await.unwrap();
    assert_eq!(cmd, 4);
    shard.shutdown().await;

    // Restart: the state is back, and sequence numbers continue.
    let shard = start(dir.path(), |_| {}).await;
    let c = client(shard.addr);
    assert_eq!(c.ping().await.unwrap(), (cmd, ev));
    let open = c.open_orders(AccountId(1), None).await.unwrap();
    assert_eq!(open.len(), 1);
    let ack = c
        .submit(CommandKind::Cancel(Cancel {
            account: AccountId(1),
            order: OrderRef::Id(open[0].order_id),
        }))
        .await
        .unwrap();
    assert_eq!(ack.command_seq, cmd + 1);
    assert_eq!(ack.events[0].seq.0, ev + 1);
    shard.shutdown().await;
}

/// Collects `n` events from a subscription.
async fn take(sub: &mut matcher::client::Subscription, n: usize) -> Vec<Event> {
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        let e = tokio::time::timeout(Duration::from_secs(10), sub.next())
            .await
            .expect("feed stalled")
            .expect("feed closed")
            .unwrap();
        out.push(e);
    }
    out
}

#[tokio::test]
async fn feed_serves_from_zero_middle_and_head_without_gap_or_duplicate() {
    let dir = tempfile::tempdir().unwrap();
    let shard = start(dir.path(), |_| {}).await;
    let c = client(shard.addr);
    let mut all = Vec::new();
    for i in 0..200u64 {
        let side = if i % 2 == 0 { Side::Buy } else { Side::Sell };
        let ack = c
            .submit(limit(i % 3, i, side, 100 + (i % 5) as i64 - 2, 1 + i % 4))
            .await
            .unwrap();
        all.extend(ack.events);
    }
    let total = all.len();
    assert_eq!(all.last().unwrap().seq.0, total as u64);

    // From 0: everything, from the journal.
    let mut from_zero = c.subscribe(0).await.unwrap();
    assert_eq!(take(&mut from_zero, total).await, all);
    // From the middle.
    let mid = total / 2;
    let mut from_mid = c.subscribe(mid as u64 + 1).await.unwrap();
    assert_eq!(take(&mut from_mid, total - mid).await, all[mid..].to_vec());
    // From the head: only what comes next, live.
    let mut from_head = c.subscribe(total as u64 + 1).await.unwrap();

    // More commands while the subscriptions are live: all three see them, once each.
    let mut more = Vec::new();
    for i in 200..260u64 {
        let side = if i % 2 == 0 { Side::Buy } else { Side::Sell };
        more.extend(
            c.submit(limit(i % 3, i, side, 100, 1))
                .await
                .unwrap()
                .events,
        );
    }
    assert_eq!(take(&mut from_zero, more.len()).await, more);
    assert_eq!(take(&mut from_mid, more.len()).await, more);
    assert_eq!(take(&mut from_head, more.len()).await, more);

    // A subscriber that disconnects and resumes from its last sequence sees every event
    // exactly once.
    drop(from_head);
    let last_seen = more[more.len() / 2].seq.0;
    let mut resumed = c.subscribe(last_seen + 1).await.unwrap();
    let expected: Vec<Event> = more
        .iter()
        .filter(|e| e.seq.0 > last_seen)
        .copied()
        .collect();
    assert_eq!(take(&mut resumed, expected.len()).await, expected);
    shard.shutdown().await;
}

#[tokio::test]
async fn snapshot_on_request_then_recovery_uses_it() {
    let dir = tempfile::tempdir().unwrap();
    let shard = start(dir.path(), |_| {}).await;
    let c = client(shard.addr);
    for i in 0..50u64 {
        c.submit(limit(1, i, Side::Buy, 50 + i as i64, 1))
            .await
            .unwrap();
    }
    assert_eq!(c.snapshot().await.unwrap(), 50);
    for i in 50..60u64 {
        c.submit(limit(1, i, Side::Buy, 50 + i as i64, 1))
            .await
            .unwrap();
    }
    let before = c.ping().await.unwrap();
    shard.shutdown().await;
    assert_eq!(shard::list_snapshots(dir.path()).unwrap()[0].0, 50);

    let config = ShardConfig::new(engine_config(), dir.path().to_owned());
    let recovered = shard::recover(&ShardConfig {
        segment_size: 256 * 1024,
        ..config
    })
    .unwrap();
    assert_eq!(recovered.snapshot_seq, Some(50));
    assert_eq!(recovered.replayed, 10);
    assert_eq!(recovered.command_seq, before.0);
    assert_eq!(recovered.engine.open_orders(AccountId(1), None).len(), 60);
}

#[tokio::test]
async fn malformed_input_closes_only_that_connection_with_an_error_frame() {
    let dir = tempfile::tempdir().unwrap();
    let shard = start(dir.path(), |_| {}).await;
    let c = client(shard.addr);
    c.submit(limit(1, 1, Side::Buy, 100, 1)).await.unwrap();

    for garbage in [
        // A valid length, then a request type that does not exist.
        {
            let mut f = vec![];
            f.extend_from_slice(&10u32.to_le_bytes());
            f.extend_from_slice(&[1, 99, 7, 0, 0, 0, 0, 0, 0, 0]);
            f
        },
        // A wrong protocol version.
        {
            let mut f = vec![];
            encode_request(&mut f, 5, &Request::Ping);
            f[4] = 9;
            f
        },
        // A frame larger than the limit.
        (u32::MAX).to_le_bytes().to_vec(),
    ] {
        let mut s = TcpStream::connect(shard.addr).await.unwrap();
        s.write_all(&garbage).await.unwrap();
        let mut buf = Vec::new();
        tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut buf))
            .await
            .expect("connection closed")
            .unwrap();
        let (_, response) = decode_response(&buf[4..]).unwrap();
        assert!(
            matches!(response, Response::Error { code, .. } if code != ErrorCode::Internal),
            "{response:?}"
        );
    }
    // The shard and other connections are unaffected.
    let ack = c.submit(limit(1, 2, Side::Buy, 100, 1)).await.unwrap();
    assert_eq!(ack.command_seq, 2);
    shard.shutdown().await;
}

#[tokio::test]
async fn a_stopped_shard_answers_unavailable_quickly_and_clients_reconnect() {
    let dir = tempfile::tempdir().unwrap();
    let shard = start(dir.path(), |_| {}).await;
    let addr = shard.addr;
    let c = client(addr);
    c.submit(limit(1, 1, Side::Buy, 100, 1)).await.unwrap();
    shard.shutdown().await;
    let err = c.ping().await.unwrap_err();
    assert!(err.retryable(), "{err}");
    // Nothing listens: the dial fails and the client backs off, failing fast.
    let started = std::time::Instant::now();
    for _ in 0..5 {
        let err = c.ping().await.unwrap_err();
        assert!(
            matches!(err, ClientError::Unavailable(_) | ClientError::Disconnected),
            "{err}"
        );
    }
    assert!(started.elapsed() < Duration::from_secs(3));
    // Restarted on the same address: the client reconnects once its backoff passes.
    let listener = loop {
        match TcpListener::bind(addr).await {
            Ok(l) => break l,
            Err(_) => tokio::task::yield_now().await,
        }
    };
    let mut config = ShardConfig::new(engine_config(), dir.path().to_owned());
    config.segment_size = 256 * 1024;
    let stop = CancellationToken::new();
    let task = tokio::spawn(shard::run(config, listener, stop.clone()));
    let mut answer = c.ping().await;
    for _ in 0..100 {
        if answer.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        answer = c.ping().await;
    }
    assert_eq!(answer.unwrap().0, 1);
    stop.cancel();
    task.await.unwrap().unwrap();
}

fn segment_files(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|r| {
            r.map(|e| e.unwrap().file_name().into_string().unwrap())
                .filter(|n| n.ends_with(".seg") && n.as_bytes()[0].is_ascii_digit())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

#[tokio::test]
async fn snapshots_retire_old_segments_by_deleting_or_archiving() {
    for archive in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let archive_dir = tempfile::tempdir().unwrap();
        let shard = start(dir.path(), |c| {
            c.segment_size = 64 * 1024;
            c.keep_snapshots = 1;
            if archive {
                c.archive_dir = Some(archive_dir.path().to_owned());
            }
        })
        .await;
        let c = client(shard.addr);
        for i in 0..1500u64 {
            let side = if i % 2 == 0 { Side::Buy } else { Side::Sell };
            c.submit(limit(
                1 + i % 4,
                i,
                side,
                100 + (i % 7) as i64 - 3,
                1 + i % 5,
            ))
            .await
            .unwrap();
        }
        let open_before = c.open_orders(AccountId(1), None).await.unwrap();
        let seq = c.snapshot().await.unwrap();
        assert_eq!(seq, 1500);
        let live = segment_files(dir.path());
        let archived = segment_files(archive_dir.path());
        // Everything before the snapshot's segment is gone from the data directory.
        assert!(live.len() <= 2, "live segments: {live:?}");
        assert!(live[0] != format!("{:020}.seg", 1), "{live:?}");
        if archive {
            assert!(archived.len() >= 3, "archived: {archived:?}");
            assert_eq!(archived[0], format!("{:020}.seg", 1));
        } else {
            assert!(archived.is_empty());
        }
        assert_eq!(shard::list_snapshots(dir.path()).unwrap().len(), 1);
        shard.shutdown().await;

        // Recovery needs only the snapshot and the segments that remain.
        let shard = start(dir.path(), |c| c.segment_size = 64 * 1024).await;
        let c = client(shard.addr);
        assert_eq!(
            c.open_orders(AccountId(1), None).await.unwrap(),
            open_before
        );
        assert_eq!(c.ping().await.unwrap().0, 1500);
        // The feed says plainly that retired events are gone.
        let mut sub = c.subscribe(1).await.unwrap();
        let first = tokio::time::timeout(Duration::from_secs(10), sub.next())
            .await
            .unwrap()
            .unwrap();
        assert!(
            matches!(
                first,
                Err(ClientError::Server {
                    code: ErrorCode::NotRetained,
                    ..
                })
            ),
            "{first:?}"
        );
        shard.shutdown().await;
    }
}

/// A clock that holds the matching thread on cue: the first command's timestamp read
/// blocks until released, so the ring can be filled deterministically.
struct GateClock {
    entered: std::sync::Mutex<Option<std::sync::mpsc::Sender<()>>>,
    release: std::sync::Mutex<std::sync::mpsc::Receiver<()>>,
}

impl shard::Clock for GateClock {
    fn now_nanos(&self) -> u64 {
        if let Some(tx) = self.entered.lock().unwrap().take() {
            let _ = tx.send(());
            let _ = self.release.lock().unwrap().recv();
        }
        1_700_000_000_000_000_000
    }
}

#[tokio::test]
async fn a_full_ring_answers_busy_at_once_and_nothing_is_lost() {
    let dir = tempfile::tempdir().unwrap();
    let (entered_tx, entered_rx) = std::sync::mpsc::channel();
    let (release_tx, release_rx) = std::sync::mpsc::channel();
    let clock = std::sync::Arc::new(GateClock {
        entered: std::sync::Mutex::new(Some(entered_tx)),
        release: std::sync::Mutex::new(release_rx),
    });
    let shard = start(dir.path(), |c| {
        c.ring_capacity = 4;
        c.clock = clock;
    })
    .await;
    let c = client(shard.addr);
    // The first command takes the matching thread into the gate.
    let first = tokio::spawn({
        let c = c.clone();
        async move { c.submit(limit(1, 0, Side::Buy, 10, 1)).await }
    });
    tokio::task::spawn_blocking(move || entered_rx.recv().unwrap())
        .await
        .unwrap();

    // Ten pipelined commands in one write: four fill the ring, six are refused at once.
    let mut s = TcpStream::connect(shard.addr).await.unwrap();
    let mut frames = Vec::new();
    for id in 1..=10u64 {
        encode_request(
            &mut frames,
            id,
            &Request::Command(limit(2, id, Side::Buy, 10, 1)),
        );
    }
    s.write_all(&frames).await.unwrap();
    async fn read_frame(s: &mut TcpStream) -> (u64, Response) {
        let mut len = [0u8; 4];
        s.read_exact(&mut len).await.unwrap();
        let mut body = vec![0u8; u32::from_le_bytes(len) as usize];
        s.read_exact(&mut body).await.unwrap();
        decode_response(&body).unwrap()
    }
    for expected in 5..=10u64 {
        let (id, response) = tokio::time::timeout(Duration::from_secs(10), read_frame(&mut s))
            .await
            .expect("busy answers come while the matching thread is held");
        assert_eq!((id, response), (expected, Response::Busy));
    }
    // Released: the four queued commands run, in order, and are acknowledged.
    release_tx.send(()).unwrap();
    assert_eq!(first.await.unwrap().unwrap().command_seq, 1);
    for expected in 1..=4u64 {
        let (id, response) = read_frame(&mut s).await;
        assert_eq!(id, expected);
        assert!(
            matches!(response, Response::Ack { command_seq, .. } if command_seq == expected + 1),
            "{response:?}"
        );
    }
    assert_eq!(c.open_orders(AccountId(2), None).await.unwrap().len(), 4);
    shard.shutdown().await;
}

#[tokio::test]
async fn a_replay_that_diverges_from_the_journal_stops_start_up_naming_the_command() {
    let dir = tempfile::tempdir().unwrap();
    let shard = start(dir.path(), |_| {}).await;
    let c = client(shard.addr);
    for i in 0..10u64 {
        c.submit(limit(1, i, Side::Buy, 100 + i as i64, 1))
            .await
            .unwrap();
    }
    shard.shutdown().await;

    // Rewrite command 5's recorded events (a different order id) with a valid checksum:
    // only the replay check can notice.
    let scan = matcher::journal::scan(dir.path(), false, 256 * 1024).unwrap();
    let seg = &scan.segments[0].path;
    let original = std::fs::read(seg).unwrap();
    let mut rewritten = original[..matcher::journal::SEGMENT_HEADER].to_vec();
    matcher::journal::for_each_record(&scan, 1, u64::MAX, |mut r| {
        if r.command_seq == 5
            && let EventKind::Accepted(a) = &mut r.events[0].kind
        {
            a.order_id.0 += 100;
        }
        matcher::journal::encode_record(
            &mut rewritten,
            r.command_seq,
            r.first_event_seq,
            &r.command,
            &r.events,
        );
        Ok(())
    })
    .unwrap();
    rewritten.resize(original.len(), 0);
    std::fs::write(seg, &rewritten).unwrap();

    let mut config = ShardConfig::new(engine_config(), dir.path().to_owned());
    config.segment_size = 256 * 1024;
    let err = shard::recover(&config).unwrap_err();
    assert!(matches!(err, shard::ShardError::ReplayMismatch(_)), "{err}");
    let msg = err.to_string();
    assert!(msg.contains("command 5"), "{msg}");
    assert!(msg.contains("first difference at event"), "{msg}");
}
