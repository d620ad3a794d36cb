//! The ingestion task of one shard: subscribe from the next sequence number, apply events
//! in drained batches, publish, and resubscribe after any failure.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::FutureExt;
use matcher::client::{ClientError, ShardClient, Subscription};
use matcher::{Event, MarketId, Side};
use tokio_util::sync::CancellationToken;

use super::Outgoing;
use super::book::{BookSide, ShardBooks, Touched};
use super::publish::{book_delta, event_messages};
use crate::app::AppState;
use crate::shards::ShardIndex;

/// Most events applied (and published) under one lock.
const MAX_BATCH: usize = 1024;
/// First wait before resubscribing; doubles up to [`BACKOFF_MAX`].
const BACKOFF_INITIAL: Duration = Duration::from_millis(20);
const BACKOFF_MAX: Duration = Duration::from_secs(1);

pub(super) struct Ingest {
    pub(super) state: AppState,
    pub(super) shard: ShardIndex,
    pub(super) client: ShardClient,
    pub(super) books: Arc<Mutex<ShardBooks>>,
    pub(super) stop: CancellationToken,
}

/// Why a subscription ended.
#[derive(Debug, thiserror::Error)]
enum Ended {
    #[error("the shard closed the feed")]
    Closed,
    #[error("feed: {0}")]
    Client(#[source] ClientError),
    #[error("gap in the feed: expected event {expected}, got {got}")]
    Gap { expected: u64, got: u64 },
}

impl Ingest {
    pub(super) async fn run(self) {
        let mut backoff = BACKOFF_INITIAL;
        loop {
            let from = self.last_seq() + 1;
            let subscribed = tokio::select! {
                () = self.stop.cancelled() => return,
                s = self.client.subscribe(from) => s,
            };
            match subscribed {
                Ok(subscription) => {
                    tracing::info!(from, "feed subscribed");
                    match self.follow(subscription, &mut backoff).await {
                        None => return,
                        Some(ended) => {
                            tracing::warn!(error = %ended, "feed interrupted; resubscribing")
                        }
                    }
                }
                Err(error) => tracing::debug!(%error, "feed subscription failed"),
            }
            tokio::select! {
                () = self.stop.cancelled() => return,
                () = tokio::time::sleep(backoff) => {}
            }
            backoff = (backoff * 2).min(BACKOFF_MAX);
        }
    }

    fn last_seq(&self) -> u64 {
        self.books
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .last_seq()
    }

    /// Applies events until the subscription ends (`Some`) or the gateway stops (`None`).
    async fn follow(&self, mut sub: Subscription, backoff: &mut Duration) -> Option<Ended> {
        let mut batch = Vec::with_capacity(MAX_BATCH);
        loop {
            let first = tokio::select! {
                () = self.stop.cancelled() => return None,
                e = sub.next() => e,
            };
            let mut ended = None;
            match first {
                None => return Some(Ended::Closed),
                Some(Err(e)) => return Some(Ended::Client(e)),
                Some(Ok(e)) => batch.push(e),
            }
            // Whatever else has already arrived joins the batch (`next` is cancel-safe).
            while batch.len() < MAX_BATCH {
                match sub.next().now_or_never() {
                    None => break,
                    Some(Some(Ok(e))) => batch.push(e),
                    Some(Some(Err(e))) => {
                        ended = Some(Ended::Client(e));
                        break;
                    }
                    Some(None) => {
                        ended = Some(Ended::Closed);
                        break;
                    }
                }
            }
            *backoff = BACKOFF_INITIAL;
            if let Err(gap) = self.apply(&batch) {
                return Some(gap);
            }
            batch.clear();
            if ended.is_some() {
                return ended;
            }
        }
    }

    /// Applies a batch to the books and publishes what changed. Events already applied
    /// (replayed after a resubscription) are skipped.
    fn apply(&self, batch: &[Event]) -> Result<(), Ended> {
        let shards = self.state.shards();
        let feed = self.state.feed();
        let mut out: Vec<Outgoing> = Vec::new();
        let mut touched = Touched::new();
        let mut result = Ok(());
        {
            let mut books = self
                .books
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            // With no WebSocket reader, keep the books and trades but serialise nothing: the
            // messages would be dropped anyway, and their JSON costs on every order. Read
            // under the books' lock: a reader joins the bus before it locks the books for its
            // snapshot, so it either is counted here or snapshots after this batch.
            let publish = feed.readers() > 0;
            let mut last = None;
            for event in batch {
                let expected = books.last_seq() + 1;
                if event.seq.0 < expected {
                    continue;
                }
                if !books.apply(event, &mut touched) {
                    result = Err(Ended::Gap {
                        expected,
                        got: event.seq.0,
                    });
                    break;
                }
                last = Some((event.seq.0, event.timestamp.0));
                if publish {
                    event_messages(event, self.shard, shards, &mut out);
                }
            }
            if let Some((seq, timestamp_ns)) = last {
                let mut prev: Vec<(MarketId, u64)> = Vec::new();
                for (market, _, _) in &touched {
                    if prev.last().is_none_or(|(m, _)| m != market) {
                        let before = books.market(*market).map_or(0, |b| b.seq);
                        prev.push((*market, before));
                    }
                }
                books.stamp(&touched, seq);
                for (market, prev_seq) in prev.into_iter().filter(|_| publish) {
                    let (Some(book), Some(m)) = (books.market(market), shards.by_id(market)) else {
                        continue;
                    };
                    let levels = touched
                        .range((market, BookSide::Bid, matcher::Price(i64::MIN))..)
                        .take_while(|(mk, _, _)| *mk == market)
                        .map(|(_, side, price)| (Side::from(*side), *price));
                    out.push(book_delta(book, m, prev_seq, timestamp_ns, levels));
                }
            }
        }
        feed.publish(out);
        result
    }
}
