//! `GET /v1/stream`: market data and the caller's order updates over a WebSocket.
//!
//! Design decisions:
//! - **Authentication** by the bearer header (checked before the upgrade: a bad token is a
//!   problem+json 401) or by an `auth` message, which must then come first and within
//!   [`AUTH_TIMEOUT`] (a bad one closes with 4001). RBAC applies as to any route:
//!   `GET /v1/stream` (4003 or 403 when refused). The `orders` channel carries the token's
//!   account's orders only.
//! - **Each connection is two halves in one task**: the session ([`session`]) reads the
//!   client's messages and the feed bus and queues what the client wants in a bounded
//!   outbox ([`outbox`]); the writer ([`writer`]) drains the outbox to the socket, all
//!   that waits in one write. The session never waits for the socket.
//! - **Book deltas conflate per connection.** While a delta waits in the outbox (the
//!   socket is busy, or the task has not run yet), a newer delta of the same market merges
//!   into it: one message spanning `prev_seq` of the first to `seq` of the last, with each
//!   level's newest totals. So a client that cannot take every delta gets fewer, larger
//!   ones and a correct book, and is not dropped for it.
//! - **A slow client costs only itself**: it is closed with [`CLOSE_SLOW`] when its outbox
//!   fills with messages that cannot merge (snapshots, trades, order updates), when it
//!   falls too far behind the bus, or when it has not taken a batch off its socket for
//!   the stall timeout (`stream_stall_timeout`): a client that never reads holds at most
//!   one delta per market, then goes.
//! - **Book channels start with a snapshot** taken after the connection joined the bus;
//!   deltas at or below the snapshot's sequence number are already in it and are skipped,
//!   and the first one past it is sent as starting from the snapshot (it may also cover
//!   changes from just before it, with the same totals).
//! - Close codes: 1001 gateway shutting down, 4001 not authenticated, 4003 forbidden,
//!   4008 too slow.

mod outbox;
mod session;
mod writer;

use std::time::Duration;

use axum::extract::State;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{CloseFrame, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::http::header::AUTHORIZATION;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app::AppState;
use crate::auth::{AuthError, Principal};
use crate::feed::messages::ServerMessage;
use crate::middleware::{bearer_token, check, unauthorized};
use crate::openapi::Problem as ProblemSchema;
use crate::problem::Problem;
use crate::rbac::Ownership;
use outbox::Outbox;
use session::Session;
use writer::Writer;

/// How long a connection without a bearer header may take to send its `auth` message.
pub const AUTH_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a closing connection may take to flush the frame in flight and its close
/// frame; a client that reads nothing for that long is dropped without one.
const CLOSE_GRACE: Duration = Duration::from_secs(5);
/// Read buffer of a connection. tungstenite zero-fills the free part of its read buffer
/// before every read attempt, including the attempts that find nothing to read (each time
/// the connection's task wakes for the feed): with its default 128 KiB that zeroing was
/// more than half of the gateway's CPU under fan-out load. Clients send small messages.
const READ_BUFFER: usize = 4 * 1024;
/// Largest message a client may send (its messages are a few hundred bytes); the default,
/// 64 MiB, would let one connection hold that much memory.
const MAX_CLIENT_MESSAGE: usize = 64 * 1024;
/// The route, as RBAC policies name it.
pub const ROUTE: &str = "/v1/stream";

/// Close code: the gateway is shutting down.
pub const CLOSE_GOING_AWAY: u16 = 1001;
/// Close code: no valid `auth` message in time.
pub const CLOSE_UNAUTHORIZED: u16 = 4001;
/// Close code: the caller's roles do not allow the stream.
pub const CLOSE_FORBIDDEN: u16 = 4003;
/// Close code: the client fell behind and its buffer filled.
pub const CLOSE_SLOW: u16 = 4008;

/// `GET /v1/stream`.
#[utoipa::path(
    get,
    path = "/v1/stream",
    operation_id = "stream",
    tag = "stream",
    summary = "Market data and order updates (WebSocket)",
    description = "Upgrades to a WebSocket. Authenticate with the bearer header or, without \
        it, with `{\"type\":\"auth\",\"token\":\"…\"}` as the first message (within 10 s). \
        Then send `subscribe`/`unsubscribe` messages (`ClientMessage`) for the channels \
        `book:{symbol}` (a `book_snapshot`, then `book_delta`s, each of which may merge \
        several changes and spans `prev_seq` to `seq`: apply one only if its `prev_seq` is \
        the `seq` applied last, else resubscribe), `trades:{symbol}` and `orders` (the \
        token's account only). The gateway sends `ServerMessage`s. A client whose buffer \
        fills with messages that cannot merge, or that reads nothing for 10 s, is closed \
        with code 4008; other close codes: 1001 shutting down, 4001 not authenticated, \
        4003 forbidden.",
    security(("bearer" = [])),
    responses(
        (status = 101, description = "Switching to the WebSocket protocol; messages are `ClientMessage` in and `ServerMessage` out."),
        (status = 401, description = "Invalid bearer token, or neither a token nor a WebSocket upgrade (`unauthorized`); see `WWW-Authenticate`.",
            content_type = "application/problem+json", body = ProblemSchema,
            headers(("WWW-Authenticate" = String, description = "The bearer challenge, with the reason as `error`."))),
        (status = 403, description = "The caller's roles do not allow this request (`forbidden`).",
            content_type = "application/problem+json", body = ProblemSchema),
        (status = 426, description = "Not a WebSocket upgrade request (`upgrade_required`).",
            content_type = "application/problem+json", body = ProblemSchema),
        (status = 429, description = "The caller's rate limit is exhausted (`rate_limited`); checked when the token comes in the header.",
            content_type = "application/problem+json", body = ProblemSchema,
            headers(("Retry-After" = u32, description = "Seconds to wait before retrying."))),
        (status = 500, description = "Internal error (`internal`); no details are shown.",
            content_type = "application/problem+json", body = ProblemSchema),
        (status = 503, description = "The signing keys could not be fetched (`unavailable`).",
            content_type = "application/problem+json", body = ProblemSchema,
            headers(("Retry-After" = u32, description = "Seconds to wait before retrying."))),
    )
)]
pub async fn stream(
    State(state): State<AppState>,
    headers: HeaderMap,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    let principal = match headers.get(AUTHORIZATION) {
        None => None,
        Some(header) => {
            let verified = match bearer_token(Some(header)) {
                Ok(token) => state.authenticator().verify(token).await,
                Err(error) => Err(error),
            };
            match verified {
                Ok(principal) => Some(principal),
                Err(error) => return unauthorized(error),
            }
        }
    };
    if let Some(p) = &principal {
        // A connection opened with a header counts against the caller's rate limit like
        // any request (one that authenticates by message has no principal yet).
        if let Some(limiter) = state.rate_limiter()
            && let Err(retry_after) = limiter.check(p)
        {
            return Problem::rate_limited(retry_after).into_response();
        }
        if !allowed(&state, p) {
            return Problem::forbidden("Your roles do not allow this request.").into_response();
        }
    }
    let upgrade = match upgrade {
        Ok(upgrade) => upgrade,
        Err(_) if principal.is_none() => return unauthorized(AuthError::Missing),
        Err(_) => {
            return Problem::new(
                StatusCode::UPGRADE_REQUIRED,
                "upgrade_required",
                "Upgrade Required",
            )
            .with_detail("GET /v1/stream is a WebSocket: send an upgrade request.")
            .into_response();
        }
    };
    let upgrade = upgrade
        .read_buffer_size(READ_BUFFER)
        .max_message_size(MAX_CLIENT_MESSAGE)
        .max_frame_size(MAX_CLIENT_MESSAGE);
    upgrade.on_upgrade(move |socket| async move {
        let span = tracing::info_span!("stream_connection_task");
        let task = connection(state.clone(), principal, socket).instrument(span);
        state.feed().spawn(task);
    })
}

/// The route (authenticated by the handler itself, see the module docs).
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(stream))
}

fn allowed(state: &AppState, principal: &Principal) -> bool {
    check(state, principal, "GET", ROUTE, Ownership::NotApplicable).is_allowed()
}

fn close_frame(code: u16, reason: &'static str) -> CloseFrame {
    CloseFrame {
        code,
        reason: Utf8Bytes::from_static(reason),
    }
}

fn encode(message: &ServerMessage) -> Utf8Bytes {
    crate::feed::publish_text(message)
}

/// Decrements the connected-clients gauge however the connection ends.
struct ClientGauge(prometheus_client::metrics::gauge::Gauge);

impl Drop for ClientGauge {
    fn drop(&mut self) {
        self.0.dec();
    }
}

async fn connection(state: AppState, principal: Option<Principal>, socket: WebSocket) {
    let metrics = state.metrics().clone();
    metrics.stream_clients.inc();
    let _gauge = ClientGauge(metrics.stream_clients.clone());
    let feed = state.feed();
    let stop = feed.stop_token().clone();
    let (sink, mut incoming) = socket.split();
    let outbox = Outbox::new(feed.client_buffer());
    let (close_tx, close) = oneshot::channel();
    let writer_done = CancellationToken::new();
    let writer = Writer {
        outbox: &outbox,
        close,
        stop: &stop,
        done: &writer_done,
        metrics: &metrics,
        stall: feed.stall_timeout(),
    }
    .run(sink);
    let reader = async {
        let close = Session::new(&state, &outbox)
            .run(principal, &mut incoming, &stop, &writer_done)
            .await;
        if let Some(frame) = close {
            let _ = close_tx.send(frame);
        }
        // Keep reading (and discarding) until the client answers the close or goes: a
        // socket closed with unread input is reset, and the reset would destroy the close
        // frame still on its way. Bounded: a client that never answers is dropped.
        let drain = async { while incoming.next().await.is_some() {} };
        tokio::select! {
            () = stop.cancelled() => {}
            _ = tokio::time::timeout(2 * CLOSE_GRACE, drain) => {}
        }
    };
    // The session first: the writer sees what it queued in the same poll (see
    // [`Outbox`]).
    tokio::join!(biased; reader, writer);
}
