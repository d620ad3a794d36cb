//! Market data from the shard feeds: one ingestion task per shard keeps each market's book
//! and recent trades ([`book`]), and publishes every change once on a bus that the
//! WebSocket connections of [`crate::stream`] read.
//!
//! Design decisions:
//! - **One subscription per shard, whatever the number of clients.** The task remembers
//!   the last sequence number it applied and resubscribes from the next one after a shard
//!   restart or a lost connection; an event that is not the next one is dropped (a
//!   duplicate) or ends the subscription (a gap), so the books never skip or repeat.
//! - **Fan-out is a bounded broadcast of pre-serialised message batches.** Each message is
//!   serialised once; every connection reads the same buffer. One bus item carries every
//!   message of one applied feed batch, so a connection wakes once per batch, not once per
//!   message (most of which, such as other accounts' order updates, it does not want):
//!   with many subscribers the wake-ups, not the bytes, are the cost. A connection that
//!   falls `stream_buffer` batches behind is closed (it lags): the bus never grows and the
//!   ingestion task never waits for a client.
//! - **Consistency between snapshot and deltas** comes from ordering: the task changes the
//!   books under their lock and publishes afterwards, and a connection subscribes to the
//!   bus before it takes a snapshot. So every delta after the snapshot's sequence number is
//!   on the bus, and deltas at or below it are skipped.
//! - **Every task is named** (a tracing span) and stops with the gateway's shutdown token;
//!   [`Feed::shutdown`] joins them.

pub mod book;
mod ingest;
pub mod messages;
mod publish;

use std::sync::{Arc, Mutex, MutexGuard};

use axum::extract::ws::Utf8Bytes;
use matcher::{AccountId, MarketId};
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument;

use crate::app::AppState;
use crate::shards::Shards;
use book::ShardBooks;

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
}

/// The messages of one applied feed batch, in order: one bus item.
pub type Batch = Arc<[Outgoing]>;

/// The books of every shard and the bus.
#[derive(Debug)]
pub struct Feed {
    shards: Vec<Arc<Mutex<ShardBooks>>>,
    bus: broadcast::Sender<Batch>,
    stop: CancellationToken,
    tasks: TaskTracker,
    client_buffer: usize,
}

impl Feed {
    /// Empty books for every configured market; nothing runs until [`Feed::spawn_ingest`].
    #[must_use]
    pub fn new(shards: &Shards, recent_trades: usize, stream_buffer: usize) -> Self {
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
        }
    }

    /// Starts one ingestion task per shard (`feed_ingest_task`, with the shard's address).
    pub fn spawn_ingest(&self, state: &AppState) {
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
            self.tasks.spawn(task.run().instrument(span));
        }
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

    /// Number of connected bus readers.
    #[must_use]
    pub fn readers(&self) -> usize {
        self.bus.receiver_count()
    }

    pub(crate) fn publish(&self, messages: Vec<Outgoing>) {
        if messages.is_empty() {
            return;
        }
        // No reader is not an error: nobody is subscribed right now.
        let _ = self.bus.send(Arc::from(messages));
    }
}

pub(crate) use publish::{book_snapshot, text as publish_text, trade_view};
