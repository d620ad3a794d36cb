//! Integration tests against the real PostgreSQL on 127.0.0.1:5432 (override with
//! `TRADEPLANE_TEST_PG`, a URL without a database name). Each test creates its own database
//! and drops it when done, so tests run in parallel and leave nothing behind.

mod dead_letters;
mod enqueue;
mod listing;
mod migrations;
mod retries;
mod support;
mod transitions;
