//! The workload: mixed commands covering every order type, time in force, self-trade
//! prevention mode, cancel and amend form, cancel-all and reject reason.

use std::collections::HashMap;

use matcher::{
    AccountId, Amend, Cancel, CancelAll, ClientOrderId, Command, CommandKind, Engine, EventKind,
    MarketId, NewOrder, OrderId, OrderRef, OrderType, Price, Quantity, Side, StpMode, TimeInForce,
    Timestamp,
};

use super::markets::{M1, M1_MID, M2, M2_MID, M3, engine};
use super::rng::Rng;

const ACCOUNTS: u64 = 6;

/// A live order, as the generator follows it.
#[derive(Clone, Copy, Debug)]
struct Live {
    id: OrderId,
    account: AccountId,
    client_order_id: ClientOrderId,
    post_only: bool,
}

/// Generates valid-looking (and deliberately invalid) commands against its own engine,
/// following its events to know which orders are live.
pub(super) struct Generator {
    pub(super) engine: Engine,
    rng: Rng,
    clock: u64,
    next_client_id: u64,
    live: Vec<Live>,
    index: HashMap<OrderId, usize>,
    /// Client order ids of recently finished orders, for duplicate rejects.
    finished: Vec<(AccountId, ClientOrderId)>,
}

impl Generator {
    pub(super) fn new(seed: u64) -> Self {
        Self {
            engine: engine(),
            rng: Rng(seed | 1),
            clock: 0,
            next_client_id: 1,
            live: Vec::new(),
            index: HashMap::new(),
            finished: Vec::new(),
        }
    }

    /// The next command; also applied to the generator's engine.
    pub(super) fn next_command(&mut self) -> Command {
        self.clock += 1;
        let kind = self.kind();
        let command = Command {
            timestamp: Timestamp(self.clock),
            kind,
        };
        let events = self.engine.process(&command);
        for event in events {
            match event.kind {
                EventKind::Accepted(a) if a.order.time_in_force == TimeInForce::Gtc => {
                    self.index.insert(a.order_id, self.live.len());
                    self.live.push(Live {
                        id: a.order_id,
                        account: a.order.account,
                        client_order_id: a.order.client_order_id,
                        post_only: a.order.post_only,
                    });
                }
                EventKind::Accepted(a) => {
                    self.finished
                        .push((a.order.account, a.order.client_order_id));
                }
                EventKind::Done(d) => {
                    if let Some(i) = self.index.remove(&d.order_id) {
                        let gone = self.live.swap_remove(i);
                        self.finished.push((gone.account, gone.client_order_id));
                        if let Some(moved) = self.live.get(i) {
                            self.index.insert(moved.id, i);
                        }
                    }
                }
                _ => {}
            }
        }
        if self.finished.len() > 256 {
            self.finished.drain(..128);
        }
        command
    }

    fn client_id(&mut self) -> ClientOrderId {
        self.next_client_id += 1;
        ClientOrderId::from_u64(self.next_client_id)
    }

    fn account(&mut self) -> AccountId {
        AccountId(1 + self.rng.below(ACCOUNTS))
    }

    fn random_live(&mut self) -> Option<Live> {
        if self.live.is_empty() {
            None
        } else {
            let i = self.rng.index(self.live.len());
            Some(self.live[i])
        }
    }

    fn new_order(
        &mut self,
        market: MarketId,
        side: Side,
        order_type: OrderType,
        quantity: u64,
        time_in_force: TimeInForce,
        post_only: bool,
    ) -> CommandKind {
        let account = self.account();
        let client_order_id = self.client_id();
        let stp = self.rng.stp();
        CommandKind::NewOrder(NewOrder {
            market,
            account,
            client_order_id,
            side,
            order_type,
            quantity: Quantity(quantity),
            time_in_force,
            post_only,
            stp,
        })
    }

    /// A limit price near the middle of `market`: a few ticks through it (crossing) to 20
    /// ticks behind it.
    fn price(&mut self, market: MarketId, side: Side) -> Price {
        let (mid, tick) = if market == M1 {
            (M1_MID, 1)
        } else {
            (M2_MID, 5)
        };
        let k = i64::try_from(self.rng.range(0, 23)).expect("small") - 3;
        Price(match side {
            Side::Buy => mid - k * tick,
            Side::Sell => mid + k * tick,
        })
    }

    /// A valid quantity for `market`, up to `max_lots` lots.
    fn quantity(&mut self, market: MarketId, max_lots: u64) -> u64 {
        let lot = if market == M1 { 1 } else { 10 };
        lot * self.rng.range(1, max_lots)
    }

    fn market(&mut self) -> MarketId {
        if self.rng.chance(70) { M1 } else { M2 }
    }

    fn limit(&mut self, time_in_force: TimeInForce, post_only: bool) -> CommandKind {
        let market = self.market();
        let side = self.rng.side();
        let price = self.price(market, side);
        let quantity = self.quantity(market, 100);
        self.new_order(
            market,
            side,
            OrderType::Limit { price },
            quantity,
            time_in_force,
            post_only,
        )
    }

    fn market_order(&mut self, time_in_force: TimeInForce) -> CommandKind {
        let market = self.market();
        let side = self.rng.side();
        let quantity = self.quantity(market, 300);
        self.new_order(
            market,
            side,
            OrderType::Market,
            quantity,
            time_in_force,
            false,
        )
    }

    fn kind(&mut self) -> CommandKind {
        let roll = self.rng.below(100);
        match roll {
            0..=24 => self.limit(TimeInForce::Gtc, false),
            25..=29 => self.limit(TimeInForce::Gtc, true),
            30..=34 => self.limit(TimeInForce::Ioc, false),
            35..=38 => self.limit(TimeInForce::Fok, false),
            39..=42 => self.market_order(TimeInForce::Ioc),
            43..=44 => self.market_order(TimeInForce::Fok),
            45..=61 => self.cancel(false),
            62..=66 => self.cancel(true),
            67..=74 => self.amend_keeping_priority(),
            75..=82 => self.amend_losing_priority(),
            83..=84 => {
                let account = self.account();
                let market = match self.rng.below(3) {
                    0 => None,
                    1 => Some(M1),
                    _ => Some(M2),
                };
                CommandKind::CancelAll(CancelAll { account, market })
            }
            85..=86 => {
                // Book full when market 3 already holds its two orders.
                let account = self.account();
                let client_order_id = self.client_id();
                CommandKind::NewOrder(NewOrder {
                    market: M3,
                    account,
                    client_order_id,
                    side: Side::Buy,
                    order_type: OrderType::Limit { price: Price(10) },
                    quantity: Quantity(1),
                    time_in_force: TimeInForce::Gtc,
                    post_only: false,
                    stp: StpMode::CancelNewest,
                })
            }
            _ => self.reject(),
        }
    }

    fn cancel(&mut self, by_client_id: bool) -> CommandKind {
        let Some(order) = self.random_live() else {
            return self.limit(TimeInForce::Gtc, false);
        };
        CommandKind::Cancel(Cancel {
            account: order.account,
            order: if by_client_id {
                OrderRef::Client(order.client_order_id)
            } else {
                OrderRef::Id(order.id)
            },
        })
    }

    /// Same price, smaller quantity (still above what filled).
    fn amend_keeping_priority(&mut self) -> CommandKind {
        let Some(order) = self.random_live() else {
            return self.limit(TimeInForce::Gtc, false);
        };
        let view = self.engine.order(order.id).expect("live order");
        let lot = self.engine.market(view.market).expect("market").lot_size();
        if view.remaining.0 < 2 * lot {
            return self.amend_losing_priority();
        }
        let lots_left = view.remaining.0 / lot;
        let quantity = view.filled.0 + lot * self.rng.range(1, lots_left - 1);
        CommandKind::Amend(Amend {
            account: order.account,
            order: OrderRef::Id(order.id),
            price: if self.rng.chance(50) {
                Some(view.price)
            } else {
                None
            },
            quantity: Some(Quantity(quantity)),
        })
    }

    /// A new price (which may cross and trade), and sometimes a larger quantity.
    fn amend_losing_priority(&mut self) -> CommandKind {
        let Some(order) = self.random_live() else {
            return self.limit(TimeInForce::Gtc, false);
        };
        let view = self.engine.order(order.id).expect("live order");
        if view.market == M3 {
            return self.cancel(false);
        }
        let price = self.price(view.market, view.side);
        let grow = self.rng.chance(30);
        let quantity = grow.then(|| view.quantity.0 + self.quantity(view.market, 20));
        let by_client_id = self.rng.chance(20);
        CommandKind::Amend(Amend {
            account: order.account,
            order: if by_client_id {
                OrderRef::Client(order.client_order_id)
            } else {
                OrderRef::Id(order.id)
            },
            price: (price != view.price || quantity.is_none()).then_some(price),
            quantity: quantity.map(Quantity),
        })
    }

    /// A command the engine must refuse, cycling through every reason.
    fn reject(&mut self) -> CommandKind {
        let account = self.account();
        let limit = |price| OrderType::Limit {
            price: Price(price),
        };
        match self.rng.below(13) {
            0 => self.new_order(
                MarketId(99),
                Side::Buy,
                limit(100),
                1,
                TimeInForce::Gtc,
                false,
            ),
            1 => self.new_order(M1, Side::Buy, OrderType::Market, 1, TimeInForce::Gtc, false),
            2 => self.new_order(M1, Side::Sell, limit(1_000), 1, TimeInForce::Ioc, true),
            3 => self.new_order(M2, Side::Buy, limit(5_003), 10, TimeInForce::Gtc, false),
            4 => self.new_order(M1, Side::Sell, limit(5_000), 1, TimeInForce::Gtc, false),
            5 => self.new_order(M1, Side::Buy, limit(990), 0, TimeInForce::Gtc, false),
            6 => self.new_order(M2, Side::Buy, limit(4_900), 15, TimeInForce::Gtc, false),
            7 => self.new_order(M1, Side::Buy, limit(990), 1_001, TimeInForce::Gtc, false),
            8 => {
                // A client order id still live or within the recent window.
                let reuse = if self.rng.chance(50) {
                    self.random_live().map(|o| (o.account, o.client_order_id))
                } else {
                    self.finished.last().copied()
                };
                let Some((account, client_order_id)) = reuse else {
                    return self.limit(TimeInForce::Gtc, false);
                };
                CommandKind::NewOrder(NewOrder {
                    market: M1,
                    account,
                    client_order_id,
                    side: Side::Buy,
                    order_type: limit(980),
                    quantity: Quantity(1),
                    time_in_force: TimeInForce::Gtc,
                    post_only: false,
                    stp: StpMode::CancelNewest,
                })
            }
            9 => {
                // A finished order, or a live one of another account.
                let order = match self.random_live() {
                    Some(o) if self.rng.chance(50) => OrderRef::Id(o.id),
                    _ => OrderRef::Id(OrderId(1 + self.rng.below(self.clock))),
                };
                let account = AccountId(ACCOUNTS + 1);
                if self.rng.chance(50) {
                    CommandKind::Cancel(Cancel { account, order })
                } else {
                    CommandKind::Amend(Amend {
                        account,
                        order,
                        price: None,
                        quantity: Some(Quantity(1)),
                    })
                }
            }
            10 => {
                let Some(order) = self.random_live() else {
                    return self.limit(TimeInForce::Gtc, false);
                };
                CommandKind::Amend(Amend {
                    account: order.account,
                    order: OrderRef::Id(order.id),
                    price: None,
                    quantity: None,
                })
            }
            11 => {
                // Quantity at what has filled: look for a partly filled order.
                for _ in 0..8 {
                    let Some(order) = self.random_live() else {
                        break;
                    };
                    let view = self.engine.order(order.id).expect("live order");
                    if !view.filled.is_zero() {
                        return CommandKind::Amend(Amend {
                            account: order.account,
                            order: OrderRef::Id(order.id),
                            price: None,
                            quantity: Some(view.filled),
                        });
                    }
                }
                CommandKind::CancelAll(CancelAll {
                    account,
                    market: Some(MarketId(99)),
                })
            }
            _ => {
                // A post-only order amended to cross the opposite best.
                for _ in 0..16 {
                    let Some(order) = self.random_live() else {
                        break;
                    };
                    if !order.post_only {
                        continue;
                    }
                    let view = self.engine.order(order.id).expect("live order");
                    let (bid, ask) = self.engine.best_prices(view.market).expect("market");
                    let opposite = match view.side {
                        Side::Buy => ask,
                        Side::Sell => bid,
                    };
                    if let Some(price) = opposite {
                        return CommandKind::Amend(Amend {
                            account: order.account,
                            order: OrderRef::Id(order.id),
                            price: Some(price),
                            quantity: None,
                        });
                    }
                }
                self.limit(TimeInForce::Gtc, true)
            }
        }
    }
}
