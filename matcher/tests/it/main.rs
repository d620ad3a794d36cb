//! The matcher's integration tests: one binary, one module per concern.

mod crash;
mod golden;
mod journal;
mod prop;
mod reference;
mod scenarios;
mod shard;
mod snapshot;
mod wire;
