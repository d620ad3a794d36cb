//! `POST /v1/orders`: placing an order.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::extract::State;
use axum::http::StatusCode;
use matcher::client::Ack;
use matcher::{ClientOrderId, CommandKind, EventKind, NewOrder, OrderType, Quantity};

use super::{ApiOrderType, ApiTimeInForce, Fill, OrderBody, OrderStatus, PlaceOrder, shard_client};
use crate::app::AppState;
use crate::decimal::{format_price, format_quantity, parse_price, parse_quantity};
use crate::middleware::Caller;
use crate::openapi::Problem as ProblemSchema;
use crate::problem::{ApiJson, Problem, from_reject};
use crate::shards::{Market, format_order_id, shard_problem};

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
