//! One market's book: each side a `BTreeMap` from price to a FIFO queue of orders.

use std::collections::{BTreeMap, VecDeque};

use matcher::{
    AccountId, ClientOrderId, MarketConfig, MarketId, OrderId, OrderView, Price, Quantity,
    RejectReason, Side, StpMode, TimeInForce, Timestamp,
};

/// A resting order of the reference book.
#[derive(Clone, Debug)]
pub(super) struct RefOrder {
    pub(super) id: OrderId,
    pub(super) market: MarketId,
    pub(super) account: AccountId,
    pub(super) client_order_id: ClientOrderId,
    pub(super) side: Side,
    pub(super) price: Price,
    /// Total: filled + remaining, always.
    pub(super) quantity: u64,
    pub(super) remaining: u64,
    pub(super) filled: u64,
    pub(super) post_only: bool,
    pub(super) stp: StpMode,
    pub(super) created: Timestamp,
    pub(super) updated: Timestamp,
}

impl RefOrder {
    pub(super) fn view(&self) -> OrderView {
        OrderView {
            order_id: self.id,
            market: self.market,
            account: self.account,
            client_order_id: self.client_order_id,
            side: self.side,
            price: self.price,
            quantity: Quantity(self.quantity),
            remaining: Quantity(self.remaining),
            filled: Quantity(self.filled),
            time_in_force: TimeInForce::Gtc,
            post_only: self.post_only,
            stp: self.stp,
            created: self.created,
            updated: self.updated,
        }
    }
}

/// One side: price → FIFO queue, oldest at the front.
type Ladder = BTreeMap<Price, VecDeque<RefOrder>>;

/// One market.
#[derive(Clone, Debug)]
pub(super) struct RefBook {
    pub(super) config: MarketConfig,
    pub(super) bids: Ladder,
    pub(super) asks: Ladder,
}

impl RefBook {
    pub(super) fn side(&self, side: Side) -> &Ladder {
        match side {
            Side::Buy => &self.bids,
            Side::Sell => &self.asks,
        }
    }

    pub(super) fn side_mut(&mut self, side: Side) -> &mut Ladder {
        match side {
            Side::Buy => &mut self.bids,
            Side::Sell => &mut self.asks,
        }
    }

    /// Best price of `side`: highest bid, lowest ask.
    pub(super) fn best(&self, side: Side) -> Option<Price> {
        match side {
            Side::Buy => self.bids.keys().next_back().copied(),
            Side::Sell => self.asks.keys().next().copied(),
        }
    }

    /// Every order, bids best first then asks best first, FIFO within a level.
    pub(super) fn orders(&self) -> impl Iterator<Item = &RefOrder> {
        self.bids
            .values()
            .rev()
            .flatten()
            .chain(self.asks.values().flatten())
    }

    pub(super) fn count(&self) -> usize {
        self.orders().count()
    }

    /// Whether a limit order of `side` at `price` reaches the opposite best.
    pub(super) fn reaches(&self, side: Side, price: Price) -> bool {
        self.best(side.opposite())
            .is_some_and(|best| may_trade(side, Some(price), best))
    }

    pub(super) fn price_check(&self, price: Price) -> Option<RejectReason> {
        let tick = i64::try_from(self.config.tick_size()).expect("small tick");
        if price.0 % tick != 0 {
            Some(RejectReason::PriceNotOnTick)
        } else if price < self.config.min_price() || price > self.config.max_price() {
            Some(RejectReason::PriceOutOfBand)
        } else {
            None
        }
    }

    pub(super) fn quantity_check(&self, quantity: Quantity) -> Option<RejectReason> {
        if quantity.0 == 0 {
            Some(RejectReason::ZeroQuantity)
        } else if !quantity.0.is_multiple_of(self.config.lot_size()) {
            Some(RejectReason::QuantityNotOnLot)
        } else if quantity > self.config.max_quantity() {
            Some(RejectReason::QuantityTooLarge)
        } else {
            None
        }
    }
}

/// Whether a taker of `side` with limit `limit` (none: market) may trade at `level`.
pub(super) fn may_trade(side: Side, limit: Option<Price>, level: Price) -> bool {
    match (side, limit) {
        (_, None) => true,
        (Side::Buy, Some(limit)) => level <= limit,
        (Side::Sell, Some(limit)) => level >= limit,
    }
}
