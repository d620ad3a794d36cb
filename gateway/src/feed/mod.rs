//! Market data from the shard feeds: one ingestion task per shard keeps each market's book
//! and recent trades ([`book`]), and publishes the changes on a bus that the WebSocket
//! connections of [`crate::stream`] read.
//!
//! Design decisions:
//! - **One subscription per shard, whatever the number of clients.** The task remembers
//!   the last sequence number it applied and resubscribes from the next one after a shard
//!   restart or a lost connection; an event that is not the next one is dropped (a
//!   duplicate) or ends the subscription (a gap), so the books never skip or repeat.
//! - **Fan-out is a bounded broadcast of pre-serialised publications.** Each message is
//!   serialised once; every connection reads the same buffer. With many subscribers the
//!   cost is per publication and connection (a wake-up, a write, the client's read), not
//!   per byte, so publications are few and full:
//! - **A shard publishes again only when every connection has taken its previous
//!   publication** ([`Publication`] tells the task when the last reader drops it, or
//!   [`FANOUT_WAIT_MAX`] passes), **and `stream_publish_interval` after it** (30 ms by
//!   default: it bounds the fan-out's CPU so the order flow keeps its share). Meanwhile
//!   changes accumulate: order and trade messages in order, and one book delta per
//!   market whose levels carry their newest totals and whose `prev_seq`..`seq` span
//!   every event merged into it. When the gateway is idle a change goes out at once;
//!   under load the publication rate falls to what the connections can take, instead of
//!   queueing behind them (1,000 subscribers at 10k orders/s would otherwise be up to
//!   10 million deliveries per second). A connection
//!   that falls `stream_buffer` publications behind is closed (it lags): the bus never
//!   grows and the ingestion task never waits for a client.
//! - **Messages nobody asked for are not built.** Order and trade messages are serialised
//!   only while some connection subscribes to `orders` or `trades:` ([`Interest`]), and
//!   nothing at all while no connection is open.
//! - **Consistency between snapshot and deltas** comes from ordering: the task changes the
//!   books under their lock and publishes afterwards, and a connection subscribes to the
//!   bus before it takes a snapshot. So every change after the snapshot's sequence number
//!   reaches the connection in a delta whose `seq` is above it; the connection skips the
//!   deltas at or below it, and the first one it sends starts from the snapshot (see
//!   [`crate::stream`]).
//! - **Every task is named** (a tracing span) and stops with the gateway's shutdown token;
//!   [`Feed::shutdown`] joins them.

pub mod book;
mod ingest;
pub mod messages;
mod pending;
mod publish;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::extract::ws::Utf8Bytes;
use matcher::{AccountId, MarketId};
use tokio::sync::{Notify, broadcast};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument;

use crate::app::AppState;
use crate::shards::Shards;
use book::ShardBooks;
use messages::BookDelta;

/// Longest a shard waits for its previous publication to reach every connection before it
/// publishes again anyway (a connection that is starved that long is about to lag).
pub const FANOUT_WAIT_MAX: Duration = Duration::from_millis(25);

/// Which channel a bus message belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Topic {
    /// `book:{symbol}`.
    Book(MarketId),
    /// `trades:{symbol}`.
    Trades(MarketId),
    /// `orders` of one account.
    Orders(AccountId),
}

/// One message on the bus, serialised once for every reader.
#[derive(Clone, Debug)]
pub struct Outgoing {
    /// Its channel.
    pub topic: Topic,
    /// Its sequence number (the book's, for book deltas).
    pub seq: u64,
    /// The JSON text sent to clients.
    pub text: Utf8Bytes,
    /// A book delta's contents, for a connection that merges it with one it still holds
    /// (`None` for other messages).
    pub delta: Option<Arc<BookDelta>>,
}

/// One publication of a shard: what changed since its previous one.
#[derive(Debug)]
pub struct Publication {
    /// One delta per changed market (topic [`Topic::Book`]).
    pub book: Vec<Outgoing>,
    /// Trade and order messages, in feed order.
    pub events: Vec<Outgoing>,
    /// Wakes the shard's ingestion task when the last reader lets go of the publication.
    _fanned_out: FannedOut,
}

impl Publication {
    /// A publication that tells `done` when every reader has dropped it.
    pub(crate) fn new(book: Vec<Outgoing>, events: Vec<Outgoing>, done: Arc<Notify>) -> Self {
        Self {
            book,
            events,
            _fanned_out: FannedOut(done),
        }
    }

    fn is_empty(&self) -> bool {
        self.book.is_empty() && self.events.is_empty()
    }
}

/// Notifies on drop: the bus drops its copy of a value once every receiver has taken it,
/// and each connection drops its clone once it has queued what it wants.
#[derive(Debug)]
struct FannedOut(Arc<Notify>);

impl Drop for FannedOut {
    fn drop(&mut self) {
        self.0.notify_one();
    }
}

/// One bus item.
pub type Batch = Arc<Publication>;

/// How many subscriptions of each kind are open, so the ingestion tasks build only the
/// messages somebody reads.
#[derive(Debug, Default)]
pub struct Interest {
    orders: AtomicUsize,
    trades: AtomicUsize,
}

impl Interest {
    /// A subscription of this kind began (`true`) or ended (`false`); book subscriptions
    /// are not counted (book deltas are built once per publication and market).
    pub fn count(&self, topic: Topic, began: bool) {
        let counter = match topic {
            Topic::Orders(_) => &self.orders,
            Topic::Trades(_) => &self.trades,
            Topic::Book(_) => return,
        };
        if began {
            counter.fetch_add(1, Ordering::SeqCst);
        } else {
            counter.fetch_sub(1, Ordering::SeqCst);
        }
    }

    /// Whether any connection subscribes to `orders`.
    #[must_use]
    pub fn orders(&self) -> bool {
        self.orders.load(Ordering::SeqCst) > 0
    }

    /// Whether any connection subscribes to a `trades:` channel.
    #[must_use]
    pub fn trades(&self) -> bool {
        self.trades.load(Ordering::SeqCst) > 0
    }
}

/// The books of every shard and the bus.
#[derive(Debug)]
pub struct Feed {
    shards: Vec<Arc<Mutex<ShardBooks>>>,
    bus: broadcast::Sender<Batch>,
    stop: CancellationToken,
    tasks: TaskTracker,
    client_buffer: usize,
    stall_timeout: Duration,
    publish_interval: Duration,
    interest: Interest,
}

impl Feed {
    /// Empty books for every configured market; nothing runs until [`Feed::spawn_ingest`].
    #[must_use]
    pub fn new(
        shards: &Shards,
        recent_trades: usize,
        stream_buffer: usize,
        stall_timeout: Duration,
        publish_interval: Duration,
    ) -> Self {
        let books = shards
            .clients()
            .map(|(index, _)| {
                let markets = shards
                    .markets()
                    .filter(|m| m.shard == index)
                    .map(|m| m.config.id());
                Arc::new(Mutex::new(ShardBooks::new(markets, recent_trades)))
            })
            .collect();
        let (bus, _) = broadcast::channel(stream_buffer.max(1));
        Self {
            shards: books,
            bus,
            stop: CancellationToken::new(),
            tasks: TaskTracker::new(),
            client_buffer: stream_buffer.max(1),
            stall_timeout,
            publish_interval,
            interest: Interest::default(),
        }
    }

    /// Starts one ingestion task per shard (`feed_ingest_task`, with the shard's address)
    /// on a thread of its own (`feed-ingest`, a single-threaded runtime); it ends when
    /// they all have (on [`Feed::shutdown`]).
    ///
    /// Why a thread: a publication wakes every WebSocket connection at once, and on the
    /// gateway's runtime the ingestion task then waited behind all of them (a tokio run
    /// queue is first in, first out) before it could read the next events: with 1,000
    /// subscribers the book a publication carried was already milliseconds old.
    /// Ingestion is light (apply events, build one delta per market); one thread serves
    /// every shard.
    pub fn spawn_ingest(&self, state: &AppState) {
        let tasks = self.ingest_tasks(state);
        let spawned = std::thread::Builder::new()
            .name("feed-ingest".into())
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build();
                match runtime {
                    Ok(runtime) => runtime.block_on(async move {
                        let mut running = tokio::task::JoinSet::new();
                        for task in tasks {
                            running.spawn(task);
                        }
                        while running.join_next().await.is_some() {}
                    }),
                    Err(error) => {
                        tracing::error!(%error, "cannot start the feed ingestion runtime");
                    }
                }
            });
        if let Err(error) = spawned {
            tracing::warn!(%error, "no feed-ingest thread; ingesting on the gateway's runtime");
            for task in self.ingest_tasks(state) {
                tokio::spawn(task);
            }
        }
    }

    /// The ingestion tasks, tracked so that [`Feed::shutdown`] waits for them.
    fn ingest_tasks(&self, state: &AppState) -> Vec<impl Future<Output = ()> + Send + use<>> {
        let mut tasks = Vec::new();
        for (index, client) in state.shards().clients() {
            let Some(books) = self.shards.get(usize::from(index.0)) else {
                continue;
            };
            let span = tracing::info_span!("feed_ingest_task", shard = index.0);
            let task = ingest::Ingest {
                state: state.clone(),
                shard: index,
                client: client.clone(),
                books: Arc::clone(books),
                stop: self.stop.clone(),
            };
            tasks.push(self.tasks.track_future(task.run().instrument(span)));
        }
        tasks
    }

    /// Tracks a task that must stop with the feed (the WebSocket connections).
    pub fn spawn<F>(&self, task: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        self.tasks.spawn(task);
    }

    /// Fires when the gateway shuts down.
    #[must_use]
    pub fn stop_token(&self) -> &CancellationToken {
        &self.stop
    }

    /// Stops every feed and connection task and waits for them.
    pub async fn shutdown(&self) {
        self.stop.cancel();
        self.tasks.close();
        self.tasks.wait().await;
    }

    /// A new reader of the bus, starting with the next message published.
    #[must_use]
    pub fn subscribe(&self) -> broadcast::Receiver<Batch> {
        self.bus.subscribe()
    }

    /// The books of a shard, locked (a poisoned lock still holds consistent books: every
    /// change is applied whole before the lock is released).
    pub(crate) fn books(
        &self,
        shard: crate::shards::ShardIndex,
    ) -> Option<MutexGuard<'_, ShardBooks>> {
        let books = self.shards.get(usize::from(shard.0))?;
        Some(
            books
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        )
    }

    /// Messages a WebSocket client may have queued before it counts as too slow.
    #[must_use]
    pub fn client_buffer(&self) -> usize {
        self.client_buffer
    }

    /// Longest a WebSocket client may leave a batch of messages on its socket before it
    /// counts as too slow.
    #[must_use]
    pub fn stall_timeout(&self) -> Duration {
        self.stall_timeout
    }

    /// Shortest time between two publications of a shard.
    #[must_use]
    pub fn publish_interval(&self) -> Duration {
        self.publish_interval
    }

    /// Number of connected bus readers.
    #[must_use]
    pub fn readers(&self) -> usize {
        self.bus.receiver_count()
    }

    /// The open subscriptions by kind.
    #[must_use]
    pub fn interest(&self) -> &Interest {
        &self.interest
    }

    /// Sends a publication to every connection (an empty one is dropped, which also
    /// notifies its task).
    pub(crate) fn publish(&self, publication: Publication) {
        if publication.is_empty() {
            return;
        }
        // No reader is not an error: nobody is subscribed right now.
        let _ = self.bus.send(Arc::new(publication));
    }
}

pub(crate) use publish::{book_snapshot, delta_text, text as publish_text, trade_view};
