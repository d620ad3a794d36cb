//! The WebSocket subscribers of `--ws-subscribers` run on a runtime of their own (one
//! `loadgen-ws` worker per CPU), apart from the order workload.
//!
//! Why: in one runtime, a book delta wakes 1,000 reader tasks at once and every order
//! request queued behind them, so the order flow's latency (and, with a fixed number of
//! connections, its throughput) measured the generator's own run queue. On threads of
//! their own the operating system interleaves the two, as it would two client programs.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use hdrhistogram::Histogram;
use tokio::sync::oneshot;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::ws::{self, Seen};
use super::{LoadgenError, report};

/// What the subscribers saw: each one's counts, and every latency.
pub(crate) type Outcome = (Vec<Seen>, Histogram<u64>);

/// Connected subscribers, waiting for the measurement to start.
pub(crate) struct Subscribers {
    start: Option<oneshot::Sender<Instant>>,
    stop: CancellationToken,
    outcome: oneshot::Receiver<Outcome>,
}

/// Where and as whom the subscribers connect.
pub(crate) struct Target {
    pub(crate) addr: SocketAddr,
    pub(crate) host: String,
    pub(crate) symbol: String,
    /// Dealt round-robin to the subscribers.
    pub(crate) tokens: Vec<String>,
}

/// Connects and subscribes `count` clients on the subscribers' runtime; returns once every
/// one has its book snapshot, so the load starts only with all of them in place.
///
/// # Errors
/// [`LoadgenError::Setup`] if the thread cannot start or a subscriber cannot subscribe.
pub(crate) async fn start(count: usize, target: Target) -> Result<Subscribers, LoadgenError> {
    let (ready_tx, ready) = oneshot::channel();
    let (start, start_rx) = oneshot::channel();
    let (outcome_tx, outcome) = oneshot::channel();
    let stop = CancellationToken::new();
    let threads = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .thread_name("loadgen-ws")
        .enable_all()
        .build()
        .map_err(|e| LoadgenError::Setup(format!("cannot start the subscribers' runtime: {e}")))?;
    let stopped = stop.clone();
    std::thread::Builder::new()
        .name("loadgen-subscribers".into())
        .spawn(move || {
            runtime.block_on(run(count, target, ready_tx, start_rx, stopped, outcome_tx));
        })
        .map_err(|e| LoadgenError::Setup(format!("cannot start the subscribers' thread: {e}")))?;
    match ready.await {
        Ok(Ok(())) => Ok(Subscribers {
            start: Some(start),
            stop,
            outcome,
        }),
        Ok(Err(e)) => Err(e),
        Err(_) => Err(LoadgenError::Setup(
            "the subscribers' thread ended early".into(),
        )),
    }
}

impl Subscribers {
    /// Starts reading (once); deltas received from `measure_from` on are measured.
    pub(crate) fn begin(&mut self, measure_from: Instant) {
        if let Some(start) = self.start.take() {
            let _ = start.send(measure_from);
        }
    }

    /// Stops every subscriber and returns what they saw.
    pub(crate) async fn finish(self) -> Outcome {
        self.stop.cancel();
        self.outcome
            .await
            .unwrap_or_else(|_| (Vec::new(), report::histogram()))
    }
}

async fn run(
    count: usize,
    target: Target,
    ready: oneshot::Sender<Result<(), LoadgenError>>,
    start: oneshot::Receiver<Instant>,
    stop: CancellationToken,
    outcome: oneshot::Sender<Outcome>,
) {
    let mut connecting = JoinSet::new();
    for i in 0..count {
        let token = target.tokens[i % target.tokens.len()].clone();
        let (host, symbol) = (target.host.clone(), target.symbol.clone());
        let addr = target.addr;
        connecting.spawn(async move { ws::connect(addr, &host, &token, &symbol).await });
    }
    let mut sockets = Vec::with_capacity(count);
    while let Some(joined) = connecting.join_next().await {
        let failure = match joined {
            Ok(Ok(socket)) => {
                sockets.push(socket);
                continue;
            }
            Ok(Err(e)) => e.to_string(),
            Err(e) => e.to_string(),
        };
        let _ = ready.send(Err(LoadgenError::Setup(format!(
            "a WebSocket subscriber: {failure}"
        ))));
        return;
    }
    if ready.send(Ok(())).is_err() {
        return;
    }
    let Ok(measure_from) = start.await else {
        return;
    };
    let latency: ws::Latency = Arc::new(Mutex::new(report::histogram()));
    let mut readers = JoinSet::new();
    for socket in sockets {
        readers.spawn(ws::read(
            socket,
            measure_from,
            stop.clone(),
            Arc::clone(&latency),
        ));
    }
    let mut seen = Vec::with_capacity(count);
    while let Some(joined) = readers.join_next().await {
        if let Ok(s) = joined {
            seen.push(s);
        }
    }
    let latency = std::mem::replace(
        &mut *latency.lock().unwrap_or_else(PoisonError::into_inner),
        report::histogram(),
    );
    let _ = outcome.send((seen, latency));
}
