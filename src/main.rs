//! `tradeplane`: parse flags, set up logging, run the role.

use std::process::ExitCode;

use clap::Parser;

/// mimalloc instead of glibc malloc: per-request allocations in the gateway (hyper, serde,
/// tower) are small and short-lived, which thread-local free lists serve best.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = tradeplane::cli::Cli::parse();
    tradeplane::init_tracing(cli.log_format);
    match tradeplane::run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("tradeplane: {e}");
            ExitCode::FAILURE
        }
    }
}
