//! Which kinds of outcome happened, to show the generators reach them all.

use matcher::{Event, EventKind, OrderType, StpMode};

use super::harness::{Harness, Known};

impl Harness {
    /// Notes what kind of outcome `e` is (before the ledger books it).
    pub(super) fn tally(&mut self, e: &Event) {
        match e.kind {
            EventKind::Accepted(a) => {
                self.saw(
                    "accepted",
                    if a.order.order_type == OrderType::Market {
                        "market"
                    } else {
                        "limit"
                    },
                );
                let reused = self
                    .client_ids
                    .get(&a.order.account)
                    .is_some_and(|v| v.contains(&a.order.client_order_id));
                if reused {
                    self.saw("accepted", "client id reused after eviction");
                }
                let shared = self.history.iter().any(|k| {
                    k.account != a.order.account && k.client_order_id == a.order.client_order_id
                });
                if shared {
                    self.saw("accepted", "client id another account uses");
                }
                self.taker = Some((
                    Known {
                        id: a.order_id,
                        account: a.order.account,
                        client_order_id: a.order.client_order_id,
                        market: a.order.market,
                        stp: a.order.stp,
                    },
                    false,
                ));
            }
            EventKind::Rejected(r) => {
                self.saw("rejected", r.reason.code());
                if r.reason == matcher::RejectReason::Duplicate {
                    let done = r
                        .order_id
                        .and_then(|id| self.ledger.get(&id))
                        .is_some_and(|l| l.done);
                    self.saw(
                        "duplicate",
                        if done {
                            "of a finished order"
                        } else {
                            "of a live order"
                        },
                    );
                }
            }
            EventKind::Trade(_) => {
                let amended = self.taker.is_some_and(|(_, amended)| amended);
                self.saw(
                    "trade",
                    if amended {
                        "by an amended order"
                    } else {
                        "by a new order"
                    },
                );
            }
            EventKind::Cancelled(c) => {
                self.saw("cancelled", c.reason.code());
                if c.reason == matcher::CancelReason::SelfTradePrevention
                    && let Some((taker, _)) = self.taker
                {
                    self.saw(
                        "self-trade prevention",
                        match taker.stp {
                            StpMode::CancelNewest => "cancel newest",
                            StpMode::CancelOldest => "cancel oldest",
                            StpMode::CancelBoth => "cancel both",
                            StpMode::DecrementAndCancel => "decrement and cancel",
                        },
                    );
                }
                if c.remaining.0 > 0 {
                    self.saw("cancelled", "partially (decrement)");
                }
            }
            EventKind::Amended(a) => {
                if !a.kept_priority {
                    let k = self.history[usize::try_from(a.order_id.0 - 1).expect("ids are small")];
                    self.taker = Some((k, true));
                }
                self.saw(
                    "amended",
                    if a.kept_priority {
                        "kept priority"
                    } else {
                        "lost priority"
                    },
                );
            }
            EventKind::Done(_) => self.saw("done", ""),
        }
    }
}
