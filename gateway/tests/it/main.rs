//! Gateway integration tests: the real gateway on port 0 in front of a real in-process
//! shard (journal in a temporary directory), driven over HTTP.

// Test helpers unwrap freely: a panic is a failed test with its location.
#![allow(clippy::unwrap_used)]

mod auth;
mod harness;
mod health;
mod idempotency;
mod job_support;
mod jobs;
mod markets;
mod metrics;
mod openapi;
mod orders;
mod policy_reload;
mod queues;
mod rate_limit;
mod rbac_matrix;
mod stream;
mod stream_conflation;
mod stream_restart;
mod trades;
mod whoami;
