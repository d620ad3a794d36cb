//! Strategies for every value the formats carry: anything the type allows.

use matcher::journal::Record;
use matcher::protocol::{ErrorCode, Request, Response};
use matcher::{
    Accepted, AccountId, Amend, Amended, Cancel, CancelAll, CancelReason, Cancelled, ClientOrderId,
    Command, CommandKind, CommandType, Depth, DepthLevel, Done, Event, EventKind,
    MAX_CLIENT_ORDER_ID_LEN, MarketId, NewOrder, OrderId, OrderRef, OrderType, OrderView, Price,
    Quantity, RejectReason, Rejected, Seq, Side, StpMode, TimeInForce, Timestamp, Trade,
};
use proptest::collection::vec;
use proptest::prelude::*;

fn client_order_id() -> impl Strategy<Value = ClientOrderId> {
    vec(b'!'..=b'~', 1..=MAX_CLIENT_ORDER_ID_LEN)
        .prop_map(|bytes| ClientOrderId::from_bytes(&bytes).unwrap())
}

fn side() -> impl Strategy<Value = Side> {
    prop_oneof![Just(Side::Buy), Just(Side::Sell)]
}

fn time_in_force() -> impl Strategy<Value = TimeInForce> {
    prop_oneof![
        Just(TimeInForce::Gtc),
        Just(TimeInForce::Ioc),
        Just(TimeInForce::Fok)
    ]
}

fn stp() -> impl Strategy<Value = StpMode> {
    prop_oneof![
        Just(StpMode::CancelNewest),
        Just(StpMode::CancelOldest),
        Just(StpMode::CancelBoth),
        Just(StpMode::DecrementAndCancel),
    ]
}

/// `OrderType::Market` carries no price, so no generated value can be a market order with
/// a non-zero price: the encoder writes zero for it, and the round trips below assert
/// equality. Market orders whose price field holds something else exist only as bytes;
/// `market_orders_with_a_non_zero_price_field_are_rejected` makes those.
fn order_type() -> impl Strategy<Value = OrderType> {
    prop_oneof![
        any::<i64>().prop_map(|p| OrderType::Limit { price: Price(p) }),
        Just(OrderType::Market),
    ]
}

fn market() -> impl Strategy<Value = MarketId> {
    any::<u32>().prop_map(MarketId)
}

fn account() -> impl Strategy<Value = AccountId> {
    any::<u64>().prop_map(AccountId)
}

pub(super) fn order_id() -> impl Strategy<Value = OrderId> {
    any::<u64>().prop_map(OrderId)
}

fn price() -> impl Strategy<Value = Price> {
    any::<i64>().prop_map(Price)
}

fn quantity() -> impl Strategy<Value = Quantity> {
    any::<u64>().prop_map(Quantity)
}

pub(super) fn new_order() -> impl Strategy<Value = NewOrder> {
    (
        (market(), account(), client_order_id(), side()),
        (
            order_type(),
            quantity(),
            time_in_force(),
            any::<bool>(),
            stp(),
        ),
    )
        .prop_map(
            |(
                (market, account, client_order_id, side),
                (order_type, quantity, time_in_force, post_only, stp),
            )| NewOrder {
                market,
                account,
                client_order_id,
                side,
                order_type,
                quantity,
                time_in_force,
                post_only,
                stp,
            },
        )
}

fn order_ref() -> impl Strategy<Value = OrderRef> {
    prop_oneof![
        order_id().prop_map(OrderRef::Id),
        client_order_id().prop_map(OrderRef::Client),
    ]
}

fn command_kind() -> impl Strategy<Value = CommandKind> {
    prop_oneof![
        new_order().prop_map(CommandKind::NewOrder),
        (account(), order_ref())
            .prop_map(|(account, order)| CommandKind::Cancel(Cancel { account, order })),
        (
            account(),
            order_ref(),
            proptest::option::of(price()),
            proptest::option::of(quantity())
        )
            .prop_map(
                |(account, order, price, quantity)| CommandKind::Amend(Amend {
                    account,
                    order,
                    price,
                    quantity
                })
            ),
        (account(), proptest::option::of(market()))
            .prop_map(|(account, market)| CommandKind::CancelAll(CancelAll { account, market })),
    ]
}

pub(super) fn command() -> impl Strategy<Value = Command> {
    (any::<u64>(), command_kind()).prop_map(|(t, kind)| Command {
        timestamp: Timestamp(t),
        kind,
    })
}

fn command_type() -> impl Strategy<Value = CommandType> {
    prop_oneof![
        Just(CommandType::NewOrder),
        Just(CommandType::Cancel),
        Just(CommandType::Amend),
        Just(CommandType::CancelAll),
    ]
}

fn reject_reason() -> impl Strategy<Value = RejectReason> {
    use RejectReason as R;
    prop_oneof![
        Just(R::UnknownMarket),
        Just(R::PriceNotOnTick),
        Just(R::PriceOutOfBand),
        Just(R::ZeroQuantity),
        Just(R::QuantityNotOnLot),
        Just(R::QuantityTooLarge),
        Just(R::Duplicate),
        Just(R::BookFull),
        Just(R::UnknownOrder),
        Just(R::InvalidOrderType),
        Just(R::NothingToAmend),
        Just(R::QuantityBelowFilled),
        Just(R::PostOnlyWouldCross),
    ]
}

fn cancel_reason() -> impl Strategy<Value = CancelReason> {
    use CancelReason as C;
    prop_oneof![
        Just(C::User),
        Just(C::IocRemainder),
        Just(C::FokNotFillable),
        Just(C::SelfTradePrevention),
        Just(C::PostOnlyWouldCross),
    ]
}

fn event_kind() -> impl Strategy<Value = EventKind> {
    prop_oneof![
        (order_id(), new_order())
            .prop_map(|(order_id, order)| EventKind::Accepted(Accepted { order_id, order })),
        (
            command_type(),
            account(),
            proptest::option::of(client_order_id()),
            proptest::option::of(order_id()),
            reject_reason()
        )
            .prop_map(|(command, account, client_order_id, order_id, reason)| {
                EventKind::Rejected(Rejected {
                    command,
                    account,
                    client_order_id,
                    order_id,
                    reason,
                })
            }),
        (
            (market(), order_id(), account(), order_id(), account()),
            (price(), quantity(), side(), quantity(), quantity())
        )
            .prop_map(
                |(
                    (market, maker_order_id, maker_account, taker_order_id, taker_account),
                    (price, quantity, aggressor, maker_remaining, taker_remaining),
                )| EventKind::Trade(Trade {
                    market,
                    maker_order_id,
                    maker_account,
                    taker_order_id,
                    taker_account,
                    price,
                    quantity,
                    aggressor,
                    maker_remaining,
                    taker_remaining,
                })
            ),
        (
            order_id(),
            account(),
            market(),
            quantity(),
            quantity(),
            cancel_reason()
        )
            .prop_map(|(order_id, account, market, quantity, remaining, reason)| {
                EventKind::Cancelled(Cancelled {
                    order_id,
                    account,
                    market,
                    quantity,
                    remaining,
                    reason,
                })
            }),
        (
            order_id(),
            account(),
            market(),
            price(),
            quantity(),
            quantity(),
            any::<bool>()
        )
            .prop_map(
                |(order_id, account, market, price, quantity, remaining, kept_priority)| {
                    EventKind::Amended(Amended {
                        order_id,
                        account,
                        market,
                        price,
                        quantity,
                        remaining,
                        kept_priority,
                    })
                }
            ),
        (order_id(), account(), market(), quantity()).prop_map(
            |(order_id, account, market, filled)| EventKind::Done(Done {
                order_id,
                account,
                market,
                filled
            })
        ),
    ]
}

pub(super) fn event() -> impl Strategy<Value = Event> {
    (any::<u64>(), any::<u64>(), event_kind()).prop_map(|(seq, t, kind)| Event {
        seq: Seq(seq),
        timestamp: Timestamp(t),
        kind,
    })
}

pub(super) fn order_view() -> impl Strategy<Value = OrderView> {
    (
        (order_id(), market(), account(), client_order_id(), side()),
        (price(), quantity(), quantity(), quantity()),
        (
            time_in_force(),
            any::<bool>(),
            stp(),
            any::<u64>(),
            any::<u64>(),
        ),
    )
        .prop_map(
            |(
                (order_id, market, account, client_order_id, side),
                (price, quantity, remaining, filled),
                (time_in_force, post_only, stp, created, updated),
            )| OrderView {
                order_id,
                market,
                account,
                client_order_id,
                side,
                price,
                quantity,
                remaining,
                filled,
                time_in_force,
                post_only,
                stp,
                created: Timestamp(created),
                updated: Timestamp(updated),
            },
        )
}

fn depth_level() -> impl Strategy<Value = DepthLevel> {
    (price(), quantity(), any::<u32>()).prop_map(|(price, quantity, orders)| DepthLevel {
        price,
        quantity,
        orders,
    })
}

pub(super) fn depth() -> impl Strategy<Value = Depth> {
    (vec(depth_level(), 0..6), vec(depth_level(), 0..6))
        .prop_map(|(bids, asks)| Depth { bids, asks })
}

fn error_code() -> impl Strategy<Value = ErrorCode> {
    prop_oneof![
        Just(ErrorCode::Malformed),
        Just(ErrorCode::UnsupportedVersion),
        Just(ErrorCode::FrameTooLarge),
        Just(ErrorCode::ShuttingDown),
        Just(ErrorCode::Internal),
        Just(ErrorCode::NotRetained),
    ]
}

pub(super) fn request() -> impl Strategy<Value = Request> {
    prop_oneof![
        command_kind().prop_map(Request::Command),
        order_id().prop_map(Request::Order),
        (account(), client_order_id()).prop_map(|(a, c)| Request::OrderByClientId(a, c)),
        (account(), proptest::option::of(market())).prop_map(|(a, m)| Request::OpenOrders(a, m)),
        (market(), any::<u32>()).prop_map(|(m, n)| Request::Depth(m, n)),
        any::<u64>().prop_map(Request::Subscribe),
        Just(Request::Ping),
        Just(Request::Snapshot),
    ]
}

pub(super) fn response() -> impl Strategy<Value = Response> {
    prop_oneof![
        (any::<u64>(), vec(event(), 0..6)).prop_map(|(command_seq, events)| Response::Ack {
            command_seq,
            events
        }),
        Just(Response::Busy),
        // At most 4 * 40 bytes: under the 1 KiB the encoder cuts messages to.
        (error_code(), vec(any::<char>(), 0..40)).prop_map(|(code, chars)| Response::Error {
            code,
            message: chars.into_iter().collect(),
        }),
        proptest::option::of(order_view()).prop_map(Response::Order),
        vec(order_view(), 0..4).prop_map(Response::Orders),
        proptest::option::of(depth()).prop_map(Response::Depth),
        event().prop_map(Response::Event),
        (any::<u64>(), any::<u64>()).prop_map(|(command_seq, event_seq)| Response::Pong {
            command_seq,
            event_seq
        }),
        any::<u64>().prop_map(|command_seq| Response::SnapshotTaken { command_seq }),
    ]
}

/// A journal record whose events' sequence numbers run on from `first_event_seq`, as the
/// engine's do.
pub(super) fn record() -> impl Strategy<Value = Record> {
    (any::<u64>(), 0..u64::MAX / 2, command(), vec(event(), 0..6)).prop_map(
        |(command_seq, first_event_seq, command, mut events)| {
            for (e, seq) in events.iter_mut().zip(first_event_seq..) {
                e.seq = Seq(seq);
            }
            Record {
                command_seq,
                first_event_seq,
                command,
                events,
            }
        },
    )
}

/// Bytes the buffer already holds before an encoder appends to it.
pub(super) fn junk() -> impl Strategy<Value = Vec<u8>> {
    vec(any::<u8>(), 0..12)
}

/// Random bytes, mostly short, sometimes long enough for several values.
pub(super) fn bytes() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        3 => vec(any::<u8>(), 0..64),
        1 => vec(any::<u8>(), 0..1024),
    ]
}
