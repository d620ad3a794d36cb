//! How a shard is configured.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::engine::EngineConfig;

/// Where the shard's timestamps come from. Injected, so tests control time.
pub trait Clock: Send + Sync {
    /// Nanoseconds since the Unix epoch.
    fn now_nanos(&self) -> u64;
}

/// The system's wall clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_nanos(&self) -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
    }
}

/// What the matching thread does when it has nothing to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WaitStrategy {
    /// Spin on the ring forever: lowest latency, one core fully used.
    BusySpin,
    /// Spin briefly, then park until woken: frees the core when idle.
    SpinThenPark,
}

/// Everything a shard needs to run.
#[derive(Clone)]
pub struct ShardConfig {
    /// The markets and engine limits.
    pub engine: EngineConfig,
    /// Directory for journal segments and snapshots.
    pub data_dir: PathBuf,
    /// Bytes per preallocated journal segment.
    pub segment_size: u64,
    /// `fdatasync` each journal batch before acknowledging. Only benchmarks that say so
    /// turn it off.
    pub fsync: bool,
    /// Take a snapshot every this many commands (0: only on request).
    pub snapshot_every: u64,
    /// Snapshots to keep; journal segments older than the oldest kept one are retired.
    pub keep_snapshots: usize,
    /// Move retired segments here instead of deleting them.
    pub archive_dir: Option<PathBuf>,
    /// Slots in the ring between the I/O threads and the matching thread. A full ring
    /// answers `Busy` at once.
    pub ring_capacity: usize,
    /// Journal bytes the matching thread may run ahead of the disk before it stops taking
    /// new work (and the ring fills, and clients see `Busy`).
    pub max_batch_bytes: usize,
    /// Requests one connection may have in flight; its reader waits beyond that.
    pub max_in_flight: usize,
    /// Pin the matching thread to this core, if possible.
    pub core: Option<usize>,
    /// Idle behaviour of the matching thread.
    pub wait: WaitStrategy,
    /// Pool chunks (256 orders each) a running snapshot copies per loop turn.
    pub snapshot_chunks_per_turn: usize,
    /// The timestamp source.
    pub clock: Arc<dyn Clock>,
}

impl fmt::Debug for ShardConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ShardConfig")
            .field("engine", &self.engine)
            .field("data_dir", &self.data_dir)
            .field("segment_size", &self.segment_size)
            .field("fsync", &self.fsync)
            .field("snapshot_every", &self.snapshot_every)
            .field("keep_snapshots", &self.keep_snapshots)
            .field("archive_dir", &self.archive_dir)
            .field("ring_capacity", &self.ring_capacity)
            .field("max_batch_bytes", &self.max_batch_bytes)
            .field("max_in_flight", &self.max_in_flight)
            .field("core", &self.core)
            .field("wait", &self.wait)
            .finish_non_exhaustive()
    }
}

impl ShardConfig {
    /// Defaults for everything but the markets and the data directory.
    #[must_use]
    pub fn new(engine: EngineConfig, data_dir: PathBuf) -> Self {
        Self {
            engine,
            data_dir,
            segment_size: 64 << 20,
            fsync: true,
            snapshot_every: 1_000_000,
            keep_snapshots: 2,
            archive_dir: None,
            ring_capacity: 65_536,
            max_batch_bytes: 8 << 20,
            max_in_flight: 4_096,
            core: None,
            wait: WaitStrategy::SpinThenPark,
            snapshot_chunks_per_turn: 16,
            clock: Arc::new(SystemClock),
        }
    }

    /// Checks the values that would make the shard misbehave.
    ///
    /// # Errors
    /// A message naming the bad setting.
    pub fn validate(&self) -> Result<(), String> {
        if self.segment_size < 64 * 1024 {
            return Err("segment_size must be at least 64 KiB".into());
        }
        if self.keep_snapshots == 0 {
            return Err("keep_snapshots must be at least 1".into());
        }
        if self.ring_capacity == 0 || self.max_in_flight == 0 || self.max_batch_bytes == 0 {
            return Err("ring_capacity, max_in_flight and max_batch_bytes must be positive".into());
        }
        if self.snapshot_chunks_per_turn == 0 {
            return Err("snapshot_chunks_per_turn must be positive".into());
        }
        if self.engine.markets.is_empty() {
            return Err("a shard needs at least one market".into());
        }
        Ok(())
    }
}
