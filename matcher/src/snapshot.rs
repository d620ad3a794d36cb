//! Consistent snapshots of an engine, taken without stopping it, and restore.
//!
//! [`Engine::begin_snapshot`] records the small state (counters, rules, the recent client
//! id window) and switches the order pool to copy-on-write: before a command first changes
//! a chunk of 256 slots, the chunk's old contents are copied. Between commands, the
//! caller moves the copy along with [`Engine::continue_snapshot`], a few chunks at a time.
//! No single step copies more than its budget of chunks (plus the chunks a command
//! touches), so even with a million resting orders the matching loop is never held for
//! long; the finished [`SnapshotImage`] is the state as it was when the snapshot began,
//! and is encoded on another thread.
//!
//! File format, version 1 (little-endian; strings length-prefixed):
//! ```text
//! magic "TPSNAPSH" | version: u32 = 1 | command_seq: u64 | last_event_seq: u64
//! | next_order_id: u64 | client_id_window: u32
//! | market_count: u32 | (id: u32, symbol, tick: u64, lot: u64, min: i64, max: i64,
//!                        max_quantity: u64, max_resting: u32) *
//! | order_count: u64  | (market: u32, id: u64, account: u64, client_order_id, side: u8,
//!                        price: i64, quantity: u64, remaining: u64, filled: u64,
//!                        created: u64, updated: u64, tif: u8, post_only: u8, stp: u8) *
//!                       (in priority order: by market, bids best first, then asks)
//! | recent_count: u32 | (account: u64, client_order_id, order_id: u64) *   (oldest first)
//! | crc32c(everything before): u32
//! ```

use crate::client_ids::ClientKey;
use crate::codec::{
    DecodeError, Encode, Reader, decode_order_view, put_client_order_id, put_i64, put_u8, put_u32,
    put_u64,
};
use crate::engine::{Engine, EngineConfig};
use crate::market::{MarketConfig, price_on_tick};
use crate::pool::{CowCopy, NIL, Order};
use crate::query::OrderView;
use crate::types::{AccountId, ClientOrderId, MarketId, OrderId, Price, Quantity, Side, Symbol};

const MAGIC: &[u8; 8] = b"TPSNAPSH";
/// Snapshot format version this build writes and reads.
pub const SNAPSHOT_VERSION: u32 = 1;

/// Engine state captured when a snapshot begins, and the pool copy once finished.
#[derive(Debug)]
pub struct SnapshotImage {
    last_event_seq: u64,
    next_order_id: u64,
    client_id_window: u32,
    markets: Vec<MarketConfig>,
    recent: Vec<(ClientKey, OrderId)>,
    pool: CowCopy,
}

/// The small part of a snapshot, held while the pool copy is in progress.
#[derive(Debug)]
pub(crate) struct PendingSnapshot {
    last_event_seq: u64,
    next_order_id: u64,
    recent: Vec<(ClientKey, OrderId)>,
}

/// A decoded snapshot file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Snapshot {
    /// The last command applied to the state (the journal record it follows).
    pub command_seq: u64,
    /// The engine's last event sequence number.
    pub last_event_seq: u64,
    /// The next order id.
    pub next_order_id: u64,
    /// The client id window the engine ran with.
    pub client_id_window: u32,
    /// The markets' rules.
    pub markets: Vec<MarketConfig>,
    /// Resting orders in priority order.
    pub orders: Vec<OrderView>,
    /// The recent client id window, oldest first.
    pub recent: Vec<(AccountId, ClientOrderId, OrderId)>,
}

/// Why a snapshot cannot be read or restored.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    /// Not a snapshot, or damaged.
    #[error("snapshot is damaged: {0}")]
    Damaged(String),
    /// The bytes do not decode.
    #[error("snapshot does not decode: {0}")]
    Decode(#[from] DecodeError),
    /// Decodes, but the configuration or the orders do not fit together.
    #[error("snapshot does not match the configuration: {0}")]
    Mismatch(String),
}

impl Engine {
    /// Starts a snapshot of the state as it is now (after the last processed command).
    /// Returns `false`, changing nothing, if one is already in progress.
    pub fn begin_snapshot(&mut self) -> bool {
        if self.pending_snapshot.is_some() {
            return false;
        }
        self.pending_snapshot = Some(PendingSnapshot {
            last_event_seq: self.out.seq,
            next_order_id: self.next_order_id,
            recent: self.orders.client_ids.recent().collect(),
        });
        self.orders.pool.begin_copy();
        true
    }

    /// Copies up to `chunks` more chunks of the pool; returns the image once complete.
    pub fn continue_snapshot(&mut self, chunks: usize) -> Option<SnapshotImage> {
        self.pending_snapshot.as_ref()?;
        let pool = self.orders.pool.continue_copy(chunks)?;
        let pending = self.pending_snapshot.take()?;
        Some(SnapshotImage {
            last_event_seq: pending.last_event_seq,
            next_order_id: pending.next_order_id,
            client_id_window: self.client_id_window,
            markets: self.books.iter().map(|b| b.config).collect(),
            recent: pending.recent,
            pool,
        })
    }

    /// A snapshot taken in one go (tests, tools, shutdown).
    pub fn snapshot_now(&mut self) -> SnapshotImage {
        self.begin_snapshot();
        loop {
            if let Some(image) = self.continue_snapshot(usize::MAX) {
                return image;
            }
        }
    }

    /// Rebuilds an engine from a snapshot. `config` must describe the same markets and
    /// client id window the snapshot was taken with: replaying a journal under other rules
    /// would not reproduce it.
    ///
    /// # Errors
    /// [`SnapshotError::Mismatch`] when the configuration differs or the orders are not a
    /// valid book.
    pub fn restore(config: EngineConfig, snapshot: &Snapshot) -> Result<Engine, SnapshotError> {
        let mismatch = |m: String| Err(SnapshotError::Mismatch(m));
        if config.markets != snapshot.markets {
            return mismatch("market rules differ from the snapshot's".into());
        }
        if config.client_id_window != snapshot.client_id_window {
            return mismatch(format!(
                "client id window {} differs from the snapshot's {}",
                config.client_id_window, snapshot.client_id_window
            ));
        }
        let mut engine = Engine::new(config).map_err(|e| SnapshotError::Mismatch(e.to_string()))?;
        engine.out.seq = snapshot.last_event_seq;
        engine.next_order_id = snapshot.next_order_id;

        // Pool and indexes in id order, so each account's list is in creation order.
        let mut by_id: Vec<usize> = (0..snapshot.orders.len()).collect();
        by_id.sort_by_key(|i| snapshot.orders[*i].order_id);
        let mut slots = vec![NIL; snapshot.orders.len()];
        for &i in &by_id {
            let v = &snapshot.orders[i];
            let Some(book) = engine.book_index(v.market) else {
                return mismatch(format!("order {} names unknown market", v.order_id.0));
            };
            let config = engine.books[book as usize].config;
            let key = ClientKey {
                account: v.account,
                client_order_id: v.client_order_id,
            };
            let valid = v.order_id.0 < snapshot.next_order_id
                && price_on_tick(&config, v.price)
                && v.price >= config.min_price()
                && v.price <= config.max_price()
                && !v.remaining.is_zero()
                && v.quantity.0 == v.filled.0.saturating_add(v.remaining.0)
                && v.quantity <= config.max_quantity()
                && engine
                    .orders
                    .ids
                    .get(&engine.orders.pool, v.order_id)
                    .is_none()
                && engine
                    .orders
                    .client_ids
                    .get(&engine.orders.pool, &key, key.hash())
                    .is_none();
            if !valid {
                return mismatch(format!(
                    "order {} is not a valid resting order",
                    v.order_id.0
                ));
            }
            let order = Order {
                id: v.order_id,
                account: v.account,
                client_order_id: v.client_order_id,
                price: v.price,
                remaining: v.remaining,
                filled: v.filled,
                created: v.created,
                updated: v.updated,
                book,
                level: config.level_index(v.price),
                side: v.side,
                time_in_force: v.time_in_force,
                post_only: v.post_only,
                stp: v.stp,
                ..Order::default()
            };
            let book = &mut engine.books[book as usize];
            if book.resting >= config.max_resting_orders() {
                return mismatch(format!("market {} holds too many orders", v.market.0));
            }
            match engine.orders.insert(order) {
                Some(slot) => slots[i] = slot,
                None => return mismatch("more orders than the pool holds".into()),
            }
            book.resting += 1;
        }
        // Then onto their levels, in priority order.
        for (i, v) in snapshot.orders.iter().enumerate() {
            let slot = slots[i];
            let o = *engine.orders.pool.get(slot);
            let book = &mut engine.books[o.book as usize];
            book.own_ladder_mut(v.side)
                .push_back(&mut engine.orders.pool, o.level, slot);
        }
        for book in &engine.books {
            if let (Some(b), Some(a)) = (book.bids.best(), book.asks.best())
                && b >= a
            {
                return mismatch(format!("market {} is crossed", book.config.id().0));
            }
        }
        for (account, client_order_id, id) in &snapshot.recent {
            let key = ClientKey {
                account: *account,
                client_order_id: *client_order_id,
            };
            if engine
                .orders
                .client_ids
                .get(&engine.orders.pool, &key, key.hash())
                .is_some()
            {
                return mismatch(format!("client order id {client_order_id} is used twice"));
            }
            engine
                .orders
                .client_ids
                .retire(&engine.orders.pool, key, *id, None);
        }
        Ok(engine)
    }
}

impl SnapshotImage {
    /// The snapshot file's bytes, for a state that follows journal command `command_seq`.
    /// Deterministic: the same state always encodes to the same bytes.
    #[must_use]
    pub fn encode(&self, command_seq: u64) -> Vec<u8> {
        let live = |c: &[Order]| c.iter().filter(|o| o.live).count();
        let count: usize = self
            .pool
            .chunks
            .iter()
            .map(|c| c.as_deref().map_or(0, live))
            .sum();
        let mut out = Vec::with_capacity(128 + count * 120 + self.recent.len() * 64);
        out.extend_from_slice(MAGIC);
        put_u32(&mut out, SNAPSHOT_VERSION);
        put_u64(&mut out, command_seq);
        put_u64(&mut out, self.last_event_seq);
        put_u64(&mut out, self.next_order_id);
        put_u32(&mut out, self.client_id_window);
        // Markets are few: the count fits.
        #[allow(clippy::cast_possible_truncation)]
        put_u32(&mut out, self.markets.len() as u32);
        for m in &self.markets {
            put_u32(&mut out, m.id().0);
            let sym = m.symbol();
            #[allow(clippy::cast_possible_truncation)]
            put_u8(&mut out, sym.as_str().len() as u8);
            out.extend_from_slice(sym.as_str().as_bytes());
            put_u64(&mut out, m.tick_size());
            put_u64(&mut out, m.lot_size());
            put_i64(&mut out, m.min_price().0);
            put_i64(&mut out, m.max_price().0);
            put_u64(&mut out, m.max_quantity().0);
            put_u32(&mut out, m.max_resting_orders());
        }
        put_u64(&mut out, count as u64);
        let slot = |s: u32| -> &Order {
            let s = s as usize;
            // Every chunk is present in a finished image.
            &self.pool.chunks[s / crate::pool::CHUNK]
                .as_deref()
                .unwrap_or(&[])[s % crate::pool::CHUNK]
        };
        // Level heads, ordered by market, bids best first, then asks best first.
        let mut heads: Vec<(u32, u8, i64, u32)> = Vec::new();
        for (c, chunk) in self.pool.chunks.iter().enumerate() {
            for (j, o) in chunk.as_deref().unwrap_or(&[]).iter().enumerate() {
                if o.live && o.prev == NIL {
                    let key = match o.side {
                        Side::Buy => -i64::from(o.level),
                        Side::Sell => i64::from(o.level),
                    };
                    // Slot indices fit in u32 by construction of the pool.
                    #[allow(clippy::cast_possible_truncation)]
                    let s = (c * crate::pool::CHUNK + j) as u32;
                    heads.push((o.book, o.side as u8, key, s));
                }
            }
        }
        heads.sort_unstable();
        for (_, _, _, head) in heads {
            let mut s = head;
            while s != NIL {
                let o = slot(s);
                OrderView {
                    order_id: o.id,
                    market: self.markets[o.book as usize].id(),
                    account: o.account,
                    client_order_id: o.client_order_id,
                    side: o.side,
                    price: o.price,
                    quantity: o.quantity(),
                    remaining: o.remaining,
                    filled: o.filled,
                    time_in_force: o.time_in_force,
                    post_only: o.post_only,
                    stp: o.stp,
                    created: o.created,
                    updated: o.updated,
                }
                .encode(&mut out);
                s = o.next;
            }
        }
        #[allow(clippy::cast_possible_truncation)]
        put_u32(&mut out, self.recent.len() as u32);
        for (key, id) in &self.recent {
            put_u64(&mut out, key.account.0);
            put_client_order_id(&mut out, &key.client_order_id);
            put_u64(&mut out, id.0);
        }
        let crc = crc32c::crc32c(&out);
        put_u32(&mut out, crc);
        out
    }
}

/// Decodes a snapshot file's bytes.
///
/// # Errors
/// [`SnapshotError`] when the bytes are not an intact version-1 snapshot.
pub fn decode_snapshot(bytes: &[u8]) -> Result<Snapshot, SnapshotError> {
    let damaged = |m: &str| SnapshotError::Damaged(m.to_owned());
    if bytes.len() < MAGIC.len() + 8 || &bytes[..8] != MAGIC {
        return Err(damaged("no snapshot magic"));
    }
    let (body, crc) = bytes.split_at(bytes.len() - 4);
    if crc32c::crc32c(body).to_le_bytes() != crc {
        return Err(damaged("checksum mismatch"));
    }
    let mut r = Reader::new(&body[8..]);
    let version = r.u32()?;
    if version != SNAPSHOT_VERSION {
        return Err(damaged(&format!("unsupported version {version}")));
    }
    let command_seq = r.u64()?;
    let last_event_seq = r.u64()?;
    let next_order_id = r.u64()?;
    let client_id_window = r.u32()?;
    let market_count = r.u32()?;
    let mut markets = Vec::new();
    for _ in 0..market_count {
        let id = MarketId(r.u32()?);
        let len = r.u8()?;
        let sym = std::str::from_utf8(r.bytes(usize::from(len))?)
            .ok()
            .and_then(|s| Symbol::new(s).ok())
            .ok_or_else(|| damaged("bad symbol"))?;
        let tick = r.u64()?;
        let lot = r.u64()?;
        let min = Price(r.i64()?);
        let max = Price(r.i64()?);
        let maxq = Quantity(r.u64()?);
        let cap = r.u32()?;
        markets.push(
            MarketConfig::new(id, sym, tick, lot, min, max, maxq, cap)
                .map_err(|e| SnapshotError::Damaged(e.to_string()))?,
        );
    }
    let order_count = r.u64()?;
    let mut orders = Vec::with_capacity(
        usize::try_from(order_count)
            .unwrap_or(0)
            .min(r.remaining() / 80),
    );
    for _ in 0..order_count {
        orders.push(decode_order_view(&mut r)?);
    }
    let recent_count = r.u32()?;
    let mut recent = Vec::with_capacity((recent_count as usize).min(r.remaining() / 17));
    for _ in 0..recent_count {
        let account = AccountId(r.u64()?);
        let cid = r.client_order_id()?;
        recent.push((account, cid, OrderId(r.u64()?)));
    }
    r.finish()?;
    Ok(Snapshot {
        command_seq,
        last_event_seq,
        next_order_id,
        client_id_window,
        markets,
        orders,
        recent,
    })
}
