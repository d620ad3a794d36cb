//! Read-only views of the engine's state: depth, single orders, an account's orders.
//!
//! Queries are not on the hot path: they may allocate the vectors they return.

use crate::client_ids::{ClientIdState, ClientKey};
use crate::engine::Engine;
use crate::ladder::Ladder;
use crate::market::MarketConfig;
use crate::pool::{NIL, Order};
use crate::types::{
    AccountId, ClientOrderId, MarketId, OrderId, Price, Quantity, Side, StpMode, TimeInForce,
    Timestamp,
};

/// A resting order as the engine holds it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OrderView {
    /// Engine id.
    pub order_id: OrderId,
    /// Market.
    pub market: MarketId,
    /// Owner.
    pub account: AccountId,
    /// The owner's id for it.
    pub client_order_id: ClientOrderId,
    /// Side.
    pub side: Side,
    /// Limit price.
    pub price: Price,
    /// Total quantity (filled included).
    pub quantity: Quantity,
    /// Open on the book.
    pub remaining: Quantity,
    /// Filled so far.
    pub filled: Quantity,
    /// Always GTC for a resting order; kept for completeness.
    pub time_in_force: TimeInForce,
    /// Whether it was post-only.
    pub post_only: bool,
    /// Its self-trade-prevention mode.
    pub stp: StpMode,
    /// When it was accepted.
    pub created: Timestamp,
    /// When it last changed (fill, amend or decrement leave this alone except amend).
    pub updated: Timestamp,
}

/// One aggregated price level.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DepthLevel {
    /// Level price.
    pub price: Price,
    /// Total open quantity at the price.
    pub quantity: Quantity,
    /// Number of orders at the price.
    pub orders: u32,
}

/// Top levels of both sides, best first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Depth {
    /// Bids, highest price first.
    pub bids: Vec<DepthLevel>,
    /// Asks, lowest price first.
    pub asks: Vec<DepthLevel>,
}

/// A query named a market the engine does not have.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown market {0:?}")]
pub struct UnknownMarket(pub MarketId);

impl Engine {
    /// The markets, in configuration order.
    pub fn markets(&self) -> impl Iterator<Item = &MarketConfig> + '_ {
        self.books.iter().map(|b| &b.config)
    }

    /// One market's rules.
    #[must_use]
    pub fn market(&self, market: MarketId) -> Option<&MarketConfig> {
        self.book_index(market)
            .map(|i| &self.books[i as usize].config)
    }

    /// Number of orders resting in `market`.
    ///
    /// # Errors
    /// [`UnknownMarket`].
    pub fn resting_count(&self, market: MarketId) -> Result<u32, UnknownMarket> {
        let i = self.book_index(market).ok_or(UnknownMarket(market))?;
        Ok(self.books[i as usize].resting)
    }

    /// Best bid and best ask prices.
    ///
    /// # Errors
    /// [`UnknownMarket`].
    pub fn best_prices(
        &self,
        market: MarketId,
    ) -> Result<(Option<Price>, Option<Price>), UnknownMarket> {
        let i = self.book_index(market).ok_or(UnknownMarket(market))?;
        let b = &self.books[i as usize];
        Ok((
            b.bids.best().map(|l| b.config.level_price(l)),
            b.asks.best().map(|l| b.config.level_price(l)),
        ))
    }

    /// The top `levels` price levels of each side.
    ///
    /// # Errors
    /// [`UnknownMarket`].
    pub fn depth(&self, market: MarketId, levels: usize) -> Result<Depth, UnknownMarket> {
        let i = self.book_index(market).ok_or(UnknownMarket(market))?;
        let b = &self.books[i as usize];
        let side = |ladder: &Ladder| {
            let mut out = Vec::with_capacity(levels.min(64));
            let mut cursor = ladder.best();
            while let Some(index) = cursor {
                if out.len() == levels {
                    break;
                }
                let l = ladder.level(index);
                out.push(DepthLevel {
                    price: b.config.level_price(index),
                    quantity: l.total,
                    orders: l.count,
                });
                cursor = ladder.next_worse(index);
            }
            out
        };
        Ok(Depth {
            bids: side(&b.bids),
            asks: side(&b.asks),
        })
    }

    /// Every resting order of `market` in priority order: bids best level first, oldest
    /// first within a level, then asks likewise.
    ///
    /// # Errors
    /// [`UnknownMarket`].
    pub fn resting_orders(&self, market: MarketId) -> Result<Vec<OrderView>, UnknownMarket> {
        let i = self.book_index(market).ok_or(UnknownMarket(market))?;
        let b = &self.books[i as usize];
        let mut out = Vec::with_capacity(b.resting as usize);
        for ladder in [&b.bids, &b.asks] {
            self.for_each_in_ladder(ladder, |o| out.push(self.view(o)));
        }
        Ok(out)
    }

    /// Visits every order of `ladder` in priority order.
    pub(crate) fn for_each_in_ladder(&self, ladder: &Ladder, mut f: impl FnMut(&Order)) {
        let mut cursor = ladder.best();
        while let Some(index) = cursor {
            let mut slot = ladder.level(index).head;
            while slot != NIL {
                let o = self.orders.pool.get(slot);
                f(o);
                slot = o.next;
            }
            cursor = ladder.next_worse(index);
        }
    }

    /// A live order by id.
    #[must_use]
    pub fn order(&self, id: OrderId) -> Option<OrderView> {
        let slot = self.orders.ids.get(&self.orders.pool, id)?;
        Some(self.view(self.orders.pool.get(slot)))
    }

    /// A live order by its owner's client order id.
    #[must_use]
    pub fn order_by_client_id(
        &self,
        account: AccountId,
        client_order_id: ClientOrderId,
    ) -> Option<OrderView> {
        let key = ClientKey {
            account,
            client_order_id,
        };
        match self
            .orders
            .client_ids
            .get(&self.orders.pool, &key, key.hash())?
        {
            ClientIdState::Live(slot) => Some(self.view(self.orders.pool.get(slot))),
            ClientIdState::Recent(_) => None,
        }
    }

    /// `account`'s resting orders, oldest first, in every market or in one.
    #[must_use]
    pub fn open_orders(&self, account: AccountId, market: Option<MarketId>) -> Vec<OrderView> {
        let mut out = Vec::new();
        let mut cursor = self.orders.accounts.head(account);
        while let Some(slot) = cursor {
            let o = self.orders.pool.get(slot);
            let view = self.view(o);
            if market.is_none_or(|m| m == view.market) {
                out.push(view);
            }
            cursor = (o.acct_next != NIL).then_some(o.acct_next);
        }
        out
    }

    fn view(&self, o: &Order) -> OrderView {
        OrderView {
            order_id: o.id,
            market: self.books[o.book as usize].config.id(),
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
    }
}
