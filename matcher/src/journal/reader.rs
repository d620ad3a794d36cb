//! Reading records back in order, for replay on recovery and for the event feed.

use std::fs;
use std::path::Path;

use super::record::{Frame, Record, decode_payload, read_frame};
use super::scan::{JournalError, JournalScan};
use super::segment::SEGMENT_HEADER;

/// Calls `f` with every record whose command sequence number is in
/// `from..=to`, in order, reading the segments `scan` found.
///
/// # Errors
/// I/O errors, or a record that no longer reads (the journal changed under the reader).
pub fn for_each_record(
    scan: &JournalScan,
    from: u64,
    to: u64,
    f: impl FnMut(Record) -> Result<(), JournalError>,
) -> Result<(), JournalError> {
    try_for_each_record(scan, from, to, f)
}

/// Like [`for_each_record`], but `f` may stop the walk with an error of its own type.
///
/// # Errors
/// I/O errors, a record that no longer reads, or whatever `f` returns.
pub fn try_for_each_record<E: From<JournalError>>(
    scan: &JournalScan,
    from: u64,
    to: u64,
    mut f: impl FnMut(Record) -> Result<(), E>,
) -> Result<(), E> {
    for (i, seg) in scan.segments.iter().enumerate() {
        let next_first = scan.segments.get(i + 1).map(|s| s.first_command_seq);
        if next_first.is_some_and(|n| n <= from) || seg.first_command_seq > to {
            continue;
        }
        read_segment::<E>(&seg.path, |r| {
            if r.command_seq > to {
                return Ok(false);
            }
            if r.command_seq >= from {
                f(r)?;
            }
            Ok(true)
        })?;
    }
    Ok(())
}

/// Calls `f` with each record of one segment until the end of its records or until `f`
/// returns `false`.
///
/// # Errors
/// I/O errors, a checksummed record that does not decode, or whatever `f` returns.
pub fn read_segment<E: From<JournalError>>(
    path: &Path,
    mut f: impl FnMut(Record) -> Result<bool, E>,
) -> Result<(), E> {
    let bytes = fs::read(path).map_err(|e| JournalError::io(path, e))?;
    let mut pos = SEGMENT_HEADER;
    while let Frame::Valid { payload, len } = read_frame(bytes.get(pos..).unwrap_or(&[])) {
        let record = decode_payload(payload).map_err(|e| JournalError::Corrupt {
            path: path.to_owned(),
            offset: pos as u64,
            reason: format!("checksummed record does not decode: {e}"),
        })?;
        if !f(record)? {
            break;
        }
        pos += len;
    }
    Ok(())
}

/// The command and first event sequence numbers of a segment's first record, reading only
/// that record; `None` for a segment with no records yet.
///
/// # Errors
/// I/O errors.
pub fn first_record_seqs(path: &Path) -> Result<Option<(u64, u64)>, JournalError> {
    use std::io::Read;
    let mut f = fs::File::open(path).map_err(|e| JournalError::io(path, e))?;
    let mut head = vec![0u8; SEGMENT_HEADER + super::record::FRAME_HEADER];
    if f.read_exact(&mut head).is_err() {
        return Ok(None);
    }
    let len = u32::from_le_bytes([
        head[SEGMENT_HEADER],
        head[SEGMENT_HEADER + 1],
        head[SEGMENT_HEADER + 2],
        head[SEGMENT_HEADER + 3],
    ]) as usize;
    if len == 0 || len > super::record::MAX_RECORD {
        return Ok(None);
    }
    let mut frame = head.split_off(SEGMENT_HEADER);
    frame.resize(super::record::FRAME_HEADER + len, 0);
    if f.read_exact(&mut frame[super::record::FRAME_HEADER..])
        .is_err()
    {
        return Ok(None);
    }
    Ok(match read_frame(&frame) {
        Frame::Valid { payload, .. } => {
            let seq = |at: usize| {
                payload
                    .get(at..at + 8)
                    .and_then(|b| b.try_into().ok())
                    .map(u64::from_le_bytes)
            };
            seq(2).zip(seq(10))
        }
        _ => None,
    })
}
