//! Golden files: the exact bytes of every persisted and wire format, so that an accidental
//! format change fails here instead of in production against old journals, snapshots or
//! clients.
//!
//! Each test encodes a fixed, hand-built set of values (no clocks, no randomness) and
//! compares the bytes with a file in `matcher/tests/golden/`, then decodes the file back
//! and checks it yields the same values. A mismatch names the first differing byte and the
//! value it belongs to.
//!
//! A deliberate format change must bump the format's version and regenerate the files:
//!
//! ```text
//! UPDATE_GOLDEN=1 cargo test -p matcher --test it golden
//! ```
//!
//! With `UPDATE_GOLDEN=1` the tests (re)write the files instead of comparing; review the
//! binary diff (`git diff --stat`) and commit the new files together with the change.
//!
//! Files:
//! - `codec.bin`: every command shape (with timestamp, as journaled), every event kind and
//!   every enum value (reject and cancel reasons, command types), order views and depths;
//! - `journal_records.bin`: journal records of commands run through a real engine;
//! - `journal_segment.bin`: the start of a segment written by `JournalWriter` (the 64-byte
//!   header, then its records);
//! - `snapshot.bin`: a snapshot of an engine with resting orders and a recent client id
//!   window;
//! - `requests.bin` / `responses.bin`: one wire frame per request and response variant.

use std::fmt::Write as _;
use std::fs;
use std::ops::Range;
use std::path::{Path, PathBuf};

use matcher::codec::{
    Encode, Reader, decode_command, decode_depth, decode_event, decode_order_view,
};
use matcher::journal::{
    self, Frame, JournalConfig, JournalWriter, Record, SEGMENT_HEADER, decode_payload,
    encode_record, read_frame, segment_path,
};
use matcher::protocol::{
    ErrorCode, Request, Response, decode_request, decode_response, encode_request, encode_response,
};
use matcher::{
    Accepted, AccountId, Amend, Amended, Cancel, CancelAll, CancelReason, Cancelled, ClientOrderId,
    Command, CommandKind, CommandType, Depth, DepthLevel, Done, Engine, EngineConfig, Event,
    EventKind, MarketConfig, MarketId, NewOrder, OrderId, OrderRef, OrderType, OrderView, Price,
    Quantity, RejectReason, Rejected, Seq, Side, StpMode, Symbol, TimeInForce, Timestamp, Trade,
    decode_snapshot,
};

// ---------------------------------------------------------------------------------------
// Golden file plumbing
// ---------------------------------------------------------------------------------------

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
}

fn updating() -> bool {
    std::env::var_os("UPDATE_GOLDEN").is_some_and(|v| v == "1")
}

/// The bytes of one golden file, built from labelled parts so that a mismatch can say
/// which value changed.
struct Golden {
    name: &'static str,
    bytes: Vec<u8>,
    parts: Vec<(String, Range<usize>)>,
}

impl Golden {
    fn new(name: &'static str) -> Self {
        Self {
            name,
            bytes: Vec::new(),
            parts: Vec::new(),
        }
    }

    /// Appends whatever `f` writes as the part called `label`.
    fn part(&mut self, label: impl Into<String>, f: impl FnOnce(&mut Vec<u8>)) {
        let start = self.bytes.len();
        f(&mut self.bytes);
        self.parts.push((label.into(), start..self.bytes.len()));
    }

    /// Compares with the file (or rewrites it under `UPDATE_GOLDEN=1`); returns the file's
    /// bytes, which equal the fresh ones.
    fn check(self) -> Vec<u8> {
        let path = golden_dir().join(self.name);
        if updating() {
            fs::create_dir_all(golden_dir()).unwrap();
            if fs::read(&path).ok().as_deref() != Some(self.bytes.as_slice()) {
                fs::write(&path, &self.bytes).unwrap();
                eprintln!("golden: rewrote {}", path.display());
            }
            return self.bytes;
        }
        let expected = fs::read(&path).unwrap_or_else(|e| {
            panic!(
                "cannot read golden file {}: {e}\n\
                 (create it with `UPDATE_GOLDEN=1 cargo test -p matcher --test it golden`)",
                path.display()
            )
        });
        if expected != self.bytes {
            panic!("{}", self.describe_mismatch(&path, &expected));
        }
        expected
    }

    fn describe_mismatch(&self, path: &Path, expected: &[u8]) -> String {
        let actual = &self.bytes;
        let at = expected
            .iter()
            .zip(actual)
            .position(|(a, b)| a != b)
            .unwrap_or(expected.len().min(actual.len()));
        let part = self
            .parts
            .iter()
            .find(|(_, r)| r.contains(&at))
            .or(self.parts.last());
        let mut msg = format!(
            "encoding differs from golden file {}\n  golden {} bytes, encoded now {} bytes; \
             first difference at byte {at}",
            path.display(),
            expected.len(),
            actual.len()
        );
        if let Some((label, r)) = part {
            let _ = write!(
                msg,
                ", in `{label}` (its byte {} of {})",
                at.saturating_sub(r.start),
                r.len()
            );
        }
        let window = at.saturating_sub(8)..at + 24;
        let _ = write!(
            msg,
            "\n  golden [{}..]: {}\n  now    [{}..]: {}\n\
             If the change is intended, bump the format's version and run \
             `UPDATE_GOLDEN=1 cargo test -p matcher --test it golden`.",
            window.start,
            hex(expected, window.clone()),
            window.start,
            hex(actual, window.clone())
        );
        msg
    }
}

fn hex(bytes: &[u8], r: Range<usize>) -> String {
    let end = r.end.min(bytes.len());
    let start = r.start.min(end);
    bytes[start..end]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Splits concatenated length-prefixed frames into their bodies, checking each prefix.
fn frame_bodies(mut bytes: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    while !bytes.is_empty() {
        let len = u32::from_le_bytes(bytes[..4].try_into().unwrap()) as usize;
        out.push(&bytes[4..4 + len]);
        bytes = &bytes[4 + len..];
    }
    out
}

// ---------------------------------------------------------------------------------------
// Fixed values
// ---------------------------------------------------------------------------------------

fn cid(s: &str) -> ClientOrderId {
    ClientOrderId::new(s).unwrap()
}

/// A 36-byte client order id: the longest there is.
const UUID: &str = "3f2b8c1e-9d4a-4e6b-8f7a-1c2d3e4f5a6b";
/// A fixed timestamp (2025-01-02T03:04:05.006007008Z); others are offsets from it.
const T0: u64 = 1_735_787_045_006_007_008;

fn new_order_limit() -> NewOrder {
    NewOrder {
        market: MarketId(7),
        account: AccountId(1001),
        client_order_id: cid("buy-1"),
        side: Side::Buy,
        order_type: OrderType::Limit {
            price: Price(101_250),
        },
        quantity: Quantity(300),
        time_in_force: TimeInForce::Gtc,
        post_only: false,
        stp: StpMode::CancelNewest,
    }
}

fn new_order_post_only() -> NewOrder {
    NewOrder {
        market: MarketId(8),
        account: AccountId(1002),
        client_order_id: cid(UUID),
        side: Side::Sell,
        order_type: OrderType::Limit {
            price: Price(-1_250),
        },
        quantity: Quantity(5),
        time_in_force: TimeInForce::Gtc,
        post_only: true,
        stp: StpMode::CancelOldest,
    }
}

fn new_order_market_ioc() -> NewOrder {
    NewOrder {
        market: MarketId(7),
        account: AccountId(1003),
        client_order_id: cid("m"),
        side: Side::Buy,
        order_type: OrderType::Market,
        quantity: Quantity(40),
        time_in_force: TimeInForce::Ioc,
        post_only: false,
        stp: StpMode::CancelBoth,
    }
}

fn new_order_market_fok() -> NewOrder {
    NewOrder {
        market: MarketId(u32::MAX),
        account: AccountId(u64::MAX),
        client_order_id: cid("~!"),
        side: Side::Sell,
        order_type: OrderType::Market,
        quantity: Quantity(u64::MAX),
        time_in_force: TimeInForce::Fok,
        post_only: false,
        stp: StpMode::DecrementAndCancel,
    }
}

/// Every command shape: each kind, both order references, optional fields set and unset.
fn commands() -> Vec<(&'static str, Command)> {
    let at = |i: u64, kind| Command {
        timestamp: Timestamp(T0 + i),
        kind,
    };
    vec![
        (
            "new order, limit gtc buy",
            at(0, CommandKind::NewOrder(new_order_limit())),
        ),
        (
            "new order, limit post-only sell, negative price, 36-byte id",
            at(1, CommandKind::NewOrder(new_order_post_only())),
        ),
        (
            "new order, market ioc",
            at(2, CommandKind::NewOrder(new_order_market_ioc())),
        ),
        (
            "new order, market fok, all-ones fields",
            at(3, CommandKind::NewOrder(new_order_market_fok())),
        ),
        (
            "cancel by id",
            at(
                4,
                CommandKind::Cancel(Cancel {
                    account: AccountId(1001),
                    order: OrderRef::Id(OrderId(42)),
                }),
            ),
        ),
        (
            "cancel by client id",
            at(
                5,
                CommandKind::Cancel(Cancel {
                    account: AccountId(1002),
                    order: OrderRef::Client(cid(UUID)),
                }),
            ),
        ),
        (
            "amend by id, price only",
            at(
                6,
                CommandKind::Amend(Amend {
                    account: AccountId(1001),
                    order: OrderRef::Id(OrderId(42)),
                    price: Some(Price(101_300)),
                    quantity: None,
                }),
            ),
        ),
        (
            "amend by client id, quantity only",
            at(
                7,
                CommandKind::Amend(Amend {
                    account: AccountId(1001),
                    order: OrderRef::Client(cid("buy-1")),
                    price: None,
                    quantity: Some(Quantity(200)),
                }),
            ),
        ),
        (
            "amend by id, negative price and quantity",
            at(
                8,
                CommandKind::Amend(Amend {
                    account: AccountId(1002),
                    order: OrderRef::Id(OrderId(43)),
                    price: Some(Price(i64::MIN)),
                    quantity: Some(Quantity(10)),
                }),
            ),
        ),
        (
            "amend, nothing set",
            at(
                9,
                CommandKind::Amend(Amend {
                    account: AccountId(1002),
                    order: OrderRef::Client(cid("x")),
                    price: None,
                    quantity: None,
                }),
            ),
        ),
        (
            "cancel all, every market",
            at(
                10,
                CommandKind::CancelAll(CancelAll {
                    account: AccountId(1001),
                    market: None,
                }),
            ),
        ),
        (
            "cancel all, one market",
            at(
                11,
                CommandKind::CancelAll(CancelAll {
                    account: AccountId(1001),
                    market: Some(MarketId(7)),
                }),
            ),
        ),
    ]
}

const REJECT_REASONS: [RejectReason; 13] = [
    RejectReason::UnknownMarket,
    RejectReason::PriceNotOnTick,
    RejectReason::PriceOutOfBand,
    RejectReason::ZeroQuantity,
    RejectReason::QuantityNotOnLot,
    RejectReason::QuantityTooLarge,
    RejectReason::Duplicate,
    RejectReason::BookFull,
    RejectReason::UnknownOrder,
    RejectReason::InvalidOrderType,
    RejectReason::NothingToAmend,
    RejectReason::QuantityBelowFilled,
    RejectReason::PostOnlyWouldCross,
];

const CANCEL_REASONS: [CancelReason; 5] = [
    CancelReason::User,
    CancelReason::IocRemainder,
    CancelReason::FokNotFillable,
    CancelReason::SelfTradePrevention,
    CancelReason::PostOnlyWouldCross,
];

const COMMAND_TYPES: [CommandType; 4] = [
    CommandType::NewOrder,
    CommandType::Cancel,
    CommandType::Amend,
    CommandType::CancelAll,
];

/// Every event kind, every reject and cancel reason, every command type, and rejections
/// with and without a client order id and an order id.
fn events() -> Vec<(String, Event)> {
    let mut out = Vec::new();
    let mut seq = 1000u64;
    let mut push = |label: String, kind| {
        seq += 1;
        out.push((
            label,
            Event {
                seq: Seq(seq),
                timestamp: Timestamp(T0 + seq),
                kind,
            },
        ));
    };
    push(
        "accepted, limit".into(),
        EventKind::Accepted(Accepted {
            order_id: OrderId(42),
            order: new_order_limit(),
        }),
    );
    push(
        "accepted, market".into(),
        EventKind::Accepted(Accepted {
            order_id: OrderId(43),
            order: new_order_market_ioc(),
        }),
    );
    push(
        "trade, buy aggressor".into(),
        EventKind::Trade(Trade {
            market: MarketId(7),
            maker_order_id: OrderId(40),
            maker_account: AccountId(1004),
            taker_order_id: OrderId(43),
            taker_account: AccountId(1003),
            price: Price(101_200),
            quantity: Quantity(30),
            aggressor: Side::Buy,
            maker_remaining: Quantity(0),
            taker_remaining: Quantity(10),
        }),
    );
    push(
        "trade, sell aggressor, negative price".into(),
        EventKind::Trade(Trade {
            market: MarketId(8),
            maker_order_id: OrderId(44),
            maker_account: AccountId(1005),
            taker_order_id: OrderId(45),
            taker_account: AccountId(1006),
            price: Price(-1_255),
            quantity: Quantity(1),
            aggressor: Side::Sell,
            maker_remaining: Quantity(4),
            taker_remaining: Quantity(0),
        }),
    );
    for (i, reason) in CANCEL_REASONS.into_iter().enumerate() {
        push(
            format!("cancelled, {}", reason.code()),
            EventKind::Cancelled(Cancelled {
                order_id: OrderId(50 + i as u64),
                account: AccountId(1001),
                market: MarketId(7),
                quantity: Quantity(10),
                // A decrement leaves some; everything else leaves nothing.
                remaining: Quantity(if reason == CancelReason::SelfTradePrevention {
                    20
                } else {
                    0
                }),
                reason,
            }),
        );
    }
    push(
        "amended, kept priority".into(),
        EventKind::Amended(Amended {
            order_id: OrderId(42),
            account: AccountId(1001),
            market: MarketId(7),
            price: Price(101_250),
            quantity: Quantity(200),
            remaining: Quantity(170),
            kept_priority: true,
        }),
    );
    push(
        "amended, lost priority, negative price".into(),
        EventKind::Amended(Amended {
            order_id: OrderId(44),
            account: AccountId(1005),
            market: MarketId(8),
            price: Price(-1_300),
            quantity: Quantity(5),
            remaining: Quantity(4),
            kept_priority: false,
        }),
    );
    push(
        "done".into(),
        EventKind::Done(Done {
            order_id: OrderId(43),
            account: AccountId(1003),
            market: MarketId(7),
            filled: Quantity(30),
        }),
    );
    // Rejections: every reason once, with the optional fields in each combination.
    for (i, reason) in REJECT_REASONS.into_iter().enumerate() {
        let command = COMMAND_TYPES[i % COMMAND_TYPES.len()];
        let client_order_id = (i % 2 == 0).then(|| cid(&format!("r{i}")));
        let order_id = (i % 4 < 2).then_some(OrderId(60 + i as u64));
        push(
            format!(
                "rejected, {}, {command:?}, client id {}, order id {}",
                reason.code(),
                if client_order_id.is_some() {
                    "set"
                } else {
                    "unset"
                },
                if order_id.is_some() { "set" } else { "unset" }
            ),
            EventKind::Rejected(Rejected {
                command,
                account: AccountId(2000 + i as u64),
                client_order_id,
                order_id,
                reason,
            }),
        );
    }
    out
}

fn order_view_gtc() -> OrderView {
    OrderView {
        order_id: OrderId(42),
        market: MarketId(7),
        account: AccountId(1001),
        client_order_id: cid("buy-1"),
        side: Side::Buy,
        price: Price(101_250),
        quantity: Quantity(300),
        remaining: Quantity(270),
        filled: Quantity(30),
        time_in_force: TimeInForce::Gtc,
        post_only: false,
        stp: StpMode::CancelNewest,
        created: Timestamp(T0),
        updated: Timestamp(T0 + 6),
    }
}

fn order_view_post_only() -> OrderView {
    OrderView {
        order_id: OrderId(44),
        market: MarketId(8),
        account: AccountId(1002),
        client_order_id: cid(UUID),
        side: Side::Sell,
        price: Price(-1_250),
        quantity: Quantity(5),
        remaining: Quantity(5),
        filled: Quantity(0),
        time_in_force: TimeInForce::Gtc,
        post_only: true,
        stp: StpMode::DecrementAndCancel,
        created: Timestamp(T0 + 1),
        updated: Timestamp(T0 + 1),
    }
}

fn depth() -> Depth {
    let level = |price, quantity, orders| DepthLevel {
        price: Price(price),
        quantity: Quantity(quantity),
        orders,
    };
    Depth {
        bids: vec![level(101_250, 270, 1), level(101_200, 1_000, 3)],
        asks: vec![level(101_300, 50, 2)],
    }
}

fn empty_depth() -> Depth {
    Depth {
        bids: Vec::new(),
        asks: Vec::new(),
    }
}

// ---------------------------------------------------------------------------------------
// Codec
// ---------------------------------------------------------------------------------------

#[test]
fn golden_codec() {
    let commands = commands();
    let events = events();
    let views = [
        ("order view, gtc", order_view_gtc()),
        ("order view, post-only", order_view_post_only()),
    ];
    let depths = [("depth", depth()), ("depth, empty", empty_depth())];

    let mut g = Golden::new("codec.bin");
    for (label, c) in &commands {
        g.part(format!("command: {label}"), |out| c.encode(out));
    }
    for (label, e) in &events {
        g.part(format!("event: {label}"), |out| e.encode(out));
    }
    for (label, v) in &views {
        g.part(*label, |out| v.encode(out));
    }
    for (label, d) in &depths {
        g.part(*label, |out| d.encode(out));
    }
    let bytes = g.check();

    let mut r = Reader::new(&bytes);
    for (label, c) in &commands {
        assert_eq!(&decode_command(&mut r).unwrap(), c, "{label}");
    }
    for (label, e) in &events {
        assert_eq!(&decode_event(&mut r).unwrap(), e, "{label}");
    }
    for (label, v) in &views {
        assert_eq!(&decode_order_view(&mut r).unwrap(), v, "{label}");
    }
    for (label, d) in &depths {
        assert_eq!(&decode_depth(&mut r).unwrap(), d, "{label}");
    }
    r.finish().unwrap();
}

// ---------------------------------------------------------------------------------------
// Journal
// ---------------------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------------------
// Snapshot
// ---------------------------------------------------------------------------------------

fn snapshot_config() -> EngineConfig {
    let market = |id: u32, symbol: &str, tick, lot, min, max| {
        MarketConfig::new(
            MarketId(id),
            Symbol::new(symbol).unwrap(),
            tick,
            lot,
            Price(min),
            Price(max),
            Quantity(10_000),
            32,
        )
        .unwrap()
    };
    EngineConfig {
        markets: vec![
            market(3, "AAA", 1, 1, 1, 200),
            market(2, "SPREAD-Z5", 5, 10, -500, 500),
        ],
        client_id_window: 3,
    }
}

/// An engine with resting orders on both sides of two markets (two sharing a level, one
/// partly filled, one post-only, one amended) and a recent client id window that has
/// already evicted its oldest entry.
fn snapshot_engine() -> (Engine, u64) {
    let new = |market: u32, account: u64, id: &str, side, price, quantity| NewOrder {
        market: MarketId(market),
        account: AccountId(account),
        client_order_id: cid(id),
        side,
        order_type: OrderType::Limit {
            price: Price(price),
        },
        quantity: Quantity(quantity),
        time_in_force: TimeInForce::Gtc,
        post_only: false,
        stp: StpMode::CancelNewest,
    };
    let kinds = [
        // 1..=3: bids on AAA, two at 100.
        CommandKind::NewOrder(new(3, 1, "a-b1", Side::Buy, 100, 5)),
        CommandKind::NewOrder(new(3, 2, "a-b2", Side::Buy, 100, 7)),
        CommandKind::NewOrder(new(3, 1, "a-b3", Side::Buy, 98, 1)),
        // 4: an ask, then 5: a buy that fills 3 of it and finishes (window: a-x1).
        CommandKind::NewOrder(new(3, 3, "a-s1", Side::Sell, 103, 10)),
        CommandKind::NewOrder(new(3, 4, "a-x1", Side::Buy, 103, 3)),
        // 6: finished by cancel (window: a-x1, a-x2).
        CommandKind::NewOrder(new(3, 4, "a-x2", Side::Buy, 50, 2)),
        CommandKind::Cancel(Cancel {
            account: AccountId(4),
            order: OrderRef::Client(cid("a-x2")),
        }),
        // 7: a post-only ask at a negative price on the spread market.
        CommandKind::NewOrder(NewOrder {
            post_only: true,
            stp: StpMode::DecrementAndCancel,
            ..new(2, 5, UUID, Side::Sell, -25, 40)
        }),
        // 8: a bid there, amended down (new price, back of the queue, later update time).
        CommandKind::NewOrder(NewOrder {
            stp: StpMode::CancelOldest,
            ..new(2, 6, "z-b1", Side::Buy, -100, 30)
        }),
        CommandKind::Amend(Amend {
            account: AccountId(6),
            order: OrderRef::Id(OrderId(8)),
            price: Some(Price(-105)),
            quantity: Some(Quantity(20)),
        }),
        // 9, 10: two IOC orders that find nothing and finish: the window (3 long) now
        // holds a-x2, z-i1, z-i2; a-x1 was evicted.
        CommandKind::NewOrder(NewOrder {
            time_in_force: TimeInForce::Ioc,
            ..new(2, 7, "z-i1", Side::Buy, -200, 10)
        }),
        CommandKind::NewOrder(NewOrder {
            time_in_force: TimeInForce::Ioc,
            ..new(2, 7, "z-i2", Side::Sell, 500, 10)
        }),
    ];
    let mut e = Engine::new(snapshot_config()).unwrap();
    let n = kinds.len() as u64;
    for (kind, i) in kinds.into_iter().zip(0u64..) {
        let events = e.process(&Command {
            timestamp: Timestamp(T0 + 10 * i),
            kind,
        });
        assert!(
            !events
                .iter()
                .any(|ev| matches!(ev.kind, EventKind::Rejected(_))),
            "command {i} was rejected: {events:?}"
        );
    }
    (e, n)
}

#[test]
fn golden_snapshot() {
    let (mut live, command_seq) = snapshot_engine();
    let mut g = Golden::new("snapshot.bin");
    let image = live.snapshot_now();
    g.part("snapshot", |out| out.extend(image.encode(command_seq)));
    let bytes = g.check();

    let snapshot = decode_snapshot(&bytes).unwrap();
    assert_eq!(snapshot.command_seq, command_seq);
    assert_eq!(snapshot.last_event_seq, live.last_seq().0);
    assert_eq!(snapshot.next_order_id, live.next_order_id().0);
    assert_eq!(snapshot.client_id_window, 3);
    assert_eq!(snapshot.markets, snapshot_config().markets);
    let mut resting = live.resting_orders(MarketId(3)).unwrap();
    resting.extend(live.resting_orders(MarketId(2)).unwrap());
    assert_eq!(snapshot.orders, resting);
    assert_eq!(snapshot.orders.len(), 6);
    assert_eq!(
        snapshot.recent,
        vec![
            (AccountId(4), cid("a-x2"), OrderId(6)),
            (AccountId(7), cid("z-i1"), OrderId(9)),
            (AccountId(7), cid("z-i2"), OrderId(10)),
        ]
    );
    let restored = Engine::restore(snapshot_config(), &snapshot).unwrap();
    assert_eq!(restored.state_hash(), live.state_hash());
}

// ---------------------------------------------------------------------------------------
// Wire protocol
// ---------------------------------------------------------------------------------------

fn requests() -> Vec<(&'static str, u64, Request)> {
    vec![
        (
            "command: new order",
            1,
            Request::Command(CommandKind::NewOrder(new_order_limit())),
        ),
        (
            "command: cancel by id",
            2,
            Request::Command(CommandKind::Cancel(Cancel {
                account: AccountId(1001),
                order: OrderRef::Id(OrderId(42)),
            })),
        ),
        (
            "command: amend by client id, both set",
            3,
            Request::Command(CommandKind::Amend(Amend {
                account: AccountId(1002),
                order: OrderRef::Client(cid(UUID)),
                price: Some(Price(-1_300)),
                quantity: Some(Quantity(10)),
            })),
        ),
        (
            "command: cancel all, one market",
            4,
            Request::Command(CommandKind::CancelAll(CancelAll {
                account: AccountId(1001),
                market: Some(MarketId(7)),
            })),
        ),
        ("order", 5, Request::Order(OrderId(42))),
        (
            "order by client id",
            6,
            Request::OrderByClientId(AccountId(1002), cid(UUID)),
        ),
        (
            "open orders, every market",
            7,
            Request::OpenOrders(AccountId(1001), None),
        ),
        (
            "open orders, one market",
            8,
            Request::OpenOrders(AccountId(1001), Some(MarketId(7))),
        ),
        ("depth", 9, Request::Depth(MarketId(7), 10)),
        ("subscribe", 10, Request::Subscribe(1_234)),
        ("ping", 11, Request::Ping),
        ("snapshot", u64::MAX, Request::Snapshot),
    ]
}

#[test]
fn golden_requests() {
    let requests = requests();
    let mut g = Golden::new("requests.bin");
    for (label, id, req) in &requests {
        g.part(*label, |out| encode_request(out, *id, req));
    }
    let bytes = g.check();

    let bodies = frame_bodies(&bytes);
    assert_eq!(bodies.len(), requests.len());
    for ((label, id, req), body) in requests.iter().zip(bodies) {
        assert_eq!(decode_request(body).unwrap(), (*id, req.clone()), "{label}");
    }
}

fn responses() -> Vec<(String, u64, Response)> {
    let events: Vec<Event> = events().into_iter().map(|(_, e)| e).collect();
    let pick = |pred: fn(&EventKind) -> bool| *events.iter().find(|e| pred(&e.kind)).unwrap();
    let mut out = vec![
        (
            "ack with events".to_owned(),
            1,
            Response::Ack {
                command_seq: 77,
                events: vec![
                    pick(|k| matches!(k, EventKind::Accepted(_))),
                    pick(|k| matches!(k, EventKind::Trade(_))),
                    pick(|k| matches!(k, EventKind::Done(_))),
                ],
            },
        ),
        (
            "ack without events".to_owned(),
            2,
            Response::Ack {
                command_seq: 78,
                events: Vec::new(),
            },
        ),
        ("busy".to_owned(), 3, Response::Busy),
    ];
    let codes = [
        (ErrorCode::Malformed, "bad frame"),
        (
            ErrorCode::UnsupportedVersion,
            "unsupported protocol version 2",
        ),
        (ErrorCode::FrameTooLarge, "frame size too big"),
        (ErrorCode::ShuttingDown, "the shard is shutting down"),
        (ErrorCode::Internal, "journal I/O failed: ünïcode"),
        (ErrorCode::NotRetained, ""),
    ];
    for (code, message) in codes {
        out.push((
            format!("error {code:?}"),
            4,
            Response::Error {
                code,
                message: message.to_owned(),
            },
        ));
    }
    out.extend([
        (
            "order, found".to_owned(),
            5,
            Response::Order(Some(order_view_gtc())),
        ),
        ("order, not found".to_owned(), 6, Response::Order(None)),
        (
            "orders".to_owned(),
            7,
            Response::Orders(vec![order_view_gtc(), order_view_post_only()]),
        ),
        ("orders, none".to_owned(), 8, Response::Orders(Vec::new())),
        ("depth".to_owned(), 9, Response::Depth(Some(depth()))),
        (
            "depth, empty book".to_owned(),
            9,
            Response::Depth(Some(empty_depth())),
        ),
        ("depth, unknown market".to_owned(), 9, Response::Depth(None)),
        (
            "event".to_owned(),
            10,
            Response::Event(pick(|k| matches!(k, EventKind::Rejected(_)))),
        ),
        (
            "pong".to_owned(),
            11,
            Response::Pong {
                command_seq: 78,
                event_seq: 1_031,
            },
        ),
        (
            "snapshot taken".to_owned(),
            u64::MAX,
            Response::SnapshotTaken { command_seq: 78 },
        ),
    ]);
    out
}

#[test]
fn golden_responses() {
    let responses = responses();
    let mut g = Golden::new("responses.bin");
    for (label, id, res) in &responses {
        g.part(label.clone(), |out| encode_response(out, *id, res));
    }
    let bytes = g.check();

    let bodies = frame_bodies(&bytes);
    assert_eq!(bodies.len(), responses.len());
    for ((label, id, res), body) in responses.iter().zip(bodies) {
        assert_eq!(
            decode_response(body).unwrap(),
            (*id, res.clone()),
            "{label}"
        );
    }
}
