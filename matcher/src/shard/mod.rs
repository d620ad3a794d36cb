//! A shard server: one engine behind a journal, served over TCP.
//!
//! Threads, each named: tokio I/O threads decode requests and push them into a bounded
//! lock-free ring (a full ring answers `Busy` at once); the `matching` thread, optionally
//! pinned to a core, owns the engine; the `journal-writer` thread makes batches durable
//! and only then releases their answers and feed events; the `snapshot-writer` thread
//! writes snapshots once their commands are durable; `journal-spares` preallocates
//! segments. One [`CancellationToken`] stops it all: the listener closes, the ring
//! drains, the last batch is synced and answered, and [`run`] returns.

mod config;
mod connection;
mod durability;
mod feed;
mod recovery;
mod sequencer;
mod shared;
mod snapshot_files;
mod snapshotter;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{info, warn};

pub use config::{Clock, ShardConfig, SystemClock, WaitStrategy};
pub use connection::frame_codec;
pub use recovery::{Recovered, recover};
pub use snapshot_files::{list_snapshots, snapshot_path};

use crate::journal::{JournalConfig, JournalError, JournalWriter};
use crate::snapshot::SnapshotError;

/// Why a shard could not start or had to stop.
#[derive(Debug, thiserror::Error)]
pub enum ShardError {
    /// A setting is unusable.
    #[error("invalid shard configuration: {0}")]
    Config(String),
    /// A file or directory failed.
    #[error("I/O error on {0}: {1}")]
    Io(PathBuf, #[source] std::io::Error),
    /// The journal is damaged or failed.
    #[error(transparent)]
    Journal(#[from] JournalError),
    /// A snapshot could not be restored.
    #[error(transparent)]
    Snapshot(#[from] SnapshotError),
    /// Replaying the journal did not reproduce what it recorded.
    #[error("journal replay mismatch: {0}")]
    ReplayMismatch(String),
    /// The data directory does not add up to a state.
    #[error("cannot recover: {0}")]
    Recovery(String),
    /// A shard thread could not start or panicked.
    #[error("shard thread failed: {0}")]
    Thread(String),
}

/// Recovers the shard's state from `config.data_dir`, then serves `listener` until
/// `shutdown` is cancelled.
///
/// # Errors
/// [`ShardError`] when recovery fails (the message names the file, offset or sequence
/// number) or a thread cannot start.
pub async fn run(
    config: ShardConfig,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> Result<(), ShardError> {
    config.validate().map_err(ShardError::Config)?;
    let cfg = config.clone();
    let recovered = tokio::task::spawn_blocking(move || recover(&cfg))
        .await
        .map_err(|e| ShardError::Thread(e.to_string()))??;
    let writer = JournalWriter::open(
        JournalConfig {
            dir: config.data_dir.clone(),
            segment_size: config.segment_size,
            fsync: config.fsync,
        },
        &recovered.journal,
    )?;
    let shared = Arc::new(shared::Shared::new(
        config.ring_capacity,
        recovered.command_seq,
        recovered.engine.last_seq().0,
    ));
    let (batch_tx, batch_rx) = std::sync::mpsc::channel();
    let (recycle_tx, recycle_rx) = std::sync::mpsc::channel();
    let (snap_tx, snap_rx) = std::sync::mpsc::channel();

    let spawn = |name: &str, f: Box<dyn FnOnce() + Send>| {
        std::thread::Builder::new()
            .name(name.to_owned())
            .spawn(f)
            .map_err(|e| ShardError::Thread(format!("{name}: {e}")))
    };
    let journal_thread = {
        let shared = Arc::clone(&shared);
        spawn(
            "journal-writer",
            Box::new(move || durability::run(writer, batch_rx, recycle_tx, shared)),
        )?
    };
    let snapshot_thread = {
        let shared = Arc::clone(&shared);
        let config = config.clone();
        spawn(
            "snapshot-writer",
            Box::new(move || snapshotter::run(snap_rx, shared, config)),
        )?
    };
    let matching_thread = {
        let sequencer = sequencer::Sequencer {
            engine: recovered.engine,
            shared: Arc::clone(&shared),
            batches: batch_tx,
            recycled: recycle_rx,
            snapshots: snap_tx,
            config: config.clone(),
            command_seq: recovered.command_seq,
        };
        spawn("matching", Box::new(move || sequencer.run()))?
    };
    info!(
        addr = ?listener.local_addr().ok(),
        command_seq = recovered.command_seq,
        "shard serving"
    );

    let config = Arc::new(config);
    let tracker = TaskTracker::new();
    loop {
        tokio::select! {
            () = shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    tracker.spawn(connection::serve(
                        stream,
                        Arc::clone(&shared),
                        Arc::clone(&config),
                        shutdown.clone(),
                    ));
                }
                Err(e) => {
                    warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            },
        }
    }
    drop(listener);
    info!("shard stopping: draining");
    shared.stopping.store(true, Ordering::Release);
    shared.wake_matcher();
    let joined = tokio::task::spawn_blocking(move || {
        let results = [
            matching_thread.join(),
            journal_thread.join(),
            snapshot_thread.join(),
        ];
        results.iter().all(Result::is_ok)
    })
    .await
    .unwrap_or(false);
    tracker.close();
    if tokio::time::timeout(Duration::from_secs(5), tracker.wait())
        .await
        .is_err()
    {
        warn!("connections still open after 5 s; leaving them");
    }
    if joined {
        info!("shard stopped");
        Ok(())
    } else {
        Err(ShardError::Thread("a shard thread panicked".into()))
    }
}
