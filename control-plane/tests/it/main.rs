//! Integration tests against the real PostgreSQL on 127.0.0.1:5432 (override with
//! `TRADEPLANE_TEST_PG`, a URL without a database name) and the real Redis on
//! 127.0.0.1:6379 (override with `TRADEPLANE_TEST_REDIS`). Each test creates its own
//! database and drops it when done, and uses its own Redis key prefix whose keys it deletes
//! when done (never a flush: the server is shared), so tests run in parallel and leave
//! nothing behind.

mod batch;
mod dead_letters;
mod enqueue;
mod faults;
mod golden;
mod listing;
mod migrations;
mod pauses;
mod queue;
mod reclaim;
mod reconcile;
mod release;
mod retries;
mod support;
mod transitions;
