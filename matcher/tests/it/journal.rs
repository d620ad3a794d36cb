//! The journal: records written in batches read back exactly; torn tails are truncated at
//! every byte offset; damage before the tail refuses to start with the file and offset.

use std::fs;
use std::path::{Path, PathBuf};

use matcher::journal::{
    self, JournalConfig, JournalError, JournalScan, JournalWriter, SEGMENT_HEADER, SEGMENT_VERSION,
    SegmentState, encode_record, segment_path,
};
use matcher::{
    Accepted, AccountId, ClientOrderId, Command, CommandKind, Engine, EngineConfig, Event,
    EventKind, MarketConfig, MarketId, NewOrder, OrderId, OrderType, Price, Quantity, Seq, Side,
    StpMode, Symbol, TimeInForce, Timestamp,
};

fn engine() -> Engine {
    Engine::new(EngineConfig {
        markets: vec![
            MarketConfig::new(
                MarketId(1),
                Symbol::new("AAA").unwrap(),
                1,
                1,
                Price(1),
                Price(200),
                Quantity(100),
                1000,
            )
            .unwrap(),
        ],
        client_id_window: 16,
    })
    .unwrap()
}

fn command(i: u64) -> Command {
    let side = if i.is_multiple_of(2) {
        Side::Buy
    } else {
        Side::Sell
    };
    Command {
        timestamp: Timestamp(i),
        kind: CommandKind::NewOrder(NewOrder {
            market: MarketId(1),
            account: AccountId(i % 5),
            client_order_id: ClientOrderId::from_u64(i),
            side,
            order_type: OrderType::Limit {
                price: Price(100 + (i % 7) as i64 - 3),
            },
            quantity: Quantity(1 + i % 9),
            time_in_force: TimeInForce::Gtc,
            post_only: false,
            stp: StpMode::CancelNewest,
        }),
    }
}

/// Runs `n` commands through an engine, journaling them in batches of `batch`.
fn write_journal(dir: &Path, n: u64, batch: u64, segment_size: u64) -> Vec<Vec<u8>> {
    let config = JournalConfig {
        dir: dir.to_owned(),
        segment_size,
        fsync: true,
    };
    let scan = journal::scan(dir, true, segment_size).unwrap();
    let mut writer = JournalWriter::open(config, &scan).unwrap();
    let mut e = engine();
    let mut buf = Vec::new();
    let mut records = Vec::new();
    for i in 1..=n {
        let first_event_seq = e.last_seq().0 + 1;
        let c = command(i);
        let events = e.process(&c).to_vec();
        let start = buf.len();
        encode_record(&mut buf, i, first_event_seq, &c, &events);
        records.push(buf[start..].to_vec());
        if i % batch == 0 || i == n {
            writer.append(&buf).unwrap();
            buf.clear();
        }
    }
    records
}

fn segments(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_str()
                .unwrap()
                .chars()
                .next()
                .unwrap()
                .is_ascii_digit()
        })
        .collect();
    v.sort();
    v
}

#[test]
fn batches_read_back_exactly_across_segment_rolls() {
    let dir = tempfile::tempdir().unwrap();
    let records = write_journal(dir.path(), 300, 7, 8 * 1024);
    let scan = journal::scan(dir.path(), false, 8 * 1024).unwrap();
    assert!(scan.segments.len() > 3, "rolled: {:?}", scan.segments.len());
    assert_eq!(scan.last_command_seq, 300);
    let mut seen = Vec::new();
    journal::for_each_record(&scan, 1, u64::MAX, |r| {
        seen.push(r);
        Ok(())
    })
    .unwrap();
    assert_eq!(seen.len(), 300);
    // Replaying the journaled commands reproduces the journaled events.
    let mut e = engine();
    for (i, r) in seen.iter().enumerate() {
        assert_eq!(r.command_seq, i as u64 + 1);
        assert_eq!(r.command, command(i as u64 + 1));
        assert_eq!(e.process(&r.command), r.events.as_slice());
    }
    assert_eq!(scan.next_event_seq, e.last_seq().0 + 1);
    // A middle range.
    let mut mid = Vec::new();
    journal::for_each_record(&scan, 100, 120, |r| {
        mid.push(r.command_seq);
        Ok(())
    })
    .unwrap();
    assert_eq!(mid, (100..=120).collect::<Vec<_>>());
    drop(records);

    // Appending after a reopen continues where the journal ended.
    let more = write_journal(dir.path(), 0, 1, 8 * 1024);
    assert!(more.is_empty());
}

/// The byte range of the last record in the last segment.
fn last_record(dir: &Path, seg_size: u64) -> (PathBuf, u64, u64) {
    let scan = journal::scan(dir, false, seg_size).unwrap();
    let seg = scan.segments.last().unwrap();
    let mut offsets = Vec::new();
    let bytes = fs::read(&seg.path).unwrap();
    let mut pos = SEGMENT_HEADER;
    while let journal::Frame::Valid { len, .. } = journal::read_frame(&bytes[pos..]) {
        offsets.push((pos, len));
        pos += len;
    }
    let (start, len) = *offsets.last().unwrap();
    (seg.path.clone(), start as u64, len as u64)
}

#[test]
fn torn_last_record_is_truncated_at_every_byte_offset() {
    let seg_size = 64 * 1024;
    let template = tempfile::tempdir().unwrap();
    write_journal(template.path(), 20, 4, seg_size);
    let (path, start, len) = last_record(template.path(), seg_size);
    let original = fs::read(&path).unwrap();
    let name = path.file_name().unwrap().to_owned();

    for cut in 0..len {
        for corrupt in [false, true] {
            let dir = tempfile::tempdir().unwrap();
            for p in segments(template.path()) {
                fs::copy(&p, dir.path().join(p.file_name().unwrap())).unwrap();
            }
            let target = dir.path().join(&name);
            let mut bytes = original.clone();
            if corrupt {
                // Flip one byte of the last record.
                bytes[(start + cut) as usize] ^= 0x5a;
            } else {
                // The write stopped `cut` bytes into the record.
                bytes.truncate((start + cut) as usize);
            }
            fs::write(&target, &bytes).unwrap();

            let scan = journal::scan(dir.path(), true, seg_size)
                .unwrap_or_else(|e| panic!("cut {cut} corrupt {corrupt}: {e}"));
            assert_eq!(scan.last_command_seq, 19, "cut {cut} corrupt {corrupt}");
            let torn = matches!(
                scan.segments.last().unwrap().state,
                SegmentState::TornTail { offset, .. } if offset == start
            );
            // Cutting at offset 0 leaves a clean end: nothing of the record was written.
            assert!(
                torn || (!corrupt && cut == 0),
                "cut {cut} corrupt {corrupt}"
            );
            // Repaired: a second scan is clean, and the file is whole again.
            let again = journal::scan(dir.path(), false, seg_size).unwrap();
            assert_eq!(again.segments.last().unwrap().state, SegmentState::Clean);
            assert_eq!(again.last_command_seq, 19);
            assert_eq!(fs::metadata(&target).unwrap().len(), seg_size);
        }
    }
}

#[test]
fn corrupt_middle_record_refuses_to_start_naming_file_and_offset() {
    let seg_size = 64 * 1024;
    let dir = tempfile::tempdir().unwrap();
    write_journal(dir.path(), 20, 4, seg_size);
    let seg = segments(dir.path()).pop().unwrap();
    let mut bytes = fs::read(&seg).unwrap();
    // The third record's payload.
    let mut pos = SEGMENT_HEADER;
    for _ in 0..2 {
        let journal::Frame::Valid { len, .. } = journal::read_frame(&bytes[pos..]) else {
            panic!()
        };
        pos += len;
    }
    bytes[pos + 20] ^= 0xff;
    fs::write(&seg, &bytes).unwrap();
    let err = journal::scan(dir.path(), true, seg_size).unwrap_err();
    match &err {
        JournalError::Corrupt { path, offset, .. } => {
            assert_eq!(path, &seg);
            assert_eq!(*offset, pos as u64);
        }
        other => panic!("expected corruption, got {other}"),
    }
    let msg = err.to_string();
    assert!(msg.contains(&format!("offset {pos}")), "{msg}");
    assert!(msg.contains("refusing to start"), "{msg}");
    // Nothing was repaired: the damage is still there for an operator to look at.
    assert_eq!(fs::read(&seg).unwrap(), bytes);
}

// ---------------------------------------------------------------------------------------
// Regressions: checksummed records and headers with absurd sequence numbers
// ---------------------------------------------------------------------------------------

/// The largest sequence number `journal::scan` accepts (`MAX_SEQ` in `journal/scan.rs`).
const MAX_SEQ: u64 = 1 << 62;

/// Size of the hand-made segments below.
const SMALL_SEGMENT: u64 = 4096;

/// A segment header made by hand (its encoder is private to the crate):
/// `"TPJOURNL" | version: u32 | reserved: u32 | first_command_seq: u64
///  | crc32c(previous 24 bytes): u32 | zeros to 64 bytes`, all little-endian.
fn segment_header(first_command_seq: u64) -> [u8; SEGMENT_HEADER] {
    let mut h = [0u8; SEGMENT_HEADER];
    h[..8].copy_from_slice(b"TPJOURNL");
    h[8..12].copy_from_slice(&SEGMENT_VERSION.to_le_bytes());
    h[16..24].copy_from_slice(&first_command_seq.to_le_bytes());
    let crc = crc32c::crc32c(&h[..24]);
    h[24..28].copy_from_slice(&crc.to_le_bytes());
    h
}

/// The event a record of `command(command_seq)` carries: its order accepted, as event
/// `event_seq`.
fn accepted(command_seq: u64, event_seq: u64) -> Event {
    let CommandKind::NewOrder(order) = command(command_seq).kind else {
        unreachable!("`command` makes new orders")
    };
    Event {
        seq: Seq(event_seq),
        timestamp: Timestamp(command_seq),
        kind: EventKind::Accepted(Accepted {
            order_id: OrderId(command_seq),
            order,
        }),
    }
}

/// Writes, in a fresh directory, one segment whose header names `first_command_seq`,
/// holding one record per `(command_seq, first_event_seq)` (with one event each), then
/// zeros to `SMALL_SEGMENT` bytes. Returns the directory and the segment's path.
fn hand_made_segment(
    first_command_seq: u64,
    records: &[(u64, u64)],
) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let mut bytes = segment_header(first_command_seq).to_vec();
    for &(command_seq, first_event_seq) in records {
        encode_record(
            &mut bytes,
            command_seq,
            first_event_seq,
            &command(command_seq),
            &[accepted(command_seq, first_event_seq)],
        );
    }
    assert!(bytes.len() as u64 <= SMALL_SEGMENT);
    bytes.resize(SMALL_SEGMENT as usize, 0);
    let path = segment_path(dir.path(), first_command_seq);
    fs::write(&path, &bytes).unwrap();
    (dir, path)
}

/// Scans a hand-made segment without and with repair (each on a copy of its own): both
/// must answer, without panicking. Returns the segment's file name and the two answers.
fn scan_both_ways(
    first_command_seq: u64,
    records: &[(u64, u64)],
) -> (PathBuf, [Result<JournalScan, JournalError>; 2]) {
    let name = segment_path(Path::new(""), first_command_seq);
    let results = [false, true].map(|repair| {
        let (dir, _) = hand_made_segment(first_command_seq, records);
        journal::scan(dir.path(), repair, SMALL_SEGMENT)
    });
    (name, results)
}

fn assert_corrupt_at_first_record(
    name: &Path,
    result: &Result<JournalScan, JournalError>,
    why: &str,
) {
    match result {
        Err(JournalError::Corrupt {
            path,
            offset,
            reason,
        }) => {
            assert_eq!(path.file_name().unwrap(), name, "{why}");
            assert_eq!(*offset, SEGMENT_HEADER as u64, "{why}");
            assert!(reason.contains("out of range"), "{why}: {reason}");
        }
        other => panic!("{why}: expected corruption, got {other:?}"),
    }
}

fn assert_bad_header(name: &Path, result: &Result<JournalScan, JournalError>, why: &str) {
    match result {
        Err(JournalError::BadHeader { path }) => {
            assert_eq!(path.file_name().unwrap(), name, "{why}");
        }
        other => panic!("{why}: expected a bad header, got {other:?}"),
    }
}

#[test]
fn hand_made_segment_header_matches_the_writers() {
    let dir = tempfile::tempdir().unwrap();
    write_journal(dir.path(), 1, 1, SMALL_SEGMENT);
    let bytes = fs::read(segment_path(dir.path(), 1)).unwrap();
    assert_eq!(bytes[..SEGMENT_HEADER], segment_header(1));
    // And a hand-made segment with ordinary numbers scans like a written one.
    let (made, _) = hand_made_segment(1, &[(1, 1), (2, 2)]);
    let scan = journal::scan(made.path(), false, SMALL_SEGMENT).unwrap();
    assert_eq!(scan.last_command_seq, 2);
    assert_eq!(scan.next_event_seq, 3);
    assert_eq!(scan.segments[0].state, SegmentState::Clean);
}

/// A checksummed record whose first event sequence number is `u64::MAX` (with an event
/// numbered so) overflowed `next_event_seq` in `scan` (`first_event + events.len()`); it
/// is now corruption at the record.
#[test]
fn regression_scan_overflow_on_max_event_seq() {
    for first_event_seq in [u64::MAX, u64::MAX - 1, MAX_SEQ + 1] {
        let (name, results) = scan_both_ways(1, &[(1, first_event_seq)]);
        for (repair, result) in [false, true].into_iter().zip(&results) {
            let why = format!("first event {first_event_seq}, repair {repair}");
            assert_corrupt_at_first_record(&name, result, &why);
        }
    }
    // The limit itself is still accepted, and the next event number computed from it.
    let (_, [scan, repaired]) = scan_both_ways(1, &[(1, MAX_SEQ)]);
    for scan in [scan.unwrap(), repaired.unwrap()] {
        assert_eq!(scan.last_command_seq, 1);
        assert_eq!(scan.next_event_seq, MAX_SEQ + 1);
    }
}

/// A segment header naming first command 0 made `scan` compute `last_command_seq` as
/// `0 - 1` (for an empty segment; a record numbered 0 would follow on from it). Such a
/// header is now a bad header.
#[test]
fn regression_scan_underflow_on_header_first_command_zero() {
    for records in [&[][..], &[(0, 1)][..], &[(0, 1), (1, 2)][..]] {
        let (name, results) = scan_both_ways(0, records);
        for (repair, result) in [false, true].into_iter().zip(&results) {
            let why = format!("{} records, repair {repair}", records.len());
            assert_bad_header(&name, result, &why);
        }
    }
}

/// A segment header naming command `u64::MAX`, with a record numbered so, overflowed the
/// expected next command number (`expect + 1`) in `scan`. Headers past `MAX_SEQ` are now
/// bad headers, and a record that would go past it is corruption.
#[test]
fn regression_scan_overflow_on_header_max_command_seq() {
    for (first, records) in [
        (u64::MAX, &[(u64::MAX, 1)][..]),
        (u64::MAX, &[][..]),
        (u64::MAX - 1, &[(u64::MAX - 1, 1), (u64::MAX, 2)][..]),
        (MAX_SEQ + 1, &[(MAX_SEQ + 1, 1)][..]),
    ] {
        let (name, results) = scan_both_ways(first, records);
        for (repair, result) in [false, true].into_iter().zip(&results) {
            let why = format!("header {first}, {} records, repair {repair}", records.len());
            assert_bad_header(&name, result, &why);
        }
    }
    // A header at the limit is accepted with its record; a record after it is past the
    // limit and corrupt (at the second record's offset).
    let (_, [scan, repaired]) = scan_both_ways(MAX_SEQ, &[(MAX_SEQ, 1)]);
    for scan in [scan.unwrap(), repaired.unwrap()] {
        assert_eq!(scan.last_command_seq, MAX_SEQ);
        assert_eq!(scan.next_event_seq, 2);
    }
    let (name, results) = scan_both_ways(MAX_SEQ, &[(MAX_SEQ, 1), (MAX_SEQ + 1, 2)]);
    let mut one = Vec::new();
    encode_record(
        &mut one,
        MAX_SEQ,
        1,
        &command(MAX_SEQ),
        &[accepted(MAX_SEQ, 1)],
    );
    for (repair, result) in [false, true].into_iter().zip(&results) {
        match result {
            Err(JournalError::Corrupt {
                path,
                offset,
                reason,
            }) => {
                assert_eq!(path.file_name().unwrap(), name);
                assert_eq!(*offset, (SEGMENT_HEADER + one.len()) as u64);
                assert!(reason.contains("out of range"), "{reason}");
            }
            other => panic!("repair {repair}: expected corruption, got {other:?}"),
        }
    }
}
