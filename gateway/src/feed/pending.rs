//! What a shard's ingestion task has applied but not yet published, and when it may
//! publish again.
//!
//! Book changes merge: a market has at most one delta waiting, whose `prev_seq` is the
//! book's sequence number at the previous publication and whose levels are read from the
//! book when it goes out, so they carry their newest totals. Order and trade messages
//! cannot merge and wait in feed order.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use matcher::{MarketId, Price, Side};
use tokio::sync::Notify;
use tokio::time::Instant;

use super::book::{BookSide, ShardBooks, Touched};
use super::publish::book_delta;
use super::{FANOUT_WAIT_MAX, Feed, Outgoing, Publication};
use crate::shards::Shards;

/// Where a market's waiting delta starts, and how new it is.
#[derive(Clone, Copy, Debug)]
struct Span {
    /// The book's sequence number the delta applies to.
    prev_seq: u64,
    /// The shard's timestamp of the newest batch merged into it.
    timestamp_ns: u64,
}

/// Changes since a shard's last publication, and that publication's progress.
#[derive(Debug)]
pub(super) struct Pending {
    /// Every level touched since the last publication, by market.
    touched: Touched,
    /// The markets touched.
    markets: BTreeMap<MarketId, Span>,
    /// Trade and order messages, in feed order.
    events: Vec<Outgoing>,
    /// When the publication in flight stops being waited for (`None`: none in flight).
    in_flight: Option<Instant>,
    /// Notified when the publication in flight has reached every connection.
    fanned_out: Arc<Notify>,
    /// Shortest time between two publications.
    interval: Duration,
    /// No publication before this (the previous one plus `interval`).
    not_before: Instant,
}

impl Pending {
    /// Nothing pending; publications at least `interval` apart.
    pub(super) fn new(interval: Duration) -> Self {
        Self {
            touched: Touched::new(),
            markets: BTreeMap::new(),
            events: Vec::new(),
            in_flight: None,
            fanned_out: Arc::new(Notify::new()),
            interval,
            not_before: Instant::now(),
        }
    }

    /// Where the trade and order messages of the batch being applied go.
    pub(super) fn events(&mut self) -> &mut Vec<Outgoing> {
        &mut self.events
    }

    /// Records an applied batch: the levels it touched (`batch`, emptied) changed at
    /// `seq`, the batch's last event, stamped at `timestamp_ns`. Stamps the books.
    pub(super) fn add(
        &mut self,
        books: &mut ShardBooks,
        batch: &mut Touched,
        seq: u64,
        timestamp_ns: u64,
    ) {
        for (market, _, _) in batch.iter() {
            let before = books.market(*market).map_or(0, |b| b.seq);
            self.markets
                .entry(*market)
                .or_insert(Span {
                    prev_seq: before,
                    timestamp_ns,
                })
                .timestamp_ns = timestamp_ns;
        }
        books.stamp(batch, seq);
        self.touched.append(batch);
    }

    /// Forgets everything waiting (nobody is connected).
    pub(super) fn clear(&mut self) {
        self.touched.clear();
        self.markets.clear();
        self.events.clear();
    }

    fn is_empty(&self) -> bool {
        self.markets.is_empty() && self.events.is_empty()
    }

    /// Whether a publication should be built now: something waits, the previous
    /// publication is no longer in flight and the interval has passed.
    pub(super) fn due(&self) -> bool {
        !self.is_empty()
            && self.in_flight.is_none()
            && (self.interval.is_zero() || Instant::now() >= self.not_before)
    }

    /// Whether [`Pending::unblocked`] has anything to wait for.
    pub(super) fn blocked(&self) -> bool {
        self.in_flight.is_some() || !self.is_empty()
    }

    /// Everything waiting, as a publication: the deltas read from `books` as they stand.
    pub(super) fn take(&mut self, books: &ShardBooks, shards: &Shards) -> Publication {
        let mut deltas = Vec::with_capacity(self.markets.len());
        for (market, span) in &self.markets {
            let (Some(book), Some(m)) = (books.market(*market), shards.by_id(*market)) else {
                continue;
            };
            let levels = self
                .touched
                .range((*market, BookSide::Bid, Price(i64::MIN))..)
                .take_while(|(mk, _, _)| mk == market)
                .map(|(_, side, price)| (Side::from(*side), *price));
            deltas.push(book_delta(
                book,
                m,
                span.prev_seq,
                span.timestamp_ns,
                levels,
            ));
        }
        self.touched.clear();
        self.markets.clear();
        let events = std::mem::take(&mut self.events);
        Publication::new(deltas, events, Arc::clone(&self.fanned_out))
    }

    /// Publishes, and waits for this publication before the next.
    pub(super) fn send(&mut self, feed: &Feed, publication: Publication) {
        let now = Instant::now();
        self.in_flight = Some(now + FANOUT_WAIT_MAX);
        self.not_before = now + self.interval;
        feed.publish(publication);
    }

    /// Resolves once the publication in flight has reached every connection (or
    /// [`FANOUT_WAIT_MAX`] passed) and the interval since it has passed: then
    /// [`Pending::due`] tells whether anything waits. Cancel-safe.
    pub(super) async fn unblocked(&mut self) {
        if let Some(deadline) = self.in_flight {
            tokio::select! {
                () = self.fanned_out.notified() => {}
                () = tokio::time::sleep_until(deadline) => {}
            }
            self.in_flight = None;
        }
        if !self.interval.is_zero() {
            tokio::time::sleep_until(self.not_before).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use matcher::{Accepted, AccountId, ClientOrderId, Event, EventKind, NewOrder, OrderId};
    use matcher::{OrderType, Quantity, Seq, StpMode, TimeInForce, Timestamp};

    use super::*;

    const M: MarketId = MarketId(1);

    fn accept(books: &mut ShardBooks, touched: &mut Touched, seq: u64, price: i64) {
        let kind = EventKind::Accepted(Accepted {
            order_id: OrderId(seq),
            order: NewOrder {
                market: M,
                account: AccountId(1),
                client_order_id: ClientOrderId::from_u64(seq),
                side: Side::Buy,
                order_type: OrderType::Limit {
                    price: Price(price),
                },
                quantity: Quantity(1),
                time_in_force: TimeInForce::Gtc,
                post_only: false,
                stp: StpMode::CancelNewest,
            },
        });
        let event = Event {
            seq: Seq(seq),
            timestamp: Timestamp(seq * 10),
            kind,
        };
        assert!(books.apply(&event, touched));
    }

    #[test]
    fn batches_merge_into_one_span_per_market() {
        let mut books = ShardBooks::new([M], 10);
        let mut pending = Pending::new(Duration::ZERO);
        let mut touched = Touched::new();
        accept(&mut books, &mut touched, 1, 100);
        pending.add(&mut books, &mut touched, 1, 10);
        assert!(touched.is_empty());
        accept(&mut books, &mut touched, 2, 101);
        accept(&mut books, &mut touched, 3, 100);
        pending.add(&mut books, &mut touched, 3, 30);
        let span = pending.markets[&M];
        assert_eq!((span.prev_seq, span.timestamp_ns), (0, 30));
        assert_eq!(books.market(M).unwrap().seq, 3);
        assert_eq!(pending.touched.len(), 2);
        assert!(pending.due());
        pending.in_flight = Some(Instant::now());
        assert!(
            !pending.due(),
            "nothing goes out while a publication is in flight"
        );
        pending.in_flight = None;
        pending.clear();
        assert!(!pending.due() && !pending.blocked());
    }
}
