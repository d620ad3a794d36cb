//! Snapshot files on disk: atomic writes, discovery, and journal retention.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::journal::{JournalError, segment_starts};

const SUFFIX: &str = ".snapshot";

/// The file name of the snapshot that follows command `command_seq`.
#[must_use]
pub fn snapshot_path(dir: &Path, command_seq: u64) -> PathBuf {
    dir.join(format!("{command_seq:020}{SUFFIX}"))
}

/// Snapshot files in `dir` with the command sequence numbers their names give, newest
/// first.
///
/// # Errors
/// I/O errors reading the directory.
pub fn list_snapshots(dir: &Path) -> std::io::Result<Vec<(u64, PathBuf)>> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir)? {
        let path = entry?.path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        if let Some(seq) = name
            .strip_suffix(SUFFIX)
            .and_then(|s| s.parse::<u64>().ok())
        {
            out.push((seq, path));
        }
    }
    out.sort_by_key(|(seq, _)| std::cmp::Reverse(*seq));
    Ok(out)
}

/// Writes `bytes` as the snapshot following `command_seq`: to a temporary file, synced,
/// renamed into place, directory synced. A crash leaves either the old set of snapshots
/// or the new one, never a partial file under a snapshot's name.
///
/// # Errors
/// I/O errors.
pub(crate) fn write_snapshot(
    dir: &Path,
    command_seq: u64,
    bytes: &[u8],
) -> std::io::Result<PathBuf> {
    let path = snapshot_path(dir, command_seq);
    let tmp = dir.join(format!("{command_seq:020}{SUFFIX}.tmp"));
    {
        // In synced steps: a snapshot is tens of megabytes, and written in one go its
        // writeback would queue in front of the journal's `fdatasync`s.
        let mut f = fs::File::create(&tmp)?;
        for chunk in bytes.chunks(256 << 10) {
            f.write_all(chunk)?;
            f.sync_data()?;
        }
        f.sync_all()?;
    }
    fs::rename(&tmp, &path)?;
    fs::File::open(dir)?.sync_all()?;
    Ok(path)
}

/// Keeps the newest `keep` snapshots and retires journal segments whose records all
/// precede the oldest kept one (deleting them, or moving them to `archive`). The segment
/// being written is never retired.
///
/// # Errors
/// I/O errors, or a journal that no longer scans.
pub(crate) fn retain(
    dir: &Path,
    keep: usize,
    archive: Option<&Path>,
) -> Result<Vec<PathBuf>, JournalError> {
    let io = |p: &Path, e| JournalError::Io {
        path: p.to_owned(),
        source: e,
    };
    let snapshots = list_snapshots(dir).map_err(|e| io(dir, e))?;
    for (_, old) in snapshots.iter().skip(keep) {
        fs::remove_file(old).map_err(|e| io(old, e))?;
    }
    let Some(oldest_kept) = snapshots.iter().take(keep).map(|(s, _)| *s).min() else {
        return Ok(Vec::new());
    };
    let segments = segment_starts(dir).map_err(|e| io(dir, e))?;
    let mut retired = Vec::new();
    for pair in segments.windows(2) {
        // Every record of pair[0] is below pair[1]'s first: retire it when the snapshot
        // already covers all of them.
        if pair[1].0 <= oldest_kept + 1 {
            let seg = &pair[0].1;
            match archive {
                Some(a) => {
                    fs::create_dir_all(a).map_err(|e| io(a, e))?;
                    let to = a.join(seg.file_name().unwrap_or_default());
                    fs::rename(seg, &to).map_err(|e| io(seg, e))?;
                }
                None => fs::remove_file(seg).map_err(|e| io(seg, e))?,
            }
            retired.push(seg.clone());
        }
    }
    Ok(retired)
}
