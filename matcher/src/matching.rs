//! Matching an incoming order against the opposite side of a book: price-time priority,
//! self-trade prevention, and the fill-or-kill pre-check (rules in the `engine` docs).

use crate::book::Book;
use crate::emit::Out;
use crate::event::{CancelReason, EventKind};
use crate::pool::OrderPool;
use crate::resting::Orders;
use crate::types::{AccountId, OrderId, Quantity, Side, StpMode};

/// An incoming order while it matches.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Taker {
    pub(crate) id: OrderId,
    pub(crate) account: AccountId,
    pub(crate) side: Side,
    /// Ladder index of the limit price; `None` for a market order.
    pub(crate) limit: Option<u32>,
    pub(crate) remaining: Quantity,
    pub(crate) filled: Quantity,
    pub(crate) stp: StpMode,
}

/// Whether a FOK taker can fill completely, read without touching the book.
pub(crate) fn fok_fillable(book: &Book, pool: &OrderPool, taker: &Taker) -> bool {
    let ladder = book.opposite_ladder(taker.side);
    let mut need = taker.remaining.0;
    let mut cursor = ladder.best();
    while let Some(index) = cursor {
        if taker
            .limit
            .is_some_and(|limit| !crate::book::crosses_level(taker.side, limit, index))
        {
            return false;
        }
        let mut slot = ladder.level(index).head;
        while slot != crate::pool::NIL {
            let o = pool.get(slot);
            if o.account == taker.account {
                if taker.stp != StpMode::CancelOldest {
                    return false;
                }
            } else if o.remaining.0 >= need {
                return true;
            } else {
                need -= o.remaining.0;
            }
            slot = o.next;
        }
        cursor = ladder.next_worse(index);
    }
    false
}

/// Matches `taker` against the opposite side of `book` (see the module docs). Emits trades
/// and the makers' cancellations and completions, and the taker's self-trade-prevention
/// cancellations; leaves the taker's own `Done` or resting to the caller.
pub(crate) fn match_taker(book: &mut Book, orders: &mut Orders, out: &mut Out, taker: &mut Taker) {
    let market = book.config.id();
    let config = book.config;
    let (ladder, resting) = match taker.side {
        Side::Buy => (&mut book.asks, &mut book.resting),
        Side::Sell => (&mut book.bids, &mut book.resting),
    };
    'levels: while !taker.remaining.is_zero() {
        let Some(index) = ladder.best() else {
            break;
        };
        if taker
            .limit
            .is_some_and(|limit| !crate::book::crosses_level(taker.side, limit, index))
        {
            break;
        }
        let price = config.level_price(index);
        let mut slot = ladder.level(index).head;
        while slot != crate::pool::NIL && !taker.remaining.is_zero() {
            let (maker_id, maker_account, maker_remaining, maker_filled, next) = {
                let m = orders.pool.get(slot);
                (m.id, m.account, m.remaining, m.filled, m.next)
            };
            if maker_account == taker.account {
                match taker.stp {
                    StpMode::CancelNewest => {
                        out.cancelled(
                            taker.id,
                            taker.account,
                            market,
                            taker.remaining,
                            Quantity::ZERO,
                            CancelReason::SelfTradePrevention,
                        );
                        taker.remaining = Quantity::ZERO;
                        break 'levels;
                    }
                    StpMode::CancelOldest | StpMode::CancelBoth => {
                        ladder.remove(&mut orders.pool, slot);
                        *resting -= 1;
                        out.cancelled(
                            maker_id,
                            maker_account,
                            market,
                            maker_remaining,
                            Quantity::ZERO,
                            CancelReason::SelfTradePrevention,
                        );
                        out.done(maker_id, maker_account, market, maker_filled);
                        orders.forget(slot);
                        if taker.stp == StpMode::CancelBoth {
                            out.cancelled(
                                taker.id,
                                taker.account,
                                market,
                                taker.remaining,
                                Quantity::ZERO,
                                CancelReason::SelfTradePrevention,
                            );
                            taker.remaining = Quantity::ZERO;
                            break 'levels;
                        }
                    }
                    StpMode::DecrementAndCancel => {
                        let d = Quantity(taker.remaining.0.min(maker_remaining.0));
                        if d == maker_remaining {
                            ladder.remove(&mut orders.pool, slot);
                            *resting -= 1;
                            out.cancelled(
                                maker_id,
                                maker_account,
                                market,
                                d,
                                Quantity::ZERO,
                                CancelReason::SelfTradePrevention,
                            );
                            out.done(maker_id, maker_account, market, maker_filled);
                            orders.forget(slot);
                        } else {
                            let m = orders.pool.get_mut(slot);
                            // The total shrinks with it: quantity = filled + remaining.
                            m.remaining.0 -= d.0;
                            let left = m.remaining;
                            ladder.reduce(index, d);
                            out.cancelled(
                                maker_id,
                                maker_account,
                                market,
                                d,
                                left,
                                CancelReason::SelfTradePrevention,
                            );
                        }
                        taker.remaining.0 -= d.0;
                        out.cancelled(
                            taker.id,
                            taker.account,
                            market,
                            d,
                            taker.remaining,
                            CancelReason::SelfTradePrevention,
                        );
                    }
                }
            } else {
                let q = taker.remaining.0.min(maker_remaining.0);
                taker.remaining.0 -= q;
                taker.filled.0 += q;
                let m = orders.pool.get_mut(slot);
                m.remaining.0 -= q;
                m.filled.0 += q;
                let maker_left = m.remaining;
                let maker_filled = m.filled;
                ladder.reduce(index, Quantity(q));
                out.push(EventKind::Trade(crate::event::Trade {
                    market,
                    maker_order_id: maker_id,
                    maker_account,
                    taker_order_id: taker.id,
                    taker_account: taker.account,
                    price,
                    quantity: Quantity(q),
                    aggressor: taker.side,
                    maker_remaining: maker_left,
                    taker_remaining: taker.remaining,
                }));
                if maker_left.is_zero() {
                    ladder.remove(&mut orders.pool, slot);
                    *resting -= 1;
                    out.done(maker_id, maker_account, market, maker_filled);
                    orders.forget(slot);
                }
            }
            slot = next;
        }
    }
}
