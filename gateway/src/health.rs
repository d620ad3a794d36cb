//! Liveness and readiness, unauthenticated, for orchestrators and load balancers.
//!
//! - `GET /healthz`: 200 `{"status":"ok"}` while the process serves HTTP at all.
//! - `GET /readyz`: 200 `{"status":"ready","shards":N}` when every shard answers a ping
//!   within [`PING_TIMEOUT`] (all pinged at once), else 503 `not_ready` with
//!   `Retry-After` and the number of unreachable shards (never which address: that is
//!   internal).

use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use serde::Serialize;
use tokio::task::JoinSet;

use crate::app::AppState;
use crate::problem::{ApiJson, Problem};
use crate::shards::SHARD_RETRY_AFTER_SECS;

/// How long a shard has to answer the readiness ping.
pub const PING_TIMEOUT: Duration = Duration::from_millis(500);

/// The answer of `GET /healthz`.
#[derive(Debug, Serialize)]
pub struct Health {
    /// Always `"ok"`.
    pub status: &'static str,
}

/// The answer of `GET /readyz` when ready.
#[derive(Debug, Serialize)]
pub struct Ready {
    /// Always `"ready"`.
    pub status: &'static str,
    /// Shards pinged (all answered).
    pub shards: usize,
}

/// `GET /healthz`.
pub async fn healthz() -> ApiJson<Health> {
    ApiJson(Health { status: "ok" })
}

/// `GET /readyz`.
///
/// # Errors
/// 503 `not_ready` naming how many shards did not answer in time.
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

/// The health routes (unauthenticated).
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
}
