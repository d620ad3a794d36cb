//! A hash of everything that decides the engine's future behaviour, stable across runs,
//! builds and machines: two engines with equal hashes answer every command alike.
//!
//! It covers the sequence and order-id counters, the client id window's size, every market's rules and resting orders
//! in priority order, and the recent client-order-id window. It never walks a hash map
//! (whose order is an accident of layout), only the books and the window.

use xxhash_rust::xxh3::Xxh3;

use crate::engine::Engine;
use crate::pool::Order;

/// Format of the hashed byte stream; bump when the set of hashed fields changes.
const STATE_HASH_VERSION: u8 = 2;

impl Engine {
    /// XXH3-64 of the engine's observable state.
    #[must_use]
    pub fn state_hash(&self) -> u64 {
        let mut h = Xxh3::new();
        h.update(&[STATE_HASH_VERSION]);
        h.update(&self.out.seq.to_le_bytes());
        h.update(&self.next_order_id.to_le_bytes());
        h.update(&self.client_id_window.to_le_bytes());
        for book in &self.books {
            let c = &book.config;
            h.update(&c.id().0.to_le_bytes());
            h.update(c.symbol().as_str().as_bytes());
            for v in [c.tick_size(), c.lot_size(), c.max_quantity().0] {
                h.update(&v.to_le_bytes());
            }
            h.update(&c.min_price().0.to_le_bytes());
            h.update(&c.max_price().0.to_le_bytes());
            h.update(&c.max_resting_orders().to_le_bytes());
            h.update(&book.resting.to_le_bytes());
            for ladder in [&book.bids, &book.asks] {
                // A separator, so that moving an order across sides changes the hash.
                h.update(b"|");
                self.for_each_in_ladder(ladder, |o| hash_order(&mut h, o));
            }
        }
        h.update(b"recent");
        for (key, id) in self.orders.client_ids.recent() {
            h.update(&key.account.0.to_le_bytes());
            hash_client_id(&mut h, key.client_order_id.as_bytes());
            h.update(&id.0.to_le_bytes());
        }
        h.digest()
    }
}

fn hash_client_id(h: &mut Xxh3, bytes: &[u8]) {
    // Length-prefixed, so that adjacent ids cannot run into each other.
    h.update(&[u8::try_from(bytes.len()).unwrap_or(u8::MAX)]);
    h.update(bytes);
}

fn hash_order(h: &mut Xxh3, o: &Order) {
    h.update(&o.id.0.to_le_bytes());
    h.update(&o.account.0.to_le_bytes());
    hash_client_id(h, o.client_order_id.as_bytes());
    h.update(&o.price.0.to_le_bytes());
    for v in [
        o.quantity().0,
        o.remaining.0,
        o.filled.0,
        o.created.0,
        o.updated.0,
    ] {
        h.update(&v.to_le_bytes());
    }
    h.update(&[
        o.side as u8,
        o.time_in_force as u8,
        u8::from(o.post_only),
        o.stp as u8,
    ]);
}
