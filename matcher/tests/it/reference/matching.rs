//! Taking liquidity: matching a taker against a book, and the fill-or-kill check.

use std::collections::VecDeque;

use matcher::{CancelReason, EventKind, Price, Quantity, Side, StpMode, Trade};

use super::book::{RefBook, RefOrder, may_trade};
use super::log::{Log, Who};

/// An order while it takes liquidity.
#[derive(Clone, Copy, Debug)]
pub(super) struct Taker {
    pub(super) who: Who,
    pub(super) side: Side,
    pub(super) limit: Option<Price>,
    pub(super) remaining: u64,
    pub(super) filled: u64,
    pub(super) stp: StpMode,
}

/// Matches `t` against the opposite side of `book`, one maker at a time.
pub(super) fn match_taker(book: &mut RefBook, log: &mut Log, t: &mut Taker) {
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
pub(super) fn fok_fillable(book: &RefBook, t: &Taker) -> bool {
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
