//! `/metrics` and `/healthz` for roles without the gateway's HTTP server (`tradeplane
//! worker`): the job series in OpenMetrics text, on their own listener.

use std::sync::Arc;

use axum::Router;
use axum::http::header::CONTENT_TYPE;
use axum::routing::get;
use prometheus_client::encoding::text::encode;
use prometheus_client::registry::Registry;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// Serves `registry` until `shutdown` fires.
///
/// # Errors
/// The listener's I/O error.
pub(crate) async fn serve(
    registry: Registry,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let registry = Arc::new(registry);
    let app = Router::new()
        .route(
            "/metrics",
            get(move || {
                let registry = Arc::clone(&registry);
                async move {
                    let mut text = String::new();
                    // Writing into a String cannot fail.
                    let _ = encode(&mut text, &registry);
                    (
                        [(CONTENT_TYPE, gateway::metrics::OPENMETRICS_CONTENT_TYPE)],
                        text,
                    )
                }
            }),
        )
        .route("/healthz", get(|| async { "ok" }));
    axum::serve(listener, app)
        .with_graceful_shutdown(async move { shutdown.cancelled().await })
        .await
}
