//! Finding, reading and taking out resting orders by where they are.

use matcher::{AccountId, MarketId, OrderRef, Price, Side};

use super::Reference;
use super::book::RefOrder;

/// Where a resting order is.
#[derive(Clone, Copy, Debug)]
pub(super) struct Loc {
    pub(super) book: usize,
    pub(super) side: Side,
    pub(super) price: Price,
    pub(super) index: usize,
}

impl Reference {
    pub(super) fn book(&self, market: MarketId) -> Option<usize> {
        self.books.iter().position(|b| b.config.id() == market)
    }

    pub(super) fn find(&self, pred: impl Fn(&RefOrder) -> bool) -> Option<Loc> {
        for (book, b) in self.books.iter().enumerate() {
            for side in [Side::Buy, Side::Sell] {
                for (price, level) in b.side(side) {
                    if let Some(index) = level.iter().position(&pred) {
                        return Some(Loc {
                            book,
                            side,
                            price: *price,
                            index,
                        });
                    }
                }
            }
        }
        None
    }

    pub(super) fn get(&self, loc: Loc) -> &RefOrder {
        &self.books[loc.book].side(loc.side)[&loc.price][loc.index]
    }

    pub(super) fn get_mut(&mut self, loc: Loc) -> &mut RefOrder {
        self.books[loc.book]
            .side_mut(loc.side)
            .get_mut(&loc.price)
            .expect("located level")
            .get_mut(loc.index)
            .expect("located order")
    }

    /// Takes the order at `loc` off its level (dropping the level if it empties).
    pub(super) fn take(&mut self, loc: Loc) -> RefOrder {
        let side = self.books[loc.book].side_mut(loc.side);
        let level = side.get_mut(&loc.price).expect("located level");
        let o = level.remove(loc.index).expect("located order");
        if level.is_empty() {
            side.remove(&loc.price);
        }
        o
    }

    /// `account`'s live order named by `r`.
    pub(super) fn resolve(&self, account: AccountId, r: OrderRef) -> Option<Loc> {
        match r {
            OrderRef::Id(id) => self.find(|o| o.id == id && o.account == account),
            OrderRef::Client(c) => self.find(|o| o.client_order_id == c && o.account == account),
        }
    }
}
