//! `cargo run -q -p tradeplane-sdk-gen`: rewrites `openapi/sdk/src/generated.rs` from
//! `openapi/openapi.json` (paths are fixed relative to this crate, so the working directory
//! does not matter). The generation itself is [`tradeplane_sdk_gen::generate`].

use std::process::ExitCode;

use tradeplane_sdk_gen::{OUTPUT_PATH, SPEC_PATH, generate};

fn main() -> ExitCode {
    if std::env::args().len() > 1 {
        eprintln!(
            "usage: {} (no arguments: reads {SPEC_PATH}, writes {OUTPUT_PATH})",
            tradeplane_sdk_gen::COMMAND
        );
        return ExitCode::from(2);
    }
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("tradeplane-sdk-gen: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), String> {
    let spec = std::fs::read_to_string(SPEC_PATH).map_err(|e| format!("{SPEC_PATH}: {e}"))?;
    let code = generate(&spec).map_err(|e| e.to_string())?;
    // Leave the file untouched when nothing changed, so its mtime does not trigger rebuilds.
    if std::fs::read_to_string(OUTPUT_PATH).is_ok_and(|old| old == code) {
        return Ok(());
    }
    std::fs::write(OUTPUT_PATH, code).map_err(|e| format!("{OUTPUT_PATH}: {e}"))
}
