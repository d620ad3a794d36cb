//! Prometheus metrics for `/metrics`: HTTP requests, latency, in-flight requests and
//! shard round-trip times.
//!
//! Design decisions:
//! - **The registry belongs to a [`Metrics`] value** (held by the app state), never to the
//!   process: two gateways in one test binary, or tests running in parallel, never share a
//!   counter.
//! - **Requests are labelled by route template** (axum's [`MatchedPath`], e.g.
//!   `/v1/orders/{id}`), never by the concrete path, so an order id cannot blow up the
//!   number of series. A request no route matched is labelled `unmatched`.
//! - **OpenMetrics text format** (`prometheus-client`): served as
//!   [`OPENMETRICS_CONTENT_TYPE`], which Prometheus negotiates by default. Counters carry
//!   the `_total` suffix; the output ends with `# EOF`.
//! - **[`track`] is cancel-safe**: the in-flight gauge is decremented by a guard, so a
//!   request dropped mid-way (client gone) does not leave it raised. A dropped request is
//!   not counted, since it produced no status.
//!
//! Exposed series:
//! - `http_requests_total{route, method, status}` (counter)
//! - `http_request_duration_seconds{route, method, status}` (histogram)
//! - `http_requests_in_flight` (gauge)
//! - `shard_request_duration_seconds{shard, op}` (histogram)
//! - `stream_clients` (gauge): connected WebSocket clients
//! - `stream_messages_out_total` (counter): messages sent to WebSocket clients
//! - `stream_dropped_clients_total` (counter): clients disconnected for falling behind
//! - with a control plane, the job series of [`control_plane::metrics`]
//! - `stream_subscriptions` (gauge): open channel subscriptions over all WebSocket clients

use std::borrow::Cow;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// The content type of [`metrics_handler`]'s answer (OpenMetrics 1.0 text).
pub const OPENMETRICS_CONTENT_TYPE: &str =
    "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The route label of a request that matched no route (404 fallback).
pub const UNMATCHED: &str = "unmatched";

/// Labels of the HTTP request series.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HttpLabels {
    /// Route template (`/v1/orders/{id}`) or [`UNMATCHED`].
    route: String,
    /// HTTP method; the common ones are static strings.
    method: Cow<'static, str>,
    /// Numeric status code.
    status: u16,
}

/// Labels of the shard round-trip series.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ShardLabels {
    /// Shard address (`127.0.0.1:7001`).
    shard: String,
    /// Operation (`place`, `cancel`, `book`, ...).
    op: &'static str,
}

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

/// HTTP latency buckets: 100 µs doubling to ~3.3 s (16 buckets, plus `+Inf`).
fn http_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.000_1, 2.0, 16))
}

/// Shard round-trip buckets: 25 µs doubling to ~0.8 s (16 buckets, plus `+Inf`).
fn shard_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.000_025, 2.0, 16))
}

/// The gateway's metrics and the registry that renders them. Share it as `Arc<Metrics>`.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    requests: Family<HttpLabels, Counter>,
    latency: HistogramFamily<HttpLabels>,
    in_flight: Gauge,
    shard_latency: HistogramFamily<ShardLabels>,
    /// Connected WebSocket clients.
    pub stream_clients: Gauge,
    /// Messages sent to WebSocket clients.
    pub stream_messages_out: Counter,
    /// WebSocket clients disconnected for falling behind.
    pub stream_dropped: Counter,
    /// Open channel subscriptions over all WebSocket clients.
    pub stream_subscriptions: Gauge,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// A fresh registry with every series registered (and no samples yet).
    #[must_use]
    pub fn new() -> Self {
        let mut registry = Registry::default();
        let requests = Family::<HttpLabels, Counter>::default();
        let latency = HistogramFamily::<HttpLabels>::new_with_constructor(http_histogram);
        let in_flight = Gauge::default();
        let shard_latency = HistogramFamily::<ShardLabels>::new_with_constructor(shard_histogram);
        registry.register(
            "http_requests",
            "HTTP requests answered, by route template, method and status",
            requests.clone(),
        );
        registry.register(
            "http_request_duration_seconds",
            "HTTP request latency in seconds, by route template, method and status",
            latency.clone(),
        );
        registry.register(
            "http_requests_in_flight",
            "HTTP requests being served",
            in_flight.clone(),
        );
        registry.register(
            "shard_request_duration_seconds",
            "Shard round-trip time in seconds, by shard address and operation",
            shard_latency.clone(),
        );
        let stream_clients = Gauge::default();
        let stream_messages_out = Counter::default();
        let stream_dropped = Counter::default();
        let stream_subscriptions = Gauge::default();
        registry.register(
            "stream_clients",
            "Connected WebSocket clients of /v1/stream",
            stream_clients.clone(),
        );
        registry.register(
            "stream_messages_out",
            "Messages sent to WebSocket clients",
            stream_messages_out.clone(),
        );
        registry.register(
            "stream_dropped_clients",
            "WebSocket clients disconnected for falling behind (buffer full or not reading)",
            stream_dropped.clone(),
        );
        registry.register(
            "stream_subscriptions",
            "Open channel subscriptions over all WebSocket clients",
            stream_subscriptions.clone(),
        );
        Self {
            registry,
            requests,
            latency,
            in_flight,
            shard_latency,
            stream_clients,
            stream_messages_out,
            stream_dropped,
            stream_subscriptions,
        }
    }

    /// Adds the control plane's job series (enqueues here; starts and outcomes too when a
    /// worker pool shares them, as in `tradeplane dev`).
    pub fn register_jobs(&mut self, jobs: &control_plane::JobMetrics) {
        jobs.register(&mut self.registry);
    }

    /// Records one answered HTTP request.
    pub fn observe_request(
        &self,
        route: &str,
        method: &Method,
        status: StatusCode,
        elapsed: Duration,
    ) {
        let labels = HttpLabels {
            route: route.to_owned(),
            method: method_label(method),
            status: status.as_u16(),
        };
        self.requests.get_or_create(&labels).inc();
        self.latency
            .get_or_create(&labels)
            .observe(elapsed.as_secs_f64());
    }

    /// Records one shard round trip: `shard` is its address, `op` a short operation name
    /// (`place`, `cancel`, `amend`, `get`, `book`, `ping`, ...).
    pub fn observe_shard(&self, shard: &str, op: &'static str, elapsed: Duration) {
        let labels = ShardLabels {
            shard: shard.to_owned(),
            op,
        };
        self.shard_latency
            .get_or_create(&labels)
            .observe(elapsed.as_secs_f64());
    }

    /// Awaits `round_trip` (a shard client call) and records its duration with
    /// [`observe_shard`](Self::observe_shard), whatever it returns: failures and timeouts
    /// count too, so a slow shard shows in the tail.
    pub async fn time_shard<F: Future>(
        &self,
        shard: &str,
        op: &'static str,
        round_trip: F,
    ) -> F::Output {
        let start = Instant::now();
        let output = round_trip.await;
        self.observe_shard(shard, op, start.elapsed());
        output
    }

    /// Renders every series in OpenMetrics text format.
    ///
    /// # Errors
    /// Only if formatting fails, which writing to a `String` does not.
    pub fn render(&self) -> Result<String, std::fmt::Error> {
        let mut out = String::with_capacity(4096);
        encode(&mut out, &self.registry)?;
        Ok(out)
    }
}

/// Static label values for the usual methods; an extension method is copied.
fn method_label(method: &Method) -> Cow<'static, str> {
    match *method {
        Method::GET => Cow::Borrowed("GET"),
        Method::POST => Cow::Borrowed("POST"),
        Method::PUT => Cow::Borrowed("PUT"),
        Method::PATCH => Cow::Borrowed("PATCH"),
        Method::DELETE => Cow::Borrowed("DELETE"),
        Method::HEAD => Cow::Borrowed("HEAD"),
        Method::OPTIONS => Cow::Borrowed("OPTIONS"),
        _ => Cow::Owned(method.as_str().to_owned()),
    }
}

/// Lowers the in-flight gauge when the request finishes or is dropped.
struct InFlight<'a>(&'a Gauge);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// Middleware recording each request's count, latency and status, for
/// `axum::middleware::from_fn_with_state(metrics, track)`.
///
/// Mount it with `Router::layer` (not `route_layer`) so unmatched paths are counted too;
/// the route template comes from [`MatchedPath`], which the router sets before layers run.
pub async fn track(State(metrics): State<Arc<Metrics>>, request: Request, next: Next) -> Response {
    // `MatchedPath` is an `Arc<str>`: cloning it is cheap.
    let route = request.extensions().get::<MatchedPath>().cloned();
    let method = request.method().clone();
    metrics.in_flight.inc();
    let _guard = InFlight(&metrics.in_flight);
    let start = Instant::now();
    let response = next.run(request).await;
    let route = route.as_ref().map_or(UNMATCHED, MatchedPath::as_str);
    metrics.observe_request(route, &method, response.status(), start.elapsed());
    response
}

/// Answers `GET /metrics` with every series (see [`OPENMETRICS_CONTENT_TYPE`]).
pub async fn metrics_handler(State(metrics): State<Arc<Metrics>>) -> Response {
    match metrics.render() {
        Ok(body) => (
            [(
                CONTENT_TYPE,
                HeaderValue::from_static(OPENMETRICS_CONTENT_TYPE),
            )],
            body,
        )
            .into_response(),
        Err(error) => {
            tracing::error!(%error, "rendering metrics");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

/// `GET /metrics`, with its own state, to merge into a router of any state type.
pub fn router<S>(metrics: Arc<Metrics>) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    Router::new()
        .route("/metrics", get(metrics_handler))
        .with_state(metrics)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::extract::Path;
    use axum::http::Request as HttpRequest;
    use axum::middleware::from_fn_with_state;
    use axum::routing::post;
    use tower::ServiceExt as _;

    fn app(metrics: &Arc<Metrics>) -> Router {
        Router::new()
            .route(
                "/v1/orders/{id}",
                get(|Path(id): Path<String>| async move { id }),
            )
            .route("/v1/orders", post(|| async { StatusCode::CREATED }))
            .route("/boom", get(|| async { StatusCode::SERVICE_UNAVAILABLE }))
            .merge(router(Arc::clone(metrics)))
            // Like the gateway's problem+json fallbacks.
            .fallback(|| async { StatusCode::NOT_FOUND })
            .method_not_allowed_fallback(|| async { StatusCode::METHOD_NOT_ALLOWED })
            .layer(from_fn_with_state(Arc::clone(metrics), track))
    }

    async fn call(app: &Router, method: Method, uri: &str) -> Response {
        app.clone()
            .oneshot(
                HttpRequest::builder()
                    .method(method)
                    .uri(uri)
                    .body(Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap()
    }

    async fn scrape(app: &Router) -> String {
        let response = call(app, Method::GET, "/metrics").await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()[CONTENT_TYPE], OPENMETRICS_CONTENT_TYPE);
        let body = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap();
        String::from_utf8(body.to_vec()).unwrap()
    }

    fn assert_line(text: &str, line: &str) {
        assert!(
            text.lines().any(|l| l == line),
            "missing line {line:?} in:\n{text}"
        );
    }

    #[tokio::test]
    async fn requests_are_counted_by_route_template_method_and_status() {
        let metrics = Arc::new(Metrics::new());
        let app = app(&metrics);
        assert_eq!(
            call(&app, Method::GET, "/v1/orders/ord_0_1").await.status(),
            StatusCode::OK
        );
        assert_eq!(
            call(&app, Method::GET, "/v1/orders/ord_1_7").await.status(),
            StatusCode::OK
        );
        assert_eq!(
            call(&app, Method::POST, "/v1/orders").await.status(),
            StatusCode::CREATED
        );
        assert_eq!(
            call(&app, Method::GET, "/boom").await.status(),
            StatusCode::SERVICE_UNAVAILABLE
        );
        assert_eq!(
            call(&app, Method::GET, "/nowhere/42").await.status(),
            StatusCode::NOT_FOUND
        );
        // A known path with a wrong method keeps its template.
        assert_eq!(
            call(&app, Method::DELETE, "/v1/orders").await.status(),
            StatusCode::METHOD_NOT_ALLOWED
        );

        let text = scrape(&app).await;
        for line in [
            r#"http_requests_total{route="/v1/orders/{id}",method="GET",status="200"} 2"#,
            r#"http_requests_total{route="/v1/orders",method="POST",status="201"} 1"#,
            r#"http_requests_total{route="/boom",method="GET",status="503"} 1"#,
            r#"http_requests_total{route="unmatched",method="GET",status="404"} 1"#,
            r#"http_requests_total{route="/v1/orders",method="DELETE",status="405"} 1"#,
            r#"http_request_duration_seconds_count{route="/v1/orders/{id}",method="GET",status="200"} 2"#,
            r#"http_request_duration_seconds_count{route="/v1/orders",method="POST",status="201"} 1"#,
            r#"http_request_duration_seconds_count{route="unmatched",method="GET",status="404"} 1"#,
            r#"http_request_duration_seconds_bucket{le="+Inf",route="/v1/orders/{id}",method="GET",status="200"} 2"#,
            // Only the scrape itself is in flight while rendering.
            "http_requests_in_flight 1",
            "# TYPE http_requests counter",
            "# TYPE http_request_duration_seconds histogram",
            "# EOF",
        ] {
            assert_line(&text, line);
        }
        assert!(!text.contains("ord_0_1"), "concrete path leaked:\n{text}");

        // The first scrape is counted by the second; nothing is left in flight.
        let text = scrape(&app).await;
        assert_line(
            &text,
            r#"http_requests_total{route="/metrics",method="GET",status="200"} 1"#,
        );
        assert_line(&text, "http_requests_in_flight 1");
        assert_eq!(metrics.in_flight.get(), 0);
    }

    #[tokio::test]
    async fn shard_round_trips_are_observed_per_shard_and_operation() {
        let metrics = Arc::new(Metrics::new());
        metrics.observe_shard("127.0.0.1:7001", "place", Duration::from_micros(80));
        metrics.observe_shard("127.0.0.1:7001", "place", Duration::from_millis(2));
        metrics.observe_shard("127.0.0.1:7002", "cancel", Duration::from_micros(30));
        let answer = metrics
            .time_shard("127.0.0.1:7002", "ping", async { 7 })
            .await;
        assert_eq!(answer, 7);
        let text = scrape(&app(&metrics)).await;
        for line in [
            r#"shard_request_duration_seconds_count{shard="127.0.0.1:7001",op="place"} 2"#,
            r#"shard_request_duration_seconds_count{shard="127.0.0.1:7002",op="cancel"} 1"#,
            r#"shard_request_duration_seconds_count{shard="127.0.0.1:7002",op="ping"} 1"#,
            // Cumulative buckets: 80 µs lands in le=100 µs, 2 ms in le=3.2 ms.
            r#"shard_request_duration_seconds_bucket{le="0.00005",shard="127.0.0.1:7001",op="place"} 0"#,
            r#"shard_request_duration_seconds_bucket{le="0.0001",shard="127.0.0.1:7001",op="place"} 1"#,
            r#"shard_request_duration_seconds_bucket{le="0.0032",shard="127.0.0.1:7001",op="place"} 2"#,
            r#"shard_request_duration_seconds_bucket{le="0.00005",shard="127.0.0.1:7002",op="cancel"} 1"#,
            "# TYPE shard_request_duration_seconds histogram",
        ] {
            assert_line(&text, line);
        }
    }

    #[tokio::test]
    async fn registries_are_independent() {
        let a = Arc::new(Metrics::new());
        let b = Arc::new(Metrics::new());
        let app_a = app(&a);
        call(&app_a, Method::POST, "/v1/orders").await;
        let text = scrape(&app(&b)).await;
        assert!(!text.contains(r#"route="/v1/orders""#), "{text}");
    }

    #[tokio::test]
    async fn dropped_request_lowers_in_flight() {
        let metrics = Arc::new(Metrics::new());
        let app = Router::new()
            .route("/slow", get(std::future::pending::<StatusCode>))
            .layer(from_fn_with_state(Arc::clone(&metrics), track));
        let request = HttpRequest::builder()
            .uri("/slow")
            .body(Body::empty())
            .unwrap();
        let outcome = tokio::time::timeout(Duration::from_millis(20), app.oneshot(request)).await;
        assert!(outcome.is_err());
        assert_eq!(metrics.in_flight.get(), 0);
        let text = metrics.render().unwrap();
        assert!(!text.contains("/slow"), "{text}");
    }
}
