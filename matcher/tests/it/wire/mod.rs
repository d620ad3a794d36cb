//! Property tests of the binary formats: arbitrary requests, responses and journal records
//! survive encode → decode unchanged, and no byte string makes a decoder panic.
//!
//! Round trips check the framing too (the length prefix counts exactly the bytes after
//! it, encoders append without touching what the buffer already held, every strict prefix
//! of a body and a body with a byte too many are refused). The negative properties feed
//! the decoders raw random bytes, random bytes behind a valid header or checksum (so that
//! they get past the first check), and mutations of valid encodings; a journal frame with
//! any one byte changed must not read back as the original. Decoders also accept only the
//! encoder's own output (one encoding per value), with no exceptions: a market order's
//! price field must be zero and an error message must be valid UTF-8 (unit tests and
//! properties in `market_price` and `error_messages` pin both down, and the 1 KiB cut of
//! long messages).

mod canonical;
mod error_messages;
mod frames;
mod market_price;
mod never_panic;
mod round_trip;
mod strategies;

use proptest::prelude::*;

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 512,
        ..ProptestConfig::default()
    }
}
