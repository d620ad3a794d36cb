//! What the engine reports. Each event carries the engine's gapless sequence number and
//! the timestamp of the command that caused it.

use crate::command::NewOrder;
use crate::types::{
    AccountId, ClientOrderId, MarketId, OrderId, Price, Quantity, Seq, Side, Timestamp,
};

/// One event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Event {
    /// Gapless, starting at 1.
    pub seq: Seq,
    /// The causing command's timestamp.
    pub timestamp: Timestamp,
    /// What happened.
    pub kind: EventKind,
}

/// What happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventKind {
    /// A new order passed validation and got an id. Everything after it about this order
    /// names the id.
    Accepted(Accepted),
    /// A command was refused and changed nothing.
    Rejected(Rejected),
    /// Two orders traded.
    Trade(Trade),
    /// Quantity of an order was cancelled (all of it, or a part under
    /// [`crate::StpMode::DecrementAndCancel`]).
    Cancelled(Cancelled),
    /// A live order's price or quantity changed.
    Amended(Amended),
    /// An order is finished: nothing of it remains on the book, and nothing more will be
    /// reported about it.
    Done(Done),
}

/// A new order passed validation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Accepted {
    /// The id the engine gave it.
    pub order_id: OrderId,
    /// The order as submitted.
    pub order: NewOrder,
}

/// Which command a rejection answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum CommandType {
    /// [`crate::CommandKind::NewOrder`].
    NewOrder = 0,
    /// [`crate::CommandKind::Cancel`].
    Cancel = 1,
    /// [`crate::CommandKind::Amend`].
    Amend = 2,
    /// [`crate::CommandKind::CancelAll`].
    CancelAll = 3,
}

/// A command was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rejected {
    /// The command's kind.
    pub command: CommandType,
    /// Who sent it.
    pub account: AccountId,
    /// The client order id the command itself carried, if any: a new order's own, or
    /// the one a cancel or amend named its target by (`None` when it named the order by
    /// engine id).
    pub client_order_id: Option<ClientOrderId>,
    /// The order concerned, if one is known: the target of a cancel or amend, or for
    /// [`RejectReason::Duplicate`] the order holding the client order id (live, or
    /// finished but still inside the recent window).
    pub order_id: Option<OrderId>,
    /// Why.
    pub reason: RejectReason,
}

/// Why a command was refused. Stable: the codes are part of the API.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum RejectReason {
    /// No market with that id in this engine.
    UnknownMarket = 1,
    /// The price is not a multiple of the tick size.
    PriceNotOnTick = 2,
    /// The price is outside the market's band.
    PriceOutOfBand = 3,
    /// The quantity is zero.
    ZeroQuantity = 4,
    /// The quantity is not a multiple of the lot size.
    QuantityNotOnLot = 5,
    /// The quantity exceeds the market's maximum.
    QuantityTooLarge = 6,
    /// The account already used this client order id on a live or recent order.
    Duplicate = 7,
    /// The market holds its maximum number of resting orders.
    BookFull = 8,
    /// No live order of this account by that id.
    UnknownOrder = 9,
    /// The combination of order type, time in force and post-only makes no sense
    /// (a market GTC order, a post-only IOC/FOK or market order).
    InvalidOrderType = 10,
    /// An amend that changes neither price nor quantity.
    NothingToAmend = 11,
    /// An amend to a total quantity at or below what has already filled.
    QuantityBelowFilled = 12,
    /// A post-only order's amended price would cross the book; the order is unchanged.
    PostOnlyWouldCross = 13,
}

impl RejectReason {
    /// The stable snake_case code used in APIs and logs.
    #[must_use]
    pub const fn code(self) -> &'static str {
        match self {
            RejectReason::UnknownMarket => "unknown_market",
            RejectReason::PriceNotOnTick => "price_not_on_tick",
            RejectReason::PriceOutOfBand => "price_out_of_band",
            RejectReason::ZeroQuantity => "zero_quantity",
            RejectReason::QuantityNotOnLot => "quantity_not_on_lot",
            RejectReason::QuantityTooLarge => "quantity_too_large",
            RejectReason::Duplicate => "duplicate",
            RejectReason::BookFull => "book_full",
            RejectReason::UnknownOrder => "unknown_order",
            RejectReason::InvalidOrderType => "invalid_order_type",
            RejectReason::NothingToAmend => "nothing_to_amend",
            RejectReason::QuantityBelowFilled => "quantity_below_filled",
            RejectReason::PostOnlyWouldCross => "post_only_would_cross",
        }
    }
}

/// Two orders traded at the resting (maker) order's price.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Trade {
    /// Where.
    pub market: MarketId,
    /// The resting order.
    pub maker_order_id: OrderId,
    /// Its owner.
    pub maker_account: AccountId,
    /// The incoming order.
    pub taker_order_id: OrderId,
    /// Its owner.
    pub taker_account: AccountId,
    /// The maker's price.
    pub price: Price,
    /// How much traded.
    pub quantity: Quantity,
    /// The taker's side.
    pub aggressor: Side,
    /// What the maker has left after this trade.
    pub maker_remaining: Quantity,
    /// What the taker has left after this trade.
    pub taker_remaining: Quantity,
}

/// Why quantity was cancelled.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum CancelReason {
    /// The owner asked (cancel or cancel-all).
    User = 1,
    /// What an IOC or market order could not fill at once.
    IocRemainder = 2,
    /// A FOK order that could not fill completely; the book was not touched.
    FokNotFillable = 3,
    /// Self-trade prevention.
    SelfTradePrevention = 4,
    /// A post-only order would have taken liquidity.
    PostOnlyWouldCross = 5,
}

impl CancelReason {
    /// The stable snake_case code used in APIs and logs.
    #[must_use]
    pub const fn code(self) -> &'static str {
        match self {
            CancelReason::User => "user",
            CancelReason::IocRemainder => "ioc_remainder",
            CancelReason::FokNotFillable => "fok_not_fillable",
            CancelReason::SelfTradePrevention => "self_trade_prevention",
            CancelReason::PostOnlyWouldCross => "post_only_would_cross",
        }
    }
}

/// Quantity of an order was cancelled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cancelled {
    /// Which order.
    pub order_id: OrderId,
    /// Its owner.
    pub account: AccountId,
    /// Its market.
    pub market: MarketId,
    /// How much was cancelled now.
    pub quantity: Quantity,
    /// What the order has left (zero unless a decrement left some).
    pub remaining: Quantity,
    /// Why.
    pub reason: CancelReason,
}

/// A live order changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Amended {
    /// Which order.
    pub order_id: OrderId,
    /// Its owner.
    pub account: AccountId,
    /// Its market.
    pub market: MarketId,
    /// Its price now.
    pub price: Price,
    /// Its total quantity now (filled included).
    pub quantity: Quantity,
    /// What is left to fill now.
    pub remaining: Quantity,
    /// True when the order kept its place in the queue.
    pub kept_priority: bool,
}

/// An order is finished.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Done {
    /// Which order.
    pub order_id: OrderId,
    /// Its owner.
    pub account: AccountId,
    /// Its market.
    pub market: MarketId,
    /// How much of it filled in its life.
    pub filled: Quantity,
}
