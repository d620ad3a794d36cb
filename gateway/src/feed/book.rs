//! One shard's market data rebuilt from its event feed: aggregated price levels per market,
//! the orders resting behind them, and recent trades.
//!
//! Design decisions:
//! - **Levels are rebuilt from events, not queried.** A depth query is not tied to a
//!   sequence number, so a snapshot taken from the shard could not be stitched to the
//!   deltas that follow. Replaying the feed from sequence 1 gives a book whose every state
//!   has a sequence number. The orders behind the levels are tracked by id because a
//!   `Cancelled` or `Done` names only the order.
//! - **An accepted GTC limit order joins its level at once**, before its own trades take
//!   from it. The engine's final state after the command is what the levels show; within
//!   a command a level may briefly show the incoming quantity. Deltas are published per
//!   drained batch of events (see [`super::ingest`]), so a command whose events arrive
//!   together never shows that step.
//! - **Changes are collected as touched levels** and read back once per batch: a client
//!   gets the level's final quantity, not every step.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};

use matcher::{
    Event, EventKind, MarketId, OrderId, OrderType, Price, Quantity, Side, TimeInForce, Trade,
};

/// One aggregated level.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Level {
    /// Total resting quantity.
    pub quantity: Quantity,
    /// Resting orders.
    pub orders: u32,
}

/// A trade kept for `GET /v1/markets/{symbol}/trades` and the `trades:` channel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TradeRecord {
    /// The trade event's shard sequence number.
    pub seq: u64,
    /// The shard's timestamp of the command (nanoseconds since the Unix epoch).
    pub timestamp_ns: u64,
    /// The trade itself.
    pub trade: Trade,
}

/// One market's book and recent trades.
#[derive(Debug)]
pub struct MarketBook {
    /// Bids by price.
    pub bids: BTreeMap<Price, Level>,
    /// Asks by price.
    pub asks: BTreeMap<Price, Level>,
    /// Sequence number of the last event that changed a level (0: none yet).
    pub seq: u64,
    /// The most recent trades, oldest first.
    pub trades: VecDeque<TradeRecord>,
    trade_capacity: usize,
}

impl MarketBook {
    fn new(trade_capacity: usize) -> Self {
        Self {
            bids: BTreeMap::new(),
            asks: BTreeMap::new(),
            seq: 0,
            trades: VecDeque::with_capacity(trade_capacity.min(1024)),
            trade_capacity,
        }
    }

    /// The level at a price (empty if nothing rests there).
    #[must_use]
    pub fn level(&self, side: Side, price: Price) -> Level {
        self.side(side).get(&price).copied().unwrap_or_default()
    }

    fn side(&self, side: Side) -> &BTreeMap<Price, Level> {
        match side {
            Side::Buy => &self.bids,
            Side::Sell => &self.asks,
        }
    }

    fn side_mut(&mut self, side: Side) -> &mut BTreeMap<Price, Level> {
        match side {
            Side::Buy => &mut self.bids,
            Side::Sell => &mut self.asks,
        }
    }

    fn push_trade(&mut self, record: TradeRecord) {
        if self.trade_capacity == 0 {
            return;
        }
        if self.trades.len() == self.trade_capacity {
            self.trades.pop_front();
        }
        self.trades.push_back(record);
    }
}

/// A resting order as the levels count it.
#[derive(Clone, Copy, Debug)]
struct Resting {
    market: MarketId,
    side: Side,
    price: Price,
    remaining: Quantity,
}

/// A side of the book, ordered (bids first) so touched levels sort by market and side.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum BookSide {
    /// Buy orders.
    Bid,
    /// Sell orders.
    Ask,
}

impl From<Side> for BookSide {
    fn from(side: Side) -> Self {
        match side {
            Side::Buy => Self::Bid,
            Side::Sell => Self::Ask,
        }
    }
}

impl From<BookSide> for Side {
    fn from(side: BookSide) -> Self {
        match side {
            BookSide::Bid => Self::Buy,
            BookSide::Ask => Self::Sell,
        }
    }
}

/// The levels a batch of events touched, per market.
pub type Touched = BTreeSet<(MarketId, BookSide, Price)>;

/// A shard's books, rebuilt from its feed.
#[derive(Debug)]
pub struct ShardBooks {
    markets: HashMap<MarketId, MarketBook>,
    resting: HashMap<OrderId, Resting>,
    last_seq: u64,
}

impl ShardBooks {
    /// Empty books for these markets, each keeping its last `trade_capacity` trades.
    #[must_use]
    pub fn new(markets: impl IntoIterator<Item = MarketId>, trade_capacity: usize) -> Self {
        Self {
            markets: markets
                .into_iter()
                .map(|m| (m, MarketBook::new(trade_capacity)))
                .collect(),
            resting: HashMap::new(),
            last_seq: 0,
        }
    }

    /// Sequence number of the last event applied (0: none).
    #[must_use]
    pub fn last_seq(&self) -> u64 {
        self.last_seq
    }

    /// One market's book.
    #[must_use]
    pub fn market(&self, market: MarketId) -> Option<&MarketBook> {
        self.markets.get(&market)
    }

    /// Marks the markets in `touched` as changed at `seq`.
    pub fn stamp(&mut self, touched: &Touched, seq: u64) {
        for (market, _, _) in touched {
            if let Some(book) = self.markets.get_mut(market) {
                book.seq = seq;
            }
        }
    }

    /// Applies the next event. Returns `false` (and changes nothing) for an event that is
    /// not the next in sequence: an old one (a duplicate after a resubscription) or one
    /// past a gap.
    pub fn apply(&mut self, event: &Event, touched: &mut Touched) -> bool {
        if event.seq.0 != self.last_seq + 1 {
            return false;
        }
        self.last_seq = event.seq.0;
        match event.kind {
            EventKind::Accepted(a) => {
                let o = a.order;
                if let (OrderType::Limit { price }, TimeInForce::Gtc) =
                    (o.order_type, o.time_in_force)
                {
                    let resting = Resting {
                        market: o.market,
                        side: o.side,
                        price,
                        remaining: o.quantity,
                    };
                    self.resting.insert(a.order_id, resting);
                    self.add(resting, 1, touched);
                }
            }
            EventKind::Trade(t) => {
                self.reduce(t.maker_order_id, t.maker_remaining, touched);
                self.reduce(t.taker_order_id, t.taker_remaining, touched);
                if let Some(book) = self.markets.get_mut(&t.market) {
                    book.push_trade(TradeRecord {
                        seq: event.seq.0,
                        timestamp_ns: event.timestamp.0,
                        trade: t,
                    });
                }
            }
            EventKind::Cancelled(c) => self.reduce(c.order_id, c.remaining, touched),
            EventKind::Amended(a) => {
                if let Some(old) = self.resting.remove(&a.order_id) {
                    self.remove(old, touched);
                    let new = Resting {
                        price: a.price,
                        remaining: a.remaining,
                        ..old
                    };
                    if !a.remaining.is_zero() {
                        self.resting.insert(a.order_id, new);
                        self.add(new, 1, touched);
                    }
                }
            }
            EventKind::Done(d) => {
                if let Some(old) = self.resting.remove(&d.order_id) {
                    self.remove(old, touched);
                }
            }
            EventKind::Rejected(_) => {}
        }
        true
    }

    /// Sets a tracked order's remaining quantity; a zero leaves the level.
    fn reduce(&mut self, id: OrderId, remaining: Quantity, touched: &mut Touched) {
        let Some(old) = self.resting.get(&id).copied() else {
            return;
        };
        self.remove(old, touched);
        if remaining.is_zero() {
            self.resting.remove(&id);
        } else {
            let new = Resting { remaining, ..old };
            self.resting.insert(id, new);
            self.add(new, 1, touched);
        }
    }

    fn add(&mut self, o: Resting, orders: u32, touched: &mut Touched) {
        let Some(book) = self.markets.get_mut(&o.market) else {
            return;
        };
        let level = book.side_mut(o.side).entry(o.price).or_default();
        level.quantity = Quantity(level.quantity.0.saturating_add(o.remaining.0));
        level.orders = level.orders.saturating_add(orders);
        touched.insert((o.market, o.side.into(), o.price));
    }

    fn remove(&mut self, o: Resting, touched: &mut Touched) {
        let Some(book) = self.markets.get_mut(&o.market) else {
            return;
        };
        let side = book.side_mut(o.side);
        if let Some(level) = side.get_mut(&o.price) {
            level.quantity = Quantity(level.quantity.0.saturating_sub(o.remaining.0));
            level.orders = level.orders.saturating_sub(1);
            if level.orders == 0 {
                side.remove(&o.price);
            }
        }
        touched.insert((o.market, o.side.into(), o.price));
    }
}

#[cfg(test)]
mod tests {
    use matcher::{
        Accepted, AccountId, CancelReason, Cancelled, ClientOrderId, Done, NewOrder, Seq, StpMode,
        Timestamp,
    };

    use super::*;

    const M: MarketId = MarketId(1);

    fn ev(seq: u64, kind: EventKind) -> Event {
        Event {
            seq: Seq(seq),
            timestamp: Timestamp(seq),
            kind,
        }
    }

    fn accepted(id: u64, side: Side, price: i64, qty: u64) -> EventKind {
        EventKind::Accepted(Accepted {
            order_id: OrderId(id),
            order: NewOrder {
                market: M,
                account: AccountId(id),
                client_order_id: ClientOrderId::from_u64(id),
                side,
                order_type: OrderType::Limit {
                    price: Price(price),
                },
                quantity: Quantity(qty),
                time_in_force: TimeInForce::Gtc,
                post_only: false,
                stp: StpMode::CancelNewest,
            },
        })
    }

    fn trade(maker: u64, taker: u64, price: i64, qty: u64, mr: u64, tr: u64) -> EventKind {
        EventKind::Trade(Trade {
            market: M,
            maker_order_id: OrderId(maker),
            maker_account: AccountId(maker),
            taker_order_id: OrderId(taker),
            taker_account: AccountId(taker),
            price: Price(price),
            quantity: Quantity(qty),
            aggressor: Side::Buy,
            maker_remaining: Quantity(mr),
            taker_remaining: Quantity(tr),
        })
    }

    fn done(id: u64) -> EventKind {
        EventKind::Done(Done {
            order_id: OrderId(id),
            account: AccountId(id),
            market: M,
            filled: Quantity(0),
        })
    }

    #[test]
    fn a_crossing_order_takes_from_the_maker_and_rests_its_remainder() {
        let mut books = ShardBooks::new([M], 10);
        let mut touched = Touched::new();
        let events = [
            accepted(1, Side::Sell, 100, 5),
            accepted(2, Side::Sell, 100, 5),
            accepted(3, Side::Buy, 101, 7),
            trade(1, 3, 100, 5, 0, 2),
            done(1),
            trade(2, 3, 100, 2, 3, 0),
            done(3),
        ];
        for (i, kind) in events.into_iter().enumerate() {
            assert!(books.apply(&ev(i as u64 + 1, kind), &mut touched));
        }
        let book = books.market(M).unwrap();
        assert_eq!(
            book.level(Side::Sell, Price(100)),
            Level {
                quantity: Quantity(3),
                orders: 1
            }
        );
        assert!(book.bids.is_empty(), "{:?}", book.bids);
        assert_eq!(book.trades.len(), 2);
        assert!(touched.contains(&(M, BookSide::Bid, Price(101))));
    }

    #[test]
    fn duplicates_and_gaps_are_refused() {
        let mut books = ShardBooks::new([M], 10);
        let mut touched = Touched::new();
        assert!(books.apply(&ev(1, accepted(1, Side::Buy, 100, 5)), &mut touched));
        assert!(!books.apply(&ev(1, accepted(1, Side::Buy, 100, 5)), &mut touched));
        assert!(!books.apply(&ev(3, done(1)), &mut touched));
        assert_eq!(books.last_seq(), 1);
        assert_eq!(
            books.market(M).unwrap().level(Side::Buy, Price(100)).orders,
            1
        );
    }

    #[test]
    fn a_cancel_empties_the_level() {
        let mut books = ShardBooks::new([M], 10);
        let mut touched = Touched::new();
        books.apply(&ev(1, accepted(1, Side::Buy, 100, 5)), &mut touched);
        let cancel = EventKind::Cancelled(Cancelled {
            order_id: OrderId(1),
            account: AccountId(1),
            market: M,
            quantity: Quantity(5),
            remaining: Quantity(0),
            reason: CancelReason::User,
        });
        books.apply(&ev(2, cancel), &mut touched);
        books.apply(&ev(3, done(1)), &mut touched);
        assert!(books.market(M).unwrap().bids.is_empty());
    }

    #[test]
    fn the_trade_ring_is_bounded() {
        let mut books = ShardBooks::new([M], 2);
        let mut touched = Touched::new();
        let mut seq = 0;
        let mut next = || {
            seq += 1;
            seq
        };
        books.apply(&ev(next(), accepted(1, Side::Sell, 100, 10)), &mut touched);
        for taker in 2..6 {
            let s = next();
            books.apply(&ev(s, accepted(taker, Side::Buy, 100, 1)), &mut touched);
            let rem = 10 - (taker - 1);
            books.apply(&ev(next(), trade(1, taker, 100, 1, rem, 0)), &mut touched);
            books.apply(&ev(next(), done(taker)), &mut touched);
        }
        let book = books.market(M).unwrap();
        let takers: Vec<u64> = book
            .trades
            .iter()
            .map(|t| t.trade.taker_order_id.0)
            .collect();
        assert_eq!(takers, [4, 5]);
        assert_eq!(book.level(Side::Sell, Price(100)).quantity, Quantity(6));
    }
}
