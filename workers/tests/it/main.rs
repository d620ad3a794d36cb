//! Integration tests of the worker pool against the real PostgreSQL on 127.0.0.1:5432
//! (override with `TRADEPLANE_TEST_PG`, a URL without a database name) and the real Redis
//! on 127.0.0.1:6379 (override with `TRADEPLANE_TEST_REDIS`). Each test creates its own
//! database and Redis key prefix and removes both when done.

// Test helpers unwrap freely: a panic is a failed test with its location.
#![allow(clippy::unwrap_used)]

mod faults;
mod http;
mod pool;
mod shutdown;
mod support;
