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

use axum::extract::{FromRequestParts, MatchedPath, Request, State};
use axum::http::HeaderValue;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::app::AppState;
use crate::auth::{AuthError, Principal, Role};
use crate::problem::Problem;
use crate::rbac::{Decision, Ownership};
use crate::shards::SHARD_RETRY_AFTER_SECS;

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
fn bearer_token(header: Option<&HeaderValue>) -> Result<&str, AuthError> {
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

fn unauthorized(error: AuthError) -> Response {
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
