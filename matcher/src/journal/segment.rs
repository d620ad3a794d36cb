//! Journal segment files: naming, the 64-byte header, and preallocation.
//!
//! A segment is created at its full size filled with zeros and synced once, before any
//! record goes into it, so that appending a batch later is a pure data write: its
//! `fdatasync` has no file size or block allocation to commit (measured here: ~0.15 ms p50
//! preallocated, against ~10 ms p99.9 when appending to a growing file).
//!
//! ```text
//! header := magic "TPJOURNL" | version: u32 = 1 | reserved: u32 = 0
//!           | first_command_seq: u64 | crc32c(previous 24 bytes): u32 | zeros to 64 bytes
//! ```
//! A header that is all zeros marks a spare: preallocated, not yet in use.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

/// Bytes before the first record.
pub const SEGMENT_HEADER: usize = 64;
const MAGIC: &[u8; 8] = b"TPJOURNL";
/// Segment format version.
pub const SEGMENT_VERSION: u32 = 1;
/// File name suffix of segments and spares.
pub(crate) const SEGMENT_SUFFIX: &str = ".seg";

/// What a segment's header says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Header {
    /// A segment whose first record has this command sequence number.
    Segment {
        /// First command sequence number.
        first_command_seq: u64,
    },
    /// A preallocated spare, never used.
    Spare,
}

/// Encodes a segment header.
#[must_use]
pub(crate) fn encode_header(first_command_seq: u64) -> [u8; SEGMENT_HEADER] {
    let mut h = [0u8; SEGMENT_HEADER];
    h[..8].copy_from_slice(MAGIC);
    h[8..12].copy_from_slice(&SEGMENT_VERSION.to_le_bytes());
    h[16..24].copy_from_slice(&first_command_seq.to_le_bytes());
    let crc = crc32c::crc32c(&h[..24]);
    h[24..28].copy_from_slice(&crc.to_le_bytes());
    h
}

/// Decodes a segment header; `None` when it is neither a valid header nor a spare's.
#[must_use]
pub(crate) fn decode_header(h: &[u8]) -> Option<Header> {
    let h = h.get(..SEGMENT_HEADER)?;
    if h.iter().all(|b| *b == 0) {
        return Some(Header::Spare);
    }
    if &h[..8] != MAGIC {
        return None;
    }
    let crc = u32::from_le_bytes([h[24], h[25], h[26], h[27]]);
    if crc32c::crc32c(&h[..24]) != crc {
        return None;
    }
    let version = u32::from_le_bytes([h[8], h[9], h[10], h[11]]);
    if version != SEGMENT_VERSION {
        return None;
    }
    let mut seq = [0u8; 8];
    seq.copy_from_slice(&h[16..24]);
    Some(Header::Segment {
        first_command_seq: u64::from_le_bytes(seq),
    })
}

/// The file name of the segment starting at `first_command_seq`.
#[must_use]
pub fn segment_path(dir: &Path, first_command_seq: u64) -> PathBuf {
    dir.join(format!("{first_command_seq:020}{SEGMENT_SUFFIX}"))
}

/// Every `*.seg` file in `dir` (segments and spares), in name order.
///
/// # Errors
/// I/O errors reading the directory.
pub(crate) fn list_files(dir: &Path) -> io::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir)? {
        let path = entry?.path();
        if path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.ends_with(SEGMENT_SUFFIX))
        {
            out.push(path);
        }
    }
    out.sort();
    Ok(out)
}

/// The segments in `dir` (not spares) by first command sequence number, from their
/// headers alone.
///
/// # Errors
/// I/O errors.
pub fn segment_starts(dir: &Path) -> io::Result<Vec<(u64, PathBuf)>> {
    use std::io::Read;
    let mut out = Vec::new();
    for path in list_files(dir)? {
        let mut h = [0u8; SEGMENT_HEADER];
        let read = File::open(&path).and_then(|mut f| f.read_exact(&mut h));
        if read.is_ok()
            && let Some(Header::Segment { first_command_seq }) = decode_header(&h)
        {
            out.push((first_command_seq, path));
        }
    }
    out.sort();
    Ok(out)
}

/// Creates a spare: `size` bytes reserved on disk, synced, under a temporary name then
/// renamed into place, so that a crash never leaves a half-made spare that looks usable.
///
/// The blocks are reserved with `fallocate`, which allocates them (as unwritten extents)
/// without writing a byte. Writing the zeros instead was measured here to make the first
/// `fdatasync`s into the file cheaper (~105 µs p50 / ~190 µs p99 against ~150 / ~260 µs),
/// but a 64 MiB fill running in the background while the shard serves put whole
/// milliseconds of writeback in front of the journal's syncs (ack p99 of 7 to 19 ms at
/// 100,000 orders/s). Where `fallocate` is unsupported, zeros are written in small synced
/// steps (`gentle`) or all at once before serving.
///
/// # Errors
/// I/O errors.
pub(crate) fn create_spare(dir: &Path, name: &str, size: u64, gentle: bool) -> io::Result<PathBuf> {
    let tmp = dir.join(format!("{name}.tmp"));
    let path = dir.join(format!("{name}{SEGMENT_SUFFIX}"));
    {
        let mut f = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp)?;
        let reserved = rustix::fs::fallocate(&f, rustix::fs::FallocateFlags::empty(), 0, size);
        if reserved.is_err() {
            let chunk = vec![0u8; if gentle { 256 << 10 } else { 1 << 20 }];
            let mut left = size;
            while left > 0 {
                let n = usize::try_from(left.min(chunk.len() as u64)).unwrap_or(chunk.len());
                f.write_all(&chunk[..n])?;
                if gentle {
                    f.sync_data()?;
                }
                left -= n as u64;
            }
        }
        f.sync_all()?;
    }
    fs::rename(&tmp, &path)?;
    sync_dir(dir)?;
    Ok(path)
}

/// Makes a spare the segment starting at `first_command_seq`: writes its header (made
/// durable by the next data sync) and renames it. Recovery reads headers, not names, so
/// the rename need not be durable.
///
/// # Errors
/// I/O errors.
pub(crate) fn activate(
    dir: &Path,
    spare: &Path,
    first_command_seq: u64,
) -> io::Result<(File, PathBuf)> {
    let file = OpenOptions::new().read(true).write(true).open(spare)?;
    file.write_all_at(&encode_header(first_command_seq), 0)?;
    let path = segment_path(dir, first_command_seq);
    fs::rename(spare, &path)?;
    Ok((file, path))
}

/// `fsync` on a directory, so that renames and new files in it survive a crash.
///
/// # Errors
/// I/O errors.
pub(crate) fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_round_trips_and_rejects_damage() {
        let h = encode_header(42);
        assert_eq!(
            decode_header(&h),
            Some(Header::Segment {
                first_command_seq: 42
            })
        );
        assert_eq!(decode_header(&[0u8; 64]), Some(Header::Spare));
        for i in 0..28 {
            let mut bad = h;
            bad[i] ^= 0x40;
            assert_eq!(decode_header(&bad), None, "byte {i}");
        }
    }
}
