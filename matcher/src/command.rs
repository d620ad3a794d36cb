//! What the engine is asked to do. Every command carries its own timestamp, so the engine
//! never reads a clock and a replay reproduces it exactly.

use crate::types::{
    AccountId, ClientOrderId, MarketId, OrderId, OrderType, Price, Quantity, Side, StpMode,
    TimeInForce, Timestamp,
};

/// One command, stamped by whoever sequenced it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Command {
    /// When the command was sequenced; copied into every event it produces.
    pub timestamp: Timestamp,
    /// What to do.
    pub kind: CommandKind,
}

/// The four mutating commands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CommandKind {
    /// Place an order.
    NewOrder(NewOrder),
    /// Cancel one live order.
    Cancel(Cancel),
    /// Change a live order's price and/or quantity.
    Amend(Amend),
    /// Cancel every live order of an account, optionally in one market.
    CancelAll(CancelAll),
}

/// Place an order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NewOrder {
    /// Target market.
    pub market: MarketId,
    /// Owner.
    pub account: AccountId,
    /// The client's id: unique per account among live and recently finished orders.
    pub client_order_id: ClientOrderId,
    /// Buy or sell.
    pub side: Side,
    /// Limit (with its price) or market.
    pub order_type: OrderType,
    /// Total quantity, a positive multiple of the lot size.
    pub quantity: Quantity,
    /// GTC, IOC or FOK. Market orders must be IOC or FOK.
    pub time_in_force: TimeInForce,
    /// Cancel instead of taking liquidity (GTC limit orders only).
    pub post_only: bool,
    /// What to do on meeting the same account's resting order.
    pub stp: StpMode,
}

/// Names a live order: by the engine's id, or by the owner's client order id.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OrderRef {
    /// The engine-assigned id.
    Id(OrderId),
    /// The owner's client order id (only live orders are found this way).
    Client(ClientOrderId),
}

/// Cancel one live order of `account`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cancel {
    /// Who asks; an order of another account is reported as unknown.
    pub account: AccountId,
    /// Which order.
    pub order: OrderRef,
}

/// Change a live order. A quantity decrease at the same price keeps time priority; a
/// price change or a quantity increase sends the order to the back of its (new) level,
/// and a new price that crosses the book trades first, as a taker.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Amend {
    /// Who asks; an order of another account is reported as unknown.
    pub account: AccountId,
    /// Which order.
    pub order: OrderRef,
    /// New limit price, if it changes.
    pub price: Option<Price>,
    /// New total quantity (filled quantity included, as in FIX), if it changes. Must be
    /// greater than what has already filled.
    pub quantity: Option<Quantity>,
}

/// Cancel every live order of `account`, in every market or in one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CancelAll {
    /// Whose orders.
    pub account: AccountId,
    /// Only this market, if set.
    pub market: Option<MarketId>,
}
