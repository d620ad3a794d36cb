//! `GET /v1/orders/{id}` and `GET /v1/orders`: reading one live order and listing the
//! caller's open orders.

use axum::extract::{MatchedPath, State};
use axum::http::Method;

use super::{OrderBody, OrderList, OrdersQuery, shard_targets, visible_order};
use crate::app::AppState;
use crate::middleware::Caller;
use crate::openapi::Problem as ProblemSchema;
use crate::problem::{ApiJson, ApiPath, ApiQuery, Problem};
use crate::shards::shard_problem;

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
    let mut orders = Vec::new();
    for (_, client, market_filter) in shard_targets(&state, query.symbol.as_deref())? {
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
