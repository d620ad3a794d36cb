//! Start-up: the latest usable snapshot, then the journal replayed on top of it, each
//! replayed command checked against the events it produced the first time.

use std::fs;

use tracing::{info, warn};

use super::ShardError;
use super::config::ShardConfig;
use super::snapshot_files::list_snapshots;
use crate::engine::Engine;
use crate::journal::{JournalScan, SegmentState, scan, try_for_each_record};
use crate::snapshot::decode_snapshot;

/// The state a shard starts from.
#[derive(Debug)]
pub struct Recovered {
    /// The engine after every durable command.
    pub engine: Engine,
    /// The journal as found (and repaired).
    pub journal: JournalScan,
    /// The last durable command's sequence number.
    pub command_seq: u64,
    /// The snapshot used, if any.
    pub snapshot_seq: Option<u64>,
    /// Commands replayed from the journal.
    pub replayed: u64,
}

/// Rebuilds a shard's engine from `config.data_dir`.
///
/// # Errors
/// [`ShardError`] for a damaged journal (before its tail), a replay that does not
/// reproduce the journal, or no snapshot covering a journal whose start was retired.
pub fn recover(config: &ShardConfig) -> Result<Recovered, ShardError> {
    let dir = &config.data_dir;
    fs::create_dir_all(dir).map_err(|e| ShardError::Io(dir.clone(), e))?;
    let journal = scan(dir, true, config.segment_size)?;
    for seg in &journal.segments {
        if let SegmentState::TornTail { offset, reason } = &seg.state {
            warn!(
                segment = %seg.path.display(),
                offset,
                reason,
                "journal tail was torn by a crash; truncated (it was never acknowledged)"
            );
        }
    }
    let first_in_journal = journal.segments.first().map(|s| s.first_command_seq);
    let last = journal.last_command_seq;

    // The newest snapshot that decodes and that the journal continues.
    let mut chosen = None;
    for (seq, path) in list_snapshots(dir).map_err(|e| ShardError::Io(dir.clone(), e))? {
        let usable_seq = seq <= last;
        let covers_start = first_in_journal.is_none_or(|f| seq + 1 >= f);
        if !usable_seq || !covers_start {
            warn!(snapshot = %path.display(), "snapshot does not fit the journal; skipped");
            continue;
        }
        let bytes = fs::read(&path).map_err(|e| ShardError::Io(path.clone(), e))?;
        match decode_snapshot(&bytes) {
            Ok(s) if s.command_seq == seq => {
                chosen = Some(s);
                break;
            }
            Ok(_) => {
                warn!(snapshot = %path.display(), "snapshot name and contents disagree; skipped")
            }
            Err(e) => warn!(snapshot = %path.display(), error = %e, "snapshot unreadable; skipped"),
        }
    }
    let (mut engine, from) = match &chosen {
        Some(s) => (Engine::restore(config.engine.clone(), s)?, s.command_seq),
        None => {
            if first_in_journal.is_some_and(|f| f > 1) {
                return Err(ShardError::Recovery(format!(
                    "the journal starts at command {} but no snapshot covers the commands before it",
                    first_in_journal.unwrap_or(0)
                )));
            }
            (
                Engine::new(config.engine.clone())
                    .map_err(|e| ShardError::Config(e.to_string()))?,
                0,
            )
        }
    };
    let mut replayed = 0u64;
    try_for_each_record(&journal, from + 1, u64::MAX, |record| {
        let expected_first = engine.last_seq().0 + 1;
        if record.first_event_seq != expected_first && !record.events.is_empty() {
            return Err(ShardError::ReplayMismatch(format!(
                "command {} starts at event {} but the engine is at {}",
                record.command_seq, record.first_event_seq, expected_first
            )));
        }
        let events = engine.process(&record.command);
        if events != record.events.as_slice() {
            let first_difference = events
                .iter()
                .zip(&record.events)
                .position(|(a, b)| a != b)
                .map(|i| {
                    format!(
                        " (first difference at event {})",
                        record.first_event_seq + i as u64
                    )
                })
                .unwrap_or_default();
            return Err(ShardError::ReplayMismatch(format!(
                "replay diverged at command {}: the engine produced {} events, the journal \
                 recorded {}{first_difference}",
                record.command_seq,
                events.len(),
                record.events.len(),
            )));
        }
        replayed += 1;
        Ok(())
    })?;
    let command_seq = last.max(from);
    info!(
        snapshot = chosen.as_ref().map(|s| s.command_seq),
        replayed,
        command_seq,
        event_seq = engine.last_seq().0,
        "shard state recovered"
    );
    Ok(Recovered {
        engine,
        command_seq,
        snapshot_seq: chosen.map(|s| s.command_seq),
        replayed,
        journal,
    })
}
