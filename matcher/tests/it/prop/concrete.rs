//! Making operations concrete against the state reached so far.

use matcher::{
    AccountId, Amend, Cancel, CancelAll, ClientOrderId, Command, CommandKind, MarketConfig,
    MarketId, NewOrder, OrderId, OrderRef, OrderType, Price, Quantity, Side, Timestamp,
};

use super::harness::{Harness, Known};
use super::markets::{MARKET_A, config_of, mid, tick};
use super::ops::{
    AmendPrice, AmendQty, ClientSel, MarketSel, Op, PriceSel, QtySel, Target, TargetKind,
};

fn price(config: &MarketConfig, sel: PriceSel) -> Price {
    let tick = tick(config);
    let valid = mid(config) + sel.offset * tick;
    Price(match sel.mode {
        0..88 => valid,
        88..94 if tick > 1 => valid + 1,
        _ if sel.offset >= 0 => config.max_price().0 + tick,
        _ => config.min_price().0 - tick,
    })
}

fn quantity(config: &MarketConfig, sel: QtySel) -> Quantity {
    let lot = config.lot_size();
    Quantity(match sel.mode {
        0..88 => sel.lots * lot,
        88..91 => 0,
        91..95 if lot > 1 => sel.lots * lot + 1,
        _ => config.max_quantity().0 + lot,
    })
}

impl Harness {
    /// The order a cancel or amend names, the account that asks, and the market whose
    /// rules its new price and quantity follow.
    fn target(&self, t: Target) -> (AccountId, OrderRef, MarketId, Option<Known>) {
        let live = self.reference.all_resting();
        let known = match t.kind {
            TargetKind::Live if !live.is_empty() => {
                let o = live[t.pick.index(live.len())];
                Some(Known {
                    id: o.order_id,
                    account: o.account,
                    client_order_id: o.client_order_id,
                    market: o.market,
                    stp: o.stp,
                })
            }
            TargetKind::Historical if !self.history.is_empty() => {
                Some(self.history[t.pick.index(self.history.len())])
            }
            _ => None,
        };
        let (owner, id, client, market) = match known {
            Some(k) => (k.account, k.id, k.client_order_id, k.market),
            None => (
                AccountId(1),
                OrderId(1_000_000 + t.pick.index(1000) as u64),
                ClientOrderId::new("zz-unknown").expect("valid client order id"),
                MARKET_A,
            ),
        };
        let account = t.account.map_or(owner, AccountId);
        let order = if t.by_client {
            OrderRef::Client(client)
        } else {
            OrderRef::Id(id)
        };
        (account, order, market, known)
    }

    pub(super) fn command(&mut self, op: Op, timestamp: Timestamp) -> Command {
        let kind = match op {
            Op::New(s) => {
                let market = s.market.id();
                let config = config_of(market);
                let account = AccountId(s.account);
                let used = self.client_ids.get(&account).filter(|v| !v.is_empty());
                let client_order_id = match (s.client, used) {
                    (ClientSel::Reuse(i), Some(used)) => used[i.index(used.len())],
                    (ClientSel::Borrow(i), _) if !self.history.is_empty() => {
                        self.history[i.index(self.history.len())].client_order_id
                    }
                    _ => self.fresh_client_id(),
                };
                CommandKind::NewOrder(NewOrder {
                    market,
                    account,
                    client_order_id,
                    side: s.side,
                    order_type: match s.limit {
                        Some(p) => OrderType::Limit {
                            price: price(&config, p),
                        },
                        None => OrderType::Market,
                    },
                    quantity: quantity(&config, s.quantity),
                    time_in_force: s.tif,
                    post_only: s.post_only,
                    stp: s.stp,
                })
            }
            Op::Cancel(t) => {
                let (account, order, _, _) = self.target(t);
                CommandKind::Cancel(Cancel { account, order })
            }
            Op::Amend(t, p, q) => {
                let (account, order, market, known) = self.target(t);
                let config = config_of(market);
                let current = known.and_then(|k| self.reference.order(k.id));
                let price = match p {
                    AmendPrice::Keep => None,
                    AmendPrice::Same => Some(current.map_or(Price(mid(&config)), |o| o.price)),
                    AmendPrice::New(sel) => Some(price(&config, sel)),
                    AmendPrice::Cross(ticks) => {
                        let side = current.map_or(Side::Buy, |o| o.side);
                        let (bid, ask) = self.reference.best_prices(market);
                        let beyond = ticks * tick(&config);
                        Some(match side {
                            Side::Buy => ask.map_or(Price(mid(&config)), |p| Price(p.0 + beyond)),
                            Side::Sell => bid.map_or(Price(mid(&config)), |p| Price(p.0 - beyond)),
                        })
                    }
                };
                let lot = i64::try_from(config.lot_size()).expect("small lot");
                let quantity = match q {
                    AmendQty::Keep => None,
                    AmendQty::Relative(lots) => {
                        let base = current
                            .map_or(0, |o| i64::try_from(o.quantity.0).expect("small quantity"));
                        Some(Quantity(
                            u64::try_from((base + lots * lot).max(0)).expect("clamped at zero"),
                        ))
                    }
                    AmendQty::Absolute(sel) => Some(quantity(&config, sel)),
                };
                CommandKind::Amend(Amend {
                    account,
                    order,
                    price,
                    quantity,
                })
            }
            Op::CancelAll { account, market } => CommandKind::CancelAll(CancelAll {
                account: AccountId(account),
                market: market.map(MarketSel::id),
            }),
        };
        Command { timestamp, kind }
    }
}
