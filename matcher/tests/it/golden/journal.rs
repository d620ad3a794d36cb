//! `journal_records.bin` and `journal_segment.bin`: records of commands run through a real
//! engine, alone and as `JournalWriter` lays them out in a segment.

use std::fs;

use matcher::journal::{
    Frame, JournalConfig, JournalWriter, Record, SEGMENT_HEADER, decode_payload, encode_record,
    read_frame, segment_path,
};
use matcher::{
    AccountId, Amend, Cancel, CancelAll, Command, CommandKind, Engine, EngineConfig, EventKind,
    MarketConfig, MarketId, NewOrder, OrderId, OrderRef, OrderType, Price, Quantity, Side, StpMode,
    Symbol, TimeInForce, Timestamp, journal,
};

use super::file::Golden;
use super::values::{T0, cid};

fn journal_engine() -> Engine {
    Engine::new(EngineConfig {
        markets: vec![
            MarketConfig::new(
                MarketId(7),
                Symbol::new("BTC-USD").unwrap(),
                5,
                10,
                Price(5),
                Price(20_000),
                Quantity(1_000_000),
                64,
            )
            .unwrap(),
        ],
        client_id_window: 8,
    })
    .unwrap()
}

/// Commands whose events cover acceptance, trades, amends, cancels, rejections and
/// completion, each with a fixed timestamp.
fn journal_commands() -> Vec<Command> {
    let order = |account, id: &str, side, price, quantity, tif| NewOrder {
        market: MarketId(7),
        account: AccountId(account),
        client_order_id: cid(id),
        side,
        order_type: OrderType::Limit {
            price: Price(price),
        },
        quantity: Quantity(quantity),
        time_in_force: tif,
        post_only: false,
        stp: StpMode::CancelNewest,
    };
    let kinds = [
        CommandKind::NewOrder(order(1, "s1", Side::Sell, 10_050, 30, TimeInForce::Gtc)),
        CommandKind::NewOrder(order(2, "s2", Side::Sell, 10_100, 20, TimeInForce::Gtc)),
        // Takes all of s1 and half of s2.
        CommandKind::NewOrder(order(3, "b1", Side::Buy, 10_100, 40, TimeInForce::Ioc)),
        // s2 grows (to the back of its level); an unknown order; a price off tick.
        CommandKind::Amend(Amend {
            account: AccountId(2),
            order: OrderRef::Client(cid("s2")),
            price: None,
            quantity: Some(Quantity(40)),
        }),
        CommandKind::Cancel(Cancel {
            account: AccountId(1),
            order: OrderRef::Id(OrderId(99)),
        }),
        CommandKind::NewOrder(order(4, "bad", Side::Buy, 10_051, 10, TimeInForce::Gtc)),
        CommandKind::CancelAll(CancelAll {
            account: AccountId(2),
            market: None,
        }),
    ];
    kinds
        .into_iter()
        .zip(0u64..)
        .map(|(kind, i)| Command {
            timestamp: Timestamp(T0 + 1_000 * i),
            kind,
        })
        .collect()
}

/// The journal records of `journal_commands()` run through a fresh engine.
fn journal_records() -> Vec<Record> {
    let mut e = journal_engine();
    journal_commands()
        .into_iter()
        .zip(1u64..)
        .map(|(command, command_seq)| {
            let first_event_seq = e.last_seq().0 + 1;
            let events = e.process(&command).to_vec();
            Record {
                command_seq,
                first_event_seq,
                command,
                events,
            }
        })
        .collect()
}

fn encode(r: &Record, out: &mut Vec<u8>) {
    encode_record(out, r.command_seq, r.first_event_seq, &r.command, &r.events);
}

#[test]
fn golden_journal_records() {
    let records = journal_records();
    // The workload must keep exercising every event kind.
    let kinds: Vec<&str> = records
        .iter()
        .flat_map(|r| &r.events)
        .map(|e| match e.kind {
            EventKind::Accepted(_) => "accepted",
            EventKind::Rejected(_) => "rejected",
            EventKind::Trade(_) => "trade",
            EventKind::Cancelled(_) => "cancelled",
            EventKind::Amended(_) => "amended",
            EventKind::Done(_) => "done",
        })
        .collect();
    for k in [
        "accepted",
        "rejected",
        "trade",
        "cancelled",
        "amended",
        "done",
    ] {
        assert!(kinds.contains(&k), "no {k} event in {kinds:?}");
    }

    let mut g = Golden::new("journal_records.bin");
    for r in &records {
        g.part(format!("record {}", r.command_seq), |out| encode(r, out));
    }
    let bytes = g.check();

    let mut pos = 0;
    for r in &records {
        let Frame::Valid { payload, len } = read_frame(&bytes[pos..]) else {
            panic!("record {} does not frame", r.command_seq);
        };
        assert_eq!(&decode_payload(payload).unwrap(), r);
        pos += len;
    }
    assert_eq!(pos, bytes.len());
    assert_eq!(read_frame(&bytes[pos..]), Frame::End);
}

#[test]
fn golden_journal_segment() {
    const SEGMENT_SIZE: u64 = 4096;
    // The first two records, appended as two batches.
    let records = &journal_records()[..2];
    let dir = tempfile::tempdir().unwrap();
    {
        let config = JournalConfig {
            dir: dir.path().to_owned(),
            segment_size: SEGMENT_SIZE,
            fsync: false,
        };
        let scan = journal::scan(dir.path(), true, SEGMENT_SIZE).unwrap();
        let mut writer = JournalWriter::open(config, &scan).unwrap();
        for r in records {
            let mut batch = Vec::new();
            encode(r, &mut batch);
            writer.append(&batch).unwrap();
        }
    }
    let file = fs::read(segment_path(dir.path(), 1)).unwrap();
    assert_eq!(file.len() as u64, SEGMENT_SIZE);
    let mut written = SEGMENT_HEADER;
    let mut g = Golden::new("journal_segment.bin");
    g.part("segment header", |out| {
        out.extend_from_slice(&file[..SEGMENT_HEADER]);
    });
    for r in records {
        let mut fresh = Vec::new();
        encode(r, &mut fresh);
        let on_disk = &file[written..written + fresh.len()];
        assert_eq!(on_disk, fresh, "record {} as written", r.command_seq);
        written += fresh.len();
        g.part(format!("record {}", r.command_seq), |out| {
            out.extend_from_slice(on_disk);
        });
    }
    assert!(
        file[written..].iter().all(|b| *b == 0),
        "the preallocated rest of the segment is zeros"
    );
    let bytes = g.check();

    // Decode the golden segment back: as a file in a journal directory, it scans and
    // reads as the records it was made from.
    let dir = tempfile::tempdir().unwrap();
    let mut padded = bytes.clone();
    padded.resize(SEGMENT_SIZE as usize, 0);
    fs::write(segment_path(dir.path(), 1), &padded).unwrap();
    assert_eq!(
        journal::segment_starts(dir.path()).unwrap(),
        vec![(1, segment_path(dir.path(), 1))]
    );
    let scan = journal::scan(dir.path(), false, SEGMENT_SIZE).unwrap();
    assert_eq!(scan.last_command_seq, 2);
    assert_eq!(
        scan.next_event_seq,
        records[1].first_event_seq + records[1].events.len() as u64
    );
    assert_eq!(scan.segments.len(), 1);
    assert_eq!(scan.segments[0].end_offset, bytes.len() as u64);
    let mut read = Vec::new();
    journal::for_each_record(&scan, 1, u64::MAX, |r| {
        read.push(r);
        Ok(())
    })
    .unwrap();
    assert_eq!(read, records);
}
