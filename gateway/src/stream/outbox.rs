//! One connection's queue of messages to write: bounded, and conflating book deltas.
//!
//! While a book delta waits here unsent (the writer is busy with the socket, or the task
//! has not run yet), a newer delta of the same market merges into it instead of queueing
//! behind it: the merged delta spans the first one's `prev_seq` to the last one's `seq`,
//! carries each changed level's newest totals and the newest `timestamp_ns`. A client
//! applying deltas by the `prev_seq` rule sees the same book, sooner and in fewer
//! messages, and a client that keeps up with the merged stream is never dropped for
//! falling behind the unmerged one. Messages that cannot merge (snapshots, trades, order
//! updates, replies) count against the bound; a full queue means the client is too slow.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::Poll;

use axum::extract::ws::{Message, Utf8Bytes};
use matcher::MarketId;

use crate::feed::delta_text;
use crate::feed::messages::BookDelta;

/// The queue is full: the client is too slow.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Full;

/// A queued book delta.
#[derive(Debug)]
enum Delta {
    /// As published: its text is shared with every other connection.
    Shared(Utf8Bytes, Arc<BookDelta>),
    /// Merged or rewritten for this connection: serialised when written.
    Own(BookDelta),
}

impl Delta {
    fn absorb(&mut self, newer: &BookDelta) {
        match self {
            Self::Own(delta) => merge(delta, newer),
            Self::Shared(_, shared) => {
                let mut delta = BookDelta::clone(shared);
                merge(&mut delta, newer);
                *self = Self::Own(delta);
            }
        }
    }

    fn into_text(self) -> Utf8Bytes {
        match self {
            Self::Shared(text, _) => text,
            Self::Own(delta) => delta_text(&delta),
        }
    }
}

#[derive(Debug)]
enum Entry {
    Text(Utf8Bytes),
    Delta(MarketId, Delta),
}

#[derive(Debug, Default)]
struct Queue {
    entries: VecDeque<Entry>,
    /// How many entries were ever taken: `entries[i]` is entry number `taken + i`.
    taken: u64,
    /// The entry number of each market's delta that may still absorb newer ones.
    open: HashMap<MarketId, u64>,
}

/// A bounded, conflating message queue shared by a connection's session (which pushes)
/// and writer (which takes).
///
/// Both halves are futures of one task, polled session first (see
/// [`super::connection`]), and the session pushes only while it is polled: so the writer
/// learns of a push in the same poll and needs no wake-up of its own. A notification
/// would wake the task once more for every delivery, which at 1,000 connections was a
/// measurable share of the fan-out.
#[derive(Debug)]
pub(super) struct Outbox {
    queue: Mutex<Queue>,
    capacity: usize,
}

impl Outbox {
    /// A queue holding at most `capacity` entries (a merged delta is one entry).
    pub(super) fn new(capacity: usize) -> Self {
        Self {
            queue: Mutex::new(Queue::default()),
            capacity: capacity.max(1),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Queue> {
        // Every change is a single push or pop: a poisoned queue is still consistent.
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Queues a message that does not merge.
    pub(super) fn push(&self, text: Utf8Bytes) -> Result<(), Full> {
        self.push_entry(Entry::Text(text))
    }

    /// Queues a published delta of `market`, or merges it into the one still waiting.
    pub(super) fn push_delta(
        &self,
        market: MarketId,
        text: Utf8Bytes,
        delta: Arc<BookDelta>,
    ) -> Result<(), Full> {
        if self.absorb(market, &delta) {
            return Ok(());
        }
        self.push_entry(Entry::Delta(market, Delta::Shared(text, delta)))
    }

    /// Queues a delta made for this connection, or merges it into the one still waiting.
    pub(super) fn push_own_delta(&self, market: MarketId, delta: BookDelta) -> Result<(), Full> {
        if self.absorb(market, &delta) {
            return Ok(());
        }
        self.push_entry(Entry::Delta(market, Delta::Own(delta)))
    }

    /// Nothing queued from now on merges into `market`'s waiting delta (a snapshot or an
    /// unsubscription follows it, and a later delta must come after those).
    pub(super) fn seal(&self, market: MarketId) {
        self.lock().open.remove(&market);
    }

    fn absorb(&self, market: MarketId, newer: &BookDelta) -> bool {
        let mut queue = self.lock();
        let Some(&number) = queue.open.get(&market) else {
            return false;
        };
        let index = number.checked_sub(queue.taken).and_then(|i| {
            let i = usize::try_from(i).ok()?;
            (i < queue.entries.len()).then_some(i)
        });
        match index.and_then(|i| queue.entries.get_mut(i)) {
            Some(Entry::Delta(m, delta)) if *m == market => {
                delta.absorb(newer);
                true
            }
            _ => {
                queue.open.remove(&market);
                false
            }
        }
    }

    fn push_entry(&self, entry: Entry) -> Result<(), Full> {
        let mut queue = self.lock();
        if queue.entries.len() >= self.capacity {
            return Err(Full);
        }
        if let Entry::Delta(market, _) = &entry {
            let number = queue.taken + queue.entries.len() as u64;
            queue.open.insert(*market, number);
        }
        queue.entries.push_back(entry);
        Ok(())
    }

    /// Moves up to `max` queued messages into `out`, oldest first; returns how many.
    pub(super) fn take(&self, out: &mut Vec<Message>, max: usize) -> usize {
        let taken: Vec<Entry> = {
            let mut queue = self.lock();
            let n = max.min(queue.entries.len());
            let taken: Vec<Entry> = queue.entries.drain(..n).collect();
            let first = queue.taken;
            queue.taken += n as u64;
            for (number, entry) in (first..).zip(&taken) {
                if let Entry::Delta(market, _) = entry
                    && queue.open.get(market) == Some(&number)
                {
                    queue.open.remove(market);
                }
            }
            taken
        };
        let n = taken.len();
        // Merged deltas are serialised here, outside the lock.
        out.extend(taken.into_iter().map(|entry| {
            Message::Text(match entry {
                Entry::Text(text) => text,
                Entry::Delta(_, delta) => delta.into_text(),
            })
        }));
        n
    }

    /// Resolves when something is queued. It registers no waker: it is polled again
    /// after every poll of the session, the only pusher (see the type's docs).
    pub(super) async fn ready(&self) {
        std::future::poll_fn(|_| {
            if self.lock().entries.is_empty() {
                Poll::Pending
            } else {
                Poll::Ready(())
            }
        })
        .await;
    }
}

/// Merges `newer` into `delta`: `delta` then goes from its own `prev_seq` to `newer`'s
/// `seq`, and each level either changed carries its newest totals.
pub(super) fn merge(delta: &mut BookDelta, newer: &BookDelta) {
    delta.seq = newer.seq;
    delta.timestamp_ns = newer.timestamp_ns;
    // Deltas are small (the levels one publication touched); a long-merged one holds at
    // most every level of the book, so a linear search stays cheap.
    for change in &newer.changes {
        match delta
            .changes
            .iter_mut()
            .find(|c| c.side == change.side && c.price == change.price)
        {
            Some(existing) => existing.clone_from(change),
            None => delta.changes.push(change.clone()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::feed::messages::LevelChange;
    use crate::routes::orders::ApiSide;

    const M: MarketId = MarketId(1);
    const N: MarketId = MarketId(2);

    fn level(side: ApiSide, price: &str, quantity: &str, orders: u32) -> LevelChange {
        LevelChange {
            side,
            price: price.into(),
            quantity: quantity.into(),
            orders,
        }
    }

    fn delta(prev_seq: u64, seq: u64, changes: Vec<LevelChange>) -> BookDelta {
        BookDelta {
            symbol: "AAA-USD".into(),
            seq,
            prev_seq,
            changes,
            timestamp_ns: seq * 100,
        }
    }

    fn shared(d: BookDelta) -> (Utf8Bytes, Arc<BookDelta>) {
        (delta_text(&d), Arc::new(d))
    }

    fn texts(outbox: &Outbox) -> Vec<serde_json::Value> {
        let mut out = Vec::new();
        outbox.take(&mut out, usize::MAX);
        out.into_iter()
            .map(|m| match m {
                Message::Text(t) => serde_json::from_str(t.as_str()).unwrap(),
                other => panic!("{other:?}"),
            })
            .collect()
    }

    #[test]
    fn a_merged_delta_spans_both_and_keeps_each_levels_newest_totals() {
        let mut d = delta(
            4,
            7,
            vec![
                level(ApiSide::Buy, "10.00", "1.0", 1),
                level(ApiSide::Sell, "10.05", "2.0", 2),
            ],
        );
        let newer = delta(
            7,
            9,
            vec![
                level(ApiSide::Sell, "10.05", "0.0", 0),
                level(ApiSide::Buy, "10.05", "3.0", 1),
            ],
        );
        merge(&mut d, &newer);
        assert_eq!((d.prev_seq, d.seq, d.timestamp_ns), (4, 9, 900));
        let changes: Vec<_> = d
            .changes
            .iter()
            .map(|c| (c.side, c.price.as_str(), c.quantity.as_str(), c.orders))
            .collect();
        assert_eq!(
            changes,
            [
                (ApiSide::Buy, "10.00", "1.0", 1),
                (ApiSide::Sell, "10.05", "0.0", 0),
                (ApiSide::Buy, "10.05", "3.0", 1),
            ]
        );
    }

    #[test]
    fn waiting_deltas_of_a_market_merge_and_others_keep_their_place() {
        let outbox = Outbox::new(8);
        let (t, d) = shared(delta(1, 2, vec![level(ApiSide::Buy, "1.00", "1", 1)]));
        outbox.push_delta(M, t, d).unwrap();
        outbox.push(r#"{"type":"trade"}"#.into()).unwrap();
        let (t, d) = shared(delta(5, 6, vec![level(ApiSide::Buy, "2.00", "1", 1)]));
        outbox.push_delta(N, t, d).unwrap();
        let (t, d) = shared(delta(2, 3, vec![level(ApiSide::Buy, "1.00", "2", 2)]));
        outbox.push_delta(M, t, d).unwrap();
        let mut out = Vec::new();
        assert_eq!(outbox.take(&mut out, 1), 1);
        let Message::Text(first) = &out[0] else {
            panic!()
        };
        let first: serde_json::Value = serde_json::from_str(first.as_str()).unwrap();
        assert_eq!(
            (first["prev_seq"].as_u64(), first["seq"].as_u64()),
            (Some(1), Some(3))
        );
        assert_eq!(first["changes"][0]["quantity"], "2");
        assert_eq!(first["timestamp_ns"], 300);

        // The taken delta is gone: the next one of M queues anew, behind the others.
        let (t, d) = shared(delta(3, 4, vec![level(ApiSide::Sell, "1.50", "1", 1)]));
        outbox.push_delta(M, t, d).unwrap();
        let rest = texts(&outbox);
        assert_eq!(rest[0]["type"], "trade");
        assert_eq!(rest[1]["seq"], 6);
        assert_eq!(
            (rest[2]["prev_seq"].as_u64(), rest[2]["seq"].as_u64()),
            (Some(3), Some(4))
        );
    }

    #[test]
    fn an_unmerged_delta_goes_out_with_its_shared_text() {
        let outbox = Outbox::new(2);
        let (t, d) = shared(delta(1, 2, vec![]));
        outbox.push_delta(M, t.clone(), d).unwrap();
        let mut out = Vec::new();
        outbox.take(&mut out, 4);
        assert!(matches!(&out[..], [Message::Text(x)] if x.as_str() == t.as_str()));
    }

    #[test]
    fn a_sealed_delta_takes_no_more_and_the_bound_counts_entries() {
        let outbox = Outbox::new(3);
        let (t, d) = shared(delta(1, 2, vec![]));
        outbox.push_delta(M, t, d).unwrap();
        outbox.seal(M);
        outbox.push(r#"{"type":"book_snapshot"}"#.into()).unwrap();
        outbox
            .push_own_delta(M, delta(2, 3, vec![level(ApiSide::Buy, "1.00", "1", 1)]))
            .unwrap();
        // Merging needs no room …
        outbox
            .push_own_delta(M, delta(3, 4, vec![level(ApiSide::Buy, "1.00", "5", 2)]))
            .unwrap();
        // … a new entry does.
        assert_eq!(outbox.push(r#"{"type":"error"}"#.into()), Err(Full));
        let out = texts(&outbox);
        assert_eq!(out.len(), 3);
        assert_eq!(out[0]["seq"], 2);
        assert_eq!(
            (out[2]["prev_seq"].as_u64(), out[2]["seq"].as_u64()),
            (Some(2), Some(4))
        );
        assert_eq!(out[2]["changes"][0]["quantity"], "5");
        outbox.push(r#"{"type":"error"}"#.into()).unwrap();
    }
}
