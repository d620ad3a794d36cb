//! Client order id uniqueness: per account, among live orders and a bounded window of
//! recently finished ones.
//!
//! The window is what makes a client's retry safe: a resend of an order that already
//! filled (and so is no longer live) is still recognised as a duplicate, for as long as it
//! stays among the last `window` finished orders. The window is a fixed-capacity ring, so
//! memory is bounded and never grows after start-up.

use std::collections::VecDeque;

use rustc_hash::FxBuildHasher;

use crate::types::{AccountId, ClientOrderId, OrderId};

type FxHashMap<K, V> = std::collections::HashMap<K, V, FxBuildHasher>;

/// The map key: an account's client order id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct ClientKey {
    pub(crate) account: AccountId,
    pub(crate) client_order_id: ClientOrderId,
}

/// Where a client order id stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ClientIdState {
    /// Held by the resting order in this pool slot.
    Live(u32),
    /// Held by this finished order, inside the recent window.
    Recent(OrderId),
}

/// The registry of used client order ids.
#[derive(Debug)]
pub(crate) struct ClientIds {
    map: FxHashMap<ClientKey, ClientIdState>,
    /// Finished orders' keys and ids, oldest first; at most `window` long. The id is kept
    /// here as well as in the map so that a snapshot copies the window without a lookup
    /// per entry.
    recent: VecDeque<(ClientKey, OrderId)>,
    window: usize,
}

impl ClientIds {
    /// Room for `live` resting orders and a window of `window` finished ones. The map is
    /// sized at twice its peak so that its tombstone clean-ups rehash in place and never
    /// allocate.
    pub(crate) fn new(live: usize, window: usize) -> Self {
        Self {
            map: FxHashMap::with_capacity_and_hasher(2 * (live + window) + 16, FxBuildHasher),
            recent: VecDeque::with_capacity(window),
            window,
        }
    }

    #[inline]
    pub(crate) fn get(&self, key: &ClientKey) -> Option<ClientIdState> {
        self.map.get(key).copied()
    }

    /// Marks `key` as held by the resting order in `slot`.
    #[inline]
    pub(crate) fn set_live(&mut self, key: ClientKey, slot: u32) {
        self.map.insert(key, ClientIdState::Live(slot));
    }

    /// Moves `key` into the recent window as finished order `id`, evicting the oldest
    /// finished key when the window is full.
    #[inline]
    pub(crate) fn retire(&mut self, key: ClientKey, id: OrderId) {
        if self.window == 0 {
            self.map.remove(&key);
            return;
        }
        if self.recent.len() == self.window
            && let Some((oldest, _)) = self.recent.pop_front()
        {
            self.map.remove(&oldest);
        }
        self.recent.push_back((key, id));
        self.map.insert(key, ClientIdState::Recent(id));
    }

    /// The recent window, oldest first, with each finished order's id.
    pub(crate) fn recent(&self) -> impl Iterator<Item = (ClientKey, OrderId)> + '_ {
        self.recent.iter().copied()
    }
}
