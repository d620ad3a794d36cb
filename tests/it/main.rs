//! Integration tests of the `tradeplane` binary: configuration layering and the roles it
//! starts, run as real child processes.

// Test helpers unwrap freely: a panic is a failed test with its location.
#![allow(clippy::unwrap_used)]

mod bench_jobs;
mod cleanup;
mod config;
mod dev;
mod gateway_role;
mod loadgen;
mod matcher_role;
mod migrate;
mod policy_reload;
mod token;
mod worker;
