//! Fixed values shared by the golden files: client order ids, a timestamp, new orders of
//! every type, order views and depths.

use matcher::{
    AccountId, ClientOrderId, Depth, DepthLevel, MarketId, NewOrder, OrderId, OrderType, OrderView,
    Price, Quantity, Side, StpMode, TimeInForce, Timestamp,
};

pub(super) fn cid(s: &str) -> ClientOrderId {
    ClientOrderId::new(s).unwrap()
}

/// A 36-byte client order id: the longest there is.
pub(super) const UUID: &str = "3f2b8c1e-9d4a-4e6b-8f7a-1c2d3e4f5a6b";
/// A fixed timestamp (2025-01-02T03:04:05.006007008Z); others are offsets from it.
pub(super) const T0: u64 = 1_735_787_045_006_007_008;

pub(super) fn new_order_limit() -> NewOrder {
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

pub(super) fn new_order_post_only() -> NewOrder {
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

pub(super) fn new_order_market_ioc() -> NewOrder {
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

pub(super) fn new_order_market_fok() -> NewOrder {
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

pub(super) fn order_view_gtc() -> OrderView {
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

pub(super) fn order_view_post_only() -> OrderView {
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

pub(super) fn depth() -> Depth {
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

pub(super) fn empty_depth() -> Depth {
    Depth {
        bids: Vec::new(),
        asks: Vec::new(),
    }
}
