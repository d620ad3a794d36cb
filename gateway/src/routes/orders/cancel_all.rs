//! `DELETE /v1/orders`: cancelling all of the caller's open orders.

use axum::extract::State;
use matcher::{CancelAll, CommandKind, EventKind};

use super::{CancelledList, OrdersQuery, shard_targets};
use crate::app::AppState;
use crate::middleware::Caller;
use crate::openapi::Problem as ProblemSchema;
use crate::problem::{ApiJson, ApiQuery, Problem, from_reject};
use crate::shards::{format_order_id, shard_problem};

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
    let mut cancelled = Vec::new();
    for (shard, client, market) in shard_targets(&state, query.symbol.as_deref())? {
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
