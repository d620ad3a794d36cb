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

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::extract::{MatchedPath, State};
use axum::http::{Method, StatusCode};
use matcher::client::{Ack, ShardClient};
use matcher::{
    Amend, Cancel, CancelAll, ClientOrderId, CommandKind, EventKind, NewOrder, OrderRef, OrderType,
    OrderView, Quantity, RejectReason,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

mod wire;

pub use wire::{
    AmendOrder, ApiOrderType, ApiSide, ApiStp, ApiTimeInForce, Fill, OrderBody, OrderStatus,
    PlaceOrder,
};

use crate::app::AppState;
use crate::decimal::{format_price, format_quantity, parse_price, parse_quantity};
use crate::middleware::{Caller, check};
use crate::openapi::Problem as ProblemSchema;
use crate::problem::{ApiJson, ApiPath, ApiQuery, Problem, from_reject};
use crate::rbac::Ownership;
use crate::shards::{Market, format_order_id, parse_order_id, shard_problem};

/// `POST /v1/orders`.
///
/// # Errors
/// 422 naming the field for a bad value, a problem from the engine's rejection, 503 if
/// the shard cannot answer.
#[utoipa::path(
    post,
    path = "/v1/orders",
    operation_id = "place_order",
    tag = "orders",
    summary = "Place an order",
    description = "Places a limit or market order for the token's account. Prices and quantities are decimal strings in the market's precision; a missing `client_order_id` is generated. A 201 is a journalled order.",
    security(("bearer" = [])),
    request_body(content = PlaceOrder, description = "The order to place; the account is the token's.", content_type = "application/json"),
    params(
        ("Idempotency-Key" = Option<String>, Header, nullable = false, description = "Makes the request safe to retry: 1 to 255 printable ASCII characters, kept 24 hours per caller. The same key and request replay the stored response; a different request with the key is a 422; while the first is in flight, a 409."),
    ),
    responses(
        (status = 201, description = "The order was accepted and journalled; its status and any fills made on entry.", body = OrderBody,
            headers(("Idempotent-Replayed" = String, description = "`true` when this is the stored response of an earlier request with the same `Idempotency-Key`."))),
        (status = 400, description = "Malformed JSON (`malformed_json`), an unreadable body (`unreadable_body`) or an invalid `Idempotency-Key` (`invalid_idempotency_key`).",
            content_type = "application/problem+json", body = ProblemSchema),
        (status = 401, description = "Missing, malformed, expired or otherwise invalid bearer token (`unauthorized`); see `WWW-Authenticate`.",
            content_type = "application/problem+json", body = ProblemSchema,
            headers(("WWW-Authenticate" = String, description = "The bearer challenge, with the reason as `error`."))),
        (status = 403, description = "The caller's roles do not allow this request (`forbidden`).",
            content_type = "application/problem+json", body = ProblemSchema),
        (status = 409, description = "The account already used this `client_order_id` (`duplicate_client_order_id`), or a request with the same `Idempotency-Key` is still being processed (`idempotency_in_flight`).",
            content_type = "application/problem+json", body = ProblemSchema),
        (status = 413, description = "The request body exceeds the configured limit (`payload_too_large`).",
            content_type = "application/problem+json", body = ProblemSchema),
        (status = 415, description = "The body is not sent as `Content-Type: application/json` (`unsupported_media_type`).",
            content_type = "application/problem+json", body = ProblemSchema),
        (status = 422, description = "A member is missing, unknown or of the wrong type (`invalid_body`), a value is invalid (`market_not_found`, `price_required`, `price_not_allowed`, `invalid_client_order_id`, `price_not_on_tick`, `price_out_of_band`, `zero_quantity`, `quantity_not_on_lot`, `quantity_too_large`, `post_only_would_cross`, …, with `field`), or the `Idempotency-Key` was used for a different request (`idempotency_key_reused`).",
            content_type = "application/problem+json", body = ProblemSchema),
        (status = 429, description = "The caller's rate limit is exhausted (`rate_limited`).",
            content_type = "application/problem+json", body = ProblemSchema,
            headers(("Retry-After" = u32, description = "Seconds to wait before retrying."))),
        (status = 500, description = "Internal error (`internal`); no details are shown.",
            content_type = "application/problem+json", body = ProblemSchema),
        (status = 503, description = "A shard did not answer in time (`unavailable`), the market's book is full (`book_full`), the idempotency store is unreachable or not configured while an `Idempotency-Key` was sent (`idempotency_unavailable`), the signing keys could not be fetched, or the request ran out of time.",
            content_type = "application/problem+json", body = ProblemSchema,
            headers(("Retry-After" = u32, description = "Seconds to wait before retrying."))),
    )
)]
pub async fn place(
    State(state): State<AppState>,
    Caller(principal): Caller,
    ApiJson(body): ApiJson<PlaceOrder>,
) -> Result<(StatusCode, ApiJson<OrderBody>), Problem> {
    let shards = state.shards();
    let market = shards.by_symbol(&body.symbol).ok_or_else(|| {
        Problem::unprocessable("market_not_found", "symbol", "No market with that symbol.")
    })?;
    let p = market.precision;
    let order_type = match (body.order_type, &body.price) {
        (ApiOrderType::Limit, Some(price)) => OrderType::Limit {
            price: parse_price(price, p, market.config.tick_size())
                .map_err(|e| e.to_problem("price"))?,
        },
        (ApiOrderType::Limit, None) => {
            return Err(Problem::unprocessable(
                "price_required",
                "price",
                "A limit order needs a price.",
            ));
        }
        (ApiOrderType::Market, None) => OrderType::Market,
        (ApiOrderType::Market, Some(_)) => {
            return Err(Problem::unprocessable(
                "price_not_allowed",
                "price",
                "A market order takes no price.",
            ));
        }
    };
    let quantity = parse_quantity(&body.quantity, p, market.config.lot_size())
        .map_err(|e| e.to_problem("quantity"))?;
    let client_order_id = match &body.client_order_id {
        Some(id) => ClientOrderId::new(id).map_err(|_| {
            Problem::unprocessable(
                "invalid_client_order_id",
                "client_order_id",
                "A client order id is 1 to 36 printable ASCII characters.",
            )
        })?,
        None => generated_client_order_id(),
    };
    let time_in_force = body.time_in_force.unwrap_or(match body.order_type {
        ApiOrderType::Limit => ApiTimeInForce::Gtc,
        ApiOrderType::Market => ApiTimeInForce::Ioc,
    });
    let order = NewOrder {
        market: market.config.id(),
        account: principal.account,
        client_order_id,
        side: body.side.into(),
        order_type,
        quantity,
        time_in_force: time_in_force.into(),
        post_only: body.post_only,
        stp: body.stp.into(),
    };
    let client = shard_client(&state, market)?;
    let ack = client
        .submit(CommandKind::NewOrder(order))
        .await
        .map_err(|e| shard_problem(&e, "place order"))?;
    let placed = placed_order(&ack, market, &order, body.order_type)?;
    Ok((StatusCode::CREATED, ApiJson(placed)))
}

/// Reads the outcome of a new order from its acknowledgement.
fn placed_order(
    ack: &Ack,
    market: &Market,
    order: &NewOrder,
    order_type: ApiOrderType,
) -> Result<OrderBody, Problem> {
    let p = market.precision;
    let mut id = None;
    let mut fills = Vec::new();
    let mut filled = Quantity::ZERO;
    let mut done = false;
    for event in &ack.events {
        match event.kind {
            EventKind::Rejected(r) => return Err(from_reject(r.reason)),
            EventKind::Accepted(a) => id = Some(a.order_id),
            EventKind::Trade(t) if Some(t.taker_order_id) == id => {
                filled = Quantity(filled.0.saturating_add(t.quantity.0));
                fills.push(Fill {
                    price: format_price(t.price, p),
                    quantity: format_quantity(t.quantity, p),
                });
            }
            EventKind::Done(d) if Some(d.order_id) == id => done = true,
            _ => {}
        }
    }
    let id = id.ok_or_else(|| {
        tracing::error!(?ack, "new order acknowledged without Accepted or Rejected");
        Problem::internal_without_cause()
    })?;
    let remaining = if done {
        Quantity::ZERO
    } else {
        Quantity(order.quantity.0.saturating_sub(filled.0))
    };
    let status = match (done, filled == order.quantity, filled.is_zero()) {
        (_, true, _) => OrderStatus::Filled,
        (true, false, _) => OrderStatus::Cancelled,
        (false, false, true) => OrderStatus::Open,
        (false, false, false) => OrderStatus::PartiallyFilled,
    };
    let price = match order.order_type {
        OrderType::Limit { price } => Some(format_price(price, p)),
        OrderType::Market => None,
    };
    Ok(OrderBody {
        id: format_order_id(market.shard, id),
        client_order_id: order.client_order_id.as_str().to_owned(),
        symbol: market.symbol(),
        side: order.side.into(),
        order_type,
        price,
        quantity: format_quantity(order.quantity, p),
        filled_quantity: format_quantity(filled, p),
        remaining_quantity: format_quantity(remaining, p),
        status,
        time_in_force: order.time_in_force.into(),
        post_only: order.post_only,
        stp: order.stp.into(),
        fills: Some(fills),
    })
}

fn generated_client_order_id() -> ClientOrderId {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let s = format!("gw-{nanos}-{n}");
    // At most 3 + 39 + 1 + 20 bytes: keep the distinguishing tail within 36.
    let start = s.len().saturating_sub(matcher::MAX_CLIENT_ORDER_ID_LEN);
    ClientOrderId::new(&s[start..]).unwrap_or_else(|_| ClientOrderId::from_u64(n))
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

/// `GET /v1/orders/{id}`.
///
/// # Errors
/// 404 `order_not_found`; 503 if the shard cannot answer.
#[utoipa::path(
    get,
    path = "/v1/orders/{id}",
    operation_id = "get_order",
    tag = "orders",
    summary = "Get an order",
    description = "A live order. Another account's order is a 404, unless the caller's roles may read any account's orders.",
    security(("bearer" = [])),
    params(
        ("id" = String, Path, description = "The order id, `ord_<shard>_<n>`.", example = "ord_0_42"),
    ),
    responses(
        (status = 200, description = "The live order.", body = OrderBody),
        (status = 400, description = "The path parameter is invalid (`invalid_path`).",
            content_type = "application/problem+json", body = ProblemSchema),
        (status = 401, description = "Missing, malformed, expired or otherwise invalid bearer token (`unauthorized`); see `WWW-Authenticate`.",
            content_type = "application/problem+json", body = ProblemSchema,
            headers(("WWW-Authenticate" = String, description = "The bearer challenge, with the reason as `error`."))),
        (status = 403, description = "The caller's roles do not allow this request (`forbidden`).",
            content_type = "application/problem+json", body = ProblemSchema),
        (status = 404, description = "No live order with that id visible to the caller (`order_not_found`): unknown, finished, or another account's.",
            content_type = "application/problem+json", body = ProblemSchema),
        (status = 429, description = "The caller's rate limit is exhausted (`rate_limited`).",
            content_type = "application/problem+json", body = ProblemSchema,
            headers(("Retry-After" = u32, description = "Seconds to wait before retrying."))),
        (status = 500, description = "Internal error (`internal`); no details are shown.",
            content_type = "application/problem+json", body = ProblemSchema),
        (status = 503, description = "A shard did not answer in time (`unavailable`), the signing keys could not be fetched, or the request ran out of time.",
            content_type = "application/problem+json", body = ProblemSchema,
            headers(("Retry-After" = u32, description = "Seconds to wait before retrying."))),
    )
)]
pub async fn get_one(
    State(state): State<AppState>,
    Caller(principal): Caller,
    method: Method,
    route: MatchedPath,
    ApiPath(id): ApiPath<String>,
) -> Result<ApiJson<OrderBody>, Problem> {
    let (market, _, view) = visible_order(&state, &principal, &method, &route, &id).await?;
    Ok(ApiJson(OrderBody::from_view(&view, market)))
}

/// `DELETE /v1/orders/{id}`: cancels the order's remainder and answers with the order as
/// it finished.
///
/// # Errors
/// 404 `order_not_found` (also when it finished meanwhile); 503 if the shard cannot answer.
#[utoipa::path(
    delete,
    path = "/v1/orders/{id}",
    operation_id = "cancel_order",
    tag = "orders",
    summary = "Cancel an order",
    description = "Cancels the order's remainder and answers with the order as it finished.",
    security(("bearer" = [])),
    params(
        ("id" = String, Path, description = "The order id, `ord_<shard>_<n>`.", example = "ord_0_42"),
        ("Idempotency-Key" = Option<String>, Header, nullable = false, description = "Makes the request safe to retry: 1 to 255 printable ASCII characters, kept 24 hours per caller. The same key and request replay the stored response; a different request with the key is a 422; while the first is in flight, a 409."),
    ),
    responses(
        (status = 200, description = "The order as it finished: cancelled, with what had filled.", body = OrderBody,
            headers(("Idempotent-Replayed" = String, description = "`true` when this is the stored response of an earlier request with the same `Idempotency-Key`."))),
        (status = 400, description = "The path parameter is invalid (`invalid_path`), or an invalid `Idempotency-Key` (`invalid_idempotency_key`).",
            content_type = "application/problem+json", body = ProblemSchema),
        (status = 401, description = "Missing, malformed, expired or otherwise invalid bearer token (`unauthorized`); see `WWW-Authenticate`.",
            content_type = "application/problem+json", body = ProblemSchema,
            headers(("WWW-Authenticate" = String, description = "The bearer challenge, with the reason as `error`."))),
        (status = 403, description = "The caller's roles do not allow this request (`forbidden`).",
            content_type = "application/problem+json", body = ProblemSchema),
        (status = 404, description = "No live order with that id visible to the caller (`order_not_found`): unknown, finished, or another account's. Also when it finished meanwhile.",
            content_type = "application/problem+json", body = ProblemSchema),
        (status = 409, description = "A request with the same `Idempotency-Key` is still being processed (`idempotency_in_flight`); retry later.",
            content_type = "application/problem+json", body = ProblemSchema),
        (status = 413, description = "The request body exceeds the configured limit (`payload_too_large`).",
            content_type = "application/problem+json", body = ProblemSchema),
        (status = 422, description = "The `Idempotency-Key` was used for a different request (`idempotency_key_reused`), or the engine refused the cancellation.",
            content_type = "application/problem+json", body = ProblemSchema),
        (status = 429, description = "The caller's rate limit is exhausted (`rate_limited`).",
            content_type = "application/problem+json", body = ProblemSchema,
            headers(("Retry-After" = u32, description = "Seconds to wait before retrying."))),
        (status = 500, description = "Internal error (`internal`); no details are shown.",
            content_type = "application/problem+json", body = ProblemSchema),
        (status = 503, description = "A shard did not answer in time (`unavailable`), the idempotency store is unreachable or not configured while an `Idempotency-Key` was sent (`idempotency_unavailable`), the signing keys could not be fetched, or the request ran out of time.",
            content_type = "application/problem+json", body = ProblemSchema,
            headers(("Retry-After" = u32, description = "Seconds to wait before retrying."))),
    )
)]
pub async fn cancel(
    State(state): State<AppState>,
    Caller(principal): Caller,
    method: Method,
    route: MatchedPath,
    ApiPath(id): ApiPath<String>,
) -> Result<ApiJson<OrderBody>, Problem> {
    let (market, client, view) = visible_order(&state, &principal, &method, &route, &id).await?;
    let ack = client
        .submit(CommandKind::Cancel(Cancel {
            account: view.account,
            order: OrderRef::Id(view.order_id),
        }))
        .await
        .map_err(|e| shard_problem(&e, "cancel order"))?;
    let mut body = OrderBody::from_view(&view, market);
    for event in &ack.events {
        match event.kind {
            EventKind::Rejected(r) if r.reason == RejectReason::UnknownOrder => {
                return Err(order_not_found());
            }
            EventKind::Rejected(r) => return Err(from_reject(r.reason)),
            EventKind::Done(d) if d.order_id == view.order_id => {
                body.filled_quantity = format_quantity(d.filled, market.precision);
            }
            _ => {}
        }
    }
    body.status = OrderStatus::Cancelled;
    body.remaining_quantity = format_quantity(Quantity::ZERO, market.precision);
    Ok(ApiJson(body))
}

/// `PATCH /v1/orders/{id}`: changes the price, the total quantity, or both. A lower
/// quantity keeps the order's place in the queue; a new price or a higher quantity loses it,
/// and a new price that crosses trades at once (reported in `fills`).
///
/// # Errors
/// 404 `order_not_found` (also when it finished meanwhile); 422 naming the field for a bad
/// value or from the engine's rejection; 503 if the shard cannot answer.
#[utoipa::path(
    patch,
    path = "/v1/orders/{id}",
    operation_id = "amend_order",
    tag = "orders",
    summary = "Amend an order",
    description = "Changes the price, the total quantity, or both. A lower quantity keeps the order's place in the queue; a new price or a higher quantity loses it, and a new price that crosses trades at once (reported in `fills`).",
    security(("bearer" = [])),
    request_body(content = AmendOrder, description = "The new price, the new total quantity (filled included), or both.", content_type = "application/json"),
    params(
        ("id" = String, Path, description = "The order id, `ord_<shard>_<n>`.", example = "ord_0_42"),
        ("Idempotency-Key" = Option<String>, Header, nullable = false, description = "Makes the request safe to retry: 1 to 255 printable ASCII characters, kept 24 hours per caller. The same key and request replay the stored response; a different request with the key is a 422; while the first is in flight, a 409."),
    ),
    responses(
        (status = 200, description = "The amended order, with any trades the new price made (`fills`).", body = OrderBody,
            headers(("Idempotent-Replayed" = String, description = "`true` when this is the stored response of an earlier request with the same `Idempotency-Key`."))),
        (status = 400, description = "Malformed JSON (`malformed_json`), an unreadable body (`unreadable_body`), an invalid path parameter (`invalid_path`) or an invalid `Idempotency-Key` (`invalid_idempotency_key`).",
            content_type = "application/problem+json", body = ProblemSchema),
        (status = 401, description = "Missing, malformed, expired or otherwise invalid bearer token (`unauthorized`); see `WWW-Authenticate`.",
            content_type = "application/problem+json", body = ProblemSchema,
            headers(("WWW-Authenticate" = String, description = "The bearer challenge, with the reason as `error`."))),
        (status = 403, description = "The caller's roles do not allow this request (`forbidden`).",
            content_type = "application/problem+json", body = ProblemSchema),
        (status = 404, description = "No live order with that id visible to the caller (`order_not_found`): unknown, finished, or another account's. Also when it finished meanwhile.",
            content_type = "application/problem+json", body = ProblemSchema),
        (status = 409, description = "A request with the same `Idempotency-Key` is still being processed (`idempotency_in_flight`); retry later.",
            content_type = "application/problem+json", body = ProblemSchema),
        (status = 413, description = "The request body exceeds the configured limit (`payload_too_large`).",
            content_type = "application/problem+json", body = ProblemSchema),
        (status = 415, description = "The body is not sent as `Content-Type: application/json` (`unsupported_media_type`).",
            content_type = "application/problem+json", body = ProblemSchema),
        (status = 422, description = "A member is unknown or of the wrong type (`invalid_body`), a value is invalid (`price_not_on_tick`, `price_out_of_band`, `zero_quantity`, `quantity_not_on_lot`, `quantity_too_large`, `nothing_to_amend`, `quantity_below_filled`, `post_only_would_cross`, …, with `field`), or the `Idempotency-Key` was used for a different request (`idempotency_key_reused`).",
            content_type = "application/problem+json", body = ProblemSchema),
        (status = 429, description = "The caller's rate limit is exhausted (`rate_limited`).",
            content_type = "application/problem+json", body = ProblemSchema,
            headers(("Retry-After" = u32, description = "Seconds to wait before retrying."))),
        (status = 500, description = "Internal error (`internal`); no details are shown.",
            content_type = "application/problem+json", body = ProblemSchema),
        (status = 503, description = "A shard did not answer in time (`unavailable`), the idempotency store is unreachable or not configured while an `Idempotency-Key` was sent (`idempotency_unavailable`), the signing keys could not be fetched, or the request ran out of time.",
            content_type = "application/problem+json", body = ProblemSchema,
            headers(("Retry-After" = u32, description = "Seconds to wait before retrying."))),
    )
)]
pub async fn amend(
    State(state): State<AppState>,
    Caller(principal): Caller,
    method: Method,
    route: MatchedPath,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<AmendOrder>,
) -> Result<ApiJson<OrderBody>, Problem> {
    let (market, client, view) = visible_order(&state, &principal, &method, &route, &id).await?;
    let p = market.precision;
    let price = body
        .price
        .as_deref()
        .map(|s| parse_price(s, p, market.config.tick_size()).map_err(|e| e.to_problem("price")))
        .transpose()?;
    let quantity = body
        .quantity
        .as_deref()
        .map(|s| {
            parse_quantity(s, p, market.config.lot_size()).map_err(|e| e.to_problem("quantity"))
        })
        .transpose()?;
    let ack = client
        .submit(CommandKind::Amend(Amend {
            account: view.account,
            order: OrderRef::Id(view.order_id),
            price,
            quantity,
        }))
        .await
        .map_err(|e| shard_problem(&e, "amend order"))?;
    let mut now = view;
    let mut done = false;
    let mut fills = Vec::new();
    for event in &ack.events {
        match event.kind {
            EventKind::Rejected(r) if r.reason == RejectReason::UnknownOrder => {
                return Err(order_not_found());
            }
            EventKind::Rejected(r) => return Err(from_reject(r.reason)),
            EventKind::Amended(a) if a.order_id == view.order_id => {
                now.price = a.price;
                now.quantity = a.quantity;
                now.remaining = a.remaining;
                now.filled = Quantity(a.quantity.0.saturating_sub(a.remaining.0));
            }
            EventKind::Trade(t) if t.taker_order_id == view.order_id => {
                now.filled = Quantity(now.filled.0.saturating_add(t.quantity.0));
                now.remaining = Quantity(now.remaining.0.saturating_sub(t.quantity.0));
                fills.push(Fill {
                    price: format_price(t.price, p),
                    quantity: format_quantity(t.quantity, p),
                });
            }
            EventKind::Done(d) if d.order_id == view.order_id => {
                done = true;
                now.filled = d.filled;
                now.remaining = Quantity::ZERO;
            }
            _ => {}
        }
    }
    let mut answer = OrderBody::from_view(&now, market);
    if done {
        answer.status = if now.filled == now.quantity {
            OrderStatus::Filled
        } else {
            OrderStatus::Cancelled
        };
    }
    answer.fills = Some(fills);
    Ok(ApiJson(answer))
}

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

fn markets_of<'a>(state: &'a AppState, symbol: Option<&str>) -> Result<Vec<&'a Market>, Problem> {
    match symbol {
        Some(s) => Ok(vec![state.shards().by_symbol(s).ok_or_else(|| {
            Problem::bad_request("invalid_query", "No market with that symbol.")
                .with_field("symbol")
        })?]),
        None => Ok(state.shards().markets().collect()),
    }
}

/// `GET /v1/orders?status=open[&symbol=]`: the caller's own open orders.
///
/// # Errors
/// 400 `invalid_query` for another status or an unknown symbol; 503 if a shard cannot answer.
#[utoipa::path(
    get,
    path = "/v1/orders",
    operation_id = "list_orders",
    tag = "orders",
    summary = "List own open orders",
    description = "The caller's own live orders, optionally on one market.",
    security(("bearer" = [])),
    params(
        ("status" = Option<String>, Query, nullable = false, description = "Only `open` is supported (the default): live orders.", example = "open"),
        ("symbol" = Option<String>, Query, nullable = false, description = "Only orders on this market.", example = "BTC-USD"),
    ),
    responses(
        (status = 200, description = "The caller's own open orders.", body = OrderList),
        (status = 400, description = "Invalid query string: an unknown parameter, a status other than `open`, or an unknown symbol (`invalid_query`).",
            content_type = "application/problem+json", body = ProblemSchema),
        (status = 401, description = "Missing, malformed, expired or otherwise invalid bearer token (`unauthorized`); see `WWW-Authenticate`.",
            content_type = "application/problem+json", body = ProblemSchema,
            headers(("WWW-Authenticate" = String, description = "The bearer challenge, with the reason as `error`."))),
        (status = 403, description = "The caller's roles do not allow this request (`forbidden`).",
            content_type = "application/problem+json", body = ProblemSchema),
        (status = 429, description = "The caller's rate limit is exhausted (`rate_limited`).",
            content_type = "application/problem+json", body = ProblemSchema,
            headers(("Retry-After" = u32, description = "Seconds to wait before retrying."))),
        (status = 500, description = "Internal error (`internal`); no details are shown.",
            content_type = "application/problem+json", body = ProblemSchema),
        (status = 503, description = "A shard did not answer in time (`unavailable`), the signing keys could not be fetched, or the request ran out of time.",
            content_type = "application/problem+json", body = ProblemSchema,
            headers(("Retry-After" = u32, description = "Seconds to wait before retrying."))),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    Caller(principal): Caller,
    ApiQuery(query): ApiQuery<OrdersQuery>,
) -> Result<ApiJson<OrderList>, Problem> {
    if query.status.as_deref().is_some_and(|s| s != "open") {
        return Err(
            Problem::bad_request("invalid_query", "Only status=open is supported.")
                .with_field("status"),
        );
    }
    let markets = markets_of(&state, query.symbol.as_deref())?;
    let mut orders = Vec::new();
    for (shard, client) in state.shards().clients() {
        if !markets.iter().any(|m| m.shard == shard) {
            continue;
        }
        let market_filter = match query.symbol {
            Some(_) => markets.first().map(|m| m.config.id()),
            None => None,
        };
        let views = client
            .open_orders(principal.account, market_filter)
            .await
            .map_err(|e| shard_problem(&e, "list orders"))?;
        for view in &views {
            if let Some(market) = state.shards().by_id(view.market) {
                orders.push(OrderBody::from_view(view, market));
            }
        }
    }
    Ok(ApiJson(OrderList { orders }))
}

/// The answer of `DELETE /v1/orders`.
#[derive(Debug, Serialize, ToSchema)]
pub struct CancelledList {
    /// Ids of the orders cancelled.
    pub cancelled: Vec<String>,
}

/// `DELETE /v1/orders[?symbol=]`: cancels all of the caller's own open orders.
///
/// # Errors
/// 400 `invalid_query` for an unknown symbol; 503 if a shard cannot answer (orders on
/// shards already asked stay cancelled).
#[utoipa::path(
    delete,
    path = "/v1/orders",
    operation_id = "cancel_all_orders",
    tag = "orders",
    summary = "Cancel all own orders",
    description = "Cancels every open order of the caller's account, optionally on one market.",
    security(("bearer" = [])),
    params(
        ("symbol" = Option<String>, Query, nullable = false, description = "Only orders on this market.", example = "BTC-USD"),
        ("Idempotency-Key" = Option<String>, Header, nullable = false, description = "Makes the request safe to retry: 1 to 255 printable ASCII characters, kept 24 hours per caller. The same key and request replay the stored response; a different request with the key is a 422; while the first is in flight, a 409."),
    ),
    responses(
        (status = 200, description = "The ids of the caller's orders that were cancelled.", body = CancelledList,
            headers(("Idempotent-Replayed" = String, description = "`true` when this is the stored response of an earlier request with the same `Idempotency-Key`."))),
        (status = 400, description = "Invalid query string: an unknown parameter, `status`, or an unknown symbol (`invalid_query`); or an invalid `Idempotency-Key` (`invalid_idempotency_key`).",
            content_type = "application/problem+json", body = ProblemSchema),
        (status = 401, description = "Missing, malformed, expired or otherwise invalid bearer token (`unauthorized`); see `WWW-Authenticate`.",
            content_type = "application/problem+json", body = ProblemSchema,
            headers(("WWW-Authenticate" = String, description = "The bearer challenge, with the reason as `error`."))),
        (status = 403, description = "The caller's roles do not allow this request (`forbidden`).",
            content_type = "application/problem+json", body = ProblemSchema),
        (status = 409, description = "A request with the same `Idempotency-Key` is still being processed (`idempotency_in_flight`); retry later.",
            content_type = "application/problem+json", body = ProblemSchema),
        (status = 413, description = "The request body exceeds the configured limit (`payload_too_large`).",
            content_type = "application/problem+json", body = ProblemSchema),
        (status = 422, description = "The `Idempotency-Key` was used for a different request (`idempotency_key_reused`), or the engine refused the cancellation.",
            content_type = "application/problem+json", body = ProblemSchema),
        (status = 429, description = "The caller's rate limit is exhausted (`rate_limited`).",
            content_type = "application/problem+json", body = ProblemSchema,
            headers(("Retry-After" = u32, description = "Seconds to wait before retrying."))),
        (status = 500, description = "Internal error (`internal`); no details are shown.",
            content_type = "application/problem+json", body = ProblemSchema),
        (status = 503, description = "A shard did not answer in time (`unavailable`), the idempotency store is unreachable or not configured while an `Idempotency-Key` was sent (`idempotency_unavailable`), the signing keys could not be fetched, or the request ran out of time. Orders on shards already asked stay cancelled.",
            content_type = "application/problem+json", body = ProblemSchema,
            headers(("Retry-After" = u32, description = "Seconds to wait before retrying."))),
    )
)]
pub async fn cancel_all(
    State(state): State<AppState>,
    Caller(principal): Caller,
    ApiQuery(query): ApiQuery<OrdersQuery>,
) -> Result<ApiJson<CancelledList>, Problem> {
    if query.status.is_some() {
        return Err(
            Problem::bad_request("invalid_query", "status is not a filter of this route.")
                .with_field("status"),
        );
    }
    let markets = markets_of(&state, query.symbol.as_deref())?;
    let mut cancelled = Vec::new();
    for (shard, client) in state.shards().clients() {
        if !markets.iter().any(|m| m.shard == shard) {
            continue;
        }
        let market = match query.symbol {
            Some(_) => markets.first().map(|m| m.config.id()),
            None => None,
        };
        let ack = client
            .submit(CommandKind::CancelAll(CancelAll {
                account: principal.account,
                market,
            }))
            .await
            .map_err(|e| shard_problem(&e, "cancel all"))?;
        for event in &ack.events {
            match event.kind {
                EventKind::Rejected(r) => return Err(from_reject(r.reason)),
                EventKind::Done(d) => cancelled.push(format_order_id(shard, d.order_id)),
                _ => {}
            }
        }
    }
    Ok(ApiJson(CancelledList { cancelled }))
}

/// The resource's routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, place, cancel_all))
        .routes(routes!(get_one, cancel, amend))
}
