//! Helpers on encoded bytes: journal frames, length prefixes and single-spot mutations.

use matcher::journal::{FRAME_HEADER, Record, encode_record};
use proptest::sample::Index;

pub(super) fn encode_record_of(out: &mut Vec<u8>, r: &Record) {
    encode_record(out, r.command_seq, r.first_event_seq, &r.command, &r.events);
}

/// Checks the length prefix of the frame starting at `start` and returns its body.
pub(super) fn body_of(buf: &[u8], start: usize) -> &[u8] {
    let len = u32::from_le_bytes(buf[start..start + 4].try_into().unwrap()) as usize;
    assert_eq!(len, buf.len() - start - 4, "length prefix counts the rest");
    &buf[start + 4..]
}

/// A copy of `bytes` changed at one spot: a byte flipped, removed, inserted or the whole
/// tail cut off.
pub(super) fn mutate(bytes: &[u8], at: Index, how: u8, value: u8) -> Vec<u8> {
    let mut out = bytes.to_vec();
    if out.is_empty() {
        out.push(value);
        return out;
    }
    let i = at.index(out.len());
    match how % 4 {
        0 => out[i] ^= value.max(1),
        1 => {
            out.remove(i);
        }
        2 => out.insert(i, value),
        _ => out.truncate(i),
    }
    out
}

/// `payload` framed as a journal record with a correct length and checksum.
pub(super) fn checksummed_frame(payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(FRAME_HEADER + payload.len());
    out.extend_from_slice(&u32::try_from(payload.len()).unwrap().to_le_bytes());
    out.extend_from_slice(&crc32c::crc32c(payload).to_le_bytes());
    out.extend_from_slice(payload);
    out
}
