//! The shard server in-process: order entry over TCP, durability before acks, queries,
//! the event feed across the journal/live seam, snapshots, restart and recovery, and
//! malformed input.

mod backpressure;
mod connections;
mod feed;
mod harness;
mod orders;
mod recovery;
mod retention;

pub(crate) use harness::{engine_config, limit};
