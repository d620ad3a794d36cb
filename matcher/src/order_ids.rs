//! Order id → pool slot, for live orders.
//!
//! A hash table of 4-byte slot numbers; the id itself is read back from the slot to
//! confirm a match. Sized at twice the pool so that it never grows and its tombstone
//! clean-ups rehash in place without allocating.

use std::hash::{BuildHasher, Hasher};

use hashbrown::HashTable;
use rustc_hash::FxBuildHasher;

use crate::pool::OrderPool;
use crate::types::OrderId;

#[inline]
fn hash(id: OrderId) -> u64 {
    let mut h = FxBuildHasher.build_hasher();
    h.write_u64(id.0);
    h.finish()
}

/// The index of live orders by id.
#[derive(Debug)]
pub(crate) struct OrderIds {
    table: HashTable<u32>,
}

impl OrderIds {
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            table: HashTable::with_capacity(2 * capacity + 16),
        }
    }

    /// Indexes `slot`, which holds order `id`.
    #[inline]
    pub(crate) fn insert(&mut self, pool: &OrderPool, id: OrderId, slot: u32) {
        self.table
            .insert_unique(hash(id), slot, |s| hash(pool.get(*s).id));
    }

    /// Forgets `id` (whose slot still holds it).
    #[inline]
    pub(crate) fn remove(&mut self, pool: &OrderPool, id: OrderId) {
        if let Ok(e) = self.table.find_entry(hash(id), |s| pool.get(*s).id == id) {
            e.remove();
        }
    }

    /// The slot of live order `id`.
    #[inline]
    pub(crate) fn get(&self, pool: &OrderPool, id: OrderId) -> Option<u32> {
        self.table
            .find(hash(id), |s| pool.get(*s).id == id)
            .copied()
    }
}
