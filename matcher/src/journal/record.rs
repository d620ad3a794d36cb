//! One journal record: a command and the events it produced, framed and checksummed.
//!
//! ```text
//! frame   := len: u32 | crc: u32 | payload            (len = payload bytes, crc = CRC32C(payload))
//! payload := version: u8 = 1 | kind: u8 = 1 | command_seq: u64 | first_event_seq: u64
//!            | event_count: u32 | command | event * event_count
//! ```
//!
//! All integers little-endian; `command` and `event` as in [`crate::codec`]. A zero `len`
//! never starts a record: segments are preallocated with zeros, so a zero length is where
//! the written part ends.

use crate::codec::{DecodeError, Encode, Reader, decode_command, decode_event};
use crate::command::Command;
use crate::event::Event;

/// The record format version this build writes and reads.
pub const RECORD_VERSION: u8 = 1;
/// Record kind: a command with its events.
const KIND_COMMAND: u8 = 1;
/// Frame header bytes: length and checksum.
pub const FRAME_HEADER: usize = 8;
/// Payload bytes before the command.
const PAYLOAD_HEADER: usize = 1 + 1 + 8 + 8 + 4;
/// Largest payload accepted: bounds what a corrupt length can make a reader do.
pub const MAX_RECORD: usize = 1 << 30;

/// A decoded record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    /// The command's journal sequence number (1, 2, 3, … with no gap).
    pub command_seq: u64,
    /// The sequence number of its first event (or the next one, if it has none).
    pub first_event_seq: u64,
    /// The command as the engine received it, timestamp included.
    pub command: Command,
    /// What the engine answered.
    pub events: Vec<Event>,
}

/// Appends one framed record to `out`. The events' sequence numbers must run on from
/// `first_event_seq` (the engine's output does).
pub fn encode_record(
    out: &mut Vec<u8>,
    command_seq: u64,
    first_event_seq: u64,
    command: &Command,
    events: &[Event],
) {
    let start = out.len();
    out.extend_from_slice(&[0u8; FRAME_HEADER]);
    out.push(RECORD_VERSION);
    out.push(KIND_COMMAND);
    out.extend_from_slice(&command_seq.to_le_bytes());
    out.extend_from_slice(&first_event_seq.to_le_bytes());
    // A command produces far fewer than 2^32 events (bounded by resting orders).
    #[allow(clippy::cast_possible_truncation)]
    out.extend_from_slice(&(events.len() as u32).to_le_bytes());
    command.encode(out);
    for e in events {
        e.encode(out);
    }
    let payload = &out[start + FRAME_HEADER..];
    let crc = crc32c::crc32c(payload);
    // Payloads are bounded by MAX_RECORD, far below 4 GiB.
    #[allow(clippy::cast_possible_truncation)]
    let len = payload.len() as u32;
    out[start..start + 4].copy_from_slice(&len.to_le_bytes());
    out[start + 4..start + 8].copy_from_slice(&crc.to_le_bytes());
}

/// What is at an offset of a segment.
#[derive(Debug, PartialEq, Eq)]
pub enum Frame<'a> {
    /// A zero length: the written part of the segment ends here.
    End,
    /// A frame whose checksum holds; `len` is the whole frame's size.
    Valid {
        /// The checksummed payload.
        payload: &'a [u8],
        /// Frame size including the header.
        len: usize,
    },
    /// Not a readable frame: cut short, implausible length, or checksum mismatch.
    Invalid(&'static str),
}

/// Reads the frame at the start of `buf` without decoding its payload.
#[must_use]
pub fn read_frame(buf: &[u8]) -> Frame<'_> {
    if buf.len() < FRAME_HEADER {
        return if buf.iter().all(|b| *b == 0) {
            Frame::End
        } else {
            Frame::Invalid("frame header cut short")
        };
    }
    let len = u32::from_le_bytes([buf[0], buf[1], buf[2], buf[3]]) as usize;
    let crc = u32::from_le_bytes([buf[4], buf[5], buf[6], buf[7]]);
    if len == 0 {
        return if crc == 0 {
            Frame::End
        } else {
            Frame::Invalid("zero length with a checksum")
        };
    }
    if !(PAYLOAD_HEADER..=MAX_RECORD).contains(&len) {
        return Frame::Invalid("implausible length");
    }
    let Some(payload) = buf.get(FRAME_HEADER..FRAME_HEADER + len) else {
        return Frame::Invalid("record cut short");
    };
    if crc32c::crc32c(payload) != crc {
        return Frame::Invalid("checksum mismatch");
    }
    Frame::Valid {
        payload,
        len: FRAME_HEADER + len,
    }
}

/// The command sequence number of a checksummed payload, without decoding the rest.
#[must_use]
pub(crate) fn payload_command_seq(payload: &[u8]) -> Option<u64> {
    let bytes = payload.get(2..10)?;
    let mut a = [0u8; 8];
    a.copy_from_slice(bytes);
    Some(u64::from_le_bytes(a))
}

/// Decodes a checksummed payload.
///
/// # Errors
/// [`DecodeError`] when the payload is not a version-1 command record.
pub fn decode_payload(payload: &[u8]) -> Result<Record, DecodeError> {
    let mut r = Reader::new(payload);
    let version = r.u8()?;
    if version != RECORD_VERSION {
        return Err(DecodeError::Invalid {
            what: "record version",
            value: version,
            offset: 0,
        });
    }
    let kind = r.u8()?;
    if kind != KIND_COMMAND {
        return Err(DecodeError::Invalid {
            what: "record kind",
            value: kind,
            offset: 1,
        });
    }
    let command_seq = r.u64()?;
    let first_event_seq = r.u64()?;
    let count = r.u32()? as usize;
    let command = decode_command(&mut r)?;
    // Each event takes at least 17 bytes: never trust a count beyond what is there.
    let mut events = Vec::with_capacity(count.min(r.remaining() / 17));
    for _ in 0..count {
        events.push(decode_event(&mut r)?);
    }
    r.finish()?;
    Ok(Record {
        command_seq,
        first_event_seq,
        command,
        events,
    })
}
