//! The shard client the gateway uses: a small pool of pipelined connections.
//!
//! Each connection carries many requests at once, matched to answers by request id. A
//! request waits at most its timeout. A connection that fails fails its in-flight
//! requests at once (their outcome is unknown to the caller: a command may or may not
//! have run, which is what client order ids are for) and is re-dialled on next use, with
//! exponential backoff between failed attempts; while backing off, requests fail fast
//! with [`ClientError::Unavailable`] rather than queueing behind a dead shard.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;
use tokio_util::codec::FramedRead;

use crate::command::CommandKind;
use crate::event::Event;
use crate::protocol::{
    ErrorCode, MAX_RESPONSE_FRAME, Request, Response, decode_response, encode_request,
};
use crate::query::{Depth, OrderView};
use crate::shard::frame_codec;
use crate::types::{AccountId, ClientOrderId, MarketId, OrderId};

/// Called after every request with its kind and round-trip time, whatever the outcome
/// (the gateway feeds its shard latency histograms from it).
#[derive(Clone)]
pub struct RoundTripObserver(pub Arc<dyn Fn(&'static str, Duration) + Send + Sync>);

impl std::fmt::Debug for RoundTripObserver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RoundTripObserver")
    }
}

/// How a client connects.
#[derive(Clone, Debug)]
pub struct ClientConfig {
    /// The shard's address.
    pub addr: SocketAddr,
    /// Connections in the pool.
    pub connections: usize,
    /// How long one request may take, answer included.
    pub request_timeout: Duration,
    /// How long dialling may take.
    pub connect_timeout: Duration,
    /// First wait after a failed dial; doubles per failure up to `backoff_max`.
    pub backoff_initial: Duration,
    /// Longest wait between dials.
    pub backoff_max: Duration,
    /// Told about every request's round trip, if set.
    pub observer: Option<RoundTripObserver>,
}

impl ClientConfig {
    /// Defaults suited to a gateway on the same network.
    #[must_use]
    pub fn new(addr: SocketAddr) -> Self {
        Self {
            addr,
            connections: 2,
            request_timeout: Duration::from_secs(2),
            connect_timeout: Duration::from_millis(500),
            backoff_initial: Duration::from_millis(50),
            backoff_max: Duration::from_secs(2),
            observer: None,
        }
    }
}

/// Why a request failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ClientError {
    /// The shard cannot be reached (or the client is backing off after failed dials).
    #[error("shard unavailable: {0}")]
    Unavailable(String),
    /// The connection failed with the request in flight: it may or may not have run.
    #[error("connection lost with the request in flight")]
    Disconnected,
    /// No answer within the request timeout: it may or may not have run.
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    /// The shard's queue was full; nothing was done.
    #[error("shard busy")]
    Busy,
    /// The shard refused the request.
    #[error("shard error {code:?}: {message}")]
    Server {
        /// Stable code.
        code: ErrorCode,
        /// Detail.
        message: String,
    },
    /// The shard answered with something that does not fit the request.
    #[error("unexpected answer from the shard")]
    Protocol,
}

impl ClientError {
    /// Whether retrying (with the same client order id) is reasonable.
    #[must_use]
    pub fn retryable(&self) -> bool {
        matches!(
            self,
            Self::Unavailable(_) | Self::Disconnected | Self::Timeout(_) | Self::Busy
        ) || matches!(self, Self::Server { code, .. } if *code == ErrorCode::ShuttingDown)
    }
}

/// A durable command's outcome.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ack {
    /// The command's journal sequence number.
    pub command_seq: u64,
    /// Its events.
    pub events: Vec<Event>,
}

type Pending = Arc<Mutex<HashMap<u64, oneshot::Sender<Response>>>>;

#[derive(Debug)]
struct Conn {
    tx: mpsc::UnboundedSender<Bytes>,
    pending: Pending,
    alive: Arc<AtomicBool>,
}

#[derive(Debug, Default)]
struct Slot {
    conn: Option<Arc<Conn>>,
    backoff: Duration,
    retry_at: Option<Instant>,
}

/// A pooled, pipelined client for one shard. Cheap to clone.
#[derive(Clone, Debug)]
pub struct ShardClient {
    config: Arc<ClientConfig>,
    slots: Arc<Vec<tokio::sync::Mutex<Slot>>>,
    next_slot: Arc<AtomicUsize>,
    next_id: Arc<AtomicU64>,
}

impl ShardClient {
    /// A client; connections are dialled on first use.
    #[must_use]
    pub fn new(config: ClientConfig) -> Self {
        let slots = (0..config.connections.max(1))
            .map(|_| tokio::sync::Mutex::new(Slot::default()))
            .collect();
        Self {
            config: Arc::new(config),
            slots: Arc::new(slots),
            next_slot: Arc::new(AtomicUsize::new(0)),
            next_id: Arc::new(AtomicU64::new(1)),
        }
    }

    /// Runs a command; returns once it is durable.
    ///
    /// # Errors
    /// [`ClientError`]; for `Disconnected` and `Timeout` the command's fate is unknown.
    pub async fn submit(&self, command: CommandKind) -> Result<Ack, ClientError> {
        match self.request(Request::Command(command)).await? {
            Response::Ack {
                command_seq,
                events,
            } => Ok(Ack {
                command_seq,
                events,
            }),
            _ => Err(ClientError::Protocol),
        }
    }

    /// A live order by id.
    ///
    /// # Errors
    /// [`ClientError`].
    pub async fn order(&self, id: OrderId) -> Result<Option<OrderView>, ClientError> {
        match self.request(Request::Order(id)).await? {
            Response::Order(o) => Ok(o),
            _ => Err(ClientError::Protocol),
        }
    }

    /// A live order by its owner's client order id.
    ///
    /// # Errors
    /// [`ClientError`].
    pub async fn order_by_client_id(
        &self,
        account: AccountId,
        client_order_id: ClientOrderId,
    ) -> Result<Option<OrderView>, ClientError> {
        match self
            .request(Request::OrderByClientId(account, client_order_id))
            .await?
        {
            Response::Order(o) => Ok(o),
            _ => Err(ClientError::Protocol),
        }
    }

    /// An account's resting orders.
    ///
    /// # Errors
    /// [`ClientError`].
    pub async fn open_orders(
        &self,
        account: AccountId,
        market: Option<MarketId>,
    ) -> Result<Vec<OrderView>, ClientError> {
        match self.request(Request::OpenOrders(account, market)).await? {
            Response::Orders(o) => Ok(o),
            _ => Err(ClientError::Protocol),
        }
    }

    /// A book's top levels; `None` for a market the shard does not own.
    ///
    /// # Errors
    /// [`ClientError`].
    pub async fn depth(&self, market: MarketId, levels: u32) -> Result<Option<Depth>, ClientError> {
        match self.request(Request::Depth(market, levels)).await? {
            Response::Depth(d) => Ok(d),
            _ => Err(ClientError::Protocol),
        }
    }

    /// The last durable command and event sequence numbers.
    ///
    /// # Errors
    /// [`ClientError`].
    pub async fn ping(&self) -> Result<(u64, u64), ClientError> {
        match self.request(Request::Ping).await? {
            Response::Pong {
                command_seq,
                event_seq,
            } => Ok((command_seq, event_seq)),
            _ => Err(ClientError::Protocol),
        }
    }

    /// Asks for a snapshot; returns the command it follows once written.
    ///
    /// # Errors
    /// [`ClientError`].
    pub async fn snapshot(&self) -> Result<u64, ClientError> {
        match self.request(Request::Snapshot).await? {
            Response::SnapshotTaken { command_seq } => Ok(command_seq),
            _ => Err(ClientError::Protocol),
        }
    }

    /// Sends one request and waits for its answer.
    ///
    /// # Errors
    /// [`ClientError`].
    pub async fn request(&self, request: Request) -> Result<Response, ClientError> {
        let Some(observer) = &self.config.observer else {
            return self.round_trip(request).await;
        };
        let kind = request_kind(&request);
        let started = Instant::now();
        let result = self.round_trip(request).await;
        (observer.0)(kind, started.elapsed());
        result
    }

    async fn round_trip(&self, request: Request) -> Result<Response, ClientError> {
        let conn = self.connection().await?;
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        if let Ok(mut p) = conn.pending.lock() {
            p.insert(id, tx);
        }
        let mut frame = Vec::with_capacity(96);
        encode_request(&mut frame, id, &request);
        if conn.tx.send(Bytes::from(frame)).is_err() {
            conn.alive.store(false, Ordering::Release);
            return Err(ClientError::Disconnected);
        }
        let timeout = self.config.request_timeout;
        let answer = match tokio::time::timeout(timeout, rx).await {
            Ok(Ok(r)) => r,
            Ok(Err(_)) => return Err(ClientError::Disconnected),
            Err(_) => {
                if let Ok(mut p) = conn.pending.lock() {
                    p.remove(&id);
                }
                return Err(ClientError::Timeout(timeout));
            }
        };
        match answer {
            Response::Busy => Err(ClientError::Busy),
            Response::Error { code, message } => Err(ClientError::Server { code, message }),
            other => Ok(other),
        }
    }

    async fn connection(&self) -> Result<Arc<Conn>, ClientError> {
        let i = self.next_slot.fetch_add(1, Ordering::Relaxed) % self.slots.len();
        let mut slot = self.slots[i].lock().await;
        if let Some(c) = &slot.conn
            && c.alive.load(Ordering::Acquire)
        {
            return Ok(Arc::clone(c));
        }
        slot.conn = None;
        if let Some(at) = slot.retry_at
            && Instant::now() < at
        {
            return Err(ClientError::Unavailable(format!(
                "backing off after failed connection attempts to {}",
                self.config.addr
            )));
        }
        match self.dial().await {
            Ok(c) => {
                slot.backoff = Duration::ZERO;
                slot.retry_at = None;
                slot.conn = Some(Arc::clone(&c));
                Ok(c)
            }
            Err(e) => {
                slot.backoff = if slot.backoff.is_zero() {
                    self.config.backoff_initial
                } else {
                    (slot.backoff * 2).min(self.config.backoff_max)
                };
                slot.retry_at = Some(Instant::now() + slot.backoff);
                Err(e)
            }
        }
    }

    async fn dial(&self) -> Result<Arc<Conn>, ClientError> {
        let addr = self.config.addr;
        let stream = tokio::time::timeout(self.config.connect_timeout, TcpStream::connect(addr))
            .await
            .map_err(|_| ClientError::Unavailable(format!("connecting to {addr} timed out")))?
            .map_err(|e| ClientError::Unavailable(format!("connecting to {addr}: {e}")))?;
        let _ = stream.set_nodelay(true);
        let (rd, mut wr) = stream.into_split();
        let (tx, mut rx) = mpsc::unbounded_channel::<Bytes>();
        let pending: Pending = Arc::default();
        let alive = Arc::new(AtomicBool::new(true));
        {
            let alive = Arc::clone(&alive);
            tokio::spawn(async move {
                while let Some(first) = rx.recv().await {
                    let mut buf = first.to_vec();
                    while let Ok(more) = rx.try_recv() {
                        buf.extend_from_slice(&more);
                    }
                    if wr.write_all(&buf).await.is_err() {
                        break;
                    }
                }
                alive.store(false, Ordering::Release);
            });
        }
        {
            let alive = Arc::clone(&alive);
            let pending = Arc::clone(&pending);
            tokio::spawn(async move {
                let mut frames = FramedRead::new(rd, frame_codec(MAX_RESPONSE_FRAME));
                while let Some(Ok(frame)) = frames.next().await {
                    let Ok((id, response)) = decode_response(&frame) else {
                        break;
                    };
                    let waiter = pending.lock().ok().and_then(|mut p| p.remove(&id));
                    if let Some(w) = waiter {
                        let _ = w.send(response);
                    }
                }
                alive.store(false, Ordering::Release);
                // Fail everything still in flight: dropping the senders wakes the waiters.
                if let Ok(mut p) = pending.lock() {
                    p.clear();
                }
            });
        }
        Ok(Arc::new(Conn { tx, pending, alive }))
    }

    /// Opens a dedicated connection streaming every event from `from_event_seq` on.
    ///
    /// # Errors
    /// [`ClientError::Unavailable`] when the shard cannot be reached.
    pub async fn subscribe(&self, from_event_seq: u64) -> Result<Subscription, ClientError> {
        let addr = self.config.addr;
        let stream = tokio::time::timeout(self.config.connect_timeout, TcpStream::connect(addr))
            .await
            .map_err(|_| ClientError::Unavailable(format!("connecting to {addr} timed out")))?
            .map_err(|e| ClientError::Unavailable(format!("connecting to {addr}: {e}")))?;
        let _ = stream.set_nodelay(true);
        let (rd, mut wr) = stream.into_split();
        let mut frame = Vec::new();
        encode_request(&mut frame, 1, &Request::Subscribe(from_event_seq));
        wr.write_all(&frame)
            .await
            .map_err(|e| ClientError::Unavailable(e.to_string()))?;
        Ok(Subscription {
            frames: FramedRead::new(rd, frame_codec(MAX_RESPONSE_FRAME)),
            _write: wr,
        })
    }
}

/// A short, stable name for a request's kind (a metrics label).
fn request_kind(request: &Request) -> &'static str {
    match request {
        Request::Command(CommandKind::NewOrder(_)) => "new_order",
        Request::Command(CommandKind::Cancel(_)) => "cancel",
        Request::Command(CommandKind::Amend(_)) => "amend",
        Request::Command(CommandKind::CancelAll(_)) => "cancel_all",
        Request::Order(_) | Request::OrderByClientId(..) => "order",
        Request::OpenOrders(..) => "open_orders",
        Request::Depth(..) => "depth",
        Request::Subscribe(_) => "subscribe",
        Request::Ping => "ping",
        Request::Snapshot => "snapshot",
    }
}

/// A stream of events from a shard's feed.
#[derive(Debug)]
pub struct Subscription {
    frames: FramedRead<tokio::net::tcp::OwnedReadHalf, tokio_util::codec::LengthDelimitedCodec>,
    _write: tokio::net::tcp::OwnedWriteHalf,
}

impl Subscription {
    /// The next event; `None` when the shard closed the stream.
    ///
    /// # Errors
    /// [`ClientError`] when the shard refuses (for example events no longer retained) or
    /// sends something unreadable.
    pub async fn next(&mut self) -> Option<Result<Event, ClientError>> {
        let frame = match self.frames.next().await? {
            Ok(f) => f,
            Err(_) => return Some(Err(ClientError::Disconnected)),
        };
        Some(match decode_response(&frame) {
            Ok((_, Response::Event(e))) => Ok(e),
            Ok((_, Response::Error { code, message })) => {
                Err(ClientError::Server { code, message })
            }
            _ => Err(ClientError::Protocol),
        })
    }
}
