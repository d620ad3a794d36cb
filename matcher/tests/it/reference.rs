//! A deliberately simple reference order book, written from the rules in the `engine`
//! module's documentation ("Semantics, precisely") and nothing else.
//!
//! It trades speed for obviousness: each side of a book is a `BTreeMap` from price to a
//! FIFO `VecDeque` of orders, every lookup is a linear scan, and the recent client order
//! id window is a `VecDeque`. It speaks the engine's own types ([`Command`] in,
//! [`Event`] out, [`OrderView`] and [`Depth`] for state), so the property tests can
//! compare the two with `assert_eq!`.

use std::collections::{BTreeMap, VecDeque};

use matcher::{
    Accepted, AccountId, Amend, Amended, Cancel, CancelAll, CancelReason, Cancelled, ClientOrderId,
    Command, CommandKind, CommandType, Depth, DepthLevel, Done, EngineConfig, Event, EventKind,
    MarketConfig, MarketId, NewOrder, OrderId, OrderRef, OrderType, OrderView, Price, Quantity,
    RejectReason, Rejected, Seq, Side, StpMode, TimeInForce, Timestamp, Trade,
};

/// A resting order of the reference book.
#[derive(Clone, Debug)]
struct RefOrder {
    id: OrderId,
    market: MarketId,
    account: AccountId,
    client_order_id: ClientOrderId,
    side: Side,
    price: Price,
    /// Total: filled + remaining, always.
    quantity: u64,
    remaining: u64,
    filled: u64,
    post_only: bool,
    stp: StpMode,
    created: Timestamp,
    updated: Timestamp,
}

impl RefOrder {
    fn view(&self) -> OrderView {
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
struct RefBook {
    config: MarketConfig,
    bids: Ladder,
    asks: Ladder,
}

impl RefBook {
    fn side(&self, side: Side) -> &Ladder {
        match side {
            Side::Buy => &self.bids,
            Side::Sell => &self.asks,
        }
    }

    fn side_mut(&mut self, side: Side) -> &mut Ladder {
        match side {
            Side::Buy => &mut self.bids,
            Side::Sell => &mut self.asks,
        }
    }

    /// Best price of `side`: highest bid, lowest ask.
    fn best(&self, side: Side) -> Option<Price> {
        match side {
            Side::Buy => self.bids.keys().next_back().copied(),
            Side::Sell => self.asks.keys().next().copied(),
        }
    }

    /// Every order, bids best first then asks best first, FIFO within a level.
    fn orders(&self) -> impl Iterator<Item = &RefOrder> {
        self.bids
            .values()
            .rev()
            .flatten()
            .chain(self.asks.values().flatten())
    }

    fn count(&self) -> usize {
        self.orders().count()
    }

    /// Whether a limit order of `side` at `price` reaches the opposite best.
    fn reaches(&self, side: Side, price: Price) -> bool {
        self.best(side.opposite())
            .is_some_and(|best| may_trade(side, Some(price), best))
    }

    fn price_check(&self, price: Price) -> Option<RejectReason> {
        let tick = i64::try_from(self.config.tick_size()).expect("small tick");
        if price.0 % tick != 0 {
            Some(RejectReason::PriceNotOnTick)
        } else if price < self.config.min_price() || price > self.config.max_price() {
            Some(RejectReason::PriceOutOfBand)
        } else {
            None
        }
    }

    fn quantity_check(&self, quantity: Quantity) -> Option<RejectReason> {
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
fn may_trade(side: Side, limit: Option<Price>, level: Price) -> bool {
    match (side, limit) {
        (_, None) => true,
        (Side::Buy, Some(limit)) => level <= limit,
        (Side::Sell, Some(limit)) => level >= limit,
    }
}

/// The event log of the command being processed, plus the client order id window
/// (which changes exactly when a `Done` is emitted).
#[derive(Clone, Debug)]
struct Log {
    seq: u64,
    timestamp: Timestamp,
    events: Vec<Event>,
    window: usize,
    /// Finished orders, oldest first.
    recent: VecDeque<(AccountId, ClientOrderId, OrderId)>,
}

impl Log {
    fn push(&mut self, kind: EventKind) {
        self.seq += 1;
        self.events.push(Event {
            seq: Seq(self.seq),
            timestamp: self.timestamp,
            kind,
        });
    }

    fn cancelled(&mut self, o: &Who, quantity: u64, remaining: u64, reason: CancelReason) {
        self.push(EventKind::Cancelled(Cancelled {
            order_id: o.id,
            account: o.account,
            market: o.market,
            quantity: Quantity(quantity),
            remaining: Quantity(remaining),
            reason,
        }));
    }

    /// `Done`, and the order's client order id joins the recent window.
    fn done(&mut self, o: &Who, filled: u64) {
        self.push(EventKind::Done(Done {
            order_id: o.id,
            account: o.account,
            market: o.market,
            filled: Quantity(filled),
        }));
        if self.window > 0 {
            if self.recent.len() == self.window {
                self.recent.pop_front();
            }
            self.recent.push_back((o.account, o.client_order_id, o.id));
        }
    }

    fn reject(
        &mut self,
        command: CommandType,
        account: AccountId,
        client_order_id: Option<ClientOrderId>,
        order_id: Option<OrderId>,
        reason: RejectReason,
    ) {
        self.push(EventKind::Rejected(Rejected {
            command,
            account,
            client_order_id,
            order_id,
            reason,
        }));
    }
}

/// What identifies an order in events.
#[derive(Clone, Copy, Debug)]
struct Who {
    id: OrderId,
    account: AccountId,
    market: MarketId,
    client_order_id: ClientOrderId,
}

impl RefOrder {
    fn who(&self) -> Who {
        Who {
            id: self.id,
            account: self.account,
            market: self.market,
            client_order_id: self.client_order_id,
        }
    }
}

/// An order while it takes liquidity.
#[derive(Clone, Copy, Debug)]
struct Taker {
    who: Who,
    side: Side,
    limit: Option<Price>,
    remaining: u64,
    filled: u64,
    stp: StpMode,
}

/// Matches `t` against the opposite side of `book`, one maker at a time.
fn match_taker(book: &mut RefBook, log: &mut Log, t: &mut Taker) {
    while t.remaining > 0 {
        let Some(price) = book.best(t.side.opposite()) else {
            break;
        };
        if !may_trade(t.side, t.limit, price) {
            break;
        }
        let opposite = book.side_mut(t.side.opposite());
        let level = opposite.get_mut(&price).expect("best level exists");
        let maker = level.front_mut().expect("levels are never empty");
        if maker.account == t.who.account {
            match t.stp {
                StpMode::CancelNewest => {
                    log.cancelled(&t.who, t.remaining, 0, CancelReason::SelfTradePrevention);
                    t.remaining = 0;
                }
                StpMode::CancelOldest | StpMode::CancelBoth => {
                    let m = level.pop_front().expect("levels are never empty");
                    log.cancelled(&m.who(), m.remaining, 0, CancelReason::SelfTradePrevention);
                    log.done(&m.who(), m.filled);
                    if t.stp == StpMode::CancelBoth {
                        log.cancelled(&t.who, t.remaining, 0, CancelReason::SelfTradePrevention);
                        t.remaining = 0;
                    }
                }
                StpMode::DecrementAndCancel => {
                    let d = t.remaining.min(maker.remaining);
                    maker.remaining -= d;
                    maker.quantity -= d;
                    log.cancelled(
                        &maker.who(),
                        d,
                        maker.remaining,
                        CancelReason::SelfTradePrevention,
                    );
                    if maker.remaining == 0 {
                        let m = level.pop_front().expect("levels are never empty");
                        log.done(&m.who(), m.filled);
                    }
                    t.remaining -= d;
                    log.cancelled(&t.who, d, t.remaining, CancelReason::SelfTradePrevention);
                }
            }
        } else {
            let q = t.remaining.min(maker.remaining);
            maker.remaining -= q;
            maker.filled += q;
            t.remaining -= q;
            t.filled += q;
            log.push(EventKind::Trade(Trade {
                market: maker.market,
                maker_order_id: maker.id,
                maker_account: maker.account,
                taker_order_id: t.who.id,
                taker_account: t.who.account,
                price,
                quantity: Quantity(q),
                aggressor: t.side,
                maker_remaining: Quantity(maker.remaining),
                taker_remaining: Quantity(t.remaining),
            }));
            if maker.remaining == 0 {
                let m = level.pop_front().expect("levels are never empty");
                log.done(&m.who(), m.filled);
            }
        }
        if level.is_empty() {
            opposite.remove(&price);
        }
    }
}

/// Whether a FOK taker could fill completely: the other accounts' quantity it reaches
/// before meeting its own account's order (under cancel oldest, all of it) covers it.
fn fok_fillable(book: &RefBook, t: &Taker) -> bool {
    let opposite = book.side(t.side.opposite());
    let levels: Vec<(&Price, &VecDeque<RefOrder>)> = match t.side {
        Side::Buy => opposite.iter().collect(),
        Side::Sell => opposite.iter().rev().collect(),
    };
    let mut reachable = 0;
    for (price, level) in levels {
        if !may_trade(t.side, t.limit, *price) {
            break;
        }
        for m in level {
            if m.account == t.who.account {
                if t.stp == StpMode::CancelOldest {
                    continue;
                }
                return false;
            }
            reachable += m.remaining;
            if reachable >= t.remaining {
                return true;
            }
        }
    }
    false
}

/// Where a resting order is.
#[derive(Clone, Copy, Debug)]
struct Loc {
    book: usize,
    side: Side,
    price: Price,
    index: usize,
}

/// The reference engine.
#[derive(Clone, Debug)]
pub(crate) struct Reference {
    books: Vec<RefBook>,
    log: Log,
    next_order_id: u64,
}

impl Reference {
    /// A reference with the markets and window of `config`.
    pub(crate) fn new(config: &EngineConfig) -> Self {
        Self {
            books: config
                .markets
                .iter()
                .map(|c| RefBook {
                    config: *c,
                    bids: BTreeMap::new(),
                    asks: BTreeMap::new(),
                })
                .collect(),
            log: Log {
                seq: 0,
                timestamp: Timestamp(0),
                events: Vec::new(),
                window: config.client_id_window as usize,
                recent: VecDeque::new(),
            },
            next_order_id: 1,
        }
    }

    /// Applies one command; returns its events.
    pub(crate) fn process(&mut self, command: &Command) -> Vec<Event> {
        self.log.events.clear();
        self.log.timestamp = command.timestamp;
        match &command.kind {
            CommandKind::NewOrder(o) => self.new_order(o, command.timestamp),
            CommandKind::Cancel(c) => self.cancel(c),
            CommandKind::Amend(a) => self.amend(a, command.timestamp),
            CommandKind::CancelAll(c) => self.cancel_all(c),
        }
        std::mem::take(&mut self.log.events)
    }

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

    fn book(&self, market: MarketId) -> Option<usize> {
        self.books.iter().position(|b| b.config.id() == market)
    }

    fn find(&self, pred: impl Fn(&RefOrder) -> bool) -> Option<Loc> {
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

    fn get(&self, loc: Loc) -> &RefOrder {
        &self.books[loc.book].side(loc.side)[&loc.price][loc.index]
    }

    fn get_mut(&mut self, loc: Loc) -> &mut RefOrder {
        self.books[loc.book]
            .side_mut(loc.side)
            .get_mut(&loc.price)
            .expect("located level")
            .get_mut(loc.index)
            .expect("located order")
    }

    /// Takes the order at `loc` off its level (dropping the level if it empties).
    fn take(&mut self, loc: Loc) -> RefOrder {
        let side = self.books[loc.book].side_mut(loc.side);
        let level = side.get_mut(&loc.price).expect("located level");
        let o = level.remove(loc.index).expect("located order");
        if level.is_empty() {
            side.remove(&loc.price);
        }
        o
    }

    /// `account`'s live order named by `r`.
    fn resolve(&self, account: AccountId, r: OrderRef) -> Option<Loc> {
        match r {
            OrderRef::Id(id) => self.find(|o| o.id == id && o.account == account),
            OrderRef::Client(c) => self.find(|o| o.client_order_id == c && o.account == account),
        }
    }

    fn new_order(&mut self, o: &NewOrder, now: Timestamp) {
        let reject = |log: &mut Log, order_id, reason| {
            log.reject(
                CommandType::NewOrder,
                o.account,
                Some(o.client_order_id),
                order_id,
                reason,
            );
        };
        let Some(bi) = self.book(o.market) else {
            return reject(&mut self.log, None, RejectReason::UnknownMarket);
        };
        let invalid_type = match o.order_type {
            OrderType::Market => o.time_in_force == TimeInForce::Gtc || o.post_only,
            OrderType::Limit { .. } => {
                o.post_only && matches!(o.time_in_force, TimeInForce::Ioc | TimeInForce::Fok)
            }
        };
        if invalid_type {
            return reject(&mut self.log, None, RejectReason::InvalidOrderType);
        }
        let limit = match o.order_type {
            OrderType::Limit { price } => Some(price),
            OrderType::Market => None,
        };
        if let Some(reason) = limit.and_then(|p| self.books[bi].price_check(p)) {
            return reject(&mut self.log, None, reason);
        }
        if let Some(reason) = self.books[bi].quantity_check(o.quantity) {
            return reject(&mut self.log, None, reason);
        }
        let live = self
            .find(|r| r.account == o.account && r.client_order_id == o.client_order_id)
            .map(|loc| self.get(loc).id);
        let recent = self
            .log
            .recent
            .iter()
            .find(|(a, c, _)| *a == o.account && *c == o.client_order_id)
            .map(|(_, _, id)| *id);
        if let Some(holder) = live.or(recent) {
            return reject(&mut self.log, Some(holder), RejectReason::Duplicate);
        }
        let book = &mut self.books[bi];
        if o.time_in_force == TimeInForce::Gtc
            && book.count() >= book.config.max_resting_orders() as usize
        {
            return reject(&mut self.log, None, RejectReason::BookFull);
        }

        let id = OrderId(self.next_order_id);
        self.next_order_id += 1;
        let log = &mut self.log;
        log.push(EventKind::Accepted(Accepted {
            order_id: id,
            order: *o,
        }));
        let who = Who {
            id,
            account: o.account,
            market: o.market,
            client_order_id: o.client_order_id,
        };
        let mut t = Taker {
            who,
            side: o.side,
            limit,
            remaining: o.quantity.0,
            filled: 0,
            stp: o.stp,
        };
        if o.post_only && limit.is_some_and(|p| book.reaches(o.side, p)) {
            log.cancelled(&who, o.quantity.0, 0, CancelReason::PostOnlyWouldCross);
            log.done(&who, 0);
            return;
        }
        if o.time_in_force == TimeInForce::Fok && !fok_fillable(book, &t) {
            log.cancelled(&who, o.quantity.0, 0, CancelReason::FokNotFillable);
            log.done(&who, 0);
            return;
        }
        match_taker(book, log, &mut t);
        if t.remaining == 0 {
            log.done(&who, t.filled);
        } else if let (TimeInForce::Gtc, Some(price)) = (o.time_in_force, limit) {
            book.side_mut(o.side)
                .entry(price)
                .or_default()
                .push_back(RefOrder {
                    id,
                    market: o.market,
                    account: o.account,
                    client_order_id: o.client_order_id,
                    side: o.side,
                    price,
                    quantity: t.filled + t.remaining,
                    remaining: t.remaining,
                    filled: t.filled,
                    post_only: o.post_only,
                    stp: o.stp,
                    created: now,
                    updated: now,
                });
        } else {
            log.cancelled(&who, t.remaining, 0, CancelReason::IocRemainder);
            log.done(&who, t.filled);
        }
    }

    fn split(r: OrderRef) -> (Option<ClientOrderId>, Option<OrderId>) {
        match r {
            OrderRef::Id(id) => (None, Some(id)),
            OrderRef::Client(c) => (Some(c), None),
        }
    }

    /// `Cancelled(user)` + `Done` for the order at `loc`.
    fn cancel_at(&mut self, loc: Loc) {
        let o = self.take(loc);
        self.log
            .cancelled(&o.who(), o.remaining, 0, CancelReason::User);
        self.log.done(&o.who(), o.filled);
    }

    fn cancel(&mut self, c: &Cancel) {
        match self.resolve(c.account, c.order) {
            Some(loc) => self.cancel_at(loc),
            None => {
                let (client, id) = Self::split(c.order);
                self.log.reject(
                    CommandType::Cancel,
                    c.account,
                    client,
                    id,
                    RejectReason::UnknownOrder,
                );
            }
        }
    }

    fn cancel_all(&mut self, c: &CancelAll) {
        if let Some(m) = c.market
            && self.book(m).is_none()
        {
            return self.log.reject(
                CommandType::CancelAll,
                c.account,
                None,
                None,
                RejectReason::UnknownMarket,
            );
        }
        for view in self.open_orders(c.account, c.market) {
            let loc = self
                .find(|o| o.id == view.order_id)
                .expect("listed order is live");
            self.cancel_at(loc);
        }
    }

    fn amend(&mut self, a: &Amend, now: Timestamp) {
        let (client, by_id) = Self::split(a.order);
        let reject = |log: &mut Log, order_id, reason| {
            log.reject(CommandType::Amend, a.account, client, order_id, reason);
        };
        let Some(loc) = self.resolve(a.account, a.order) else {
            return reject(&mut self.log, by_id, RejectReason::UnknownOrder);
        };
        let o = self.get(loc).clone();
        let book = &self.books[loc.book];
        if a.price.is_none() && a.quantity.is_none() {
            return reject(&mut self.log, Some(o.id), RejectReason::NothingToAmend);
        }
        if let Some(reason) = a.price.and_then(|p| book.price_check(p)) {
            return reject(&mut self.log, Some(o.id), reason);
        }
        if let Some(q) = a.quantity {
            if let Some(reason) = book.quantity_check(q) {
                return reject(&mut self.log, Some(o.id), reason);
            }
            if q.0 <= o.filled {
                return reject(&mut self.log, Some(o.id), RejectReason::QuantityBelowFilled);
            }
        }
        let price = a.price.unwrap_or(o.price);
        let quantity = a.quantity.map_or(o.quantity, |q| q.0);

        if price == o.price && quantity <= o.quantity {
            let r = self.get_mut(loc);
            r.remaining -= r.quantity - quantity;
            r.quantity = quantity;
            r.updated = now;
            let remaining = r.remaining;
            self.log.push(EventKind::Amended(Amended {
                order_id: o.id,
                account: o.account,
                market: o.market,
                price,
                quantity: Quantity(quantity),
                remaining: Quantity(remaining),
                kept_priority: true,
            }));
            return;
        }
        if o.post_only && book.reaches(o.side, price) {
            return reject(&mut self.log, Some(o.id), RejectReason::PostOnlyWouldCross);
        }
        let mut r = self.take(loc);
        r.price = price;
        r.quantity = quantity;
        r.remaining = quantity - r.filled;
        r.updated = now;
        self.log.push(EventKind::Amended(Amended {
            order_id: r.id,
            account: r.account,
            market: r.market,
            price,
            quantity: Quantity(r.quantity),
            remaining: Quantity(r.remaining),
            kept_priority: false,
        }));
        let mut t = Taker {
            who: r.who(),
            side: r.side,
            limit: Some(price),
            remaining: r.remaining,
            filled: r.filled,
            stp: r.stp,
        };
        let book = &mut self.books[loc.book];
        match_taker(book, &mut self.log, &mut t);
        if t.remaining == 0 {
            self.log.done(&r.who(), t.filled);
        } else {
            r.remaining = t.remaining;
            r.filled = t.filled;
            r.quantity = t.filled + t.remaining;
            book.side_mut(r.side).entry(price).or_default().push_back(r);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> EngineConfig {
        EngineConfig {
            markets: vec![
                MarketConfig::new(
                    MarketId(1),
                    matcher::Symbol::new("T").unwrap(),
                    1,
                    1,
                    Price(1),
                    Price(100),
                    Quantity(1000),
                    4,
                )
                .unwrap(),
            ],
            client_id_window: 2,
        }
    }

    fn limit(account: u64, cid: u64, side: Side, price: i64, qty: u64, stp: StpMode) -> Command {
        Command {
            timestamp: Timestamp(cid),
            kind: CommandKind::NewOrder(NewOrder {
                market: MarketId(1),
                account: AccountId(account),
                client_order_id: ClientOrderId::from_u64(cid),
                side,
                order_type: OrderType::Limit {
                    price: Price(price),
                },
                quantity: Quantity(qty),
                time_in_force: TimeInForce::Gtc,
                post_only: false,
                stp,
            }),
        }
    }

    fn kinds(events: &[Event]) -> Vec<EventKind> {
        events.iter().map(|e| e.kind).collect()
    }

    /// A hand-checked walk through a trade and a decrement, so the reference is not only
    /// ever compared with the engine.
    #[test]
    fn reference_trades_and_decrements_by_hand() {
        let mut r = Reference::new(&config());
        let dec = StpMode::DecrementAndCancel;
        r.process(&limit(1, 1, Side::Sell, 10, 5, dec));
        r.process(&limit(2, 2, Side::Sell, 10, 5, dec));
        let ev = r.process(&limit(1, 3, Side::Buy, 10, 7, dec));
        assert_eq!(ev.first().unwrap().seq, Seq(3));
        let who = |id, account| (OrderId(id), AccountId(account));
        let got: Vec<_> = kinds(&ev)
            .into_iter()
            .map(|k| match k {
                EventKind::Accepted(a) => ("accepted", who(a.order_id.0, 1), 0, 0),
                EventKind::Cancelled(c) => (
                    "cancelled",
                    (c.order_id, c.account),
                    c.quantity.0,
                    c.remaining.0,
                ),
                EventKind::Done(d) => ("done", (d.order_id, d.account), d.filled.0, 0),
                EventKind::Trade(t) => (
                    "trade",
                    (t.maker_order_id, t.maker_account),
                    t.quantity.0,
                    t.taker_remaining.0,
                ),
                other => panic!("unexpected {other:?}"),
            })
            .collect();
        assert_eq!(
            got,
            vec![
                ("accepted", who(3, 1), 0, 0),
                // Own maker 1 (5) meets taker 3 (7): both lose 5, maker done.
                ("cancelled", who(1, 1), 5, 0),
                ("done", who(1, 1), 0, 0),
                ("cancelled", who(3, 1), 5, 2),
                // Then 2 trade with account 2's maker.
                ("trade", who(2, 2), 2, 0),
                ("done", who(3, 1), 2, 0),
            ]
        );
        let rest = r.resting_orders(MarketId(1)).unwrap();
        assert_eq!(rest.len(), 1);
        assert_eq!(rest[0].order_id, OrderId(2));
        assert_eq!(rest[0].remaining, Quantity(3));
        assert_eq!(rest[0].filled, Quantity(2));
        // Window of 2: orders 1 and 3 finished; client id 1 is still reserved.
        let dup = r.process(&limit(1, 1, Side::Buy, 5, 1, dec));
        assert!(matches!(
            dup[0].kind,
            EventKind::Rejected(Rejected {
                reason: RejectReason::Duplicate,
                order_id: Some(OrderId(1)),
                ..
            })
        ));
    }
}
