//! The pre-allocated pool of resting orders.
//!
//! Orders live in one `Vec` sized at start-up and are linked by `u32` slot indices into
//! two intrusive doubly-linked lists: their price level's FIFO queue and their account's
//! list. Removing an order from either is O(1), and no slot is ever allocated on the
//! heap after construction: a full pool is a reject, not growth.

use crate::types::{
    AccountId, ClientOrderId, OrderId, Price, Quantity, Side, StpMode, TimeInForce, Timestamp,
};

/// "No slot": the end of a list.
pub(crate) const NIL: u32 = u32::MAX;

/// One resting order and its list links.
///
/// Exactly two cache lines, aligned: the first holds everything matching and cancelling
/// read and write (ids, quantities, price, links, flags), the second what only acceptance,
/// queries and completion need (client order id, timestamps). Its total quantity is not
/// stored: for a live order it is always `filled + remaining`.
#[derive(Clone, Copy, Debug)]
#[repr(C, align(64))]
pub(crate) struct Order {
    // First cache line.
    pub(crate) id: OrderId,
    pub(crate) account: AccountId,
    /// Still open on the book.
    pub(crate) remaining: Quantity,
    /// Filled so far.
    pub(crate) filled: Quantity,
    pub(crate) price: Price,
    /// Previous and next order at the same price level (FIFO order).
    pub(crate) prev: u32,
    pub(crate) next: u32,
    /// Previous and next order of the same account (creation order).
    pub(crate) acct_prev: u32,
    pub(crate) acct_next: u32,
    /// Ladder index of `price`.
    pub(crate) level: u32,
    pub(crate) side: Side,
    pub(crate) stp: StpMode,
    pub(crate) post_only: bool,
    /// Whether the slot holds a resting order (free slots keep stale data).
    pub(crate) live: bool,
    // Second cache line.
    pub(crate) created: Timestamp,
    pub(crate) updated: Timestamp,
    /// Index of the book in the engine.
    pub(crate) book: u32,
    pub(crate) client_order_id: ClientOrderId,
    pub(crate) time_in_force: TimeInForce,
}

const _: () = assert!(size_of::<Order>() == 128);

impl Order {
    /// Total quantity, filled included.
    #[inline]
    pub(crate) fn quantity(&self) -> Quantity {
        Quantity(self.filled.0 + self.remaining.0)
    }
}

impl Default for Order {
    fn default() -> Self {
        Self {
            id: OrderId(0),
            account: AccountId(0),
            client_order_id: ClientOrderId::from_u64(0),
            price: Price(0),
            remaining: Quantity(0),
            filled: Quantity(0),
            created: Timestamp(0),
            updated: Timestamp(0),
            book: 0,
            level: 0,
            side: Side::Buy,
            time_in_force: TimeInForce::Gtc,
            post_only: false,
            stp: StpMode::CancelNewest,
            prev: NIL,
            next: NIL,
            acct_prev: NIL,
            acct_next: NIL,
            live: false,
        }
    }
}

/// Slots per copy-on-write chunk (about 40 KB): copying one takes a few microseconds, so
/// even a command that touches orders in many chunks (a sweep, a cancel whose neighbours
/// live elsewhere) is held up by little while a snapshot runs. Measured with 4,096-slot
/// chunks: a single command paid up to 5.9 ms in chunk copies at one million orders.
pub(crate) const CHUNK: usize = 256;

/// Fixed-capacity slab of [`Order`]s with a free list.
#[derive(Debug)]
pub(crate) struct OrderPool {
    slots: Vec<Order>,
    /// Free slot indices, used as a stack. Which slot an order gets is never observable.
    free: Vec<u32>,
    /// A snapshot being taken: the pool as it was when it began, copied chunk by chunk.
    cow: Option<CowCopy>,
}

/// The pool as it stood at one instant, copied lazily: a chunk is copied before its first
/// change after that instant, and the rest in the background of the matching loop.
#[derive(Debug)]
pub(crate) struct CowCopy {
    pub(crate) chunks: Vec<Option<Box<[Order]>>>,
    missing: usize,
    cursor: usize,
}

impl CowCopy {
    /// Whether every chunk has been copied.
    pub(crate) fn complete(&self) -> bool {
        self.missing == 0
    }
}

impl OrderPool {
    /// A pool of `capacity` free slots, all memory allocated now.
    pub(crate) fn new(capacity: u32) -> Self {
        let slots = vec![Order::default(); capacity as usize];
        // Pop from the end: hand out low slots first, which keeps a small book compact.
        let free = (0..capacity).rev().collect();
        Self {
            slots,
            free,
            cow: None,
        }
    }

    /// Takes a free slot, or `None` when the pool is exhausted.
    #[inline]
    pub(crate) fn alloc(&mut self, order: Order) -> Option<u32> {
        let slot = self.free.pop()?;
        self.before_write(slot);
        self.slots[slot as usize] = Order {
            live: true,
            ..order
        };
        Some(slot)
    }

    /// Returns a slot to the free list. The caller has unlinked it from every list.
    #[inline]
    pub(crate) fn release(&mut self, slot: u32) {
        self.before_write(slot);
        self.slots[slot as usize].live = false;
        self.free.push(slot);
    }

    /// Starts a copy-on-write copy of the pool as it is now.
    pub(crate) fn begin_copy(&mut self) {
        let n = self.slots.len().div_ceil(CHUNK);
        self.cow = Some(CowCopy {
            chunks: (0..n).map(|_| None).collect(),
            missing: n,
            cursor: 0,
        });
    }

    /// Copies up to `chunks` not yet copied chunks; hands the copy over once complete.
    pub(crate) fn continue_copy(&mut self, chunks: usize) -> Option<CowCopy> {
        let cow = self.cow.as_mut()?;
        let mut budget = chunks;
        while budget > 0 && cow.cursor < cow.chunks.len() {
            let c = cow.cursor;
            cow.cursor += 1;
            if cow.chunks[c].is_none() {
                cow.chunks[c] = Some(copy_chunk(&self.slots, c));
                cow.missing -= 1;
                budget -= 1;
            }
        }
        if cow.complete() {
            self.cow.take()
        } else {
            None
        }
    }

    /// Copies the chunk holding `slot` first if a snapshot still needs its old contents.
    #[inline]
    fn before_write(&mut self, slot: u32) {
        if let Some(cow) = &mut self.cow {
            let c = slot as usize / CHUNK;
            if cow.chunks[c].is_none() {
                cow.chunks[c] = Some(copy_chunk(&self.slots, c));
                cow.missing -= 1;
            }
        }
    }

    #[inline]
    pub(crate) fn get(&self, slot: u32) -> &Order {
        &self.slots[slot as usize]
    }

    #[inline]
    pub(crate) fn get_mut(&mut self, slot: u32) -> &mut Order {
        self.before_write(slot);
        &mut self.slots[slot as usize]
    }
}

fn copy_chunk(slots: &[Order], chunk: usize) -> Box<[Order]> {
    let start = chunk * CHUNK;
    let end = (start + CHUNK).min(slots.len());
    slots[start..end].to_vec().into_boxed_slice()
}
