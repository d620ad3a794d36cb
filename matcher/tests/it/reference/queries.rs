//! What the properties compare with the engine: resting orders, best prices and depth.

use std::collections::VecDeque;

use matcher::{AccountId, Depth, DepthLevel, MarketId, OrderId, OrderView, Price, Quantity, Side};

use super::Reference;
use super::book::{RefBook, RefOrder};

impl Reference {
    /// `market`'s resting orders in priority order (bids best first, FIFO within a
    /// level, then asks best first); `None` for an unknown market.
    pub(crate) fn resting_orders(&self, market: MarketId) -> Option<Vec<OrderView>> {
        let b = self.book(market)?;
        Some(self.books[b].orders().map(RefOrder::view).collect())
    }

    /// Best bid and best ask of `market` (none for an unknown market).
    pub(crate) fn best_prices(&self, market: MarketId) -> (Option<Price>, Option<Price>) {
        self.book(market).map_or((None, None), |b| {
            (
                self.books[b].best(Side::Buy),
                self.books[b].best(Side::Sell),
            )
        })
    }

    /// Every resting order of every market.
    pub(crate) fn all_resting(&self) -> Vec<OrderView> {
        self.books
            .iter()
            .flat_map(RefBook::orders)
            .map(RefOrder::view)
            .collect()
    }

    /// A live order by id.
    pub(crate) fn order(&self, id: OrderId) -> Option<OrderView> {
        self.books
            .iter()
            .flat_map(RefBook::orders)
            .find(|o| o.id == id)
            .map(RefOrder::view)
    }

    /// `account`'s resting orders, oldest (lowest id) first, in every market or in one.
    pub(crate) fn open_orders(
        &self,
        account: AccountId,
        market: Option<MarketId>,
    ) -> Vec<OrderView> {
        let mut out: Vec<OrderView> = self
            .all_resting()
            .into_iter()
            .filter(|o| o.account == account && market.is_none_or(|m| m == o.market))
            .collect();
        out.sort_by_key(|o| o.order_id);
        out
    }

    /// The top `levels` levels of each side of `market`, aggregated.
    pub(crate) fn depth(&self, market: MarketId, levels: usize) -> Option<Depth> {
        let b = &self.books[self.book(market)?];
        let agg = |(price, queue): (&Price, &VecDeque<RefOrder>)| DepthLevel {
            price: *price,
            quantity: Quantity(queue.iter().map(|o| o.remaining).sum()),
            orders: u32::try_from(queue.len()).expect("few orders"),
        };
        Some(Depth {
            bids: b.bids.iter().rev().take(levels).map(agg).collect(),
            asks: b.asks.iter().take(levels).map(agg).collect(),
        })
    }
}
