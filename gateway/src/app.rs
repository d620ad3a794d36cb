//! The gateway as a whole: shared state, the router, and the server loop.
//!
//! [`router`] is the complete HTTP surface, so most tests need no socket; [`run`] serves it
//! on a listener the caller bound (port 0 in tests) until the shutdown token fires, then
//! finishes the requests in flight.
//!
//! Layering, outermost first, on every matched route: [`middleware::deadline`] →
//! [`middleware::authenticate`] → [`middleware::authorize`] (per resource) → handler.
//! Unmatched paths and methods reach the problem+json fallbacks without authentication:
//! a 404 for an unknown path says nothing about any resource.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::middleware::from_fn_with_state;
use axum::serve::ListenerExt;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::auth::{Authenticator, ConfigError};
use crate::config::{GatewayConfig, GatewayConfigError};
use crate::middleware;
use crate::problem::{method_not_allowed_fallback, not_found_fallback};
use crate::rbac::{Authorizer, Ownership, RbacError};
use crate::routes;
use crate::shards::Shards;

/// Everything a request handler shares. Cheap to clone.
#[derive(Clone, Debug)]
pub struct AppState(Arc<Inner>);

struct Inner {
    authenticator: Authenticator,
    authorizer: Authorizer,
    shards: Shards,
    request_timeout: Duration,
    body_limit: usize,
}

impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // `Authenticator` holds key material and has no `Debug`.
        f.debug_struct("Inner")
            .field("authorizer", &self.authorizer)
            .field("shards", &self.shards)
            .field("request_timeout", &self.request_timeout)
            .field("body_limit", &self.body_limit)
            .finish_non_exhaustive()
    }
}

impl AppState {
    /// Builds the state from a configuration, with the shipped RBAC policy.
    ///
    /// # Errors
    /// [`StartError`] if the configuration is invalid or the policy does not load.
    pub async fn new(config: &GatewayConfig) -> Result<Self, StartError> {
        let authorizer = Authorizer::embedded().await.map_err(StartError::Rbac)?;
        Self::with_authorizer(config, authorizer)
    }

    /// Builds the state with a given authorizer (for policies loaded from files).
    ///
    /// # Errors
    /// [`StartError`] if the configuration is invalid.
    pub fn with_authorizer(
        config: &GatewayConfig,
        authorizer: Authorizer,
    ) -> Result<Self, StartError> {
        config.validate().map_err(StartError::Config)?;
        let authenticator = Authenticator::new(config.auth.clone()).map_err(StartError::Auth)?;
        let shards = Shards::new(
            &config.markets,
            config.request_timeout,
            config.shard_connections,
        );
        Ok(Self(Arc::new(Inner {
            authenticator,
            authorizer,
            shards,
            request_timeout: config.request_timeout,
            body_limit: config.body_limit,
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
    /// Serving failed.
    #[error("serving: {0}")]
    Io(#[source] std::io::Error),
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
    Router::new()
        .merge(routes::whoami::router().route_layer(public(state.clone())))
        .merge(routes::markets::router().route_layer(public(state.clone())))
        .merge(routes::orders::router().route_layer(owned(state.clone())))
        .route_layer(from_fn_with_state(state.clone(), middleware::authenticate))
        .route_layer(from_fn_with_state(state.clone(), middleware::deadline))
        .fallback(not_found_fallback)
        .method_not_allowed_fallback(method_not_allowed_fallback)
        .layer(DefaultBodyLimit::max(state.0.body_limit))
        .with_state(state)
}

/// Serves the gateway on `listener` until `shutdown` is cancelled, then lets requests in
/// flight finish.
///
/// # Errors
/// [`StartError`] for an invalid configuration, a broken policy, or a failing listener.
pub async fn run(
    config: GatewayConfig,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> Result<(), StartError> {
    let state = AppState::new(&config).await?;
    if let Ok(addr) = listener.local_addr() {
        tracing::info!(%addr, markets = config.markets.len(), "gateway listening");
    }
    // axum::serve leaves Nagle on; small JSON answers would wait for the peer's ACK.
    let listener = listener.tap_io(|stream| {
        if let Err(error) = stream.set_nodelay(true) {
            tracing::warn!(%error, "could not set TCP_NODELAY");
        }
    });
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown.cancelled_owned())
        .await
        .map_err(StartError::Io)
}
