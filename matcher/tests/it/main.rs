//! The matcher's integration tests: one binary, one module per concern.

// Test helpers unwrap freely: a panic is a failed test with its location.
#![allow(clippy::unwrap_used)]
// Test arithmetic is on small numbers: casts cannot truncate or lose a sign here.
#![allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]

mod crash;
mod golden;
mod journal;
mod prop;
mod reference;
mod scenarios;
mod shard;
mod snapshot;
mod wire;
