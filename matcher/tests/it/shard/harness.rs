//! A shard server started in-process on a free port, a client for it, and orders to send.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use matcher::client::{ClientConfig, ShardClient};
use matcher::shard::{ShardConfig, WaitStrategy};
use matcher::{
    AccountId, ClientOrderId, CommandKind, EngineConfig, MarketConfig, MarketId, NewOrder,
    OrderType, Price, Quantity, Side, StpMode, Symbol, TimeInForce, shard,
};
use tokio::net::TcpListener;
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
