//! Client order id uniqueness: per account, among live orders and a bounded window of
//! recently finished ones.
//!
//! The window is what makes a client's retry safe: a resend of an order that already
//! filled (and so is no longer live) is still recognised as a duplicate, for as long as it
//! stays among the last `window` finished orders. The window is a fixed-capacity ring, so
//! memory is bounded and never grows after start-up.
//!
//! The index is a hash table of 4-byte entries: a live order's pool slot, or a position
//! in the window ring. The key itself (account and up to 36 bytes of id) is never copied
//! into the table; it is read back from the slot or the ring to confirm a match. Profiling
//! showed this map was half the engine's time when it held full 48-byte keys: a table a
//! sixteenth the size keeps far more of it in cache, and each key is hashed once per
//! command instead of on every probe.

use std::hash::{BuildHasher, Hash, Hasher};

use hashbrown::HashTable;
use rustc_hash::FxBuildHasher;

use crate::pool::OrderPool;
use crate::types::{AccountId, ClientOrderId, OrderId};

/// An account's client order id.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ClientKey {
    pub(crate) account: AccountId,
    pub(crate) client_order_id: ClientOrderId,
}

impl ClientKey {
    /// The key's table hash (deterministic: no random seed).
    #[inline]
    pub(crate) fn hash(&self) -> u64 {
        let mut h = FxBuildHasher.build_hasher();
        self.account.0.hash(&mut h);
        self.client_order_id.hash(&mut h);
        h.finish()
    }
}

/// Where a client order id stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ClientIdState {
    /// Held by the resting order in this pool slot.
    Live(u32),
    /// Held by this finished order, inside the recent window.
    Recent(OrderId),
}

/// Marks a table entry as a window position rather than a pool slot.
const RECENT: u32 = 1 << 31;

/// The registry of used client order ids.
#[derive(Debug)]
pub(crate) struct ClientIds {
    /// Pool slot, or `RECENT | ring index`.
    table: HashTable<u32>,
    /// The window: finished orders' keys and ids, written round-robin.
    ring: Vec<(ClientKey, OrderId)>,
    /// Entries written to the ring so far (the next goes at `written % window`).
    written: u64,
    window: usize,
}

impl ClientIds {
    /// Room for `live` resting orders and a window of `window` finished ones, at twice the
    /// peak so that tombstone clean-ups rehash in place and never allocate.
    pub(crate) fn new(live: usize, window: usize) -> Self {
        Self {
            table: HashTable::with_capacity(2 * (live + window) + 16),
            ring: Vec::with_capacity(window),
            written: 0,
            window,
        }
    }

    fn key_of(&self, pool: &OrderPool, entry: u32) -> ClientKey {
        if entry & RECENT != 0 {
            self.ring[(entry & !RECENT) as usize].0
        } else {
            let o = pool.get(entry);
            ClientKey {
                account: o.account,
                client_order_id: o.client_order_id,
            }
        }
    }

    /// Where `key` (whose [`ClientKey::hash`] is `hash`) stands.
    #[inline]
    pub(crate) fn get(
        &self,
        pool: &OrderPool,
        key: &ClientKey,
        hash: u64,
    ) -> Option<ClientIdState> {
        let entry = *self.table.find(hash, |e| self.key_of(pool, *e) == *key)?;
        Some(if entry & RECENT != 0 {
            ClientIdState::Recent(self.ring[(entry & !RECENT) as usize].1)
        } else {
            ClientIdState::Live(entry)
        })
    }

    /// Marks `key`, not yet used, as held by the resting order in `slot` (which already
    /// holds the key).
    #[inline]
    pub(crate) fn set_live(&mut self, pool: &OrderPool, key: &ClientKey, hash: u64, slot: u32) {
        let ring = &self.ring;
        let rehash = |e: &u32| {
            if e & RECENT != 0 {
                ring[(e & !RECENT) as usize].0.hash()
            } else {
                let o = pool.get(*e);
                ClientKey {
                    account: o.account,
                    client_order_id: o.client_order_id,
                }
                .hash()
            }
        };
        debug_assert!(key.hash() == hash);
        self.table.insert_unique(hash, slot, rehash);
    }

    /// Moves `key` into the recent window as finished order `id`, evicting the oldest
    /// finished key when the window is full. `slot` is the pool slot it held, if it rested
    /// (the slot must still hold the key).
    #[inline]
    pub(crate) fn retire(
        &mut self,
        pool: &OrderPool,
        key: ClientKey,
        id: OrderId,
        slot: Option<u32>,
    ) {
        let hash = key.hash();
        if let Some(slot) = slot
            && let Ok(e) = self.table.find_entry(hash, |e| *e == slot)
        {
            e.remove();
        }
        if self.window == 0 {
            return;
        }
        // Window positions fit in u32: the window is configured as a u32.
        #[allow(clippy::cast_possible_truncation)]
        let index = (self.written % self.window as u64) as u32;
        if self.ring.len() == self.window {
            let (oldest, _) = self.ring[index as usize];
            if let Ok(e) = self
                .table
                .find_entry(oldest.hash(), |e| *e == RECENT | index)
            {
                e.remove();
            }
            self.ring[index as usize] = (key, id);
        } else {
            self.ring.push((key, id));
        }
        self.written += 1;
        let ring = &self.ring;
        let rehash = |e: &u32| {
            if e & RECENT != 0 {
                ring[(e & !RECENT) as usize].0.hash()
            } else {
                let o = pool.get(*e);
                ClientKey {
                    account: o.account,
                    client_order_id: o.client_order_id,
                }
                .hash()
            }
        };
        self.table.insert_unique(hash, RECENT | index, rehash);
    }

    /// The recent window, oldest first, with each finished order's id.
    pub(crate) fn recent(&self) -> impl Iterator<Item = (ClientKey, OrderId)> + '_ {
        let n = self.ring.len();
        // Before the ring wraps, the oldest is at 0; after, at the next write position.
        #[allow(clippy::cast_possible_truncation)]
        let start = if n < self.window {
            0
        } else {
            (self.written % self.window.max(1) as u64) as usize
        };
        (0..n).map(move |i| self.ring[(start + i) % n])
    }
}
