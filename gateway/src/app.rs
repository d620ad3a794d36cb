//! The gateway as a whole: shared state, the router, and the server loop.
//!
//! [`router`] is the complete HTTP surface, so most tests need no socket; [`run`] serves it
//! on a listener the caller bound (port 0 in tests) until the shutdown token fires, then
//! finishes the requests in flight.
//!
//! Layering, outermost first, on every matched route: [`middleware::deadline`] →
//! [`middleware::authenticate`] → [`rate_limit::rate_limit`] →
//! [`idempotency_layer::idempotency`] →
//! [`middleware::authorize`] (per resource) → handler.
//! Unmatched paths and methods reach the problem+json fallbacks without authentication:
//! a 404 for an unknown path says nothing about any resource. `/healthz`, `/readyz` and
//! `/openapi.json` are unauthenticated too. [`middleware::request_id`] wraps everything,
//! fallbacks included, so every response carries `X-Request-Id`.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::middleware::{from_fn, from_fn_with_state};
use axum::serve::ListenerExt;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use utoipa_axum::router::OpenApiRouter;

use crate::auth::{Authenticator, ConfigError};
use crate::config::{GatewayConfig, GatewayConfigError};
use crate::health;
use crate::idempotency::{IdempotencyStore, connection_manager};
use crate::idempotency_layer;
use crate::middleware;
use crate::openapi;
use crate::policy_reload;
use crate::problem::{method_not_allowed_fallback, not_found_fallback};
use crate::rate_limit::{self, RateLimiter};
use crate::rbac::{Authorizer, Ownership, RbacError};
use crate::routes;
use crate::shards::Shards;

/// How much longer than the request timeout an in-flight idempotency marker lives.
const IN_FLIGHT_MARGIN: Duration = Duration::from_secs(5);

/// Everything a request handler shares. Cheap to clone.
#[derive(Clone, Debug)]
pub struct AppState(Arc<Inner>);

struct Inner {
    authenticator: Authenticator,
    authorizer: Authorizer,
    shards: Shards,
    request_timeout: Duration,
    body_limit: usize,
    idempotency: Option<IdempotencyStore>,
    rate_limiter: Option<RateLimiter>,
    metrics: Arc<crate::metrics::Metrics>,
    feed: crate::feed::Feed,
    control_plane: Option<crate::control::ControlPlane>,
}

impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // `Authenticator` holds key material and has no `Debug`.
        f.debug_struct("Inner")
            .field("authorizer", &self.authorizer)
            .field("shards", &self.shards)
            .field("request_timeout", &self.request_timeout)
            .field("body_limit", &self.body_limit)
            .field("idempotency", &self.idempotency)
            .field("rate_limiter", &self.rate_limiter)
            .field("metrics", &self.metrics)
            .field("feed", &self.feed)
            .field("control_plane", &self.control_plane)
            .finish_non_exhaustive()
    }
}

impl AppState {
    /// Builds the state from a configuration, with the RBAC policy from
    /// [`GatewayConfig::policy_files`] or else the shipped one.
    ///
    /// # Errors
    /// [`StartError`] if the configuration is invalid or the policy does not load.
    pub async fn new(config: &GatewayConfig) -> Result<Self, StartError> {
        let authorizer = match &config.policy_files {
            Some(files) => Authorizer::load(&files.model, &files.policy).await,
            None => Authorizer::embedded().await,
        }
        .map_err(StartError::Rbac)?;
        Self::with_authorizer(config, authorizer)
    }

    /// Builds the state with a given authorizer (for policies loaded from files).
    ///
    /// Must be called inside a Tokio runtime when `redis_url` is set (the Redis connection
    /// is lazy: nothing is dialled until the first request with an `Idempotency-Key`).
    ///
    /// # Errors
    /// [`StartError`] if the configuration is invalid.
    pub fn with_authorizer(
        config: &GatewayConfig,
        authorizer: Authorizer,
    ) -> Result<Self, StartError> {
        config.validate().map_err(StartError::Config)?;
        let authenticator = Authenticator::new(config.auth.clone()).map_err(StartError::Auth)?;
        let mut metrics = crate::metrics::Metrics::new();
        if let Some(cp) = &config.control_plane {
            metrics.register_jobs(&cp.metrics);
        }
        let metrics = Arc::new(metrics);
        let shards = Shards::new(
            &config.markets,
            config.request_timeout,
            config.shard_connections,
            &metrics,
        );
        let feed = crate::feed::Feed::new(
            &shards,
            config.recent_trades,
            config.stream_buffer,
            config.stream_stall_timeout,
            config.stream_publish_interval,
        );
        let idempotency = match &config.redis_url {
            None => None,
            Some(url) => {
                let op_timeout = IdempotencyStore::DEFAULT_OP_TIMEOUT.min(config.request_timeout);
                let conn = connection_manager(url, op_timeout)
                    .map_err(|e| StartError::Config(GatewayConfigError::RedisUrl(e.to_string())))?;
                // Longer than any handler may run (the deadline cuts it off at
                // request_timeout), so a live request never loses its marker.
                let in_flight_ttl = config.request_timeout + IN_FLIGHT_MARGIN;
                Some(
                    IdempotencyStore::new(
                        conn,
                        config.redis_prefix.clone(),
                        config.idempotency_ttl,
                        in_flight_ttl,
                    )
                    .with_op_timeout(op_timeout),
                )
            }
        };
        let control_plane = config
            .control_plane
            .as_ref()
            .map(crate::control::ControlPlane::connect)
            .transpose()
            .map_err(|e| StartError::Config(GatewayConfigError::ControlPlane(e)))?;
        Ok(Self(Arc::new(Inner {
            authenticator,
            authorizer,
            shards,
            request_timeout: config.request_timeout,
            body_limit: config.body_limit,
            idempotency,
            rate_limiter: config.rate_limit.map(RateLimiter::new),
            metrics,
            feed,
            control_plane,
        })))
    }

    /// Token verification.
    #[must_use]
    pub fn authenticator(&self) -> &Authenticator {
        &self.0.authenticator
    }

    /// The RBAC policy.
    #[must_use]
    pub fn authorizer(&self) -> &Authorizer {
        &self.0.authorizer
    }

    /// Markets and shard clients.
    #[must_use]
    pub fn shards(&self) -> &Shards {
        &self.0.shards
    }

    /// End-to-end request timeout.
    #[must_use]
    pub fn request_timeout(&self) -> Duration {
        self.0.request_timeout
    }

    /// Largest request body accepted, in bytes.
    #[must_use]
    pub fn body_limit(&self) -> usize {
        self.0.body_limit
    }

    /// The per-principal rate limiter, if configured.
    #[must_use]
    pub fn rate_limiter(&self) -> Option<&RateLimiter> {
        self.0.rate_limiter.as_ref()
    }

    /// Prometheus metrics.
    #[must_use]
    pub fn metrics(&self) -> &Arc<crate::metrics::Metrics> {
        &self.0.metrics
    }

    /// Market data from the shard feeds, and the WebSocket fan-out.
    #[must_use]
    pub fn feed(&self) -> &crate::feed::Feed {
        &self.0.feed
    }

    /// The job store and queue, if configured.
    #[must_use]
    pub fn control_plane(&self) -> Option<&crate::control::ControlPlane> {
        self.0.control_plane.as_ref()
    }

    /// The job store and queue, or the 503 `control_plane_unavailable` every job route
    /// answers without them.
    ///
    /// # Errors
    /// That 503 when no control plane is configured.
    pub fn require_control_plane(
        &self,
    ) -> Result<&crate::control::ControlPlane, crate::problem::Problem> {
        self.control_plane().ok_or_else(crate::control::unavailable)
    }

    /// The `Idempotency-Key` store, if Redis is configured.
    #[must_use]
    pub fn idempotency(&self) -> Option<&IdempotencyStore> {
        self.0.idempotency.as_ref()
    }
}

/// Why the gateway could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The configuration is invalid.
    #[error("invalid configuration: {0}")]
    Config(#[source] GatewayConfigError),
    /// The authenticator refused its configuration.
    #[error("invalid auth configuration: {0}")]
    Auth(#[source] ConfigError),
    /// The RBAC policy did not load.
    #[error("rbac policy: {0}")]
    Rbac(#[source] RbacError),
    /// The SIGHUP handler (policy reload) could not be installed.
    #[error("cannot listen for SIGHUP: {0}")]
    Signal(#[source] std::io::Error),
    /// Serving failed.
    #[error("serving: {0}")]
    Io(#[source] std::io::Error),
}

/// The documented routes, grouped by the layers they get. [`router`] serves them and
/// [`crate::openapi::document`] describes them, so the two cannot drift apart.
pub(crate) struct DocumentedRoutes {
    /// Authenticated; RBAC without ownership.
    pub(crate) public: OpenApiRouter<AppState>,
    /// Authenticated; RBAC on the caller's own account.
    pub(crate) owned: OpenApiRouter<AppState>,
    /// No authentication: health and the OpenAPI document.
    pub(crate) unauthenticated: OpenApiRouter<AppState>,
    /// Authenticated by the handler itself (a WebSocket may send its token in its first
    /// message): `GET /v1/stream`.
    pub(crate) self_authenticated: OpenApiRouter<AppState>,
}

pub(crate) fn documented_routes() -> DocumentedRoutes {
    DocumentedRoutes {
        public: routes::whoami::router()
            .merge(routes::markets::router())
            .merge(routes::admin::router())
            .merge(routes::jobs::router())
            .merge(routes::dead_letters::router())
            .merge(routes::queues::router()),
        owned: routes::orders::router(),
        unauthenticated: health::router().merge(openapi::router()),
        self_authenticated: crate::stream::router(),
    }
}

/// The gateway's whole HTTP surface.
pub fn router(state: AppState) -> Router {
    let public = |s: AppState| {
        from_fn_with_state(s, |st, req, next| {
            middleware::authorize(st, Ownership::NotApplicable, req, next)
        })
    };
    let owned = |s: AppState| {
        from_fn_with_state(s, |st, req, next| {
            middleware::authorize(st, Ownership::Own, req, next)
        })
    };
    let routes = documented_routes();
    let (public_routes, _) = routes.public.split_for_parts();
    let (owned_routes, _) = routes.owned.split_for_parts();
    let (unauthenticated_routes, _) = routes.unauthenticated.split_for_parts();
    let (self_authenticated_routes, _) = routes.self_authenticated.split_for_parts();
    Router::new()
        .merge(public_routes.route_layer(public(state.clone())))
        .merge(owned_routes.route_layer(owned(state.clone())))
        .route_layer(from_fn_with_state(
            state.clone(),
            idempotency_layer::idempotency,
        ))
        .route_layer(from_fn_with_state(state.clone(), rate_limit::rate_limit))
        .route_layer(from_fn_with_state(state.clone(), middleware::authenticate))
        .route_layer(from_fn_with_state(state.clone(), middleware::deadline))
        // Unauthenticated; `/readyz` bounds its own pings.
        .merge(unauthenticated_routes)
        .merge(self_authenticated_routes)
        .fallback(not_found_fallback)
        .method_not_allowed_fallback(method_not_allowed_fallback)
        .layer(DefaultBodyLimit::max(state.0.body_limit))
        // `.layer`, not `.route_layer`: unmatched 404s and 405s are counted too.
        .layer(from_fn_with_state(
            state.metrics().clone(),
            crate::metrics::track,
        ))
        .layer(from_fn(middleware::request_id))
        .with_state(state)
}

/// Serves the gateway on `listener` until `shutdown` is cancelled, then lets requests in
/// flight finish.
///
/// Alongside the server runs [`policy_reload`]'s task: SIGHUP reloads the RBAC policy. Its
/// handler is installed before "gateway listening" is logged, so a SIGHUP sent after that
/// line reloads rather than terminates the process. The task stops with the server and is
/// joined before `run` returns.
///
/// # Errors
/// [`StartError`] for an invalid configuration, a broken policy, a SIGHUP handler that
/// cannot be installed, or a failing listener.
pub async fn run(
    config: GatewayConfig,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> Result<(), StartError> {
    let state = AppState::new(&config).await?;
    if config.auth.jwks.is_some() {
        // Load the keys before serving, so the first token with a `kid` does not wait for a
        // fetch and a wrong URL shows in the start-up log. A failure does not stop the
        // gateway (HS256 tokens and health still work); the key set is fetched again when a
        // token names an unknown `kid`, at most once per refresh interval.
        match state.authenticator().refresh_jwks().await {
            Ok(keys) => tracing::info!(keys, "jwks loaded"),
            Err(error) => tracing::warn!(
                error = crate::auth::error_chain(&error),
                "jwks not loaded at start-up; tokens with a kid answer 503 until a refresh succeeds"
            ),
        }
    }
    // A child token: the task also stops when serving fails without a shutdown.
    let reload_stop = shutdown.child_token();
    let reloader = policy_reload::spawn_on_sighup(state.clone(), reload_stop.clone())
        .map_err(StartError::Signal)?;
    if let Ok(addr) = listener.local_addr() {
        tracing::info!(%addr, markets = config.markets.len(), "gateway listening");
    }
    // axum::serve leaves Nagle on; small JSON answers would wait for the peer's ACK.
    let listener = listener.tap_io(|stream| {
        if let Err(error) = stream.set_nodelay(true) {
            tracing::warn!(%error, "could not set TCP_NODELAY");
        }
    });
    // One ingestion task per shard, and every WebSocket connection, stop with the feed's
    // token; upgraded connections are not the server's to drain, so the token fires as
    // soon as shutdown starts.
    state.feed().spawn_ingest(&state);
    let feed_stop = state.feed().stop_token().clone();
    let served = axum::serve(listener, router(state.clone()))
        .with_graceful_shutdown(async move {
            shutdown.cancelled().await;
            feed_stop.cancel();
        })
        .await
        .map_err(StartError::Io);
    state.feed().shutdown().await;
    reload_stop.cancel();
    if let Err(error) = reloader.await {
        tracing::error!(%error, "the policy reload task panicked");
    }
    served
}
