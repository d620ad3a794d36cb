//! Per-request authentication, authorization and the end-to-end deadline.
//!
//! - [`authenticate`]: `Authorization: Bearer <JWT>` → [`Principal`] in the request's
//!   extensions; any failure is a 401 problem with `WWW-Authenticate`.
//! - [`authorize`]: the RBAC check on the matched route template (`/v1/orders/{id}`, never
//!   the concrete path). Routes declare the [`Ownership`] they check here:
//!   `NotApplicable` for market data and identity, `Own` for order routes. For order routes
//!   this is the best case ("may this caller do this to its own orders?"), so a viewer
//!   placing an order is a 403 before any shard is asked; the handler repeats the check
//!   with the order's real owner and answers 404 when that one fails, so that another
//!   account's order is indistinguishable from a missing one.
//! - [`deadline`]: a request still running after the configured timeout answers 503 with
//!   `Retry-After`, so nothing hangs whatever a shard does.
//! - [`request_id`]: the outermost layer. Honours a valid incoming `X-Request-Id` (1 to
//!   [`MAX_REQUEST_ID_LEN`] printable ASCII characters) or generates one, runs the request
//!   in a tracing span carrying it, and echoes it on every response, problems included.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::extract::{FromRequestParts, MatchedPath, Request, State};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::app::AppState;
use crate::auth::{AuthError, Principal, Role};
use crate::problem::Problem;
use crate::rbac::{Decision, Ownership};
use crate::shards::SHARD_RETRY_AFTER_SECS;
use tracing::Instrument as _;

/// The request-id header, honoured on requests and set on every response.
pub const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
/// Longest incoming request id honoured; a longer or non-printable one is replaced.
pub const MAX_REQUEST_ID_LEN: usize = 128;

/// A request's id, in the request's extensions for handlers and logs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestId(pub HeaderValue);

/// Honours or generates the request id, runs the request in a span carrying it, and
/// echoes it on the response (see the module docs).
pub async fn request_id(mut request: Request, next: Next) -> Response {
    let id = request
        .headers()
        .get(&X_REQUEST_ID)
        .filter(|v| valid_request_id(v.as_bytes()))
        .cloned()
        .unwrap_or_else(generate_request_id);
    request.headers_mut().insert(X_REQUEST_ID, id.clone());
    request.extensions_mut().insert(RequestId(id.clone()));
    let span = tracing::info_span!(
        "request",
        request_id = id.to_str().unwrap_or_default(),
        method = %request.method(),
        path = request.uri().path(),
    );
    let mut response = next.run(request).instrument(span).await;
    response.headers_mut().insert(X_REQUEST_ID, id);
    response
}

/// 1..=[`MAX_REQUEST_ID_LEN`] bytes of printable ASCII, no spaces.
fn valid_request_id(id: &[u8]) -> bool {
    !id.is_empty() && id.len() <= MAX_REQUEST_ID_LEN && id.iter().all(|b| b.is_ascii_graphic())
}

/// 32 hex digits: a per-process counter and the clock, hashed with random keys.
fn generate_request_id() -> HeaderValue {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let state = RandomState::new();
    let hi = state.hash_one((n, nanos, 0_u8));
    let lo = state.hash_one((n, nanos, 1_u8));
    HeaderValue::from_str(&format!("{hi:016x}{lo:016x}"))
        .unwrap_or_else(|_| HeaderValue::from_static("unknown"))
}

/// Verifies the bearer token and stores the [`Principal`] in the request's extensions.
pub async fn authenticate(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    let token = match bearer_token(request.headers().get(AUTHORIZATION)) {
        Ok(token) => token,
        Err(error) => return unauthorized(error),
    };
    match state.authenticator().verify(token).await {
        Ok(principal) => {
            request.extensions_mut().insert(principal);
            next.run(request).await
        }
        Err(error) => unauthorized(error),
    }
}

/// The token of an `Authorization: Bearer <token>` header (scheme case-insensitive).
pub(crate) fn bearer_token(header: Option<&HeaderValue>) -> Result<&str, AuthError> {
    let value = header.ok_or(AuthError::Missing)?;
    let value = value.to_str().map_err(|_| AuthError::Malformed)?;
    let (scheme, token) = value.split_once(' ').ok_or(AuthError::Malformed)?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(AuthError::Missing);
    }
    let token = token.trim();
    if token.is_empty() {
        return Err(AuthError::Malformed);
    }
    Ok(token)
}

pub(crate) fn unauthorized(error: AuthError) -> Response {
    tracing::debug!(code = error.code(), "authentication failed");
    if error.retryable() {
        // The JWKS could not be fetched: not the client's fault.
        return Problem::unavailable(SHARD_RETRY_AFTER_SECS).into_response();
    }
    let challenge = HeaderValue::from_str(&error.www_authenticate())
        .unwrap_or_else(|_| HeaderValue::from_static("Bearer"));
    Problem::unauthorized(challenge).into_response()
}

/// The RBAC check for routes whose resources have the given ownership (see the module
/// docs). Use with `axum::middleware::from_fn_with_state` and a closure fixing `ownership`.
pub async fn authorize(
    State(state): State<AppState>,
    ownership: Ownership,
    request: Request,
    next: Next,
) -> Response {
    let Some(principal) = request.extensions().get::<Principal>() else {
        return Problem::internal_without_cause().into_response();
    };
    let Some(route) = request.extensions().get::<MatchedPath>() else {
        return Problem::internal_without_cause().into_response();
    };
    let decision = check(
        &state,
        principal,
        request.method().as_str(),
        route.as_str(),
        ownership,
    );
    if decision.is_allowed() {
        next.run(request).await
    } else {
        Problem::forbidden("Your roles do not allow this request.").into_response()
    }
}

/// Asks the authorizer about a principal's roles (without allocating).
pub(crate) fn check(
    state: &AppState,
    principal: &Principal,
    method: &str,
    route: &str,
    ownership: Ownership,
) -> Decision {
    let mut names = [""; 8];
    let mut n = 0;
    for role in principal.roles.iter().take(names.len()) {
        names[n] = Role::as_str(*role);
        n += 1;
    }
    state
        .authorizer()
        .check(&names[..n], method, route, ownership)
}

/// Answers 503 with `Retry-After` if the rest of the stack takes longer than the
/// configured request timeout.
pub async fn deadline(State(state): State<AppState>, request: Request, next: Next) -> Response {
    match tokio::time::timeout(state.request_timeout(), next.run(request)).await {
        Ok(response) => response,
        Err(_) => {
            tracing::warn!("request timed out");
            Problem::unavailable(SHARD_RETRY_AFTER_SECS).into_response()
        }
    }
}

/// The authenticated caller, as an extractor. Only valid behind [`authenticate`]; a handler
/// reached without it is a programming error (500).
#[derive(Clone, Debug)]
pub struct Caller(pub Principal);

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Principal>()
            .cloned()
            .map(Caller)
            .ok_or_else(|| {
                tracing::error!("Caller extracted on a route without authentication");
                Problem::internal_without_cause()
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_are_validated() {
        assert!(valid_request_id(b"abc-123_X.y"));
        assert!(!valid_request_id(b""));
        assert!(!valid_request_id(b"has space"));
        assert!(!valid_request_id(&[b'a'; MAX_REQUEST_ID_LEN + 1]));
        assert!(valid_request_id(&[b'a'; MAX_REQUEST_ID_LEN]));
        let a = generate_request_id();
        let b = generate_request_id();
        assert_ne!(a, b);
        assert!(valid_request_id(a.as_bytes()));
    }

    #[test]
    fn bearer_tokens_are_read_strictly() {
        let h = |s: &'static str| HeaderValue::from_static(s);
        assert_eq!(bearer_token(Some(&h("Bearer abc"))), Ok("abc"));
        assert_eq!(bearer_token(Some(&h("bearer abc"))), Ok("abc"));
        assert_eq!(bearer_token(None), Err(AuthError::Missing));
        assert_eq!(bearer_token(Some(&h("Basic abc"))), Err(AuthError::Missing));
        assert_eq!(bearer_token(Some(&h("Bearer"))), Err(AuthError::Malformed));
        assert_eq!(
            bearer_token(Some(&h("Bearer  "))),
            Err(AuthError::Malformed)
        );
    }
}
