//! The journal: records written in batches read back exactly; torn tails are truncated at
//! every byte offset; damage before the tail refuses to start with the file and offset.

use std::fs;
use std::path::{Path, PathBuf};

use matcher::journal::{
    self, JournalConfig, JournalError, JournalWriter, SEGMENT_HEADER, SegmentState, encode_record,
};
use matcher::{
    AccountId, ClientOrderId, Command, CommandKind, Engine, EngineConfig, MarketConfig, MarketId,
    NewOrder, OrderType, Price, Quantity, Side, StpMode, Symbol, TimeInForce, Timestamp,
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
