//! The `tradeplane` binary's library: configuration, the command line, and the wiring
//! from each subcommand to its role's `run(config, listener, shutdown)`.
//!
//! `main.rs` only parses flags and calls [`run`]; everything here is testable in-process.

pub mod bench_jobs;
pub mod cli;
pub mod config;
mod dev;
pub mod loadgen;
mod metrics_server;
mod migrate;
mod signals;

pub use dev::READY_LINE;

use std::process::ExitCode;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tracing::info;

use cli::{Cli, Command, LogFormat};

/// Why a role could not run.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Bad configuration.
    #[error(transparent)]
    Config(#[from] config::ConfigError),
    /// The runtime or a listener could not start.
    #[error("{0}")]
    Startup(String),
    /// The shard failed.
    #[error(transparent)]
    Shard(#[from] matcher::shard::ShardError),
    /// The gateway failed.
    #[error("gateway: {0}")]
    Gateway(#[from] gateway::app::StartError),
    /// A token could not be minted.
    #[error("cannot mint a token: {0}")]
    Token(String),
    /// PostgreSQL could not be prepared (the message names the step).
    #[error("postgres: {0}")]
    Postgres(String),
    /// The load generator could not run.
    #[error("loadgen: {0}")]
    Loadgen(#[from] loadgen::LoadgenError),
    /// The worker could not start.
    #[error("worker: {0}")]
    Worker(#[from] workers::WorkerError),
    /// The job benchmark could not run.
    #[error("bench-jobs: {0}")]
    BenchJobs(#[from] bench_jobs::BenchJobsError),
}

/// Installs the global log subscriber (JSON or human-readable, `RUST_LOG` filter).
pub fn init_tracing(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Pretty => builder.init(),
    }
}

/// Runs the subcommand until it finishes or a signal stops it.
///
/// # Errors
/// [`Error`] for bad configuration, start-up failures and role failures.
pub fn run(cli: Cli) -> Result<ExitCode, Error> {
    match cli.command {
        Command::Matcher(flags) => {
            let config = config::load(cli.config.as_deref(), &flags.overrides())?;
            if flags.print_config {
                print_config(&config)?;
                return Ok(ExitCode::SUCCESS);
            }
            let shard = config.matcher.shard()?;
            let listen = config.matcher.listen;
            runtime()?.block_on(async move {
                let listener = tokio::net::TcpListener::bind(listen)
                    .await
                    .map_err(|e| Error::Startup(format!("cannot listen on {listen}: {e}")))?;
                info!(%listen, "matcher shard starting");
                let shutdown = CancellationToken::new();
                signals::cancel_on_signal(shutdown.clone());
                matcher::shard::run(shard, listener, shutdown).await?;
                Ok(ExitCode::SUCCESS)
            })
        }
        Command::Gateway(flags) => {
            let config = config::load(cli.config.as_deref(), &flags.overrides())?;
            if flags.print_config {
                print_config(&config)?;
                return Ok(ExitCode::SUCCESS);
            }
            let gateway = config.gateway()?;
            let listen = config.gateway.listen;
            runtime()?.block_on(async move {
                let listener = tokio::net::TcpListener::bind(listen)
                    .await
                    .map_err(|e| Error::Startup(format!("cannot listen on {listen}: {e}")))?;
                let shutdown = CancellationToken::new();
                signals::cancel_on_signal(shutdown.clone());
                gateway::app::run(gateway, listener, shutdown).await?;
                Ok(ExitCode::SUCCESS)
            })
        }
        Command::Dev(flags) => {
            let config = config::load(cli.config.as_deref(), &serde_json::json!({}))?;
            runtime()?.block_on(dev::run(config, &flags))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Token(flags) => {
            let config = config::load(cli.config.as_deref(), &serde_json::json!({}))?;
            println!("{}", token(&config, &flags)?);
            Ok(ExitCode::SUCCESS)
        }
        Command::Migrate(flags) => {
            let config = config::load(cli.config.as_deref(), &flags.overrides())?;
            let pg = config.postgres.pg_config();
            let migrated = runtime()?.block_on(migrate::run(&pg, !flags.no_create_database))?;
            if migrated.created {
                println!("created the database");
            }
            println!(
                "schema version {}; applied now: {}",
                migrated.version,
                if migrated.applied.is_empty() {
                    "none (up to date)".to_owned()
                } else {
                    format!("{:?}", migrated.applied)
                }
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Worker(flags) => {
            let config = config::load(cli.config.as_deref(), &flags.overrides())?;
            if flags.print_config {
                print_config(&config)?;
                return Ok(ExitCode::SUCCESS);
            }
            let worker = config.worker()?;
            let metrics_listen = config.worker.metrics_listen;
            runtime()?.block_on(async move {
                let shutdown = CancellationToken::new();
                signals::cancel_on_signal(shutdown.clone());
                if let Some(addr) = metrics_listen {
                    let listener = tokio::net::TcpListener::bind(addr).await.map_err(|e| {
                        Error::Startup(format!(
                            "cannot listen on {addr} (worker.metrics_listen): {e}"
                        ))
                    })?;
                    let mut registry = prometheus_client::registry::Registry::default();
                    worker.metrics.register(&mut registry);
                    let stop = shutdown.clone();
                    let serve = async move {
                        if let Err(e) = metrics_server::serve(registry, listener, stop).await {
                            tracing::error!(error = %e, "metrics listener failed");
                        }
                    };
                    // Stops with the same token as the pool.
                    tokio::spawn(tracing::Instrument::instrument(
                        serve,
                        tracing::info_span!("worker.metrics_server"),
                    ));
                    info!(%addr, "serving /metrics");
                }
                let report = workers::run(worker, shutdown).await?;
                info!(?report, "worker stopped");
                Ok(ExitCode::SUCCESS)
            })
        }
        Command::BenchJobs(flags) => {
            let config = config::load(cli.config.as_deref(), &serde_json::json!({}))?;
            let bench = bench_jobs_config(&config, &flags)?;
            let report = runtime()?.block_on(async move {
                let shutdown = CancellationToken::new();
                signals::cancel_on_signal(shutdown.clone());
                bench_jobs::run(bench, shutdown).await
            })?;
            println!("{}", report.detail());
            println!("{}", report.line());
            Ok(ExitCode::SUCCESS)
        }
        Command::Openapi => {
            print!("{}", gateway::openapi::document_json());
            Ok(ExitCode::SUCCESS)
        }
        Command::Loadgen(flags) => {
            let config = config::load(cli.config.as_deref(), &serde_json::json!({}))?;
            let loadgen = loadgen_config(&config, &flags)?;
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(flags.threads.max(1))
                .enable_all()
                .thread_name("loadgen")
                .build()
                .map_err(|e| Error::Startup(format!("cannot start the runtime: {e}")))?;
            let report = runtime.block_on(async move {
                let shutdown = CancellationToken::new();
                signals::cancel_on_signal(shutdown.clone());
                loadgen::run(loadgen, shutdown).await
            })?;
            println!("{}", report.line());
            if let Some(ws) = report.ws_line() {
                println!("{ws}");
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// A `--<what>` flag's seconds as a duration.
fn seconds(what: &str, s: f64) -> Result<Duration, Error> {
    Duration::try_from_secs_f64(s)
        .map_err(|_| Error::Startup(format!("--{what} {s}: not a number of seconds")))
}

/// The job benchmark's run: the configured servers, this very executable for the workers.
fn bench_jobs_config(
    config: &config::Config,
    flags: &cli::BenchJobsFlags,
) -> Result<bench_jobs::BenchJobsConfig, Error> {
    let secs = |what: &str, s: f64| match seconds(what, s)? {
        d if d.is_zero() => Err(Error::Startup(format!("--{what} {s}: must be positive"))),
        d => Ok(d),
    };
    let exe = std::env::current_exe()
        .map_err(|e| Error::Startup(format!("cannot find this executable: {e}")))?;
    Ok(bench_jobs::BenchJobsConfig {
        postgres: config.postgres.pg_config(),
        redis: config.redis.redis_config(),
        jobs: flags.jobs,
        workers: flags.workers,
        concurrency: flags.concurrency,
        batch: flags.batch,
        kill_every: flags
            .kill_every
            .map(|s| secs("kill-every", s))
            .transpose()?,
        stall_timeout: secs("stall-timeout", flags.stall_timeout)?,
        keep: flags.keep,
        exe,
        progress: std::io::IsTerminal::is_terminal(&std::io::stderr()),
    })
}

/// The load generator's run, with tokens minted when none are given.
fn loadgen_config(
    config: &config::Config,
    flags: &cli::LoadgenFlags,
) -> Result<loadgen::LoadgenConfig, Error> {
    let tokens = if flags.tokens.is_empty() {
        mint_loadgen_tokens(config, flags)?
    } else {
        flags.tokens.clone()
    };
    Ok(loadgen::LoadgenConfig {
        url: flags.url.clone(),
        rate: match flags.rate {
            cli::Rate::Max => None,
            cli::Rate::PerSecond(n) => Some(n),
        },
        duration: seconds("duration", flags.duration)?,
        warmup: seconds("warmup", flags.warmup)?,
        connections: flags.connections,
        endpoint: flags.endpoint,
        tokens,
        symbol: flags.symbol.clone(),
        progress: true,
        ws_subscribers: flags.ws_subscribers,
    })
}

/// Traders `loadgen-<i>`; all principals of one connection share its account, so a
/// connection cancels what it placed whichever token it used.
fn mint_loadgen_tokens(
    config: &config::Config,
    flags: &cli::LoadgenFlags,
) -> Result<Vec<String>, Error> {
    /// Loadgen accounts start here, away from the dev tokens' accounts.
    const FIRST_ACCOUNT: u64 = 900_000;
    let default_file = std::path::Path::new("data/dev/dev-secret");
    let secret = match (&config.auth.hs256_secret, &flags.secret_file) {
        (_, Some(file)) => read_secret(file)?,
        (Some(secret), None) => secret.clone(),
        (None, None) if default_file.exists() => read_secret(default_file)?,
        (None, None) => {
            return Err(Error::Token(
                "no tokens: pass --token, --secret-file, or set auth.hs256_secret \
                 (TRADEPLANE_AUTH__HS256_SECRET)"
                    .into(),
            ));
        }
    };
    let connections = flags.connections.max(1);
    let principals = flags.principals.max(connections);
    (0..principals)
        .map(|i| {
            mint(
                config,
                &secret,
                &format!("loadgen-{i}"),
                matcher::AccountId(FIRST_ACCOUNT + (i % connections) as u64),
                &[gateway::auth::Role::Trader],
                Duration::from_secs(24 * 3600),
            )
        })
        .collect()
}

/// An HS256 token with `secret` for the configured issuer and audience.
fn mint(
    config: &config::Config,
    secret: &str,
    subject: &str,
    account: matcher::AccountId,
    roles: &[gateway::auth::Role],
    lifetime: Duration,
) -> Result<String, Error> {
    let secret = gateway::auth::Hs256Secret::new(secret.as_bytes().to_vec())
        .map_err(|e| Error::Token(e.to_string()))?;
    gateway::auth::mint_hs256(
        secret.expose(),
        &config.auth.issuer,
        &config.auth.audience,
        subject,
        account,
        roles,
        lifetime,
        std::time::SystemTime::now(),
    )
    .map_err(|e| Error::Token(e.to_string()))
}

fn read_secret(path: &std::path::Path) -> Result<String, Error> {
    std::fs::read_to_string(path)
        .map(|s| s.trim().to_owned())
        .map_err(|e| Error::Token(format!("reading {}: {e}", path.display())))
}

/// Prints the effective configuration (secrets redacted) as JSON.
fn print_config(config: &config::Config) -> Result<(), Error> {
    let mut shown = config.clone();
    if shown.auth.hs256_secret.is_some() {
        shown.auth.hs256_secret = Some("<redacted>".into());
    }
    shown.postgres.url = redact_password(&shown.postgres.url);
    shown.redis.url = redact_password(&shown.redis.url);
    let json = serde_json::to_string_pretty(&shown).map_err(|e| Error::Startup(e.to_string()))?;
    println!("{json}");
    Ok(())
}

/// `postgres://user:secret@host/db` → `postgres://user:<redacted>@host/db`.
fn redact_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let Some((userinfo, host)) = rest.rsplit_once('@') else {
        return url.to_owned();
    };
    match userinfo.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:<redacted>@{host}"),
        None => url.to_owned(),
    }
}

/// Mints a development token with the configured HS256 secret.
fn token(config: &config::Config, flags: &cli::TokenFlags) -> Result<String, Error> {
    let secret = config.auth.hs256_secret.as_deref().ok_or_else(|| {
        Error::Token(
            "no HS256 secret: set auth.hs256_secret in the file or TRADEPLANE_AUTH__HS256_SECRET"
                .into(),
        )
    })?;
    let roles: Vec<gateway::auth::Role> = flags.roles.iter().map(|r| (*r).into()).collect();
    mint(
        config,
        secret,
        &flags.subject,
        matcher::AccountId(flags.account),
        &roles,
        Duration::from_secs(flags.lifetime_secs),
    )
}

fn runtime() -> Result<tokio::runtime::Runtime, Error> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("tradeplane-io")
        .build()
        .map_err(|e| Error::Startup(format!("cannot start the runtime: {e}")))
}
