//! Starts a shard and a gateway in-process, mints tokens, hands out SDK clients, and reads
//! problem answers.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use futures_util::StreamExt;
use gateway::auth::{AuthConfig, Hs256Secret, Role, mint_hs256};
use gateway::config::{GatewayConfig, MarketRoute};
use gateway::decimal::Precision;
use matcher::shard::{self, ShardConfig, WaitStrategy};
use matcher::{AccountId, EngineConfig, MarketConfig, MarketId, Price, Quantity, Symbol};
use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderValue};
use reqwest::{Method, Response, StatusCode};
use serde_json::Value;
use tokio::net::{TcpListener, TcpSocket};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tradeplane_sdk::types::{ApiOrderType, ApiSide, PlaceOrder, Problem};
use tradeplane_sdk::{Client, Error, ResponseValue};

pub(crate) const SECRET: &[u8] = b"integration-test-secret-of-32-bytes!!";
pub(crate) const ISSUER: &str = "https://issuer.test";
pub(crate) const AUDIENCE: &str = "tradeplane";

/// Longest wait for a stopped shard's address to become bindable again.
const REBIND_DEADLINE: Duration = Duration::from_secs(10);

/// AAA-USD: prices with 2 decimals and a tick of 0.05; quantities with 3 decimals, lot 0.001.
pub(crate) fn market(id: u32, symbol: &str) -> MarketConfig {
    MarketConfig::new(
        MarketId(id),
        Symbol::new(symbol).unwrap(),
        5,
        1,
        Price(5),
        Price(100_000),
        Quantity(1_000_000),
        10_000,
    )
    .unwrap()
}

pub(crate) fn precision() -> Precision {
    Precision::new(2, 3).unwrap()
}

pub(crate) struct Stack {
    pub(crate) base: String,
    pub(crate) http: reqwest::Client,
    stop: CancellationToken,
    gateway: JoinHandle<()>,
    shards: Vec<JoinHandle<()>>,
    /// The shard of [`Self::start_restartable`], which a test stops and starts alone.
    restartable: Option<RestartableShard>,
    _dir: tempfile::TempDir,
}

/// A shard with its own cancellation token (a child of the stack's), so that it can be
/// stopped alone and started again on the same data directory and address while the
/// gateway keeps running.
struct RestartableShard {
    addr: SocketAddr,
    dir: PathBuf,
    markets: Vec<MarketConfig>,
    /// The stack's token: cancelling it stops the shard too.
    parent: CancellationToken,
    /// The running shard's own token and task; `None` while stopped.
    running: Option<(CancellationToken, JoinHandle<()>)>,
}

impl RestartableShard {
    /// Serves on `listener` until [`Self::stop`] or the stack stops.
    fn serve(&mut self, listener: TcpListener) {
        assert!(self.running.is_none(), "the shard is already running");
        let stop = self.parent.child_token();
        let config = shard_config(&self.dir, self.markets.clone());
        let token = stop.clone();
        let task = tokio::spawn(async move {
            shard::run(config, listener, token).await.unwrap();
        });
        self.running = Some((stop, task));
    }

    /// Stops the shard and waits until it has drained, synced its journal and closed its
    /// listener.
    async fn stop(&mut self) {
        let (stop, task) = self.running.take().expect("the shard is not running");
        stop.cancel();
        task.await.unwrap();
    }
}

impl Stack {
    /// A shard serving AAA-USD and BBB-USD, and a gateway in front of it.
    pub(crate) async fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let stop = CancellationToken::new();
        let markets = vec![market(1, "AAA-USD"), market(2, "BBB-USD")];
        let (addr, shard) = spawn_shard(&dir.path().join("s0"), markets.clone(), &stop).await;
        let routes = markets.into_iter().map(|m| route(m, addr)).collect();
        Self::with_routes(routes, dir, stop, vec![shard]).await
    }

    /// As [`Self::start`], with the gateway's configuration adjusted by `configure`.
    pub(crate) async fn start_configured(configure: impl FnOnce(&mut GatewayConfig)) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let stop = CancellationToken::new();
        let markets = vec![market(1, "AAA-USD"), market(2, "BBB-USD")];
        let (addr, shard) = spawn_shard(&dir.path().join("s0"), markets.clone(), &stop).await;
        let routes = markets.into_iter().map(|m| route(m, addr)).collect();
        Self::with_config(routes, dir, stop, vec![shard], configure).await
    }

    /// As [`Self::start`], with the job routes on `control_plane`'s database and prefix.
    pub(crate) async fn start_with_control_plane(
        control_plane: &crate::job_support::TestControlPlane,
    ) -> Self {
        let config = control_plane.config();
        Self::start_configured(|c| c.control_plane = Some(config)).await
    }

    /// As [`Self::start`], with a shard that [`Self::stop_shard`] and
    /// [`Self::restart_shard`] stop and start again while the gateway keeps running.
    pub(crate) async fn start_restartable() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let stop = CancellationToken::new();
        let markets = vec![market(1, "AAA-USD"), market(2, "BBB-USD")];
        let shard_dir = dir.path().join("s0");
        std::fs::create_dir_all(&shard_dir).unwrap();
        let listener = bind_restartable();
        let addr = listener.local_addr().unwrap();
        let mut shard = RestartableShard {
            addr,
            dir: shard_dir,
            markets: markets.clone(),
            parent: stop.clone(),
            running: None,
        };
        shard.serve(listener);
        let routes = markets.into_iter().map(|m| route(m, addr)).collect();
        let mut stack = Self::with_routes(routes, dir, stop, Vec::new()).await;
        stack.restartable = Some(shard);
        stack
    }

    /// Stops the shard of [`Self::start_restartable`] (the gateway keeps running) and
    /// waits until it has stopped.
    pub(crate) async fn stop_shard(&mut self) {
        let shard = self.restartable.as_mut().expect("not a restartable stack");
        shard.stop().await;
    }

    /// Starts the shard of [`Self::start_restartable`] again on the same data directory
    /// and address. The address is normally bindable at once (`SO_REUSEADDR` lets a
    /// listener bind over the old connections' `TIME_WAIT`); if it is not, binding is
    /// retried until [`REBIND_DEADLINE`].
    pub(crate) async fn restart_shard(&mut self) {
        let shard = self.restartable.as_mut().expect("not a restartable stack");
        let addr = shard.addr;
        let listener = tokio::time::timeout(REBIND_DEADLINE, async {
            loop {
                match bind_reusing(addr) {
                    Ok(listener) => return listener,
                    Err(_) => tokio::task::yield_now().await,
                }
            }
        })
        .await
        .unwrap_or_else(|_| panic!("{addr} could not be bound again in {REBIND_DEADLINE:?}"));
        shard.serve(listener);
    }

    /// Starts the stopped shard of [`Self::start_restartable`] on a new address that the
    /// gateway does not know, and returns it: what the test does there is journalled while
    /// the gateway's feed cannot see it (as when the gateway is cut off from a shard that
    /// keeps trading). [`Self::stop_shard`] stops it again.
    pub(crate) async fn start_shard_aside(&mut self) -> SocketAddr {
        let shard = self.restartable.as_mut().expect("not a restartable stack");
        let mut listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        if listener.local_addr().unwrap() == shard.addr {
            // The shard's own port, free while it is down: take another while holding it.
            listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        }
        let addr = listener.local_addr().unwrap();
        shard.serve(listener);
        addr
    }

    /// Two shards, AAA-USD on the first and BBB-USD on the second.
    pub(crate) async fn start_two_shards() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let stop = CancellationToken::new();
        let (a, sa) = spawn_shard(&dir.path().join("s0"), vec![market(1, "AAA-USD")], &stop).await;
        let (b, sb) = spawn_shard(&dir.path().join("s1"), vec![market(2, "BBB-USD")], &stop).await;
        let routes = vec![
            route(market(1, "AAA-USD"), a),
            route(market(2, "BBB-USD"), b),
        ];
        Self::with_routes(routes, dir, stop, vec![sa, sb]).await
    }

    /// A gateway whose only market (CCC-USD) is on a shard that is not running.
    pub(crate) async fn start_with_dead_shard() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let closed = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap()
        };
        let routes = vec![route(market(3, "CCC-USD"), closed)];
        Self::with_routes(routes, dir, CancellationToken::new(), Vec::new()).await
    }

    /// A gateway (request timeout 300 ms) whose only market (CCC-USD) is on a "shard" that
    /// accepts connections and never answers.
    pub(crate) async fn start_with_silent_shard() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let stop = CancellationToken::new();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let silent_stop = stop.clone();
        let silent = tokio::spawn(async move {
            let mut held = Vec::new();
            loop {
                tokio::select! {
                    () = silent_stop.cancelled() => return,
                    accepted = listener.accept() => held.push(accepted.unwrap().0),
                }
            }
        });
        let routes = vec![route(market(3, "CCC-USD"), addr)];
        Self::with_routes_and_timeout(routes, dir, stop, vec![silent], Duration::from_millis(300))
            .await
    }

    async fn with_routes(
        routes: Vec<MarketRoute>,
        dir: tempfile::TempDir,
        stop: CancellationToken,
        shards: Vec<JoinHandle<()>>,
    ) -> Self {
        Self::with_routes_and_timeout(routes, dir, stop, shards, Duration::from_secs(2)).await
    }

    async fn with_routes_and_timeout(
        routes: Vec<MarketRoute>,
        dir: tempfile::TempDir,
        stop: CancellationToken,
        shards: Vec<JoinHandle<()>>,
        request_timeout: Duration,
    ) -> Self {
        Self::with_config(routes, dir, stop, shards, |c| {
            c.request_timeout = request_timeout;
        })
        .await
    }

    async fn with_config(
        routes: Vec<MarketRoute>,
        dir: tempfile::TempDir,
        stop: CancellationToken,
        shards: Vec<JoinHandle<()>>,
        configure: impl FnOnce(&mut GatewayConfig),
    ) -> Self {
        let mut auth = AuthConfig::new(ISSUER, AUDIENCE);
        auth.hs256_secret = Some(Hs256Secret::new(SECRET).unwrap());
        let mut config = GatewayConfig::new(auth, routes);
        configure(&mut config);
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let gateway_stop = stop.clone();
        let gateway = tokio::spawn(async move {
            gateway::app::run(config, listener, gateway_stop)
                .await
                .unwrap();
        });
        Self {
            base: format!("http://{addr}"),
            http: plain_http(HeaderMap::new()),
            stop,
            gateway,
            shards,
            restartable: None,
            _dir: dir,
        }
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// An SDK client that sends `token` as its bearer token: how the tests make the REST
    /// calls a real client can make.
    ///
    /// What `Client::with_bearer_token` builds, minus the TLS roots (see [`plain_http`]).
    pub(crate) fn sdk(&self, token: &str) -> Client {
        let mut auth = HeaderValue::from_str(&format!("Bearer {token}")).unwrap();
        auth.set_sensitive(true);
        let headers = HeaderMap::from_iter([(AUTHORIZATION, auth)]);
        Client::new_with_client(&self.base, plain_http(headers))
    }

    /// An SDK client that sends no `Authorization` header.
    pub(crate) fn anonymous(&self) -> Client {
        Client::new_with_client(&self.base, plain_http(HeaderMap::new()))
    }

    /// `GET /metrics` through the SDK, which hands out the OpenMetrics text as a byte
    /// stream.
    pub(crate) async fn metrics(&self) -> String {
        let res = self.anonymous().metrics().send().await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        let mut stream = res.into_inner_stream();
        let mut text = Vec::new();
        while let Some(chunk) = stream.next().await {
            text.extend_from_slice(&chunk.unwrap());
        }
        String::from_utf8(text).unwrap()
    }

    /// A raw request, for what the SDK cannot send (malformed or foreign bodies and
    /// headers, unknown routes, the WebSocket route): `token` `None` sends no
    /// `Authorization`, `body` `None` no body.
    pub(crate) async fn send(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> Response {
        let mut request = self.http.request(method, self.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        request.send().await.unwrap()
    }

    /// A raw `GET` with a bearer token.
    pub(crate) async fn get(&self, path: &str, token: &str) -> Response {
        self.send(Method::GET, path, Some(token), None).await
    }

    /// A raw `POST` of a JSON body with a bearer token.
    pub(crate) async fn post(&self, path: &str, token: &str, body: &Value) -> Response {
        self.send(Method::POST, path, Some(token), Some(body)).await
    }

    /// Places a resting limit order (1.500 AAA-USD) through the SDK and returns its id.
    pub(crate) async fn place_limit(&self, token: &str, side: ApiSide, price: &str) -> String {
        let placed = self
            .sdk(token)
            .place_order()
            .body(limit(side, price))
            .send()
            .await
            .unwrap();
        assert_eq!(placed.status(), StatusCode::CREATED);
        placed.into_inner().id
    }

    pub(crate) async fn stop(self) {
        self.stop.cancel();
        self.gateway.await.unwrap();
        for shard in self.shards {
            shard.await.unwrap();
        }
        if let Some((_, task)) = self.restartable.and_then(|s| s.running) {
            task.await.unwrap();
        }
    }
}

/// An HTTP client for the gateway on loopback, sending `headers` on every request, with
/// the SDK's 15 s timeouts.
///
/// Without TLS roots: the tests speak plain HTTP, and loading the platform's roots (what
/// `reqwest::Client::new` and the SDK's constructors do) takes ~30 ms per client in a debug
/// build, which the hundreds of clients the tests build (one per token) would turn into
/// seconds.
fn plain_http(headers: HeaderMap) -> reqwest::Client {
    const TIMEOUT: Duration = Duration::from_secs(15);
    reqwest::Client::builder()
        .tls_certs_only([])
        .default_headers(headers)
        .connect_timeout(TIMEOUT)
        .timeout(TIMEOUT)
        .build()
        .unwrap()
}

async fn spawn_shard(
    dir: &std::path::Path,
    markets: Vec<MarketConfig>,
    stop: &CancellationToken,
) -> (SocketAddr, JoinHandle<()>) {
    std::fs::create_dir_all(dir).unwrap();
    let config = shard_config(dir, markets);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let stop = stop.clone();
    let task = tokio::spawn(async move {
        shard::run(config, listener, stop).await.unwrap();
    });
    (addr, task)
}

fn shard_config(dir: &std::path::Path, markets: Vec<MarketConfig>) -> ShardConfig {
    let engine = EngineConfig {
        markets,
        client_id_window: 1024,
    };
    let mut config = ShardConfig::new(engine, dir.to_owned());
    config.segment_size = 256 * 1024;
    config.wait = WaitStrategy::SpinThenPark;
    config.snapshot_every = 0;
    config
}

/// A listener on `addr` with `SO_REUSEADDR` (as `TcpListener::bind` sets on Unix, made
/// explicit because rebinding a just-closed port depends on it).
fn bind_reusing(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = TcpSocket::new_v4()?;
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(1024)
}

/// The listener of a shard that will be stopped and started again on its address.
///
/// While the shard is down its port is free, and a port the kernel hands out for `bind(0)`
/// (other tests in this binary start shards and gateways in parallel) or for an outgoing
/// connection could go to someone else: then the restart could not bind it, or the gateway
/// would reach the wrong server. So where the kernel says which ports it hands out (Linux),
/// pick a random free one below that range.
fn bind_restartable() -> TcpListener {
    use std::hash::{BuildHasher, RandomState};
    const LOWEST: u16 = 10_000;
    let ephemeral_low = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|range| range.split_whitespace().next()?.parse::<u16>().ok())
        .filter(|low| *low > LOWEST + 1000);
    if let Some(low) = ephemeral_low {
        let span = u64::from(low - LOWEST);
        // A random start (`RandomState` is randomly keyed), so concurrent runs differ.
        let start = RandomState::new().hash_one(std::process::id()) % span;
        for i in 0..256 {
            // 7919 is prime: unless `span` is a multiple of it, the attempts are distinct.
            let port = LOWEST + u16::try_from((start + i * 7919) % span).unwrap();
            if let Ok(listener) = bind_reusing(SocketAddr::from(([127, 0, 0, 1], port))) {
                return listener;
            }
        }
    }
    bind_reusing(SocketAddr::from(([127, 0, 0, 1], 0))).unwrap()
}

fn route(market: MarketConfig, shard: SocketAddr) -> MarketRoute {
    MarketRoute {
        market,
        precision: precision(),
        shard,
    }
}

/// A configuration for tests that build an `AppState` without serving: the test keys and
/// one market (AAA-USD) on a shard address that is never dialled.
pub(crate) fn config() -> GatewayConfig {
    let mut auth = AuthConfig::new(ISSUER, AUDIENCE);
    auth.hs256_secret = Some(Hs256Secret::new(SECRET).unwrap());
    let shard = SocketAddr::from(([127, 0, 0, 1], 9));
    GatewayConfig::new(auth, vec![route(market(1, "AAA-USD"), shard)])
}

pub(crate) fn token(subject: &str, account: u64, roles: &[Role]) -> String {
    token_at(
        subject,
        account,
        roles,
        SystemTime::now(),
        Duration::from_secs(600),
    )
}

pub(crate) fn token_at(
    subject: &str,
    account: u64,
    roles: &[Role],
    now: SystemTime,
    lifetime: Duration,
) -> String {
    mint_hs256(
        SECRET,
        ISSUER,
        AUDIENCE,
        subject,
        AccountId(account),
        roles,
        lifetime,
        now,
    )
    .unwrap()
}

pub(crate) fn trader(account: u64) -> String {
    token(&format!("trader-{account}"), account, &[Role::Trader])
}

/// A limit order for 1.500 AAA-USD.
pub(crate) fn limit(side: ApiSide, price: &str) -> PlaceOrder {
    order("AAA-USD", side, Some(price), "1.500")
}

/// An order with the required fields only: a limit order at `price`, or a market order
/// when `price` is `None`.
pub(crate) fn order(
    symbol: &str,
    side: ApiSide,
    price: Option<&str>,
    quantity: &str,
) -> PlaceOrder {
    PlaceOrder {
        symbol: symbol.to_owned(),
        side,
        type_: if price.is_some() {
            ApiOrderType::Limit
        } else {
            ApiOrderType::Market
        },
        price: price.map(str::to_owned),
        quantity: quantity.to_owned(),
        client_order_id: None,
        post_only: None,
        stp: None,
        time_in_force: None,
    }
}

/// The HTTP status an SDK call answered with, success or documented problem; anything
/// else (an undocumented status, a transport error) fails the test.
pub(crate) fn status<T: std::fmt::Debug>(
    result: &Result<ResponseValue<T>, Error<Problem>>,
) -> StatusCode {
    match result {
        Ok(value) => value.status(),
        Err(Error::ErrorResponse(problem)) => problem.status(),
        Err(other) => panic!("expected an answer, got {other:?}"),
    }
}

/// Asserts that an SDK call answered the documented problem+json with this status and
/// code; returns it, headers included.
pub(crate) fn problem<T: std::fmt::Debug>(
    result: Result<ResponseValue<T>, Error<Problem>>,
    status: StatusCode,
    code: &str,
) -> ResponseValue<Problem> {
    let problem = match result {
        Err(Error::ErrorResponse(problem)) => problem,
        other => panic!("expected a {status} {code} problem, got {other:?}"),
    };
    assert_eq!(problem.status(), status, "{problem:?}");
    assert_eq!(
        problem.headers()["content-type"],
        "application/problem+json",
        "{problem:?}"
    );
    assert_eq!(problem.code, code, "{problem:?}");
    assert_eq!(problem.status, u32::from(status.as_u16()), "{problem:?}");
    problem
}

/// Asserts a raw problem+json answer with this status and code; returns its body (with
/// any extension members, which the SDK's typed `Problem` does not carry).
pub(crate) async fn raw_problem(res: Response, status: StatusCode, code: &str) -> Value {
    assert_eq!(res.status(), status);
    assert_eq!(
        res.headers()["content-type"].to_str().unwrap(),
        "application/problem+json"
    );
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["code"], code, "{body}");
    assert_eq!(body["status"], status.as_u16(), "{body}");
    body
}
