//! Orders: place, read, list, cancel, cancel all. An order belongs to the account of the
//! token that placed it; the account never comes from the request body.
//!
//! Design decisions:
//! - **Another account's order is a 404**, the same answer as an order that does not
//!   exist, unless the caller's roles may read any account's orders (operator, admin):
//!   the handler re-runs the RBAC check with the order's real [`Ownership`].
//! - **Only live orders can be read.** The shard answers for resting orders; a finished
//!   order is reported once, in the response that finished it, and is a 404 afterwards
//!   (order history arrives with the control plane's order store).
//! - **A missing `client_order_id` is generated** (`gw-<unix nanos>-<counter>`), so that every
//!   order can be found and deduplicated by one.
//! - **Status and fills come from the acknowledgement's events**: the shard answers only
//!   once the command is durable, so a 201 is a journalled order.

use axum::extract::MatchedPath;
use axum::http::Method;
use matcher::client::{Ack, ShardClient};
use matcher::{CommandKind, EventKind, MarketId, OrderView, RejectReason};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub mod cancel_all;
pub mod change;
pub mod place;
pub mod read;
mod wire;

pub use wire::{
    AmendOrder, ApiOrderType, ApiSide, ApiStp, ApiTimeInForce, Fill, OrderBody, OrderStatus,
    PlaceOrder,
};

use crate::app::AppState;
use crate::middleware::check;
use crate::problem::{Problem, from_reject};
use crate::rbac::Ownership;
use crate::shards::{Market, ShardIndex, parse_order_id, shard_problem};

/// Query of `GET /v1/orders` and `DELETE /v1/orders`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrdersQuery {
    /// Only `open` is supported: live orders are all the shards keep.
    pub status: Option<String>,
    /// Restrict to one market.
    pub symbol: Option<String>,
}

/// The answer of `GET /v1/orders`.
#[derive(Debug, Serialize, ToSchema)]
pub struct OrderList {
    /// The caller's open orders.
    pub orders: Vec<OrderBody>,
}
/// The answer of `DELETE /v1/orders`.
#[derive(Debug, Serialize, ToSchema)]
pub struct CancelledList {
    /// Ids of the orders cancelled.
    pub cancelled: Vec<String>,
}

fn shard_client<'a>(state: &'a AppState, market: &Market) -> Result<&'a ShardClient, Problem> {
    state.shards().client(market.shard).ok_or_else(|| {
        tracing::error!(shard = market.shard.0, "market routed to an unknown shard");
        Problem::internal_without_cause()
    })
}

fn order_not_found() -> Problem {
    Problem::not_found("order_not_found", "No live order with that id.")
}

/// Finds a live order the caller may act on with `method` on `route`; anything else
/// (unknown id, finished order, another account's order the caller may not see) is the
/// same 404.
async fn visible_order<'a>(
    state: &'a AppState,
    principal: &crate::auth::Principal,
    method: &Method,
    route: &MatchedPath,
    id: &str,
) -> Result<(&'a Market, &'a ShardClient, OrderView), Problem> {
    let (shard, order_id) = parse_order_id(id).ok_or_else(order_not_found)?;
    let client = state.shards().client(shard).ok_or_else(order_not_found)?;
    let view = client
        .order(order_id)
        .await
        .map_err(|e| shard_problem(&e, "read order"))?
        .ok_or_else(order_not_found)?;
    let ownership = if view.account == principal.account {
        Ownership::Own
    } else {
        Ownership::Other
    };
    if !check(state, principal, method.as_str(), route.as_str(), ownership).is_allowed() {
        return Err(order_not_found());
    }
    let market = state.shards().by_id(view.market).ok_or_else(|| {
        tracing::error!(
            market = view.market.0,
            "order on a market the gateway does not know"
        );
        Problem::internal_without_cause()
    })?;
    if market.shard != shard {
        return Err(order_not_found());
    }
    Ok((market, client, view))
}

/// Submits `command` about one live order and fails on the engine's rejection: an
/// `UnknownOrder` (the order finished meanwhile) is the same 404 as an order never seen.
async fn submit_for_order(
    client: &ShardClient,
    command: CommandKind,
    what: &'static str,
) -> Result<Ack, Problem> {
    let ack = client
        .submit(command)
        .await
        .map_err(|e| shard_problem(&e, what))?;
    for event in &ack.events {
        if let EventKind::Rejected(r) = event.kind {
            if r.reason == RejectReason::UnknownOrder {
                return Err(order_not_found());
            }
            return Err(from_reject(r.reason));
        }
    }
    Ok(ack)
}

fn markets_of<'a>(state: &'a AppState, symbol: Option<&str>) -> Result<Vec<&'a Market>, Problem> {
    match symbol {
        Some(s) => Ok(vec![state.shards().by_symbol(s).ok_or_else(|| {
            Problem::bad_request("invalid_query", "No market with that symbol.")
                .with_field("symbol")
        })?]),
        None => Ok(state.shards().markets().collect()),
    }
}

/// A shard to ask, its client, and the market filter to pass it.
type ShardTarget<'a> = (ShardIndex, &'a ShardClient, Option<MarketId>);

/// The shards to ask for the caller's orders, optionally on the market named by `symbol`,
/// each with the market filter to pass it (`None`: all of the shard's markets).
///
/// # Errors
/// 400 `invalid_query` for an unknown symbol.
fn shard_targets<'a>(
    state: &'a AppState,
    symbol: Option<&str>,
) -> Result<Vec<ShardTarget<'a>>, Problem> {
    let markets = markets_of(state, symbol)?;
    let market_filter = match symbol {
        Some(_) => markets.first().map(|m| m.config.id()),
        None => None,
    };
    Ok(state
        .shards()
        .clients()
        .filter(|(shard, _)| markets.iter().any(|m| m.shard == *shard))
        .map(|(shard, client)| (shard, client, market_filter))
        .collect())
}

/// The resource's routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(read::list, place::place, cancel_all::cancel_all))
        .routes(routes!(read::get_one, change::cancel, change::amend))
}
