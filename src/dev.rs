//! `tradeplane dev`: the whole platform on one machine.
//!
//! Two shards run in-process (BTC-USD and ETH-USD on shard 1, SOL-USD on shard 2), each
//! with its own journal under `<data-dir>/shard-N`, behind the gateway. Tokens are signed
//! with `auth.hs256_secret` if configured, else with a secret generated once and kept in
//! `<data-dir>/dev-secret` (mode 0600). Everything stops on one [`CancellationToken`].
//!
//! Once the shards answer a ping and the gateway listens, the URLs, `export` lines with a
//! trader, an operator and an admin token, and finally [`READY_LINE`] go to standard output.

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::time::{Duration, SystemTime};

use gateway::auth::Role;
use matcher::AccountId;
use matcher::client::{ClientConfig, ShardClient};
use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::info;

mod control_plane;

use crate::Error;
use crate::cli::DevFlags;
use crate::config::{Config, GatewayMarket, MarketSpec};

/// Printed (alone on its line, to standard output) once every part serves.
pub const READY_LINE: &str = "tradeplane dev: ready (Ctrl-C or SIGTERM stops everything)";

/// Lifetime of the printed tokens.
const TOKEN_LIFETIME: Duration = Duration::from_secs(24 * 3600);

/// One dev market: engine rules, API precision, and the shard (0 or 1) that owns it.
struct DevMarket {
    spec: MarketSpec,
    price_decimals: u32,
    quantity_decimals: u32,
    shard: usize,
}

#[allow(clippy::too_many_arguments)] // One row of the market table.
fn market(
    id: u32,
    symbol: &str,
    (price_decimals, tick_size, min_price, max_price): (u32, u64, i64, i64),
    (quantity_decimals, lot_size, max_quantity): (u32, u64, u64),
    shard: usize,
) -> DevMarket {
    DevMarket {
        spec: MarketSpec {
            id,
            symbol: symbol.into(),
            tick_size,
            lot_size,
            min_price,
            max_price,
            max_quantity,
            max_resting_orders: 100_000,
        },
        price_decimals,
        quantity_decimals,
        shard,
    }
}

/// The dev market table.
fn markets() -> Vec<DevMarket> {
    vec![
        // Prices in cents, tick 1.00 USD, 1,000.00 to 200,000.00; quantities in satoshis,
        // lot 0.0001 BTC, at most 100 BTC.
        market(
            1,
            "BTC-USD",
            (2, 100, 100_000, 20_000_000),
            (8, 10_000, 10_000_000_000),
            0,
        ),
        // Tick 0.10 USD, 100.00 to 10,000.00; lot 0.001 ETH, at most 1,000 ETH.
        market(
            2,
            "ETH-USD",
            (2, 10, 10_000, 1_000_000),
            (6, 1_000, 1_000_000_000),
            0,
        ),
        // Tick 0.01 USD, 1.00 to 1,000.00; lot 0.01 SOL, at most 10,000 SOL.
        market(3, "SOL-USD", (2, 1, 100, 100_000), (4, 100, 100_000_000), 1),
    ]
}

/// Runs the dev platform until a signal (or a failing part) stops it.
///
/// # Errors
/// [`Error`] for bad configuration, a port in use, or a part that fails.
pub(crate) async fn run(mut config: Config, flags: &DevFlags) -> Result<(), Error> {
    let [port1, port2] = flags.shard_ports[..] else {
        return Err(Error::Startup(format!(
            "--shard-ports takes two ports (shard 1,shard 2), got {}",
            flags.shard_ports.len()
        )));
    };
    let listen = flags.listen.unwrap_or(config.gateway.listen);
    if config.auth.hs256_secret.is_none() {
        config.auth.hs256_secret = Some(dev_secret(&flags.data_dir)?);
    }

    let shard_listeners = [
        bind(SocketAddr::from(([127, 0, 0, 1], port1)), "shard 1").await?,
        bind(SocketAddr::from(([127, 0, 0, 1], port2)), "shard 2").await?,
    ];
    let shard_addrs = [
        local_addr(&shard_listeners[0])?,
        local_addr(&shard_listeners[1])?,
    ];
    let http = bind(listen, "the gateway").await?;
    let http_addr = local_addr(&http)?;

    let table = markets();
    config.markets = table.iter().map(|m| m.spec.clone()).collect();
    config.gateway.markets = table
        .iter()
        .map(|m| GatewayMarket {
            symbol: m.spec.symbol.clone(),
            price_decimals: m.price_decimals,
            quantity_decimals: m.quantity_decimals,
            shard: shard_addrs[m.shard],
        })
        .collect();
    let control_plane = control_plane::check(&config).await;
    if control_plane.is_err() {
        // The job routes then answer 503 `control_plane_unavailable`.
        config.gateway.control_plane = false;
    }
    let gateway_config = config.gateway()?;
    let mut worker_config = match &control_plane {
        Ok(_) => Some(config.worker()?),
        Err(_) => None,
    };
    // One set of job series: the gateway's /metrics shows the worker pool's starts and
    // outcomes beside its own enqueues.
    if let (Some(cp), Some(worker)) = (&gateway_config.control_plane, &mut worker_config) {
        worker.metrics = cp.metrics.clone();
    }
    let mut shard_configs = Vec::new();
    for n in 0..2 {
        let mut section = config.matcher.clone();
        section.markets = table
            .iter()
            .filter(|m| m.shard == n)
            .map(|m| m.spec.clone())
            .collect();
        section.data_dir = flags.data_dir.join(format!("shard-{}", n + 1));
        if flags.no_fsync {
            section.fsync = false;
        }
        shard_configs.push(section.shard()?);
    }
    let secret = config.auth.hs256_secret.clone().unwrap_or_default();
    let tokens = [
        ("TRADER_TOKEN", "trader", 1, Role::Trader),
        ("OPERATOR_TOKEN", "operator", 2, Role::Operator),
        ("ADMIN_TOKEN", "admin", 3, Role::Admin),
    ]
    .into_iter()
    .map(|(var, subject, account, role)| {
        gateway::auth::mint_hs256(
            secret.as_bytes(),
            &config.auth.issuer,
            &config.auth.audience,
            subject,
            AccountId(account),
            &[role],
            TOKEN_LIFETIME,
            SystemTime::now(),
        )
        .map(|t| (var, subject, account, t))
        .map_err(|e| Error::Token(e.to_string()))
    })
    .collect::<Result<Vec<_>, _>>()?;

    let shutdown = CancellationToken::new();
    crate::signals::cancel_on_signal(shutdown.clone());
    let mut parts: JoinSet<Result<(), Error>> = JoinSet::new();
    for (shard, listener) in shard_configs.into_iter().zip(shard_listeners) {
        let stop = shutdown.clone();
        parts.spawn(async move { Ok(matcher::shard::run(shard, listener, stop).await?) });
    }
    let stop = shutdown.clone();
    parts.spawn(async move { Ok(gateway::app::run(gateway_config, http, stop).await?) });
    if let Some(worker) = worker_config {
        let stop = shutdown.clone();
        parts.spawn(async move {
            let report = workers::run(worker, stop).await?;
            info!(?report, "worker pool stopped");
            Ok(())
        });
    }

    let ready = async {
        for addr in shard_addrs {
            wait_for_shard(addr).await;
        }
    };
    let mut failure = None;
    tokio::select! {
        () = ready => {
            let mut out = String::new();
            out.push_str(&format!("tradeplane dev: gateway http://{http_addr}\n"));
            for (n, addr) in shard_addrs.iter().enumerate() {
                let symbols: Vec<&str> = table
                    .iter()
                    .filter(|m| m.shard == n)
                    .map(|m| m.spec.symbol.as_str())
                    .collect();
                out.push_str(&format!(
                    "tradeplane dev: shard {} on {addr} ({}), journal {}\n",
                    n + 1,
                    symbols.join(", "),
                    flags.data_dir.join(format!("shard-{}", n + 1)).display()
                ));
            }
            match &control_plane {
                Ok(what) => out.push_str(&format!("tradeplane dev: control plane on: {what}\n")),
                Err(why) => out.push_str(&format!(
                    "tradeplane dev: control plane OFF ({why}); job routes answer 503\n"
                )),
            }
            out.push_str("# Tokens (HS256, valid 24 h); paste into a shell:\n");
            out.push_str(&format!("export GATEWAY=http://{http_addr}\n"));
            for (var, subject, account, token) in &tokens {
                out.push_str(&format!(
                    "export {var}={token}   # sub={subject} account={account} role={subject}\n"
                ));
            }
            out.push_str(READY_LINE);
            out.push('\n');
            let mut stdout = std::io::stdout().lock();
            stdout
                .write_all(out.as_bytes())
                .and_then(|()| stdout.flush())
                .map_err(|e| Error::Startup(format!("cannot write to standard output: {e}")))?;
            info!(gateway = %http_addr, "dev platform ready");
        }
        () = shutdown.cancelled() => {}
        Some(done) = parts.join_next() => note(done, &shutdown, &mut failure),
    }
    while let Some(done) = parts.join_next().await {
        note(done, &shutdown, &mut failure);
    }
    failure.map_or(Ok(()), Err)
}

/// Records how a part ended: a failure, or stopping before shutdown was asked for, stops
/// the rest and becomes the result (the first one wins).
fn note(
    done: Result<Result<(), Error>, tokio::task::JoinError>,
    shutdown: &CancellationToken,
    failure: &mut Option<Error>,
) {
    let error = match done {
        Err(e) => Some(Error::Startup(format!("a part panicked: {e}"))),
        Ok(Err(e)) => Some(e),
        Ok(Ok(())) if !shutdown.is_cancelled() => {
            Some(Error::Startup("a part stopped unexpectedly".into()))
        }
        Ok(Ok(())) => None,
    };
    if let Some(e) = error {
        shutdown.cancel();
        failure.get_or_insert(e);
    }
}

async fn bind(addr: SocketAddr, what: &str) -> Result<TcpListener, Error> {
    TcpListener::bind(addr)
        .await
        .map_err(|e| Error::Startup(format!("cannot listen on {addr} for {what}: {e}")))
}

fn local_addr(l: &TcpListener) -> Result<SocketAddr, Error> {
    l.local_addr()
        .map_err(|e| Error::Startup(format!("no local address: {e}")))
}

/// Waits until the shard at `addr` answers a ping (recovery done, serving).
async fn wait_for_shard(addr: SocketAddr) {
    let client = ShardClient::new(ClientConfig::new(addr));
    loop {
        if let Ok(Ok(_)) = tokio::time::timeout(Duration::from_secs(2), client.ping()).await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The secret in `<dir>/dev-secret`, created (0600, 32 random bytes as hex) if absent.
fn dev_secret(dir: &Path) -> Result<String, Error> {
    let path = dir.join("dev-secret");
    let fail = |what: &str, e: std::io::Error| {
        Error::Startup(format!(
            "cannot {what} the dev secret {}: {e}",
            path.display()
        ))
    };
    match std::fs::read_to_string(&path) {
        Ok(s) => return Ok(s.trim().to_owned()),
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(fail("read", e)),
        Err(_) => {}
    }
    std::fs::create_dir_all(dir).map_err(|e| fail("create the directory of", e))?;
    let mut bytes = [0u8; 32];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .map_err(|e| fail("generate", e))?;
    let secret: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .map_err(|e| fail("create", e))?;
    file.write_all(secret.as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(|e| fail("write", e))?;
    Ok(secret)
}
