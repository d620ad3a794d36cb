//! Starts one shard (AAA-USD) and a gateway in front of it, and mints tokens: the minimal
//! part of `gateway/tests/it/harness.rs` that these tests need.

use std::time::{Duration, SystemTime};

use gateway::auth::{AuthConfig, Hs256Secret, Role, mint_hs256};
use gateway::config::{GatewayConfig, MarketRoute};
use gateway::decimal::Precision;
use matcher::shard::{self, ShardConfig, WaitStrategy};
use matcher::{AccountId, EngineConfig, MarketConfig, MarketId, Price, Quantity, Symbol};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tradeplane_sdk::Client;

const SECRET: &[u8] = b"sdk-integration-test-secret-32-bytes!";
const ISSUER: &str = "https://issuer.test";
const AUDIENCE: &str = "tradeplane";

pub(crate) struct Stack {
    pub(crate) base: String,
    stop: CancellationToken,
    gateway: JoinHandle<()>,
    shard: JoinHandle<()>,
    _dir: tempfile::TempDir,
}

impl Stack {
    /// AAA-USD (prices with 2 decimals, tick 0.05; quantities with 3 decimals, lot 0.001)
    /// on one shard, and a gateway in front of it. Both listeners are bound before this
    /// returns, so the first request needs no waiting.
    pub(crate) async fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let stop = CancellationToken::new();
        let market = MarketConfig::new(
            MarketId(1),
            Symbol::new("AAA-USD").unwrap(),
            5,
            1,
            Price(5),
            Price(100_000),
            Quantity(1_000_000),
            10_000,
        )
        .unwrap();

        let engine = EngineConfig {
            markets: vec![market],
            client_id_window: 1024,
        };
        let mut shard_config = ShardConfig::new(engine, dir.path().to_owned());
        shard_config.segment_size = 256 * 1024;
        shard_config.wait = WaitStrategy::SpinThenPark;
        shard_config.snapshot_every = 0;
        let shard_listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let shard_addr = shard_listener.local_addr().unwrap();
        let shard_stop = stop.clone();
        let shard = tokio::spawn(async move {
            shard::run(shard_config, shard_listener, shard_stop)
                .await
                .unwrap();
        });

        let mut auth = AuthConfig::new(ISSUER, AUDIENCE);
        auth.hs256_secret = Some(Hs256Secret::new(SECRET).unwrap());
        let route = MarketRoute {
            market,
            precision: Precision::new(2, 3).unwrap(),
            shard: shard_addr,
        };
        let config = GatewayConfig::new(auth, vec![route]);
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let gateway_stop = stop.clone();
        let gateway = tokio::spawn(async move {
            gateway::app::run(config, listener, gateway_stop)
                .await
                .unwrap();
        });
        Self {
            base,
            stop,
            gateway,
            shard,
            _dir: dir,
        }
    }

    /// An SDK client authenticated as a trader of `account`.
    pub(crate) fn trader(&self, account: u64) -> Client {
        let token = mint_hs256(
            SECRET,
            ISSUER,
            AUDIENCE,
            &format!("trader-{account}"),
            AccountId(account),
            &[Role::Trader],
            Duration::from_secs(600),
            SystemTime::now(),
        )
        .unwrap();
        Client::with_bearer_token(&self.base, &token).unwrap()
    }

    /// An SDK client that sends no token.
    pub(crate) fn anonymous(&self) -> Client {
        Client::new(&self.base)
    }

    pub(crate) async fn stop(self) {
        self.stop.cancel();
        self.gateway.await.unwrap();
        self.shard.await.unwrap();
    }
}
