//! Liveness and readiness, unauthenticated, for orchestrators and load balancers.
//!
//! - `GET /healthz`: 200 `{"status":"ok"}` while the process serves HTTP at all.
//! - `GET /readyz`: 200 `{"status":"ready","shards":N}` when every shard answers a ping
//!   within [`PING_TIMEOUT`] (all pinged at once), else 503 `not_ready` with
//!   `Retry-After` and the number of unreachable shards (never which address: that is
//!   internal).

use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use serde::Serialize;
use tokio::task::JoinSet;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app::AppState;
use crate::openapi::Problem as ProblemSchema;
use crate::problem::{ApiJson, Problem};
use crate::shards::SHARD_RETRY_AFTER_SECS;

/// How long a shard has to answer the readiness ping.
pub const PING_TIMEOUT: Duration = Duration::from_millis(500);

/// The answer of `GET /healthz`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// Always `"ok"`.
    #[schema(example = "ok")]
    pub status: &'static str,
}

/// The answer of `GET /readyz` when ready.
#[derive(Debug, Serialize, ToSchema)]
pub struct Ready {
    /// Always `"ready"`.
    #[schema(example = "ready")]
    pub status: &'static str,
    /// Shards pinged (all answered).
    pub shards: usize,
}

/// `GET /healthz`.
#[utoipa::path(
    get,
    path = "/healthz",
    operation_id = "healthz",
    tag = "health",
    summary = "Liveness",
    description = "200 while the process serves HTTP at all.",
    responses(
        (status = 200, description = "The process serves HTTP.", body = Health),
    )
)]
pub async fn healthz() -> ApiJson<Health> {
    ApiJson(Health { status: "ok" })
}

/// `GET /readyz`.
///
/// # Errors
/// 503 `not_ready` naming how many shards did not answer in time.
#[utoipa::path(
    get,
    path = "/readyz",
    operation_id = "readyz",
    tag = "health",
    summary = "Readiness",
    description = "200 when every shard answers a ping in time, else 503.",
    responses(
        (status = 200, description = "Every shard answered a ping in time.", body = Ready),
        (status = 503, description = "Some shards did not answer a ping in time (`not_ready`, with `unreachable_shards`).",
            content_type = "application/problem+json", body = ProblemSchema,
            headers(("Retry-After" = u32, description = "Seconds to wait before retrying."))),
    )
)]
pub async fn readyz(State(state): State<AppState>) -> Result<ApiJson<Ready>, Problem> {
    let timeout = PING_TIMEOUT.min(state.request_timeout());
    let mut pings = JoinSet::new();
    for (_, client) in state.shards().clients() {
        let client = client.clone();
        pings.spawn(async move {
            matches!(
                tokio::time::timeout(timeout, client.ping()).await,
                Ok(Ok(_))
            )
        });
    }
    let total = pings.len();
    let mut unreachable = 0_usize;
    while let Some(answered) = pings.join_next().await {
        if !matches!(answered, Ok(true)) {
            unreachable += 1;
        }
    }
    if unreachable == 0 {
        return Ok(ApiJson(Ready {
            status: "ready",
            shards: total,
        }));
    }
    tracing::warn!(unreachable, total, "not ready: shards unreachable");
    Err(Problem::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "not_ready",
        "Service Unavailable",
    )
    .with_retry_after(SHARD_RETRY_AFTER_SECS)
    .with_detail(format!("{unreachable} of {total} shards are unreachable."))
    .with_extension("unreachable_shards", unreachable))
}

/// Prometheus metrics of this gateway.
#[utoipa::path(
    get,
    path = "/metrics",
    operation_id = "metrics",
    tag = "health",
    summary = "Metrics",
    description = "Requests and latency per route, method and status, requests in flight, and \
                   shard round-trip times, in the OpenMetrics text format.",
    responses(
        (status = 200, description = "The current metrics, OpenMetrics text.",
            content_type = "application/openmetrics-text; version=1.0.0; charset=utf-8", body = String),
        (status = 500, description = "The metrics could not be rendered (`internal`).",
            content_type = "application/problem+json", body = ProblemSchema),
    )
)]
pub async fn metrics(State(state): State<AppState>) -> axum::response::Response {
    crate::metrics::metrics_handler(State(state.metrics().clone())).await
}

/// The health routes (unauthenticated).
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(healthz))
        .routes(routes!(readyz))
        .routes(routes!(metrics))
}
