//! `codec.bin`: every command shape, every event kind and enum value, order views and depths.

use matcher::codec::{
    Encode, Reader, decode_command, decode_depth, decode_event, decode_order_view,
};
use matcher::{
    Accepted, AccountId, Amend, Amended, Cancel, CancelAll, CancelReason, Cancelled, Command,
    CommandKind, CommandType, Done, Event, EventKind, MarketId, OrderId, OrderRef, Price, Quantity,
    RejectReason, Rejected, Seq, Side, Timestamp, Trade,
};

use super::file::Golden;
use super::values::{
    T0, UUID, cid, depth, empty_depth, new_order_limit, new_order_market_fok, new_order_market_ioc,
    new_order_post_only, order_view_gtc, order_view_post_only,
};

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
pub(super) fn events() -> Vec<(String, Event)> {
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
