//! The ingestion task of one shard: subscribe from the next sequence number, apply events
//! in drained batches, publish whenever the previous publication has reached every
//! connection (see [`super::pending`]), and resubscribe after any failure.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::FutureExt;
use matcher::Event;
use matcher::client::{ClientError, ShardClient, Subscription};
use matcher::protocol::ErrorCode;
use tokio_util::sync::CancellationToken;

use super::book::{ShardBooks, Touched};
use super::pending::Pending;
use super::publish::{Wanted, event_messages};
use crate::app::AppState;
use crate::shards::ShardIndex;

/// Most events applied (and published) under one lock.
const MAX_BATCH: usize = 1024;
/// First wait before resubscribing; doubles up to [`BACKOFF_MAX`].
const BACKOFF_INITIAL: Duration = Duration::from_millis(20);
const BACKOFF_MAX: Duration = Duration::from_secs(1);

/// The waits between resubscriptions: doubling from [`BACKOFF_INITIAL`] to
/// [`BACKOFF_MAX`], and back to the start once events flow again.
#[derive(Debug)]
struct Backoff(Duration);

impl Backoff {
    fn new() -> Self {
        Self(BACKOFF_INITIAL)
    }

    /// The wait before the next attempt.
    fn next(&mut self) -> Duration {
        let wait = self.0;
        self.0 = (wait * 2).min(BACKOFF_MAX);
        wait
    }

    fn reset(&mut self) {
        self.0 = BACKOFF_INITIAL;
    }
}

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
        let mut backoff = Backoff::new();
        let mut pending = Pending::new(self.state.feed().publish_interval());
        loop {
            let from = self.last_seq() + 1;
            let subscribed = tokio::select! {
                () = self.stop.cancelled() => return,
                s = self.client.subscribe(from) => s,
            };
            match subscribed {
                Ok(subscription) => {
                    tracing::info!(from, "feed subscribed");
                    match self.follow(subscription, &mut backoff, &mut pending).await {
                        None => return,
                        Some(ended) => {
                            tracing::warn!(error = %ended, "feed interrupted; resubscribing")
                        }
                    }
                }
                // The shard no longer keeps the events this book needs (its retention
                // deleted them): retrying cannot help, and market data for the shard
                // stays stale until the gateway is given a way to re-seed. Loud, once per
                // attempt, so an operator sees it.
                Err(ClientError::Server {
                    code: ErrorCode::NotRetained,
                    message,
                }) => tracing::error!(
                    from,
                    %message,
                    "feed: the shard no longer retains the events from here; market data for \
                     this shard cannot be rebuilt (keep more journal segments on the shard)"
                ),
                Err(error) => tracing::debug!(%error, "feed subscription failed"),
            }
            // What is still waiting goes out meanwhile.
            let resubscribe = tokio::time::Instant::now() + backoff.next();
            loop {
                tokio::select! {
                    biased;
                    () = self.stop.cancelled() => return,
                    () = pending.unblocked(), if pending.blocked() => {
                        self.publish_pending(&mut pending);
                    }
                    () = tokio::time::sleep_until(resubscribe) => break,
                }
            }
        }
    }

    fn last_seq(&self) -> u64 {
        self.lock().last_seq()
    }

    /// Applies events until the subscription ends (`Some`) or the gateway stops (`None`).
    async fn follow(
        &self,
        mut sub: Subscription,
        backoff: &mut Backoff,
        pending: &mut Pending,
    ) -> Option<Ended> {
        let mut batch = Vec::with_capacity(MAX_BATCH);
        loop {
            let first = tokio::select! {
                biased;
                () = self.stop.cancelled() => return None,
                () = pending.unblocked(), if pending.blocked() => {
                    self.publish_pending(pending);
                    continue;
                }
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
            backoff.reset();
            if let Err(gap) = self.apply(&batch, pending) {
                return Some(gap);
            }
            batch.clear();
            if ended.is_some() {
                return ended;
            }
        }
    }

    /// Applies a batch to the books, and publishes what waits unless a publication is in
    /// flight. Events already applied (replayed after a resubscription) are skipped.
    fn apply(&self, batch: &[Event], pending: &mut Pending) -> Result<(), Ended> {
        let shards = self.state.shards();
        let feed = self.state.feed();
        let mut touched = Touched::new();
        let mut result = Ok(());
        let publication = {
            let mut books = self.lock();
            // With no WebSocket reader, keep the books and trades but build no messages: they
            // would be dropped anyway, and their JSON costs on every order. Read under the
            // books' lock: a reader joins the bus before it locks the books for its
            // snapshot, so it either is counted here or snapshots after this batch.
            let readers = feed.readers() > 0;
            let interest = feed.interest();
            let wanted = Wanted {
                orders: readers && interest.orders(),
                trades: readers && interest.trades(),
            };
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
                event_messages(event, self.shard, shards, wanted, pending.events());
            }
            if let Some((seq, timestamp_ns)) = last {
                pending.add(&mut books, &mut touched, seq, timestamp_ns);
            }
            if !readers {
                pending.clear();
            }
            pending.due().then(|| pending.take(&books, shards))
        };
        if let Some(publication) = publication {
            pending.send(feed, publication);
        }
        result
    }

    /// Publishes what waits, if it is due.
    fn publish_pending(&self, pending: &mut Pending) {
        let feed = self.state.feed();
        let publication = {
            let books = self.lock();
            if feed.readers() == 0 {
                pending.clear();
            }
            pending
                .due()
                .then(|| pending.take(&books, self.state.shards()))
        };
        if let Some(publication) = publication {
            pending.send(feed, publication);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ShardBooks> {
        self.books
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_backoff_doubles_to_its_cap_and_resets() {
        let mut backoff = Backoff::new();
        let waits: Vec<u64> = (0..8)
            .map(|_| u64::try_from(backoff.next().as_millis()).unwrap())
            .collect();
        assert_eq!(waits, [20, 40, 80, 160, 320, 640, 1000, 1000]);
        backoff.reset();
        assert_eq!(backoff.next(), BACKOFF_INITIAL);
    }
}
