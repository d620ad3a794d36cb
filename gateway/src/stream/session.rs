//! The reading half of a connection: the client's messages and the feed bus in, the
//! outbox out. It never waits for the socket.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use axum::extract::ws::{CloseFrame, Message, WebSocket};
use futures_util::StreamExt;
use futures_util::stream::SplitStream;
use matcher::MarketId;
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

use super::outbox::{Full, Outbox};
use super::{
    AUTH_TIMEOUT, CLOSE_FORBIDDEN, CLOSE_GOING_AWAY, CLOSE_SLOW, CLOSE_UNAUTHORIZED, allowed,
    close_frame, encode,
};
use crate::app::AppState;
use crate::auth::Principal;
use crate::feed::messages::{BookDelta, ClientMessage, ServerMessage};
use crate::feed::{Batch, Topic, book_snapshot};

/// One connection's subscriptions.
pub(super) struct Session<'a> {
    state: &'a AppState,
    outbox: &'a Outbox,
    subs: HashSet<Topic>,
    /// How many of `subs` are `orders` or `trades:` (whether a publication's trade and
    /// order messages need a look at all).
    event_subs: usize,
    /// The sequence number of each subscribed book's snapshot, until the first delta past it.
    snapshots: HashMap<MarketId, u64>,
}

impl Drop for Session<'_> {
    fn drop(&mut self) {
        let interest = self.state.feed().interest();
        for topic in &self.subs {
            interest.count(*topic, false);
        }
        let open = i64::try_from(self.subs.len()).unwrap_or(i64::MAX);
        self.state.metrics().stream_subscriptions.dec_by(open);
    }
}

impl<'a> Session<'a> {
    pub(super) fn new(state: &'a AppState, outbox: &'a Outbox) -> Self {
        Self {
            state,
            outbox,
            subs: HashSet::new(),
            event_subs: 0,
            snapshots: HashMap::new(),
        }
    }

    /// Runs until the connection should close; returns the close frame to send, if any.
    pub(super) async fn run(
        mut self,
        principal: Option<Principal>,
        incoming: &mut SplitStream<WebSocket>,
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
        // Joined before any snapshot, so no delta after a snapshot can be missed; and only
        // now, since a publication waits for every reader (an unauthenticated connection
        // would hold it up).
        let mut bus = self.state.feed().subscribe();
        let slow = || Some(close_frame(CLOSE_SLOW, "too slow: buffer full"));
        let authenticated = ServerMessage::Authenticated {
            account: principal.account.0,
        };
        if self.outbox.push(encode(&authenticated)).is_err() {
            return slow();
        }
        // Made once: a fresh `cancelled()` per turn registers and unregisters a waiter.
        let (stopped, writer_ended) = (stop.cancelled(), writer_done.cancelled());
        tokio::pin!(stopped, writer_ended);
        loop {
            tokio::select! {
                biased;
                () = &mut stopped => {
                    return Some(close_frame(CLOSE_GOING_AWAY, "gateway shutting down"));
                }
                () = &mut writer_ended => return None,
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
                        if self.deliver(&batch).is_err() {
                            return slow();
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
        incoming: &mut SplitStream<WebSocket>,
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

    /// Queues what the client wants of a publication.
    fn deliver(&mut self, batch: &Batch) -> Result<(), Full> {
        for out in &batch.book {
            let (Topic::Book(market), Some(delta)) = (out.topic, &out.delta) else {
                continue;
            };
            if !self.subs.contains(&out.topic) {
                continue;
            }
            if let Some(snapshot) = self.snapshots.get(&market).copied() {
                if out.seq <= snapshot {
                    // Already in the snapshot.
                    continue;
                }
                self.snapshots.remove(&market);
                if delta.prev_seq < snapshot {
                    // It also covers changes from before the snapshot (they were waiting to
                    // be published when the snapshot was taken); its levels carry their
                    // totals at `seq`, so it applies to the snapshot as well.
                    let mut own = BookDelta::clone(delta);
                    own.prev_seq = snapshot;
                    self.outbox.push_own_delta(market, own)?;
                    continue;
                }
            }
            self.outbox
                .push_delta(market, out.text.clone(), Arc::clone(delta))?;
        }
        if self.event_subs > 0 {
            for out in &batch.events {
                if self.subs.contains(&out.topic) {
                    self.outbox.push(out.text.clone())?;
                }
            }
        }
        Ok(())
    }

    fn error(&self, code: &str, message: &str) -> Result<(), Full> {
        self.outbox.push(encode(&ServerMessage::Error {
            code: code.to_owned(),
            message: message.to_owned(),
        }))
    }

    fn handle(&mut self, principal: &Principal, text: &str) -> Result<(), Full> {
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
            if self.subs.remove(&topic) {
                self.counted(topic, false);
            }
            if let Topic::Book(market) = topic {
                self.snapshots.remove(&market);
                self.outbox.seal(market);
            }
            return self
                .outbox
                .push(encode(&ServerMessage::Unsubscribed { channel }));
        }
        if self.subs.insert(topic) {
            self.counted(topic, true);
        }
        self.outbox
            .push(encode(&ServerMessage::Subscribed { channel }))?;
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
            // Deltas queued before the snapshot stay before it; later ones start anew.
            self.outbox.seal(id);
            self.snapshots.insert(id, snapshot.seq);
            self.outbox
                .push(encode(&ServerMessage::BookSnapshot(snapshot)))?;
        }
        Ok(())
    }

    /// Counts a subscription that began or ended.
    fn counted(&mut self, topic: Topic, began: bool) {
        if !matches!(topic, Topic::Book(_)) {
            if began {
                self.event_subs += 1;
            } else {
                self.event_subs -= 1;
            }
        }
        self.state.feed().interest().count(topic, began);
        let gauge = &self.state.metrics().stream_subscriptions;
        if began {
            gauge.inc();
        } else {
            gauge.dec();
        }
    }
}
