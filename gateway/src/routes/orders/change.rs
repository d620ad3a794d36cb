//! `PATCH /v1/orders/{id}` and `DELETE /v1/orders/{id}`: amending and cancelling one
//! live order.

use axum::extract::{MatchedPath, State};
use axum::http::Method;
use matcher::{Amend, Cancel, CommandKind, EventKind, OrderRef, Quantity};

use super::{AmendOrder, Fill, OrderBody, OrderStatus, submit_for_order, visible_order};
use crate::app::AppState;
use crate::decimal::{format_price, format_quantity, parse_price, parse_quantity};
use crate::middleware::Caller;
use crate::openapi::Problem as ProblemSchema;
use crate::problem::{ApiJson, ApiPath, Problem};

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
    let ack = submit_for_order(
        client,
        CommandKind::Cancel(Cancel {
            account: view.account,
            order: OrderRef::Id(view.order_id),
        }),
        "cancel order",
    )
    .await?;
    let mut body = OrderBody::from_view(&view, market);
    for event in &ack.events {
        if let EventKind::Done(d) = event.kind
            && d.order_id == view.order_id
        {
            body.filled_quantity = format_quantity(d.filled, market.precision);
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
    let ack = submit_for_order(
        client,
        CommandKind::Amend(Amend {
            account: view.account,
            order: OrderRef::Id(view.order_id),
            price,
            quantity,
        }),
        "amend order",
    )
    .await?;
    let mut now = view;
    let mut done = false;
    let mut fills = Vec::new();
    for event in &ack.events {
        match event.kind {
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
