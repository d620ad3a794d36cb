//! The JSON shapes of the orders resource and their mapping to engine types.

use matcher::{OrderView, Side, StpMode, TimeInForce};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::decimal::{format_price, format_quantity};
use crate::shards::{Market, format_order_id};

/// Buy or sell.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ApiSide {
    /// Buy.
    Buy,
    /// Sell.
    Sell,
}

/// Limit or market.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ApiOrderType {
    /// Trades at `price` or better; may rest.
    Limit,
    /// Trades at any price; never rests.
    Market,
}

/// Time in force.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ApiTimeInForce {
    /// Good till cancelled.
    Gtc,
    /// Immediate or cancel.
    Ioc,
    /// Fill or kill.
    Fok,
}

/// Self-trade prevention mode.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ApiStp {
    /// Cancel the incoming order.
    #[default]
    CancelNewest,
    /// Cancel the resting order.
    CancelOldest,
    /// Cancel both.
    CancelBoth,
    /// Decrement both, then cancel whichever reaches zero.
    DecrementAndCancel,
}

impl From<ApiSide> for Side {
    fn from(s: ApiSide) -> Self {
        match s {
            ApiSide::Buy => Side::Buy,
            ApiSide::Sell => Side::Sell,
        }
    }
}

impl From<Side> for ApiSide {
    fn from(s: Side) -> Self {
        match s {
            Side::Buy => ApiSide::Buy,
            Side::Sell => ApiSide::Sell,
        }
    }
}

impl From<ApiTimeInForce> for TimeInForce {
    fn from(t: ApiTimeInForce) -> Self {
        match t {
            ApiTimeInForce::Gtc => TimeInForce::Gtc,
            ApiTimeInForce::Ioc => TimeInForce::Ioc,
            ApiTimeInForce::Fok => TimeInForce::Fok,
        }
    }
}

impl From<TimeInForce> for ApiTimeInForce {
    fn from(t: TimeInForce) -> Self {
        match t {
            TimeInForce::Gtc => ApiTimeInForce::Gtc,
            TimeInForce::Ioc => ApiTimeInForce::Ioc,
            TimeInForce::Fok => ApiTimeInForce::Fok,
        }
    }
}

impl From<ApiStp> for StpMode {
    fn from(s: ApiStp) -> Self {
        match s {
            ApiStp::CancelNewest => StpMode::CancelNewest,
            ApiStp::CancelOldest => StpMode::CancelOldest,
            ApiStp::CancelBoth => StpMode::CancelBoth,
            ApiStp::DecrementAndCancel => StpMode::DecrementAndCancel,
        }
    }
}

impl From<StpMode> for ApiStp {
    fn from(s: StpMode) -> Self {
        match s {
            StpMode::CancelNewest => ApiStp::CancelNewest,
            StpMode::CancelOldest => ApiStp::CancelOldest,
            StpMode::CancelBoth => ApiStp::CancelBoth,
            StpMode::DecrementAndCancel => ApiStp::DecrementAndCancel,
        }
    }
}

/// The body of `POST /v1/orders`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PlaceOrder {
    /// The market.
    pub symbol: String,
    /// Buy or sell.
    pub side: ApiSide,
    /// Limit or market.
    #[serde(rename = "type")]
    pub order_type: ApiOrderType,
    /// Decimal price; required for limit orders, refused for market orders.
    pub price: Option<String>,
    /// Decimal quantity.
    pub quantity: String,
    /// Defaults to `gtc` for limit orders and `ioc` for market orders.
    pub time_in_force: Option<ApiTimeInForce>,
    /// Rest only, never take.
    #[serde(default)]
    pub post_only: bool,
    /// Self-trade prevention.
    #[serde(default)]
    pub stp: ApiStp,
    /// The client's own id (1 to 36 printable ASCII bytes), unique per account.
    pub client_order_id: Option<String>,
}

/// The body of `PATCH /v1/orders/{id}`: the new price, the new total quantity (filled
/// included), or both.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AmendOrder {
    /// New decimal price.
    pub price: Option<String>,
    /// New decimal total quantity.
    pub quantity: Option<String>,
}

/// Where an order stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    /// Resting, nothing filled.
    Open,
    /// Resting, partly filled.
    PartiallyFilled,
    /// Completely filled.
    Filled,
    /// Finished with quantity unfilled (cancelled, IOC remainder, self-trade prevention).
    Cancelled,
}

/// One trade of the order.
#[derive(Debug, Serialize, ToSchema)]
pub struct Fill {
    /// Trade price.
    pub price: String,
    /// Traded quantity.
    pub quantity: String,
}

/// An order as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct OrderBody {
    /// `ord_<shard>_<n>`.
    pub id: String,
    /// The client's id for the order.
    pub client_order_id: String,
    /// The market.
    pub symbol: String,
    /// Buy or sell.
    pub side: ApiSide,
    /// Limit or market.
    #[serde(rename = "type")]
    pub order_type: ApiOrderType,
    /// Limit price (absent for market orders).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub price: Option<String>,
    /// Ordered quantity.
    pub quantity: String,
    /// Filled so far.
    pub filled_quantity: String,
    /// Still resting.
    pub remaining_quantity: String,
    /// Where it stands.
    pub status: OrderStatus,
    /// Time in force.
    pub time_in_force: ApiTimeInForce,
    /// Post-only.
    pub post_only: bool,
    /// Self-trade prevention mode.
    pub stp: ApiStp,
    /// Trades made by the request that answered (placing only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fills: Option<Vec<Fill>>,
}

impl OrderBody {
    /// A live order as the shard reports it.
    pub(crate) fn from_view(view: &OrderView, market: &Market) -> Self {
        let p = market.precision;
        let status = if view.filled.is_zero() {
            OrderStatus::Open
        } else {
            OrderStatus::PartiallyFilled
        };
        Self {
            id: format_order_id(market.shard, view.order_id),
            client_order_id: view.client_order_id.as_str().to_owned(),
            symbol: market.symbol(),
            side: view.side.into(),
            order_type: ApiOrderType::Limit,
            price: Some(format_price(view.price, p)),
            quantity: format_quantity(view.quantity, p),
            filled_quantity: format_quantity(view.filled, p),
            remaining_quantity: format_quantity(view.remaining, p),
            status,
            time_in_force: view.time_in_force.into(),
            post_only: view.post_only,
            stp: view.stp.into(),
            fills: None,
        }
    }
}
