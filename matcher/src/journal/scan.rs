//! Reading a journal directory back: what recovery and `verify-journal` see.
//!
//! Each segment is walked record by record, checking checksums, versions and that command
//! and event sequence numbers run on without a gap. Where the walk stops short of the
//! zeros that end a segment, the question is whether that spot is the tail (a write the
//! crash cut off, never acknowledged, safe to drop) or damage in the middle (records
//! that were acknowledged follow it). The answer is read from the bytes: if any valid
//! record with a later sequence number exists after the spot, in this segment or a later
//! one, it is corruption and start-up refuses, naming the file and offset; otherwise it is
//! a torn tail and, when repairing, the tail is zeroed.

use std::fs::{self, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use super::record::{FRAME_HEADER, Frame, RECORD_VERSION, decode_payload, read_frame};
use super::segment::{Header, SEGMENT_HEADER, decode_header, list_files};

/// Largest sequence number a journal may hold: far beyond any real shard's life (a
/// billion commands a second for over a century), and low enough that no arithmetic on
/// it can overflow. A checksummed record beyond it is corrupt, not a panic.
const MAX_SEQ: u64 = 1 << 62;

/// A journal that cannot be used as it is.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    /// The file system failed.
    #[error("journal I/O error on {path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// Damage before the tail: acknowledged records follow it.
    #[error(
        "journal corrupt: {path} at offset {offset}: {reason}; valid records follow it, so \
         this is not a torn tail: refusing to start"
    )]
    Corrupt {
        /// The segment.
        path: PathBuf,
        /// Byte offset of the damaged frame.
        offset: u64,
        /// What is wrong.
        reason: String,
    },
    /// A file named like a segment whose header is neither a segment's nor a spare's.
    #[error("journal segment {path} has an invalid header")]
    BadHeader {
        /// The file.
        path: PathBuf,
    },
    /// Sequence numbers do not follow on.
    #[error("journal gap: {path} at offset {offset} holds command {found}, expected {expected}")]
    Gap {
        /// The segment.
        path: PathBuf,
        /// Byte offset of the record.
        offset: u64,
        /// Sequence number expected.
        expected: u64,
        /// Sequence number found.
        found: u64,
    },
}

impl JournalError {
    pub(crate) fn io(path: &Path, source: io::Error) -> Self {
        Self::Io {
            path: path.to_owned(),
            source,
        }
    }
}

/// How a segment ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SegmentState {
    /// Records, then zeros.
    Clean,
    /// Records, then a torn write from `offset` on (zeroed when repairing).
    TornTail {
        /// Where the torn record starts.
        offset: u64,
        /// Why it did not read.
        reason: &'static str,
    },
}

/// One segment as read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SegmentScan {
    /// The file.
    pub path: PathBuf,
    /// Command sequence number of its first record (from its header).
    pub first_command_seq: u64,
    /// Records it holds.
    pub records: u64,
    /// Command sequence number of its last record, if any.
    pub last_command_seq: Option<u64>,
    /// Offset where the next record would go.
    pub end_offset: u64,
    /// File size.
    pub file_len: u64,
    /// How it ended.
    pub state: SegmentState,
}

/// A whole journal directory as read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JournalScan {
    /// Segments holding records or next in line, by first command sequence number.
    pub segments: Vec<SegmentScan>,
    /// Preallocated files not in use.
    pub spares: Vec<PathBuf>,
    /// The last durable command's sequence number (0 when empty).
    pub last_command_seq: u64,
    /// The sequence number the next event will take.
    pub next_event_seq: u64,
}

struct Loaded {
    path: PathBuf,
    first_command_seq: u64,
    bytes: Vec<u8>,
}

/// Reads every segment in `dir`. With `repair`, torn tails are zeroed (and files cut
/// short are restored to `segment_size`), and empty segments that no longer follow on are
/// turned back into spares; without it, nothing is written.
///
/// # Errors
/// [`JournalError`] for I/O failures, bad headers, gaps and corruption before the tail.
pub fn scan(dir: &Path, repair: bool, segment_size: u64) -> Result<JournalScan, JournalError> {
    let mut loaded = Vec::new();
    let mut spares = Vec::new();
    for path in list_files(dir).map_err(|e| JournalError::io(dir, e))? {
        let bytes = fs::read(&path).map_err(|e| JournalError::io(&path, e))?;
        match decode_header(&bytes) {
            Some(Header::Segment { first_command_seq })
                if (1..=MAX_SEQ).contains(&first_command_seq) =>
            {
                loaded.push(Loaded {
                    path,
                    first_command_seq,
                    bytes,
                });
            }
            Some(Header::Spare) => spares.push(path),
            Some(Header::Segment { .. }) | None => return Err(JournalError::BadHeader { path }),
        }
    }
    loaded.sort_by_key(|l| l.first_command_seq);

    let mut segments = Vec::with_capacity(loaded.len());
    let mut expected_command: Option<u64> = None;
    let mut next_event_seq: Option<u64> = None;
    let mut stopped = false;
    for i in 0..loaded.len() {
        let seg = &loaded[i];
        if stopped {
            // After a torn tail, later segments can hold no records (checked below);
            // they are spares again.
            if repair {
                unuse(&seg.path)?;
            }
            spares.push(seg.path.clone());
            continue;
        }
        let expected = *expected_command.get_or_insert(seg.first_command_seq);
        if seg.first_command_seq != expected {
            // An empty next segment whose header names the wrong sequence: a rollover
            // whose first batch never became durable.
            if matches!(
                read_frame(seg.bytes.get(SEGMENT_HEADER..).unwrap_or(&[])),
                Frame::End
            ) && i + 1 == loaded.len()
            {
                if repair {
                    unuse(&seg.path)?;
                }
                spares.push(seg.path.clone());
                continue;
            }
            return Err(JournalError::Gap {
                path: seg.path.clone(),
                offset: 0,
                expected,
                found: seg.first_command_seq,
            });
        }
        let mut pos = SEGMENT_HEADER;
        let mut records = 0u64;
        let mut last = None;
        let mut expect = expected;
        let state = loop {
            let frame = read_frame(&seg.bytes[pos.min(seg.bytes.len())..]);
            let (payload, len) = match frame {
                Frame::Valid { payload, len } => (payload, len),
                Frame::End | Frame::Invalid(_) => {
                    let reason = match frame {
                        Frame::Invalid(r) => r,
                        _ => "",
                    };
                    let tail = &seg.bytes[pos.min(seg.bytes.len())..];
                    let clean = reason.is_empty() && tail.iter().all(|b| *b == 0);
                    if !clean && let Some(at) = later_record(&loaded, i, pos, expect) {
                        return Err(JournalError::Corrupt {
                            path: seg.path.clone(),
                            offset: pos as u64,
                            reason: format!(
                                "{} (a valid record follows at {})",
                                if reason.is_empty() {
                                    "bytes after the end marker"
                                } else {
                                    reason
                                },
                                at
                            ),
                        });
                    }
                    break if clean {
                        SegmentState::Clean
                    } else {
                        SegmentState::TornTail {
                            offset: pos as u64,
                            reason: if reason.is_empty() {
                                "bytes after the end marker"
                            } else {
                                reason
                            },
                        }
                    };
                }
            };
            let record = decode_payload(payload).map_err(|e| JournalError::Corrupt {
                path: seg.path.clone(),
                offset: pos as u64,
                reason: format!("checksummed record does not decode: {e}"),
            })?;
            if record.command_seq != expect {
                return Err(JournalError::Gap {
                    path: seg.path.clone(),
                    offset: pos as u64,
                    expected: expect,
                    found: record.command_seq,
                });
            }
            if record.command_seq > MAX_SEQ || record.first_event_seq > MAX_SEQ {
                return Err(JournalError::Corrupt {
                    path: seg.path.clone(),
                    offset: pos as u64,
                    reason: format!(
                        "sequence numbers out of range (command {}, event {})",
                        record.command_seq, record.first_event_seq
                    ),
                });
            }
            let first_event = *next_event_seq.get_or_insert(record.first_event_seq);
            let events_follow_on = record.first_event_seq == first_event
                && record
                    .events
                    .iter()
                    .zip(first_event..)
                    .all(|(e, s)| e.seq.0 == s);
            if !events_follow_on {
                return Err(JournalError::Corrupt {
                    path: seg.path.clone(),
                    offset: pos as u64,
                    reason: format!(
                        "event sequence numbers of command {} do not follow on from {}",
                        record.command_seq, first_event
                    ),
                });
            }
            next_event_seq = Some(first_event + record.events.len() as u64);
            last = Some(record.command_seq);
            records += 1;
            expect += 1;
            pos += len;
        };
        if let SegmentState::TornTail { offset, .. } = state {
            stopped = true;
            if repair {
                zero_tail(&seg.path, offset, seg.bytes.len() as u64)?;
            }
        }
        expected_command = Some(expect);
        segments.push(SegmentScan {
            path: seg.path.clone(),
            first_command_seq: seg.first_command_seq,
            records,
            last_command_seq: last,
            end_offset: pos as u64,
            file_len: seg.bytes.len() as u64,
            state,
        });
    }
    if repair {
        // The segment that will be appended to must be whole again if a crash (or an
        // operator) cut the file short.
        if let Some(last) = segments.last_mut()
            && last.file_len < segment_size
        {
            let f = OpenOptions::new()
                .write(true)
                .open(&last.path)
                .map_err(|e| JournalError::io(&last.path, e))?;
            f.set_len(segment_size)
                .and_then(|()| f.sync_all())
                .map_err(|e| JournalError::io(&last.path, e))?;
            last.file_len = segment_size;
        }
    }
    Ok(JournalScan {
        last_command_seq: expected_command.map_or(0, |e| e - 1),
        next_event_seq: next_event_seq.unwrap_or(1),
        segments,
        spares,
    })
}

/// The offset of a valid record with command sequence `>= expect` after `pos` in segment
/// `i`, or the first record of a later segment, if any exists.
fn later_record(loaded: &[Loaded], i: usize, pos: usize, expect: u64) -> Option<String> {
    let bytes = &loaded[i].bytes;
    let mut q = pos + 1;
    while q + FRAME_HEADER < bytes.len() {
        // Cheap filters before the checksum: plausible length, version and kind bytes,
        // and a sequence number that could follow.
        let b = &bytes[q..];
        if b.len() > FRAME_HEADER + 10
            && b[FRAME_HEADER] == RECORD_VERSION
            && b[FRAME_HEADER + 1] == 1
            && let Frame::Valid { payload, .. } = read_frame(b)
            && super::record::payload_command_seq(payload).is_some_and(|s| s >= expect)
        {
            return Some(format!("offset {q}"));
        }
        q += 1;
    }
    loaded[i + 1..].iter().find_map(|l| {
        match read_frame(l.bytes.get(SEGMENT_HEADER..).unwrap_or(&[])) {
            Frame::Valid { .. } => Some(format!("{}", l.path.display())),
            _ => None,
        }
    })
}

/// Zeroes `[offset, len)`, then syncs.
fn zero_tail(path: &Path, offset: u64, len: u64) -> Result<(), JournalError> {
    let f = OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(|e| JournalError::io(path, e))?;
    let zeros = vec![0u8; 1 << 16];
    let mut at = offset;
    while at < len {
        let n = usize::try_from((len - at).min(zeros.len() as u64)).unwrap_or(zeros.len());
        f.write_all_at(&zeros[..n], at)
            .map_err(|e| JournalError::io(path, e))?;
        at += n as u64;
    }
    f.sync_all().map_err(|e| JournalError::io(path, e))
}

/// Turns a segment back into a spare by zeroing its header.
fn unuse(path: &Path) -> Result<(), JournalError> {
    let f = OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(|e| JournalError::io(path, e))?;
    f.write_all_at(&[0u8; SEGMENT_HEADER], 0)
        .map_err(|e| JournalError::io(path, e))?;
    f.sync_data().map_err(|e| JournalError::io(path, e))
}
