//! The command line: one binary, a subcommand per role.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Parser, Subcommand};
use matcher::MarketConfig;
use serde_json::{Map, Value, json};

use crate::config::MarketSpec;

/// `tradeplane`: every role of the platform in one binary.
#[derive(Debug, Parser)]
#[command(name = "tradeplane", version, about)]
pub struct Cli {
    /// Configuration file (TOML). Layers: defaults < file < `TRADEPLANE_*` environment <
    /// flags.
    #[arg(long, global = true, env = "TRADEPLANE_CONFIG")]
    pub config: Option<PathBuf>,
    /// Log format.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Json)]
    pub log_format: LogFormat,
    /// The role to run.
    #[command(subcommand)]
    pub command: Command,
}

/// How logs are written (to standard error).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// One JSON object per line.
    Json,
    /// Human-readable lines.
    Pretty,
}

/// The roles.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve one matcher shard: order entry and the event feed.
    Matcher(MatcherFlags),
    /// Serve the HTTP gateway (`[gateway]`, `[auth]`, market rules from `[[markets]]`).
    Gateway(GatewayFlags),
    /// Run the whole platform on this machine: two shards and the gateway, with dev tokens.
    Dev(DevFlags),
    /// Mint an HS256 token for development (uses `auth.hs256_secret`).
    Token(TokenFlags),
    /// Print the gateway's OpenAPI 3.1 document (the committed `openapi/openapi.json`).
    Openapi,
    /// Load the gateway's REST API at a constant rate and report latencies.
    Loadgen(LoadgenFlags),
    /// Create the control plane's database if missing and apply its migrations
    /// (`[postgres]`).
    Migrate(MigrateFlags),
    /// Run jobs from the control plane's queues (`[worker]`, `[postgres]`, `[redis]`) until
    /// SIGTERM, then finish or hand back in-flight jobs.
    Worker(WorkerFlags),
    /// Measure end-to-end job throughput: worker processes, jobs enqueued in batches, all
    /// in a database and Redis prefix of the run's own (`[postgres]`, `[redis]`).
    BenchJobs(BenchJobsFlags),
}

/// Flags of `tradeplane bench-jobs`.
#[derive(Debug, clap::Args)]
pub struct BenchJobsFlags {
    /// Jobs to run (noop handler).
    #[arg(long, default_value_t = 100_000)]
    pub jobs: usize,
    /// Worker processes.
    #[arg(long, default_value_t = 4)]
    pub workers: usize,
    /// Job slots per worker process.
    #[arg(long, default_value_t = 256)]
    pub concurrency: usize,
    /// Jobs per enqueue transaction.
    #[arg(long, default_value_t = 1_000)]
    pub batch: usize,
    /// Kill a worker with SIGKILL every this many seconds (and start another).
    #[arg(long)]
    pub kill_every: Option<f64>,
    /// Give up when no job finished for this many seconds.
    #[arg(long, default_value_t = 60.0)]
    pub stall_timeout: f64,
    /// Keep the run's database and Redis keys.
    #[arg(long)]
    pub keep: bool,
}

/// Flags of `tradeplane worker`.
#[derive(Debug, Default, clap::Args)]
pub struct WorkerFlags {
    /// Jobs run at once (overrides `worker.concurrency`).
    #[arg(long)]
    pub concurrency: Option<usize>,
    /// A queue to consume (repeat, or separate with commas; replaces `worker.queues`).
    #[arg(long = "queue", value_delimiter = ',')]
    pub queues: Vec<String>,
    /// Print the effective configuration as JSON and exit.
    #[arg(long)]
    pub print_config: bool,
}

impl WorkerFlags {
    /// The flags that were given, as a configuration layer.
    #[must_use]
    pub fn overrides(&self) -> Value {
        let mut m = Map::new();
        if let Some(n) = self.concurrency {
            m.insert("concurrency".into(), json!(n));
        }
        if !self.queues.is_empty() {
            m.insert("queues".into(), json!(self.queues));
        }
        json!({ "worker": m })
    }
}

/// Flags of `tradeplane migrate`.
#[derive(Debug, Default, clap::Args)]
pub struct MigrateFlags {
    /// The database URL (overrides `postgres.url`).
    #[arg(long)]
    pub url: Option<String>,
    /// Fail instead of creating a missing database.
    #[arg(long)]
    pub no_create_database: bool,
}

impl MigrateFlags {
    /// The flags that were given, as a configuration layer.
    #[must_use]
    pub fn overrides(&self) -> Value {
        let mut m = Map::new();
        if let Some(url) = &self.url {
            m.insert("url".into(), json!(url));
        }
        json!({ "postgres": m })
    }
}

/// Flags of `tradeplane loadgen`.
#[derive(Debug, clap::Args)]
pub struct LoadgenFlags {
    /// The gateway's base URL.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    pub url: String,
    /// Requests per second offered, or `max` to send as fast as answers come back.
    #[arg(long, default_value = "max", value_parser = parse_rate)]
    pub rate: Rate,
    /// Measured seconds.
    #[arg(long, default_value_t = 10.0)]
    pub duration: f64,
    /// Unmeasured seconds first.
    #[arg(long, default_value_t = 2.0)]
    pub warmup: f64,
    /// Keep-alive connections.
    #[arg(long, default_value_t = 32)]
    pub connections: usize,
    /// What to call.
    #[arg(long, value_enum, default_value_t = crate::loadgen::Endpoint::Orders)]
    pub endpoint: crate::loadgen::Endpoint,
    /// The market to trade (default: the first the gateway lists).
    #[arg(long)]
    pub symbol: Option<String>,
    /// Bearer tokens to use (repeat for several). Without any, tokens are minted with
    /// `auth.hs256_secret` or `--secret-file`.
    #[arg(long = "token")]
    pub tokens: Vec<String>,
    /// A file holding the HS256 secret (`tradeplane dev` keeps one in `data/dev/dev-secret`,
    /// read when it exists and nothing else is configured).
    #[arg(long)]
    pub secret_file: Option<PathBuf>,
    /// Distinct token subjects to mint, spread over the connections, so that the
    /// per-principal rate limit does not throttle the run.
    #[arg(long, default_value_t = 256)]
    pub principals: usize,
    /// Runtime threads for the generator.
    #[arg(long, default_value_t = 1)]
    pub threads: usize,
    /// WebSocket clients subscribed to the traded book while the load runs; adds a last
    /// line `bench=ws subscribers=… events_per_s_out=… fanout_p99_us=… dropped_clients=…`.
    #[arg(long, default_value_t = 0)]
    pub ws_subscribers: usize,
}

/// An offered rate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rate {
    /// As fast as answers come back.
    Max,
    /// Requests per second.
    PerSecond(u64),
}

fn parse_rate(s: &str) -> Result<Rate, String> {
    if s == "max" {
        return Ok(Rate::Max);
    }
    match s.parse::<u64>() {
        Ok(0) | Err(_) => Err(format!("{s:?} is neither a positive integer nor `max`")),
        Ok(n) => Ok(Rate::PerSecond(n)),
    }
}

/// Flags of `tradeplane gateway`.
#[derive(Debug, Default, clap::Args)]
pub struct GatewayFlags {
    /// HTTP address (overrides `gateway.listen`).
    #[arg(long)]
    pub listen: Option<SocketAddr>,
    /// Print the effective configuration as JSON and exit.
    #[arg(long)]
    pub print_config: bool,
}

impl GatewayFlags {
    /// The flags that were given, as a configuration layer.
    #[must_use]
    pub fn overrides(&self) -> Value {
        let mut m = Map::new();
        if let Some(l) = self.listen {
            m.insert("listen".into(), json!(l.to_string()));
        }
        json!({ "gateway": m })
    }
}

/// Flags of `tradeplane dev`.
#[derive(Debug, clap::Args)]
pub struct DevFlags {
    /// Gateway HTTP address (default: `gateway.listen`, 127.0.0.1:8080). Port 0 picks a free
    /// port; the address is printed.
    #[arg(long)]
    pub listen: Option<SocketAddr>,
    /// Shard 1 and shard 2 ports on 127.0.0.1 (0 picks a free port).
    #[arg(long, value_delimiter = ',', default_values_t = [7001u16, 7002])]
    pub shard_ports: Vec<u16>,
    /// Journals (`shard-1`, `shard-2`) and the generated dev secret live here.
    #[arg(long, default_value = "./data/dev")]
    pub data_dir: PathBuf,
    /// Skip fdatasync (benchmarks only: acknowledged orders can be lost on a crash).
    #[arg(long)]
    pub no_fsync: bool,
}

/// Flags of `tradeplane token`.
#[derive(Debug, clap::Args)]
pub struct TokenFlags {
    /// The token's subject (`sub`).
    #[arg(long)]
    pub subject: String,
    /// The trading account the token acts for.
    #[arg(long)]
    pub account: u64,
    /// A role (repeat for several).
    #[arg(long = "role", value_enum, required = true)]
    pub roles: Vec<RoleArg>,
    /// Lifetime in seconds.
    #[arg(long, default_value_t = 3600)]
    pub lifetime_secs: u64,
}

/// A role on the command line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum RoleArg {
    /// Reads market data and its own orders.
    Viewer,
    /// Also places, amends and cancels its own orders.
    Trader,
    /// Reads every account and operates jobs.
    Operator,
    /// Everything.
    Admin,
}

impl From<RoleArg> for gateway::auth::Role {
    fn from(r: RoleArg) -> Self {
        match r {
            RoleArg::Viewer => Self::Viewer,
            RoleArg::Trader => Self::Trader,
            RoleArg::Operator => Self::Operator,
            RoleArg::Admin => Self::Admin,
        }
    }
}

/// Flags of `tradeplane matcher`; each overrides the same setting from the file and the
/// environment.
#[derive(Debug, Default, clap::Args)]
pub struct MatcherFlags {
    /// Order entry and feed address.
    #[arg(long)]
    pub listen: Option<SocketAddr>,
    /// Journal and snapshot directory.
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// A market, `ID:SYMBOL:TICK:LOT:MIN_PRICE:MAX_PRICE:MAX_QUANTITY:MAX_RESTING`
    /// (repeat for several; replaces the configured list).
    #[arg(long = "market")]
    pub markets: Vec<MarketConfig>,
    /// Pin the matching thread to this core.
    #[arg(long)]
    pub core: Option<usize>,
    /// Busy-spin the matching thread when idle.
    #[arg(long)]
    pub busy_spin: bool,
    /// Skip fdatasync (benchmarks only: acknowledged orders can be lost on a crash).
    #[arg(long)]
    pub no_fsync: bool,
    /// Print the effective configuration as JSON and exit.
    #[arg(long)]
    pub print_config: bool,
}

impl MatcherFlags {
    /// The flags that were given, as a configuration layer.
    #[must_use]
    pub fn overrides(&self) -> Value {
        let mut m = Map::new();
        if let Some(l) = self.listen {
            m.insert("listen".into(), json!(l.to_string()));
        }
        if let Some(d) = &self.data_dir {
            m.insert("data_dir".into(), json!(d));
        }
        if !self.markets.is_empty() {
            let specs: Vec<MarketSpec> = self.markets.iter().map(MarketSpec::from).collect();
            m.insert("markets".into(), json!(specs));
        }
        if let Some(c) = self.core {
            m.insert("core".into(), json!(c));
        }
        if self.busy_spin {
            m.insert("busy_spin".into(), json!(true));
        }
        if self.no_fsync {
            m.insert("fsync".into(), json!(false));
        }
        json!({ "matcher": m })
    }
}
