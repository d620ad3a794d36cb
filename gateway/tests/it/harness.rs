//! Starts a shard and a gateway in-process, mints tokens, and reads problem answers.

use std::net::SocketAddr;
use std::time::{Duration, SystemTime};

use gateway::auth::{AuthConfig, Hs256Secret, Role, mint_hs256};
use gateway::config::{GatewayConfig, MarketRoute};
use gateway::decimal::Precision;
use matcher::shard::{self, ShardConfig, WaitStrategy};
use matcher::{AccountId, EngineConfig, MarketConfig, MarketId, Price, Quantity, Symbol};
use reqwest::{Method, Response, StatusCode};
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub(crate) const SECRET: &[u8] = b"integration-test-secret-of-32-bytes!!";
pub(crate) const ISSUER: &str = "https://issuer.test";
pub(crate) const AUDIENCE: &str = "tradeplane";

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
    _dir: tempfile::TempDir,
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
            http: reqwest::Client::new(),
            stop,
            gateway,
            shards,
            _dir: dir,
        }
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub(crate) async fn get(&self, path: &str, token: &str) -> Response {
        self.http
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }

    pub(crate) async fn delete(&self, path: &str, token: &str) -> Response {
        self.http
            .delete(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }

    pub(crate) async fn post(&self, path: &str, token: &str, body: &Value) -> Response {
        self.http
            .post(self.url(path))
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    /// Any request: `token` `None` sends no `Authorization`, `body` `None` no body.
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

    /// `POST /v1/admin/policies/reload` (no body).
    pub(crate) async fn reload_policy(&self, token: &str) -> Response {
        self.send(Method::POST, "/v1/admin/policies/reload", Some(token), None)
            .await
    }

    /// Places a resting limit order and returns its id.
    pub(crate) async fn place_limit(&self, token: &str, side: &str, price: &str) -> String {
        let res = self
            .post(
                "/v1/orders",
                token,
                &serde_json::json!({
                    "symbol": "AAA-USD", "side": side, "type": "limit",
                    "price": price, "quantity": "1.500",
                }),
            )
            .await;
        assert_eq!(res.status(), StatusCode::CREATED);
        let body: Value = res.json().await.unwrap();
        body["id"].as_str().unwrap().to_owned()
    }

    pub(crate) async fn stop(self) {
        self.stop.cancel();
        self.gateway.await.unwrap();
        for shard in self.shards {
            shard.await.unwrap();
        }
    }
}

async fn spawn_shard(
    dir: &std::path::Path,
    markets: Vec<MarketConfig>,
    stop: &CancellationToken,
) -> (SocketAddr, JoinHandle<()>) {
    std::fs::create_dir_all(dir).unwrap();
    let engine = EngineConfig {
        markets,
        client_id_window: 1024,
    };
    let mut config = ShardConfig::new(engine, dir.to_owned());
    config.segment_size = 256 * 1024;
    config.wait = WaitStrategy::SpinThenPark;
    config.snapshot_every = 0;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let stop = stop.clone();
    let task = tokio::spawn(async move {
        shard::run(config, listener, stop).await.unwrap();
    });
    (addr, task)
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

/// Asserts a problem+json answer with this status and code; returns its body.
pub(crate) async fn problem(res: Response, status: StatusCode, code: &str) -> Value {
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
