//! Treats arbitrary bytes as the body of a journal segment (what follows the 64-byte
//! header) and reads it the way recovery does.
//!
//! Each input is tried twice: as it is, and with every frame's checksum recomputed, so
//! that the fuzzer gets past the CRC and into record decoding and the sequence number
//! checks. Each version is walked frame by frame from offset 0 with `read_frame` and
//! `decode_payload`, then written after a valid header (first command 1) into a segment
//! file and scanned with `journal::scan`, without repair; when the scan succeeds, the
//! reader must read back exactly the records the scan counted. Where the first record
//! decodes with another command number, the segment is scanned once more with a header
//! naming that number (any `u64`, 0 and `u64::MAX` included), so that records with
//! absurd sequence numbers get past the gap check too.

#![no_main]

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use matcher::journal::{
    self, FRAME_HEADER, Frame, SEGMENT_HEADER, SEGMENT_VERSION, decode_payload, read_frame,
    segment_path,
};

/// The first command sequence number the segment header names, unless the first record
/// says otherwise.
const FIRST_COMMAND_SEQ: u64 = 1;

/// A valid segment header, built by hand from the format in `journal/segment.rs` (its
/// encoder is private to the crate):
/// `magic "TPJOURNL" | version: u32 | reserved: u32 | first_command_seq: u64
///  | crc32c(previous 24 bytes): u32 | zeros to 64 bytes`.
fn header(first_command_seq: u64) -> [u8; SEGMENT_HEADER] {
    let mut h = [0u8; SEGMENT_HEADER];
    h[..8].copy_from_slice(b"TPJOURNL");
    h[8..12].copy_from_slice(&SEGMENT_VERSION.to_le_bytes());
    h[16..24].copy_from_slice(&first_command_seq.to_le_bytes());
    let crc = crc32c::crc32c(&h[..24]);
    h[24..28].copy_from_slice(&crc.to_le_bytes());
    h
}

/// One directory per process (a fresh one per input would dominate the time); each input
/// overwrites the single segment file in it. In memory (`/dev/shm`) where there is one,
/// else under `TMPDIR`. libFuzzer exits without running destructors, so the directories
/// of earlier processes that are gone (fork mode starts many) are removed here instead.
fn dir() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let shm = Path::new("/dev/shm");
        let base = if shm.is_dir() {
            shm.to_owned()
        } else {
            std::env::temp_dir()
        };
        const PREFIX: &str = "matcher-fuzz-journal-";
        // Only where `/proc` tells which processes are alive.
        let procfs = Path::new("/proc/self").exists();
        for entry in std::fs::read_dir(&base).into_iter().flatten().flatten() {
            let name = entry.file_name();
            let pid = name.to_str().and_then(|n| n.strip_prefix(PREFIX));
            if procfs && pid.is_some_and(|pid| !Path::new("/proc").join(pid).exists()) {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
        let dir = base.join(format!("{PREFIX}{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        dir
    })
}

/// Walks frames from offset 0 as `scan` does; returns the first record's command
/// sequence number, if it decodes.
fn walk(body: &[u8]) -> Option<u64> {
    let mut pos = 0;
    let mut first = None;
    while let Frame::Valid { payload, len } = read_frame(&body[pos..]) {
        assert!(len >= FRAME_HEADER && len <= body.len() - pos);
        assert_eq!(payload.len(), len - FRAME_HEADER);
        let record = decode_payload(payload);
        if pos == 0 {
            first = record.ok().map(|r| r.command_seq);
        }
        pos += len;
    }
    first
}

/// `body` with each frame's checksum set to match its payload, as far as the lengths
/// chain through it.
fn fix_checksums(body: &[u8]) -> Vec<u8> {
    let mut out = body.to_vec();
    let mut pos = 0;
    while let Some(prefix) = out.get(pos..pos + 4) {
        let len = u32::from_le_bytes(prefix.try_into().expect("4 bytes")) as usize;
        let start = pos + FRAME_HEADER;
        if len == 0 || start + len > out.len() {
            break;
        }
        let crc = crc32c::crc32c(&out[start..start + len]);
        out[pos + 4..pos + 8].copy_from_slice(&crc.to_le_bytes());
        pos = start + len;
    }
    out
}

/// Writes `body` as a segment after a valid header naming `first`, scans the directory,
/// and removes the segment again.
fn scan_segment(body: &[u8], first: u64) {
    let dir = dir();
    let path = segment_path(dir, first);
    let mut file = header(first).to_vec();
    file.extend_from_slice(body);
    std::fs::write(&path, &file).expect("write segment");
    check_scan(dir, first, file.len() as u64);
    std::fs::remove_file(&path).expect("remove segment");
}

fn check_scan(dir: &Path, first: u64, size: u64) {
    let Ok(scan) = journal::scan(dir, false, size) else {
        return;
    };
    assert_eq!(scan.segments.len(), 1);
    let seg = &scan.segments[0];
    assert_eq!(seg.first_command_seq, first);
    assert!(seg.end_offset <= seg.file_len);
    let mut read = 0u64;
    journal::for_each_record(&scan, 1, u64::MAX, |r| {
        assert_eq!(r.command_seq, first + read);
        read += 1;
        Ok(())
    })
    .expect("a scanned segment reads back");
    assert_eq!(read, seg.records);
    assert_eq!(scan.last_command_seq, first + read - 1);
}

/// Walks and scans `body` after a header naming command 1 and, where its first record
/// has another number, after a header naming that one.
fn check(body: &[u8]) {
    let first = walk(body);
    scan_segment(body, FIRST_COMMAND_SEQ);
    if let Some(first) = first.filter(|f| *f != FIRST_COMMAND_SEQ) {
        scan_segment(body, first);
    }
}

fuzz_target!(|data: &[u8]| {
    check(data);
    let fixed = fix_checksums(data);
    if fixed != data {
        check(&fixed);
    }
});
