//! The `Idempotency-Key` middleware: puts [`crate::idempotency::IdempotencyStore`] in front
//! of every POST, PATCH and DELETE that carries the header.
//!
//! - The fingerprint is SHA-256 over the length-prefixed method, path, query and body, so
//!   the same key reused for anything else is a 422 `idempotency_key_reused`.
//! - The first request runs; its response (status, `content-type`, `location`, body) is
//!   stored through [`IdempotencyStore::finish`] (final answers stored, 5xx/408/429
//!   released). A retry with the same key and body gets those bytes back with
//!   `Idempotent-Replayed: true`; one sent while the first is running gets 409
//!   `idempotency_in_flight`.
//! - No store configured, or Redis unreachable: 503 `idempotency_unavailable` with
//!   `Retry-After`, and the request never runs (a refused order beats a double one).
//!
//! It sits inside [`crate::middleware::authenticate`] (keys are per principal) and inside
//! [`crate::middleware::deadline`]: a request cut off by the deadline drops its guard, so
//! its key answers 409 until the in-flight marker expires (request timeout plus a margin);
//! the engine's `client_order_id` uniqueness covers a retry after that.

use aws_lc_rs::digest;
use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::app::AppState;
use crate::auth::Principal;
use crate::idempotency::{
    Begin, Fingerprint, Finished, IdempotencyError, IdempotencyStore, StoredResponse,
};
use crate::problem::Problem;
use crate::shards::SHARD_RETRY_AFTER_SECS;

/// The request header naming an idempotent request.
pub const IDEMPOTENCY_KEY: HeaderName = HeaderName::from_static("idempotency-key");
/// The response header marking a replayed answer.
pub const IDEMPOTENT_REPLAYED: HeaderName = HeaderName::from_static("idempotent-replayed");

/// Response headers kept with a stored response; everything else is per request.
const REPLAYED_HEADERS: [HeaderName; 2] = [
    axum::http::header::CONTENT_TYPE,
    axum::http::header::LOCATION,
];

/// Applies the `Idempotency-Key` protocol to mutating requests that carry the header (see
/// the module docs); every other request passes straight through.
pub async fn idempotency(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if !matches!(
        *request.method(),
        Method::POST | Method::PATCH | Method::DELETE
    ) {
        return next.run(request).await;
    }
    let Some(key) = request.headers().get(&IDEMPOTENCY_KEY) else {
        return next.run(request).await;
    };
    // `to_str` refuses non-ASCII; the store checks length and printability.
    let Ok(key) = key.to_str().map(str::to_owned) else {
        return invalid_key();
    };
    let Some(store) = state.idempotency() else {
        return unavailable("Idempotency-Key is not supported: no store is configured.");
    };
    let Some(principal) = request.extensions().get::<Principal>() else {
        tracing::error!("idempotency layer reached without authentication");
        return Problem::internal_without_cause().into_response();
    };
    // Account and subject: two principals never share a key space.
    let principal = format!("{}/{}", principal.account.0, principal.subject);

    let (parts, body) = request.into_parts();
    // The body must be read whole to fingerprint it. Reading fails only past the limit or
    // when the client goes away; either way nothing has run.
    let Ok(body) = to_bytes(body, state.body_limit()).await else {
        return Problem::payload_too_large().into_response();
    };
    let fingerprint = fingerprint(
        &parts.method,
        parts.uri.path(),
        parts.uri.query().unwrap_or(""),
        &body,
    );

    match store.begin(&principal, &key, fingerprint).await {
        Ok(Begin::Proceed(guard)) => {
            let response = next.run(Request::from_parts(parts, Body::from(body))).await;
            record(store, guard, response).await
        }
        Ok(Begin::Replay(stored)) => replay(stored),
        Ok(Begin::InFlight) => Problem::conflict(
            "idempotency_in_flight",
            "A request with this Idempotency-Key is still being processed; retry later.",
        )
        .into_response(),
        Ok(Begin::Mismatch) => Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "idempotency_key_reused",
            "Unprocessable Content",
        )
        .with_detail("This Idempotency-Key was used for a different request.")
        .into_response(),
        Err(IdempotencyError::InvalidKey) => invalid_key(),
        Err(error @ IdempotencyError::Unavailable(_)) => {
            tracing::warn!(%error, "idempotency store unreachable; request refused");
            unavailable("The idempotency store is unreachable; retry later.")
        }
        Err(error @ IdempotencyError::Corrupt(_)) => {
            Problem::internal(&error, "reading an idempotency record").into_response()
        }
    }
}

/// Buffers the handler's response, hands it to the store, and returns it.
async fn record(
    store: &IdempotencyStore,
    guard: crate::idempotency::Guard,
    response: Response,
) -> Response {
    let (parts, body) = response.into_parts();
    let body = match to_bytes(body, usize::MAX).await {
        Ok(body) => body,
        Err(error) => {
            // Nothing stored: release the key so a retry can run (the engine's
            // client_order_id uniqueness guards a side effect that did happen).
            if let Err(release) = store.abandon(guard).await {
                tracing::warn!(error = %release, "could not release an idempotency key");
            }
            return Problem::internal(&error, "buffering a response for idempotency")
                .into_response();
        }
    };
    let stored = StoredResponse {
        status: parts.status.as_u16(),
        headers: REPLAYED_HEADERS
            .iter()
            .filter_map(|name| {
                let value = parts.headers.get(name)?.to_str().ok()?;
                Some((name.as_str().to_owned(), value.to_owned()))
            })
            .collect(),
        body: body.to_vec(),
    };
    match store.finish(guard, &stored).await {
        Ok(Finished::Stored | Finished::Released) => {}
        Ok(Finished::MarkerLost) => {
            tracing::warn!("idempotency marker expired before the handler finished");
        }
        Err(error) => {
            // The request ran: answer it. The marker expires on its own.
            tracing::warn!(%error, "could not store an idempotent response");
        }
    }
    Response::from_parts(parts, Body::from(body))
}

/// Rebuilds a stored response, marked as replayed.
fn replay(stored: StoredResponse) -> Response {
    let status = StatusCode::from_u16(stored.status).unwrap_or(StatusCode::OK);
    let mut response = Response::new(Body::from(stored.body));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    for (name, value) in &stored.headers {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            headers.append(name, value);
        }
    }
    headers.insert(IDEMPOTENT_REPLAYED, HeaderValue::from_static("true"));
    response
}

fn invalid_key() -> Response {
    Problem::bad_request(
        "invalid_idempotency_key",
        "Idempotency-Key must be 1 to 255 printable ASCII characters.",
    )
    .into_response()
}

fn unavailable(detail: &'static str) -> Response {
    Problem::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "idempotency_unavailable",
        "Service Unavailable",
    )
    .with_detail(detail)
    .with_retry_after(SHARD_RETRY_AFTER_SECS)
    .into_response()
}

/// SHA-256 of the length-prefixed method, path, query and body.
fn fingerprint(method: &Method, path: &str, query: &str, body: &[u8]) -> Fingerprint {
    let mut context = digest::Context::new(&digest::SHA256);
    for part in [
        method.as_str().as_bytes(),
        path.as_bytes(),
        query.as_bytes(),
        body,
    ] {
        let len = u64::try_from(part.len()).unwrap_or(u64::MAX);
        context.update(&len.to_be_bytes());
        context.update(part);
    }
    let mut out = [0; 32];
    out.copy_from_slice(context.finish().as_ref());
    Fingerprint(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_separate_every_part() {
        let base = fingerprint(&Method::POST, "/v1/orders", "", b"{}");
        assert_eq!(base, fingerprint(&Method::POST, "/v1/orders", "", b"{}"));
        assert_ne!(base, fingerprint(&Method::PATCH, "/v1/orders", "", b"{}"));
        assert_ne!(base, fingerprint(&Method::POST, "/v1/orders", "a=1", b"{}"));
        assert_ne!(base, fingerprint(&Method::POST, "/v1/orders", "", b"{ }"));
        // Length prefixes: moving bytes between parts changes the digest.
        assert_ne!(
            fingerprint(&Method::POST, "/a", "b", b""),
            fingerprint(&Method::POST, "/", "ab", b"")
        );
    }
}
