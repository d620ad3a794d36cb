//! `tradeplane loadgen`: a constant-rate REST load generator with honest latencies.
//!
//! Requests are sent on a fixed schedule ([`pacer`]) over `--connections` keep-alive
//! connections, and each latency is measured from the request's *intended* send time, so a
//! server that stalls is charged for the requests that queued behind the stall. With
//! `--rate max` there is no schedule: every connection sends as soon as its previous answer
//! arrives, and latency is measured from the actual send.
//!
//! The run is `--warmup` seconds (not measured) followed by `--duration` seconds; the last
//! line of standard output is [`Report::line`]. A progress bar goes to standard error when
//! it is a terminal. Orders still resting when the run ends are cancelled afterwards.
//!
//! With `--ws-subscribers N`, N WebSocket clients subscribe to the traded market's book
//! before the load starts and read throughout ([`ws`]), on a runtime of their own
//! ([`subscribers`]); the last line is then [`Report::ws_line`], after the REST line.

mod connection;
mod pacer;
pub(crate) mod report;
mod subscribers;
mod workload;
mod ws;

pub use report::Report;
pub use workload::Endpoint;

use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use hyper::Method;
use indicatif::{ProgressBar, ProgressStyle};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use connection::{Call, Connection};
use pacer::Slots;
use workload::{MarketList, OrderBodies, Planned, Workload};

/// How long one request may take before it counts as an error and the connection is
/// re-dialled.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// What to run.
#[derive(Clone, Debug)]
pub struct LoadgenConfig {
    /// The gateway's base URL (`http://host:port`).
    pub url: String,
    /// Requests per second offered; `None` for as fast as possible.
    pub rate: Option<u64>,
    /// The measured part of the run.
    pub duration: Duration,
    /// Unmeasured time before it (connections warm, caches filled).
    pub warmup: Duration,
    /// Keep-alive connections.
    pub connections: usize,
    /// What to call.
    pub endpoint: Endpoint,
    /// Bearer tokens, spread over the connections (at least one).
    pub tokens: Vec<String>,
    /// The market to trade (default: the first one the gateway lists).
    pub symbol: Option<String>,
    /// Draw a progress bar on standard error.
    pub progress: bool,
    /// WebSocket clients subscribed to the traded market's book during the run (0: none).
    pub ws_subscribers: usize,
}

/// Why a run could not be made.
#[derive(Debug, thiserror::Error)]
pub enum LoadgenError {
    /// The URL is not `http://host:port`.
    #[error("--url {0:?}: {1}")]
    Url(String, String),
    /// The gateway did not answer the set-up calls.
    #[error("setting up against the gateway: {0}")]
    Setup(String),
    /// The configuration cannot run (no tokens, no connections).
    #[error("{0}")]
    Invalid(String),
}

/// Resolves `http://host:port` to an address and a `Host` header.
fn resolve(url: &str) -> Result<(SocketAddr, String), LoadgenError> {
    let bad = |why: &str| LoadgenError::Url(url.to_owned(), why.to_owned());
    let uri: hyper::Uri = url.parse().map_err(|_| bad("not a URL"))?;
    if uri.scheme_str() != Some("http") {
        return Err(bad(
            "only http:// is supported (run against the gateway or a local TLS-terminating proxy)",
        ));
    }
    let authority = uri.authority().ok_or_else(|| bad("no host"))?;
    let port = authority.port_u16().unwrap_or(80);
    let addr = (authority.host(), port)
        .to_socket_addrs()
        .map_err(|e| bad(&format!("cannot resolve: {e}")))?
        .next()
        .ok_or_else(|| bad("the host has no address"))?;
    Ok((addr, authority.as_str().to_owned()))
}

/// Runs the load and returns what it measured. `shutdown` ends the run early (the report
/// then covers what ran).
///
/// # Errors
/// [`LoadgenError`] if the URL is bad, the configuration cannot run, or the gateway does
/// not answer the set-up calls (the market list).
pub async fn run(
    config: LoadgenConfig,
    shutdown: CancellationToken,
) -> Result<Report, LoadgenError> {
    if config.tokens.is_empty() || config.connections == 0 {
        return Err(LoadgenError::Invalid(
            "loadgen needs at least one token and one connection".into(),
        ));
    }
    if config.rate == Some(0) {
        return Err(LoadgenError::Invalid(
            "--rate must be positive or max".into(),
        ));
    }
    let (addr, host) = resolve(&config.url)?;
    let (bodies, symbol) = order_bodies(&config, addr, &host).await?;
    let bodies = Arc::new(bodies);
    let mut subscribers = if config.ws_subscribers > 0 {
        let target = subscribers::Target {
            addr,
            host: host.clone(),
            symbol: symbol.clone(),
            tokens: config.tokens.clone(),
        };
        Some(subscribers::start(config.ws_subscribers, target).await?)
    } else {
        None
    };

    let mut connections = Vec::with_capacity(config.connections);
    for c in 0..config.connections {
        // Tokens are dealt round-robin: connection c uses tokens c, c + C, c + 2C, …
        let mut tokens: Vec<String> = config
            .tokens
            .iter()
            .skip(c % config.tokens.len())
            .step_by(config.connections)
            .cloned()
            .collect();
        if tokens.is_empty() {
            tokens.push(config.tokens[c % config.tokens.len()].clone());
        }
        let workload = Workload::new(config.endpoint, tokens, Arc::clone(&bodies), c * 7);
        let mut connection = Connection::new(addr, host.clone());
        // Dial and authenticate once before the clock starts.
        let mut probe = Workload::new(
            Endpoint::Whoami,
            vec![workload.token().to_owned()],
            Arc::clone(&bodies),
            0,
        );
        let planned = probe.plan();
        let answer = connection
            .send(probe.call(&planned))
            .await
            .map_err(|e| LoadgenError::Setup(e.to_string()))?;
        if !answer.status.is_success() {
            return Err(LoadgenError::Setup(format!(
                "GET /v1/whoami answered {}: {}",
                answer.status,
                String::from_utf8_lossy(&answer.body)
            )));
        }
        connections.push((connection, workload));
    }

    // Give every task time to start waiting before the first slot is due.
    let start = Instant::now() + Duration::from_millis(20);
    let measure_from = start + config.warmup;
    let end = measure_from + config.duration;
    if let Some(subscribers) = &mut subscribers {
        subscribers.begin(measure_from);
    }
    let slots = Slots::new(start, config.rate);
    let pacer = {
        let slots = Arc::clone(&slots);
        std::thread::Builder::new()
            .name("loadgen-pacer".into())
            .spawn(move || pacer::pace(&slots, end))
            .map_err(|e| LoadgenError::Setup(format!("cannot start the pacer thread: {e}")))?
    };
    let stop_on_shutdown = {
        let slots = Arc::clone(&slots);
        tokio::spawn(async move {
            shutdown.cancelled().await;
            slots.close();
        })
    };
    let progress = config.progress.then(|| progress_bar(&slots, start, end));

    let paced = config.rate.is_some();
    let mut tasks = JoinSet::new();
    for (connection, workload) in connections {
        let slots = Arc::clone(&slots);
        tasks.spawn(drive(connection, workload, slots, paced, measure_from, end));
    }
    let mut latency = report::histogram();
    let (mut requests, mut errors) = (0, 0);
    let mut leftovers = Vec::new();
    let mut last_done: Option<Instant> = None;
    while let Some(joined) = tasks.join_next().await {
        let Ok(outcome) = joined else { continue };
        // Both histograms have the same bounds; a value out of range was never recorded.
        let _ = latency.add(&outcome.latency);
        requests += outcome.requests;
        errors += outcome.errors;
        last_done = last_done.max(outcome.last_done);
        for message in outcome.first_errors {
            eprintln!("loadgen: {message}");
        }
        leftovers.push(outcome.cleanup);
    }
    stop_on_shutdown.abort();
    let _ = pacer.join();
    if let Some(bar) = progress {
        bar.abort();
    }
    // The window, or longer when answers kept arriving after it: a server that fell behind
    // the offered rate is charged for the time it took to catch up.
    let measured = Instant::now()
        .min(end)
        .max(last_done.unwrap_or(end))
        .saturating_duration_since(measure_from);
    let ws_line = match subscribers {
        Some(subscribers) => {
            let (seen, latency) = subscribers.finish().await;
            eprintln!("loadgen: {}", ws::distribution(&latency));
            Some(ws::line(config.ws_subscribers, &seen, &latency, measured))
        }
        None => None,
    };
    for (mut connection, mut workload) in leftovers {
        cancel_leftovers(&mut connection, &mut workload).await;
    }
    Ok(Report {
        endpoint: config.endpoint,
        rate: config.rate,
        requests,
        errors,
        measured,
        latency,
        ws_line,
    })
}

/// The market list, and order bodies for the chosen market.
async fn order_bodies(
    config: &LoadgenConfig,
    addr: SocketAddr,
    host: &str,
) -> Result<(OrderBodies, String), LoadgenError> {
    let mut connection = Connection::new(addr, host.to_owned());
    let answer = connection
        .send(Call {
            method: Method::GET,
            path: "/v1/markets",
            bearer: &config.tokens[0],
            json: None,
        })
        .await
        .map_err(|e| LoadgenError::Setup(format!("GET /v1/markets: {e}")))?;
    if !answer.status.is_success() {
        return Err(LoadgenError::Setup(format!(
            "GET /v1/markets answered {}: {}",
            answer.status,
            String::from_utf8_lossy(&answer.body)
        )));
    }
    let list: MarketList = serde_json::from_slice(&answer.body)
        .map_err(|e| LoadgenError::Setup(format!("GET /v1/markets: {e}")))?;
    let market = match &config.symbol {
        Some(symbol) => list.markets.iter().find(|m| &m.symbol == symbol),
        None => list.markets.first(),
    }
    .ok_or_else(|| {
        LoadgenError::Setup(format!(
            "no market {} on the gateway",
            config.symbol.as_deref().unwrap_or("at all")
        ))
    })?;
    let bodies = OrderBodies::new(market).map_err(LoadgenError::Setup)?;
    Ok((bodies, market.symbol.clone()))
}

/// What one connection measured.
struct Outcome {
    latency: Histogram<u64>,
    requests: u64,
    errors: u64,
    /// The first few failures, described, for the operator.
    first_errors: Vec<String>,
    /// When the last measured request was answered.
    last_done: Option<Instant>,
    cleanup: (Connection, Workload),
}

/// How many failures each connection describes.
const DESCRIBED_ERRORS: usize = 3;

async fn drive(
    mut connection: Connection,
    mut workload: Workload,
    slots: Arc<Slots>,
    paced: bool,
    measure_from: Instant,
    end: Instant,
) -> Outcome {
    let mut latency = report::histogram();
    let (mut requests, mut errors) = (0, 0);
    let mut first_errors = Vec::new();
    let mut last_done = None;
    while let Some(slot) = slots.claim().await {
        let sent = Instant::now();
        if !paced && sent >= end {
            break;
        }
        let planned = workload.plan();
        let result =
            tokio::time::timeout(REQUEST_TIMEOUT, connection.send(workload.call(&planned))).await;
        let done = Instant::now();
        let (ok, failure) = match &result {
            Ok(Ok(answer)) => {
                let ok = workload.answered(&planned, answer);
                let failure = (!ok).then(|| {
                    format!(
                        "{} answered {}: {}",
                        describe(&planned),
                        answer.status,
                        String::from_utf8_lossy(&answer.body)
                    )
                });
                (ok, failure)
            }
            Ok(Err(error)) => (false, Some(format!("{}: {error}", describe(&planned)))),
            Err(_) => (
                false,
                Some(format!(
                    "{}: no answer in {REQUEST_TIMEOUT:?}",
                    describe(&planned)
                )),
            ),
        };
        if result.as_ref().is_err() {
            // A timed-out exchange leaves the connection mid-response: dial anew.
            connection = Connection::new(connection.addr(), connection.host().to_owned());
        }
        let from = if paced { slot.intended } else { sent };
        if from < measure_from || from >= end {
            continue;
        }
        requests += 1;
        last_done = Some(done);
        let nanos =
            u64::try_from(done.saturating_duration_since(from).as_nanos()).unwrap_or(u64::MAX);
        let _ = latency.record(nanos.max(1));
        if !ok {
            errors += 1;
            if let Some(failure) = failure
                && first_errors.len() < DESCRIBED_ERRORS
            {
                first_errors.push(failure);
            }
        }
    }
    Outcome {
        latency,
        requests,
        errors,
        first_errors,
        last_done,
        cleanup: (connection, workload),
    }
}

fn describe(planned: &Planned) -> String {
    match planned {
        Planned::Whoami => "GET /v1/whoami".into(),
        Planned::Place(_) => "POST /v1/orders".into(),
        Planned::Cancel(path) => format!("DELETE {path}"),
    }
}

/// Cancels the orders a connection left resting (not measured).
async fn cancel_leftovers(connection: &mut Connection, workload: &mut Workload) {
    let token = workload.token().to_owned();
    for path in workload.take_open() {
        let call = Call {
            method: Method::DELETE,
            path: &path,
            bearer: &token,
            json: None,
        };
        let _ = tokio::time::timeout(REQUEST_TIMEOUT, connection.send(call)).await;
    }
}

/// A progress bar fed from the slot counter until the run ends.
fn progress_bar(slots: &Arc<Slots>, start: Instant, end: Instant) -> tokio::task::JoinHandle<()> {
    let total = end.saturating_duration_since(start).as_millis();
    let bar = ProgressBar::new(u64::try_from(total).unwrap_or(u64::MAX));
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {elapsed}/{duration} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let slots = Arc::clone(slots);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_millis(200));
        loop {
            tick.tick().await;
            let now = Instant::now();
            let elapsed = now.saturating_duration_since(start);
            bar.set_position(u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX));
            let secs = elapsed.as_secs_f64().max(1e-3);
            #[allow(clippy::cast_precision_loss)]
            let sent = slots.claimed() as f64;
            bar.set_message(format!(
                "{} requests, {:.0}/s",
                slots.claimed(),
                sent / secs
            ));
            if now >= end {
                bar.finish_and_clear();
                break;
            }
        }
    })
}
