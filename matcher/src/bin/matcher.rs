//! `matcher`: serve one shard, or check a shard's journal.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use matcher::journal::{SegmentState, scan};
use matcher::shard::{self, ShardConfig, WaitStrategy};
use matcher::{EngineConfig, MarketConfig};
use tokio_util::sync::CancellationToken;

#[derive(Parser)]
#[command(name = "matcher", about = "A tradeplane matcher shard")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Recover from the data directory and serve order entry and the event feed.
    Serve(ServeArgs),
    /// Report each journal segment's state without changing anything.
    VerifyJournal {
        /// The shard's data directory.
        #[arg(long)]
        data_dir: PathBuf,
    },
}

#[derive(clap::Args)]
struct ServeArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:7001")]
    listen: SocketAddr,
    /// Journal and snapshot directory.
    #[arg(long)]
    data_dir: PathBuf,
    /// A market, `ID:SYMBOL:TICK:LOT:MIN_PRICE:MAX_PRICE:MAX_QUANTITY:MAX_RESTING`
    /// (repeat for several).
    #[arg(long = "market", required = true)]
    markets: Vec<MarketConfig>,
    /// Finished orders whose client order ids stay reserved.
    #[arg(long, default_value_t = 65_536)]
    client_id_window: u32,
    /// Bytes per preallocated journal segment.
    #[arg(long, default_value_t = 64 << 20)]
    segment_size: u64,
    /// Snapshot every N commands (0: only on request).
    #[arg(long, default_value_t = 1_000_000)]
    snapshot_every: u64,
    /// Snapshots to keep.
    #[arg(long, default_value_t = 2)]
    keep_snapshots: usize,
    /// Move retired journal segments here instead of deleting them.
    #[arg(long)]
    archive_dir: Option<PathBuf>,
    /// Pin the matching thread to this core.
    #[arg(long)]
    core: Option<usize>,
    /// Busy-spin the matching thread instead of parking it when idle.
    #[arg(long)]
    spin: bool,
    /// Skip fdatasync (benchmarks only: acknowledged orders can be lost).
    #[arg(long)]
    no_fsync: bool,
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    match Cli::parse().command {
        Command::VerifyJournal { data_dir } => verify(&data_dir),
        Command::Serve(args) => serve(args),
    }
}

fn verify(dir: &std::path::Path) -> ExitCode {
    match scan(dir, false, 0) {
        Ok(journal) => {
            for s in &journal.segments {
                let state = match &s.state {
                    SegmentState::Clean => "clean".to_owned(),
                    SegmentState::TornTail { offset, reason } => {
                        format!("torn tail at offset {offset} ({reason}); recovery truncates it")
                    }
                };
                println!(
                    "{}: commands {}..={} ({} records), {}",
                    s.path.display(),
                    s.first_command_seq,
                    s.last_command_seq.map_or("-".into(), |l| l.to_string()),
                    s.records,
                    state
                );
            }
            println!(
                "journal ok: last command {}, next event {}",
                journal.last_command_seq, journal.next_event_seq
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}

fn serve(args: ServeArgs) -> ExitCode {
    let mut config = ShardConfig::new(
        EngineConfig {
            markets: args.markets,
            client_id_window: args.client_id_window,
        },
        args.data_dir,
    );
    config.segment_size = args.segment_size;
    config.snapshot_every = args.snapshot_every;
    config.keep_snapshots = args.keep_snapshots;
    config.archive_dir = args.archive_dir;
    config.core = args.core;
    config.fsync = !args.no_fsync;
    if args.spin {
        config.wait = WaitStrategy::BusySpin;
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("matcher-io")
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .map_err(|e| format!("cannot listen on {}: {e}", args.listen))?;
        let shutdown = CancellationToken::new();
        let on_signal = shutdown.clone();
        tokio::spawn(async move {
            wait_for_signal().await;
            on_signal.cancel();
        });
        shard::run(config, listener, shutdown)
            .await
            .map_err(|e| e.to_string())
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("matcher: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn wait_for_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = match signal(SignalKind::terminate()) {
        Ok(s) => s,
        Err(_) => return std::future::pending().await,
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}
