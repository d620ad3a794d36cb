//! `requests.bin` and `responses.bin`: one wire frame per request and response variant.

use matcher::protocol::{
    ErrorCode, Request, Response, decode_request, decode_response, encode_request, encode_response,
};
use matcher::{
    AccountId, Amend, Cancel, CancelAll, CommandKind, Event, EventKind, MarketId, OrderId,
    OrderRef, Price, Quantity,
};

use super::codec::events;
use super::file::Golden;
use super::values::{
    UUID, cid, depth, empty_depth, new_order_limit, order_view_gtc, order_view_post_only,
};

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
