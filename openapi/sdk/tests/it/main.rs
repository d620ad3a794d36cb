//! The SDK against the real thing: a gateway on port 0 in front of a real in-process shard
//! (journal in a temporary directory), called only through `tradeplane_sdk::Client`; and
//! the generated WebSocket message types.

// Test helpers unwrap freely: a panic is a failed test with its location.
#![allow(clippy::unwrap_used)]

mod harness;
mod messages;
mod rest;
