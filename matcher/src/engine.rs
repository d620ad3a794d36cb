//! The engine: validates each command, changes the books, and reports events.
//!
//! # Semantics, precisely
//!
//! These rules are the contract the property tests' reference book is written against.
//!
//! **Sequence and ids.** Every event takes the next sequence number, starting at 1. Every
//! accepted new order takes the next order id, starting at 1. Rejected commands change
//! nothing but the sequence.
//!
//! **New order** checks, in this order, and rejects with the first that fails:
//! unknown market; invalid order type (market + GTC, market + post-only, post-only + IOC or
//! FOK); price not on tick; price out of band; zero quantity; quantity not on lot; quantity
//! above the market maximum; duplicate client order id (live, or among the last `window`
//! finished orders of the engine); book full (a GTC order when the market already holds its
//! maximum of resting orders). Then it is `Accepted` and:
//! 1. post-only, and its price reaches the opposite best: `Cancelled(post_only_would_cross)`
//!    for the whole quantity, `Done`;
//! 2. FOK, and the opposite side cannot fill it completely (see self-trade prevention
//!    below): `Cancelled(fok_not_fillable)`, `Done`; the book is untouched;
//! 3. otherwise it matches (below). Then: nothing left → `Done`; GTC → the remainder rests
//!    at the back of its level; IOC or market → `Cancelled(ioc_remainder)`, `Done`.
//!
//! **Matching.** Best opposite level first, oldest order first within a level, while the
//! level's price is at or better than the taker's limit (market orders have none). A trade
//! is at the maker's price for the smaller remaining quantity: `Trade`, then `Done` for a
//! maker that is filled. When the maker belongs to the taker's account, the taker's
//! self-trade-prevention mode decides, and no trade happens:
//! - cancel newest: `Cancelled` the taker's remainder; matching stops;
//! - cancel oldest: `Cancelled` + `Done` the maker; matching goes on;
//! - cancel both: `Cancelled` + `Done` the maker, then `Cancelled` the taker's remainder;
//!   matching stops;
//! - decrement and cancel: both lose the smaller remaining quantity d: `Cancelled` the
//!   maker by d (plus `Done` if nothing is left), then `Cancelled` the taker by d; matching
//!   goes on while the taker has quantity. A decrement lowers an order's total quantity,
//!   so for every live order quantity = filled + remaining.
//!
//! A FOK order is fillable when the other accounts' quantity it would reach before
//! meeting its own account's order (or, under cancel oldest, all of it) covers it.
//!
//! **Cancel** (by id, or by client order id among live orders) of an order that is not
//! live or belongs to another account rejects `unknown_order`. Otherwise
//! `Cancelled(user)` for the remainder, `Done`.
//!
//! **Amend** checks: unknown order; nothing to amend (neither price nor quantity given);
//! price on tick and in band; quantity non-zero, on lot, within the maximum; quantity above
//! what has filled. Same price and no larger quantity: the order keeps its place, its
//! remainder shrinks by the decrease, `Amended(kept_priority)`. Otherwise a post-only order
//! whose new price reaches the opposite best rejects `post_only_would_cross`, unchanged;
//! any other order leaves its level, takes its new price and quantity,
//! `Amended(!kept_priority)`, matches as a taker if its new price crosses, and rests at the
//! back of its new level with whatever is left (or is `Done`).
//!
//! **Cancel-all** cancels the account's resting orders (in one market, if given) oldest
//! first (by acceptance, i.e. order id; an amend does not change an order's age), each `Cancelled(user)` + `Done`. An unknown market rejects `unknown_market`.

use crate::accounts::Accounts;
use crate::book::Book;
use crate::client_ids::{ClientIdState, ClientIds, ClientKey};
use crate::command::{Amend, Cancel, CancelAll, Command, CommandKind, NewOrder, OrderRef};
use crate::emit::Out;
use crate::event::{
    Accepted, Amended, CancelReason, CommandType, Event, EventKind, RejectReason, Rejected,
};
use crate::market::MarketConfig;
use crate::matching::{Taker, fok_fillable, match_taker};
use crate::pool::{Order, OrderPool};
use crate::resting::Orders;
use crate::types::{
    AccountId, ClientOrderId, MarketId, OrderId, OrderType, Quantity, Seq, TimeInForce, Timestamp,
};
use crate::validate::{check_price, check_quantity};

/// How an engine is built.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EngineConfig {
    /// The markets this engine owns.
    pub markets: Vec<MarketConfig>,
    /// How many finished orders' client order ids stay reserved against reuse.
    pub client_id_window: u32,
}

/// Why an [`EngineConfig`] is not acceptable.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EngineConfigError {
    /// Two markets share an id.
    #[error("market id {0} is configured twice")]
    DuplicateMarketId(u32),
    /// Two markets share a symbol.
    #[error("a market symbol is configured twice")]
    DuplicateSymbol,
    /// The markets' resting-order limits add up to more slots than the pool can index.
    #[error("the markets' resting order limits add up to more than {max}")]
    TooManyOrders {
        /// The pool's limit.
        max: u64,
    },
}

/// A deterministic, single-threaded matching engine for a set of markets.
#[derive(Debug)]
pub struct Engine {
    pub(crate) books: Vec<Book>,
    /// `(market id, index into books)`, sorted by id.
    pub(crate) market_index: Vec<(MarketId, u32)>,
    pub(crate) orders: Orders,
    pub(crate) out: Out,
    pub(crate) next_order_id: u64,
    pub(crate) client_id_window: u32,
    /// A snapshot in progress (see the `snapshot` module).
    pub(crate) pending_snapshot: Option<crate::snapshot::PendingSnapshot>,
}

impl Engine {
    /// Builds an engine with every pool, map and ladder allocated up front.
    ///
    /// # Errors
    /// [`EngineConfigError`] for duplicate markets or an unindexable pool size.
    pub fn new(config: EngineConfig) -> Result<Self, EngineConfigError> {
        let mut market_index = Vec::with_capacity(config.markets.len());
        let mut symbols = Vec::with_capacity(config.markets.len());
        let mut capacity: u64 = 0;
        for (i, m) in config.markets.iter().enumerate() {
            if market_index.iter().any(|(id, _)| *id == m.id()) {
                return Err(EngineConfigError::DuplicateMarketId(m.id().0));
            }
            if symbols.contains(&m.symbol()) {
                return Err(EngineConfigError::DuplicateSymbol);
            }
            symbols.push(m.symbol());
            let index = u32::try_from(i).map_err(|_| EngineConfigError::TooManyOrders {
                max: u64::from(u32::MAX - 1),
            })?;
            market_index.push((m.id(), index));
            capacity += u64::from(m.max_resting_orders());
        }
        market_index.sort_unstable_by_key(|(id, _)| *id);
        let max = u64::from(u32::MAX - 1);
        let capacity = u32::try_from(capacity)
            .ok()
            .filter(|c| u64::from(*c) <= max)
            .ok_or(EngineConfigError::TooManyOrders { max })?;
        let live = capacity as usize;
        let client_id_window = config.client_id_window;
        Ok(Self {
            client_id_window,
            pending_snapshot: None,
            books: config.markets.into_iter().map(Book::new).collect(),
            market_index,
            orders: Orders {
                pool: OrderPool::new(capacity),
                ids: crate::order_ids::OrderIds::new(live),
                client_ids: ClientIds::new(live, config.client_id_window as usize),
                accounts: Accounts::new(live),
            },
            out: Out {
                seq: 0,
                timestamp: Timestamp(0),
                events: Vec::with_capacity(4096),
            },
            next_order_id: 1,
        })
    }

    /// Applies one command and returns the events it produced, in order. The slice is
    /// valid until the next call.
    pub fn process(&mut self, command: &Command) -> &[Event] {
        self.out.events.clear();
        self.out.timestamp = command.timestamp;
        match &command.kind {
            CommandKind::NewOrder(o) => self.new_order(o, command.timestamp),
            CommandKind::Cancel(c) => self.cancel(c),
            CommandKind::Amend(a) => self.amend(a, command.timestamp),
            CommandKind::CancelAll(c) => self.cancel_all(c),
        }
        &self.out.events
    }

    /// The sequence number of the last event emitted (0 before any).
    #[must_use]
    pub fn last_seq(&self) -> Seq {
        Seq(self.out.seq)
    }

    /// The id the next accepted order will get.
    #[must_use]
    pub fn next_order_id(&self) -> OrderId {
        OrderId(self.next_order_id)
    }

    #[inline]
    pub(crate) fn book_index(&self, market: MarketId) -> Option<u32> {
        self.market_index
            .binary_search_by_key(&market, |(id, _)| *id)
            .ok()
            .map(|i| self.market_index[i].1)
    }

    #[inline]
    fn reject(
        &mut self,
        command: CommandType,
        account: AccountId,
        client_order_id: Option<ClientOrderId>,
        order_id: Option<OrderId>,
        reason: RejectReason,
    ) {
        self.out.push(EventKind::Rejected(Rejected {
            command,
            account,
            client_order_id,
            order_id,
            reason,
        }));
    }

    fn new_order(&mut self, o: &NewOrder, timestamp: Timestamp) {
        let reject = |engine: &mut Self, order_id: Option<OrderId>, reason| {
            engine.reject(
                CommandType::NewOrder,
                o.account,
                Some(o.client_order_id),
                order_id,
                reason,
            );
        };
        let Some(book_index) = self.book_index(o.market) else {
            return reject(self, None, RejectReason::UnknownMarket);
        };
        let book = &self.books[book_index as usize];
        let config = book.config;
        let invalid_type = match o.order_type {
            OrderType::Market => o.time_in_force == TimeInForce::Gtc || o.post_only,
            OrderType::Limit { .. } => o.post_only && o.time_in_force != TimeInForce::Gtc,
        };
        if invalid_type {
            return reject(self, None, RejectReason::InvalidOrderType);
        }
        let limit = match o.order_type {
            OrderType::Limit { price } => match check_price(&config, price) {
                Ok(()) => Some(config.level_index(price)),
                Err(reason) => return reject(self, None, reason),
            },
            OrderType::Market => None,
        };
        if let Err(reason) = check_quantity(&config, o.quantity) {
            return reject(self, None, reason);
        }
        let key = ClientKey {
            account: o.account,
            client_order_id: o.client_order_id,
        };
        if let Some(state) = self
            .orders
            .client_ids
            .get(&self.orders.pool, &key, key.hash())
        {
            let existing = match state {
                ClientIdState::Live(slot) => self.orders.pool.get(slot).id,
                ClientIdState::Recent(id) => id,
            };
            return reject(self, Some(existing), RejectReason::Duplicate);
        }
        if o.time_in_force == TimeInForce::Gtc && book.resting >= config.max_resting_orders() {
            return reject(self, None, RejectReason::BookFull);
        }

        let id = OrderId(self.next_order_id);
        self.next_order_id += 1;
        self.out.push(EventKind::Accepted(Accepted {
            order_id: id,
            order: *o,
        }));
        let market = config.id();
        let mut taker = Taker {
            id,
            account: o.account,
            side: o.side,
            limit,
            remaining: o.quantity,
            filled: Quantity::ZERO,
            stp: o.stp,
        };

        let book = &mut self.books[book_index as usize];
        if o.post_only && limit.is_some_and(|l| book.crosses(o.side, l)) {
            self.out.cancelled(
                id,
                o.account,
                market,
                o.quantity,
                Quantity::ZERO,
                CancelReason::PostOnlyWouldCross,
            );
            self.out.done(id, o.account, market, Quantity::ZERO);
            self.orders
                .client_ids
                .retire(&self.orders.pool, key, id, None);
            return;
        }
        if o.time_in_force == TimeInForce::Fok && !fok_fillable(book, &self.orders.pool, &taker) {
            self.out.cancelled(
                id,
                o.account,
                market,
                o.quantity,
                Quantity::ZERO,
                CancelReason::FokNotFillable,
            );
            self.out.done(id, o.account, market, Quantity::ZERO);
            self.orders
                .client_ids
                .retire(&self.orders.pool, key, id, None);
            return;
        }

        match_taker(book, &mut self.orders, &mut self.out, &mut taker);

        if taker.remaining.is_zero() {
            self.out.done(id, o.account, market, taker.filled);
            self.orders
                .client_ids
                .retire(&self.orders.pool, key, id, None);
        } else if o.time_in_force == TimeInForce::Gtc {
            let (Some(level), OrderType::Limit { price }) = (limit, o.order_type) else {
                // Unreachable: GTC market orders were rejected above.
                return;
            };
            let order = Order {
                id,
                account: o.account,
                client_order_id: o.client_order_id,
                price,
                remaining: taker.remaining,
                filled: taker.filled,
                created: timestamp,
                updated: timestamp,
                book: book_index,
                level,
                side: o.side,
                time_in_force: o.time_in_force,
                post_only: o.post_only,
                stp: o.stp,
                ..Order::default()
            };
            // Cannot fail: the book-full check above bounds resting orders by the pool.
            if let Some(slot) = self.orders.insert(order) {
                book.own_ladder_mut(o.side)
                    .push_back(&mut self.orders.pool, level, slot);
                book.resting += 1;
            }
        } else {
            self.out.cancelled(
                id,
                o.account,
                market,
                taker.remaining,
                Quantity::ZERO,
                CancelReason::IocRemainder,
            );
            self.out.done(id, o.account, market, taker.filled);
            self.orders
                .client_ids
                .retire(&self.orders.pool, key, id, None);
        }
    }

    fn cancel(&mut self, c: &Cancel) {
        let Some(slot) = self.orders.resolve(c.account, c.order) else {
            let (client_order_id, order_id) = split_ref(c.order);
            return self.reject(
                CommandType::Cancel,
                c.account,
                client_order_id,
                order_id,
                RejectReason::UnknownOrder,
            );
        };
        self.cancel_slot(slot);
    }

    /// Cancels a resting order completely: `Cancelled(user)`, `Done`.
    fn cancel_slot(&mut self, slot: u32) {
        let o = *self.orders.pool.get(slot);
        let book = &mut self.books[o.book as usize];
        book.own_ladder_mut(o.side)
            .remove(&mut self.orders.pool, slot);
        book.resting -= 1;
        let market = book.config.id();
        self.out.cancelled(
            o.id,
            o.account,
            market,
            o.remaining,
            Quantity::ZERO,
            CancelReason::User,
        );
        self.out.done(o.id, o.account, market, o.filled);
        self.orders.forget(slot);
    }

    fn cancel_all(&mut self, c: &CancelAll) {
        let only = match c.market {
            None => None,
            Some(m) => match self.book_index(m) {
                Some(i) => Some(i),
                None => {
                    return self.reject(
                        CommandType::CancelAll,
                        c.account,
                        None,
                        None,
                        RejectReason::UnknownMarket,
                    );
                }
            },
        };
        let mut cursor = self.orders.accounts.head(c.account);
        while let Some(slot) = cursor {
            let o = self.orders.pool.get(slot);
            cursor = (o.acct_next != crate::pool::NIL).then_some(o.acct_next);
            if only.is_none_or(|b| b == o.book) {
                self.cancel_slot(slot);
            }
        }
    }

    fn amend(&mut self, a: &Amend, timestamp: Timestamp) {
        let (client_order_id, order_id) = split_ref(a.order);
        let reject = |engine: &mut Self, order_id: Option<OrderId>, reason| {
            engine.reject(
                CommandType::Amend,
                a.account,
                client_order_id,
                order_id,
                reason,
            );
        };
        let Some(slot) = self.orders.resolve(a.account, a.order) else {
            return reject(self, order_id, RejectReason::UnknownOrder);
        };
        let o = *self.orders.pool.get(slot);
        if a.price.is_none() && a.quantity.is_none() {
            return reject(self, Some(o.id), RejectReason::NothingToAmend);
        }
        let book_index = o.book;
        let config = self.books[book_index as usize].config;
        if let Some(price) = a.price
            && let Err(reason) = check_price(&config, price)
        {
            return reject(self, Some(o.id), reason);
        }
        if let Some(quantity) = a.quantity {
            if let Err(reason) = check_quantity(&config, quantity) {
                return reject(self, Some(o.id), reason);
            }
            if quantity <= o.filled {
                return reject(self, Some(o.id), RejectReason::QuantityBelowFilled);
            }
        }
        let price = a.price.unwrap_or(o.price);
        let quantity = a.quantity.unwrap_or(o.quantity());
        let market = config.id();
        let book = &mut self.books[book_index as usize];

        if price == o.price && quantity <= o.quantity() {
            let decrease = Quantity(o.quantity().0 - quantity.0);
            let order = self.orders.pool.get_mut(slot);
            order.remaining.0 -= decrease.0;
            order.updated = timestamp;
            let remaining = order.remaining;
            book.own_ladder_mut(o.side).reduce(o.level, decrease);
            self.out.push(EventKind::Amended(Amended {
                order_id: o.id,
                account: o.account,
                market,
                price,
                quantity,
                remaining,
                kept_priority: true,
            }));
            return;
        }

        let level = config.level_index(price);
        let crosses = book.crosses(o.side, level);
        if o.post_only && crosses {
            return reject(self, Some(o.id), RejectReason::PostOnlyWouldCross);
        }
        book.own_ladder_mut(o.side)
            .remove(&mut self.orders.pool, slot);
        let remaining = Quantity(quantity.0 - o.filled.0);
        self.out.push(EventKind::Amended(Amended {
            order_id: o.id,
            account: o.account,
            market,
            price,
            quantity,
            remaining,
            kept_priority: false,
        }));
        let mut taker = Taker {
            id: o.id,
            account: o.account,
            side: o.side,
            limit: Some(level),
            remaining,
            filled: o.filled,
            stp: o.stp,
        };
        if crosses {
            match_taker(book, &mut self.orders, &mut self.out, &mut taker);
        }
        {
            let order = self.orders.pool.get_mut(slot);
            order.price = price;
            order.remaining = taker.remaining;
            order.filled = taker.filled;
            order.updated = timestamp;
        }
        if taker.remaining.is_zero() {
            book.resting -= 1;
            self.out.done(o.id, o.account, market, taker.filled);
            self.orders.forget(slot);
        } else {
            book.own_ladder_mut(o.side)
                .push_back(&mut self.orders.pool, level, slot);
        }
    }
}

fn split_ref(order: OrderRef) -> (Option<ClientOrderId>, Option<OrderId>) {
    match order {
        OrderRef::Id(id) => (None, Some(id)),
        OrderRef::Client(c) => (Some(c), None),
    }
}
