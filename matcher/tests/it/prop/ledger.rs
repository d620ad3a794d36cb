//! Per-order bookkeeping of the quantities the event stream reports.

use std::collections::BTreeMap;

use matcher::{Event, EventKind, OrderId};

use super::harness::{Harness, Known};

/// Per accepted order: the quantities the event stream reports.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Ledger {
    submitted: u64,
    /// Amend increases minus amend decreases of the total quantity.
    amended: i128,
    pub(super) filled: u64,
    pub(super) cancelled: u64,
    /// The total quantity as the events imply it: submitted, set by amends, lowered by
    /// cancellations (decrements lower an order's total).
    pub(super) total: u64,
    pub(super) done: bool,
}

impl Ledger {
    pub(super) fn supply(&self) -> i128 {
        i128::from(self.submitted) + self.amended
    }
}

impl Harness {
    /// Books the events of one command into the ledger and the generators' memory;
    /// returns the orders they touched.
    pub(super) fn account_for(&mut self, events: &[Event]) -> Result<Vec<OrderId>, String> {
        let mut touched = Vec::new();
        self.taker = None;
        for e in events {
            self.tally(e);
            match e.kind {
                EventKind::Accepted(a) => {
                    check_eq!(a.order_id, OrderId(self.next_id), "order ids count from 1");
                    self.next_id += 1;
                    self.live += 1;
                    self.ledger.insert(
                        a.order_id,
                        Ledger {
                            submitted: a.order.quantity.0,
                            total: a.order.quantity.0,
                            ..Ledger::default()
                        },
                    );
                    touched.push(a.order_id);
                    self.history.push(Known {
                        id: a.order_id,
                        account: a.order.account,
                        client_order_id: a.order.client_order_id,
                        market: a.order.market,
                        stp: a.order.stp,
                    });
                    self.client_ids
                        .entry(a.order.account)
                        .or_default()
                        .push(a.order.client_order_id);
                }
                EventKind::Rejected(_) => {}
                EventKind::Trade(t) => {
                    check!(t.maker_account != t.taker_account, "self-trade: {t:?}");
                    check!(t.quantity.0 > 0, "empty trade {t:?}");
                    entry(&mut self.ledger, &mut touched, e, t.maker_order_id)?.filled +=
                        t.quantity.0;
                    entry(&mut self.ledger, &mut touched, e, t.taker_order_id)?.filled +=
                        t.quantity.0;
                }
                EventKind::Cancelled(c) => {
                    let l = entry(&mut self.ledger, &mut touched, e, c.order_id)?;
                    check!(c.quantity.0 > 0, "empty cancel {c:?}");
                    check!(l.total >= c.quantity.0, "cancel beyond the total: {c:?}");
                    l.cancelled += c.quantity.0;
                    l.total -= c.quantity.0;
                }
                EventKind::Amended(a) => {
                    let l = entry(&mut self.ledger, &mut touched, e, a.order_id)?;
                    l.amended += i128::from(a.quantity.0) - i128::from(l.total);
                    l.total = a.quantity.0;
                    check_eq!(
                        a.quantity.0 - a.remaining.0,
                        l.filled,
                        "filled behind {a:?}"
                    );
                }
                EventKind::Done(d) => {
                    let l = entry(&mut self.ledger, &mut touched, e, d.order_id)?;
                    check_eq!(d.filled.0, l.filled, "filled reported by {d:?}");
                    l.done = true;
                    self.live -= 1;
                }
            }
        }
        touched.sort_unstable();
        touched.dedup();
        Ok(touched)
    }
}

/// The ledger entry of `id`, which `e` names: it must exist and not be done.
fn entry<'a>(
    ledger: &'a mut BTreeMap<OrderId, Ledger>,
    touched: &mut Vec<OrderId>,
    e: &Event,
    id: OrderId,
) -> Result<&'a mut Ledger, String> {
    touched.push(id);
    let l = ledger
        .get_mut(&id)
        .ok_or_else(|| format!("{e:?} names an order never accepted"))?;
    check!(!l.done, "{e:?} names a done order");
    Ok(l)
}
