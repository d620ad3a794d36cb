//! `tradeplane`: parse flags, set up logging, run the role.

use std::process::ExitCode;

use clap::Parser;

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
