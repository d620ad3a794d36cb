//! The JSON shapes of market data: recent trades over REST, and every WebSocket message of
//! `GET /v1/stream` (documented as schemas in the OpenAPI document).
//!
//! Every WebSocket message is an object with a `type`. Prices and quantities are decimal
//! strings in the market's precision, as in the REST API.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::routes::orders::ApiSide;

/// One trade.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct TradeView {
    /// The trade's shard sequence number (unique per shard, increasing).
    pub seq: u64,
    /// The market's symbol.
    pub symbol: String,
    /// The maker's price.
    pub price: String,
    /// Traded quantity.
    pub quantity: String,
    /// The taker's (aggressor's) side.
    pub side: ApiSide,
    /// The resting order.
    pub maker_order_id: String,
    /// The incoming order.
    pub taker_order_id: String,
    /// When the shard sequenced the command, in nanoseconds since the Unix epoch.
    pub timestamp_ns: u64,
}

/// The answer of `GET /v1/markets/{symbol}/trades`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TradeList {
    /// The market's symbol.
    pub symbol: String,
    /// Most recent first.
    pub trades: Vec<TradeView>,
}

/// One aggregated level in a snapshot.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct StreamLevel {
    /// The level's price.
    pub price: String,
    /// Total resting quantity.
    pub quantity: String,
    /// Resting orders.
    pub orders: u32,
}

/// One changed level in a delta: `quantity` `"0…"` and `orders` 0 remove it.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct LevelChange {
    /// Which side.
    pub side: ApiSide,
    /// The level's price.
    pub price: String,
    /// Total resting quantity now.
    pub quantity: String,
    /// Resting orders now.
    pub orders: u32,
}

/// What happened to one of the caller's orders.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OrderEventKind {
    /// A new order passed validation.
    Accepted,
    /// A command was refused; nothing changed.
    Rejected,
    /// The order traded.
    Fill,
    /// Quantity was cancelled.
    Cancelled,
    /// Price or quantity changed.
    Amended,
    /// The order is finished.
    Done,
}

/// An order event of the `orders` channel (the caller's account only).
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct OrderUpdate {
    /// What happened.
    pub event: OrderEventKind,
    /// The event's shard sequence number.
    pub seq: u64,
    /// The order (absent for a rejection that named none).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub order_id: Option<String>,
    /// The caller's id for the order, when the event carries it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_order_id: Option<String>,
    /// The market (absent for rejections).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub symbol: Option<String>,
    /// Side (accepted orders and fills).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub side: Option<ApiSide>,
    /// Order price (accepted limit orders, amends) or fill price.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub price: Option<String>,
    /// Order quantity (accepted, amended), filled quantity (fill) or cancelled quantity.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quantity: Option<String>,
    /// What is left to fill after the event.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remaining_quantity: Option<String>,
    /// Filled over the order's life (`done`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub filled_quantity: Option<String>,
    /// `maker` or `taker` (fills).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub liquidity: Option<String>,
    /// Stable reason code (rejections and cancels), e.g. `unknown_order`, `user`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// A complete book, sent first on `book:{symbol}`.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct BookSnapshot {
    /// The market's symbol.
    pub symbol: String,
    /// The book's sequence number: the deltas that follow start from it.
    pub seq: u64,
    /// Best bid first, every level.
    pub bids: Vec<StreamLevel>,
    /// Best ask first, every level.
    pub asks: Vec<StreamLevel>,
}

/// Level changes on `book:{symbol}`.
///
/// One delta may merge the changes of many events: it takes the book from `prev_seq` to
/// `seq` (sequence numbers in between may belong to it or to other books) and gives each
/// changed level's totals at `seq`. Apply one only if its `prev_seq` equals the `seq` of
/// the snapshot or delta applied last; otherwise a message was lost: unsubscribe and
/// subscribe again for a new snapshot.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct BookDelta {
    /// The market's symbol.
    pub symbol: String,
    /// The book's sequence number after this delta (a shard event sequence number).
    pub seq: u64,
    /// The book's sequence number this delta applies to.
    pub prev_seq: u64,
    /// Every level that changed since `prev_seq`, with its totals at `seq`.
    pub changes: Vec<LevelChange>,
    /// The shard's timestamp of the newest event this delta includes (nanoseconds since the
    /// Unix epoch): how current the book is, and what fan-out latency is measured from.
    pub timestamp_ns: u64,
}

/// Messages the gateway sends on `GET /v1/stream`.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMessage {
    /// The connection is authenticated (after a bearer header: at once; else after `auth`).
    Authenticated {
        /// The caller's account: the `orders` channel carries its orders.
        account: u64,
    },
    /// A subscription is active. For `book:` channels a `book_snapshot` follows.
    Subscribed {
        /// `book:{symbol}`, `trades:{symbol}` or `orders`.
        channel: String,
    },
    /// A subscription ended.
    Unsubscribed {
        /// The channel.
        channel: String,
    },
    /// A `book:{symbol}` snapshot.
    BookSnapshot(BookSnapshot),
    /// A `book:{symbol}` delta.
    BookDelta(BookDelta),
    /// A `trades:{symbol}` trade.
    Trade(TradeView),
    /// An `orders` event.
    Order(OrderUpdate),
    /// A request was refused; the connection stays open.
    Error {
        /// Stable code: `invalid_message`, `unknown_channel`, `market_not_found`,
        /// `already_authenticated`.
        code: String,
        /// A human-readable explanation.
        message: String,
    },
}

/// Messages a client sends on `GET /v1/stream`.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ClientMessage {
    /// Authenticates a connection opened without a bearer header; must be the first
    /// message, sent within 10 seconds.
    Auth {
        /// A bearer token (JWT).
        token: String,
    },
    /// Starts a channel: `book:{symbol}`, `trades:{symbol}` or `orders`.
    Subscribe {
        /// The channel.
        channel: String,
    },
    /// Stops a channel.
    Unsubscribe {
        /// The channel.
        channel: String,
    },
}
