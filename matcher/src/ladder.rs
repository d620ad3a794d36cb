//! One side of a book: a dense array of price levels over the market's band, a bitmap of
//! the non-empty ones, and the best level cached.
//!
//! Finding a level is an index computation; finding the next best level after the best
//! one empties is one bitmap search. Each level is an intrusive FIFO queue of pool slots.

use crate::bitset::LevelBitset;
use crate::pool::{NIL, OrderPool};
use crate::types::{Quantity, Side};

/// One price level: a FIFO queue of orders and their open total.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Level {
    pub(crate) head: u32,
    pub(crate) tail: u32,
    pub(crate) count: u32,
    pub(crate) total: Quantity,
}

impl Level {
    const EMPTY: Level = Level {
        head: NIL,
        tail: NIL,
        count: 0,
        total: Quantity(0),
    };
}

/// The levels of one side.
#[derive(Debug)]
pub(crate) struct Ladder {
    side: Side,
    pub(crate) levels: Vec<Level>,
    occupied: LevelBitset,
    /// The best non-empty level: highest index for bids, lowest for asks.
    best: Option<u32>,
}

impl Ladder {
    pub(crate) fn new(side: Side, len: u32) -> Self {
        Self {
            side,
            levels: vec![Level::EMPTY; len as usize],
            occupied: LevelBitset::new(len),
            best: None,
        }
    }

    /// The best non-empty level's index.
    #[inline]
    pub(crate) fn best(&self) -> Option<u32> {
        self.best
    }

    /// The next non-empty level worse than `index` (lower for bids, higher for asks).
    #[inline]
    pub(crate) fn next_worse(&self, index: u32) -> Option<u32> {
        match self.side {
            Side::Buy => index
                .checked_sub(1)
                .and_then(|i| self.occupied.prev_at_or_before(i)),
            Side::Sell => index
                .checked_add(1)
                .and_then(|i| self.occupied.next_at_or_after(i)),
        }
    }

    /// Whether level `a` is better than level `b` for `side`.
    #[inline]
    fn better(side: Side, a: u32, b: u32) -> bool {
        match side {
            Side::Buy => a > b,
            Side::Sell => a < b,
        }
    }

    /// Appends `slot` (whose `remaining` is set) to the back of level `index`.
    #[inline]
    pub(crate) fn push_back(&mut self, pool: &mut OrderPool, index: u32, slot: u32) {
        let level = &mut self.levels[index as usize];
        let remaining = pool.get(slot).remaining;
        let tail = level.tail;
        {
            let order = pool.get_mut(slot);
            order.prev = tail;
            order.next = NIL;
            order.level = index;
        }
        if tail == NIL {
            level.head = slot;
            self.occupied.set(index);
            let side = self.side;
            if self.best.is_none_or(|b| Self::better(side, index, b)) {
                self.best = Some(index);
            }
        } else {
            pool.get_mut(tail).next = slot;
        }
        level.tail = slot;
        level.count += 1;
        level.total.0 += remaining.0;
    }

    /// Unlinks `slot` from its level, which must hold it; its open quantity leaves the
    /// level total. Keeps the bitmap and the best level current.
    #[inline]
    pub(crate) fn remove(&mut self, pool: &mut OrderPool, slot: u32) {
        let (index, prev, next, remaining) = {
            let o = pool.get(slot);
            (o.level, o.prev, o.next, o.remaining)
        };
        let level = &mut self.levels[index as usize];
        if prev == NIL {
            level.head = next;
        } else {
            pool.get_mut(prev).next = next;
        }
        if next == NIL {
            level.tail = prev;
        } else {
            pool.get_mut(next).prev = prev;
        }
        level.count -= 1;
        level.total.0 -= remaining.0;
        if level.count == 0 {
            self.occupied.clear(index);
            if self.best == Some(index) {
                self.best = self.next_worse(index);
            }
        }
    }

    /// Lowers the level total of the level holding `slot` by `by` (a fill or a decrement
    /// of an order that stays in the queue).
    #[inline]
    pub(crate) fn reduce(&mut self, index: u32, by: Quantity) {
        self.levels[index as usize].total.0 -= by.0;
    }

    /// The level at `index`.
    #[inline]
    pub(crate) fn level(&self, index: u32) -> &Level {
        &self.levels[index as usize]
    }
}
