//! `GET /v1/stream`: market data and the caller's order updates over a WebSocket.
//!
//! Design decisions:
//! - **Authentication** by the bearer header (checked before the upgrade: a bad token is a
//!   problem+json 401) or by an `auth` message, which must then come first and within
//!   [`AUTH_TIMEOUT`] (a bad one closes with 4001). RBAC applies as to any route:
//!   `GET /v1/stream` (4003 or 403 when refused). The `orders` channel carries the token's
//!   account's orders only.
//! - **Each connection is two halves in one task**: the session reads the client's
//!   messages and the feed bus and queues what the client wants in a bounded queue; the
//!   writer drains the queue to the socket. The session never waits for the socket: when
//!   the queue is full (or the bus outran the session), the client is too slow and is
//!   closed with [`CLOSE_SLOW`]. So a slow client costs only itself.
//! - **Book channels start with a snapshot** taken after the connection joined the bus;
//!   deltas at or below the snapshot's sequence number are already in it and are skipped.
//! - Close codes: 1001 gateway shutting down, 4001 not authenticated, 4003 forbidden,
//!   4008 too slow (buffer full).

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use axum::extract::State;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::http::header::AUTHORIZATION;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use futures_util::stream::SplitSink;
use futures_util::{SinkExt, StreamExt};
use matcher::MarketId;
use tokio::sync::{broadcast, mpsc, oneshot};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app::AppState;
use crate::auth::{AuthError, Principal};
use crate::feed::messages::{ClientMessage, ServerMessage};
use crate::feed::{Batch, Outgoing, Topic, book_snapshot};
use crate::middleware::{bearer_token, check, unauthorized};
use crate::openapi::Problem as ProblemSchema;
use crate::problem::Problem;
use crate::rbac::Ownership;

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
        `book:{symbol}` (a `book_snapshot`, then `book_delta`s: apply one only if its \
        `prev_seq` is the `seq` applied last, else resubscribe), `trades:{symbol}` and \
        `orders` (the token's account only). The gateway sends `ServerMessage`s. A client \
        that falls behind is closed with code 4008; other close codes: 1001 shutting down, \
        4001 not authenticated, 4003 forbidden.",
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

fn encode(message: &ServerMessage) -> Message {
    Message::Text(crate::feed::publish_text(message))
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
    // Joined before any snapshot, so no delta after a snapshot can be missed.
    let bus = state.feed().subscribe();
    let stop = state.feed().stop_token().clone();
    let (sink, incoming) = socket.split();
    let (queue, queued) = mpsc::channel(state.feed().client_buffer());
    let (close_tx, close_rx) = oneshot::channel();
    let writer_done = CancellationToken::new();
    let session = Session {
        state: &state,
        queue,
        subs: HashSet::new(),
        snapshots: HashMap::new(),
    };
    let writer = write_loop(sink, queued, close_rx, &stop, &writer_done, &metrics);
    let reader = async {
        let mut incoming = incoming;
        let close = session
            .run(principal, &mut incoming, bus, &stop, &writer_done)
            .await;
        if let Some(frame) = close {
            if frame.code == CLOSE_SLOW {
                metrics.stream_dropped.inc();
            }
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
    tokio::join!(writer, reader);
}

/// Sends queued messages until the queue ends, the session asks for a close, the socket
/// fails or the gateway stops.
async fn write_loop(
    mut sink: SplitSink<WebSocket, Message>,
    mut queued: mpsc::Receiver<Message>,
    mut close: oneshot::Receiver<CloseFrame>,
    stop: &CancellationToken,
    done: &CancellationToken,
    metrics: &crate::metrics::Metrics,
) {
    loop {
        let message = tokio::select! {
            biased;
            frame = &mut close => {
                if let Ok(frame) = frame {
                    let _ = tokio::time::timeout(CLOSE_GRACE, sink.send(Message::Close(Some(frame)))).await;
                }
                break;
            }
            m = queued.recv() => m,
        };
        let Some(message) = message else { break };
        // Whatever else is already queued goes out with it: one flush (one write) for the
        // batch, so a busy stream costs fewer syscalls per message, never more latency.
        let mut sent = 0_u64;
        let outcome = {
            let send = async {
                sink.feed(message).await?;
                sent += 1;
                while sent < WRITE_BATCH {
                    let Ok(more) = queued.try_recv() else { break };
                    sink.feed(more).await?;
                    sent += 1;
                }
                sink.flush().await
            };
            tokio::pin!(send);
            tokio::select! {
                r = &mut send => Flushed::Done(r.is_ok()),
                () = stop.cancelled() => Flushed::Done(false),
                frame = &mut close => {
                    // Too slow or shutting down: finish the frames in flight, then close.
                    let finished = tokio::time::timeout(CLOSE_GRACE, &mut send)
                        .await
                        .is_ok_and(|r| r.is_ok());
                    Flushed::Closing(finished, frame.ok())
                }
            }
        };
        metrics.stream_messages_out.inc_by(sent);
        match outcome {
            Flushed::Done(true) => {}
            Flushed::Done(false) => break,
            Flushed::Closing(finished, frame) => {
                if finished && let Some(frame) = frame {
                    let _ =
                        tokio::time::timeout(CLOSE_GRACE, sink.send(Message::Close(Some(frame))))
                            .await;
                }
                break;
            }
        }
    }
    done.cancel();
}

/// How a batch of writes ended.
enum Flushed {
    /// Written (`true`) or failed (`false`).
    Done(bool),
    /// A close was asked for meanwhile: whether the batch finished, and the close frame.
    Closing(bool, Option<CloseFrame>),
}

/// Most messages written per flush.
const WRITE_BATCH: u64 = 64;

/// One connection's subscriptions.
struct Session<'a> {
    state: &'a AppState,
    queue: mpsc::Sender<Message>,
    subs: HashSet<Topic>,
    /// The sequence number of each subscribed book's snapshot.
    snapshots: HashMap<MarketId, u64>,
}

/// The session gave up on the client: it is too slow.
struct Slow;

impl Session<'_> {
    /// Runs until the connection should close; returns the close frame to send, if any.
    async fn run(
        mut self,
        principal: Option<Principal>,
        incoming: &mut futures_util::stream::SplitStream<WebSocket>,
        mut bus: broadcast::Receiver<Batch>,
        stop: &CancellationToken,
        writer_done: &CancellationToken,
    ) -> Option<CloseFrame> {
        let principal = match principal {
            Some(p) => p,
            None => match self.authenticate(incoming).await {
                Ok(p) => p,
                Err(frame) => return frame,
            },
        };
        let slow = || Some(close_frame(CLOSE_SLOW, "too slow: buffer full"));
        let authenticated = ServerMessage::Authenticated {
            account: principal.account.0,
        };
        if self.push(encode(&authenticated)).is_err() {
            return slow();
        }
        loop {
            tokio::select! {
                biased;
                () = stop.cancelled() => {
                    return Some(close_frame(CLOSE_GOING_AWAY, "gateway shutting down"));
                }
                () = writer_done.cancelled() => return None,
                m = incoming.next() => match m {
                    Some(Ok(Message::Text(text))) => {
                        if self.handle(&principal, &text).is_err() {
                            return slow();
                        }
                    }
                    Some(Ok(Message::Binary(_))) => {
                        if self.error("invalid_message", "Messages are JSON text.").is_err() {
                            return slow();
                        }
                    }
                    Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
                    Some(Ok(Message::Close(_)) | Err(_)) | None => return None,
                },
                batch = bus.recv() => match batch {
                    Ok(batch) => {
                        for out in batch.iter().filter(|out| self.wanted(out)) {
                            if self.push(Message::Text(out.text.clone())).is_err() {
                                return slow();
                            }
                        }
                    }
                    Err(broadcast::error::RecvError::Lagged(_)) => return slow(),
                    Err(broadcast::error::RecvError::Closed) => {
                        return Some(close_frame(CLOSE_GOING_AWAY, "gateway shutting down"));
                    }
                },
            }
        }
    }

    /// Waits for the `auth` message of a connection opened without a bearer header.
    async fn authenticate(
        &mut self,
        incoming: &mut futures_util::stream::SplitStream<WebSocket>,
    ) -> Result<Principal, Option<CloseFrame>> {
        let unauthorized = || Some(close_frame(CLOSE_UNAUTHORIZED, "authentication required"));
        let first = tokio::time::timeout(AUTH_TIMEOUT, incoming.next()).await;
        let Ok(Some(Ok(Message::Text(text)))) = first else {
            return Err(unauthorized());
        };
        let Ok(ClientMessage::Auth { token }) = serde_json::from_str(&text) else {
            return Err(unauthorized());
        };
        let Ok(principal) = self.state.authenticator().verify(&token).await else {
            return Err(unauthorized());
        };
        if !allowed(self.state, &principal) {
            return Err(Some(close_frame(CLOSE_FORBIDDEN, "forbidden")));
        }
        Ok(principal)
    }

    fn wanted(&self, out: &Outgoing) -> bool {
        if !self.subs.contains(&out.topic) {
            return false;
        }
        match out.topic {
            Topic::Book(market) => self.snapshots.get(&market).is_none_or(|s| out.seq > *s),
            _ => true,
        }
    }

    fn push(&self, message: Message) -> Result<(), Slow> {
        match self.queue.try_send(message) {
            Ok(()) => Ok(()),
            // A closed queue means the writer ended; the select notices next.
            Err(mpsc::error::TrySendError::Closed(_)) => Ok(()),
            Err(mpsc::error::TrySendError::Full(_)) => Err(Slow),
        }
    }

    fn error(&self, code: &str, message: &str) -> Result<(), Slow> {
        self.push(encode(&ServerMessage::Error {
            code: code.to_owned(),
            message: message.to_owned(),
        }))
    }

    fn handle(&mut self, principal: &Principal, text: &str) -> Result<(), Slow> {
        let (subscribe, channel) = match serde_json::from_str::<ClientMessage>(text) {
            Ok(ClientMessage::Subscribe { channel }) => (true, channel),
            Ok(ClientMessage::Unsubscribe { channel }) => (false, channel),
            Ok(ClientMessage::Auth { .. }) => {
                return self.error("already_authenticated", "The connection is authenticated.");
            }
            Err(e) => return self.error("invalid_message", &e.to_string()),
        };
        let shards = self.state.shards();
        let topic = match channel.split_once(':') {
            None if channel == "orders" => Topic::Orders(principal.account),
            Some((kind @ ("book" | "trades"), symbol)) => {
                let Some(market) = shards.by_symbol(symbol) else {
                    return self.error("market_not_found", &format!("No market {symbol}."));
                };
                if kind == "book" {
                    Topic::Book(market.config.id())
                } else {
                    Topic::Trades(market.config.id())
                }
            }
            _ => {
                return self.error(
                    "unknown_channel",
                    "Channels are book:{symbol}, trades:{symbol} and orders.",
                );
            }
        };
        if !subscribe {
            self.subs.remove(&topic);
            if let Topic::Book(market) = topic {
                self.snapshots.remove(&market);
            }
            return self.push(encode(&ServerMessage::Unsubscribed { channel }));
        }
        self.subs.insert(topic);
        self.push(encode(&ServerMessage::Subscribed { channel }))?;
        if let Topic::Book(id) = topic {
            let Some(market) = shards.by_id(id) else {
                return Ok(());
            };
            let snapshot = {
                let Some(books) = self.state.feed().books(market.shard) else {
                    return Ok(());
                };
                let Some(book) = books.market(id) else {
                    return Ok(());
                };
                book_snapshot(book, market)
            };
            self.snapshots.insert(id, snapshot.seq);
            self.push(encode(&ServerMessage::BookSnapshot(snapshot)))?;
        }
        Ok(())
    }
}
