//! The events of the command being processed, and the recent client order id window.

use std::collections::VecDeque;

use matcher::{
    AccountId, CancelReason, Cancelled, ClientOrderId, CommandType, Done, Event, EventKind,
    MarketId, OrderId, Quantity, RejectReason, Rejected, Seq, Timestamp,
};

use super::book::RefOrder;

/// The event log of the command being processed, plus the client order id window
/// (which changes exactly when a `Done` is emitted).
#[derive(Clone, Debug)]
pub(super) struct Log {
    pub(super) seq: u64,
    pub(super) timestamp: Timestamp,
    pub(super) events: Vec<Event>,
    pub(super) window: usize,
    /// Finished orders, oldest first.
    pub(super) recent: VecDeque<(AccountId, ClientOrderId, OrderId)>,
}

impl Log {
    pub(super) fn push(&mut self, kind: EventKind) {
        self.seq += 1;
        self.events.push(Event {
            seq: Seq(self.seq),
            timestamp: self.timestamp,
            kind,
        });
    }

    pub(super) fn cancelled(
        &mut self,
        o: &Who,
        quantity: u64,
        remaining: u64,
        reason: CancelReason,
    ) {
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
    pub(super) fn done(&mut self, o: &Who, filled: u64) {
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

    pub(super) fn reject(
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
pub(super) struct Who {
    pub(super) id: OrderId,
    pub(super) account: AccountId,
    pub(super) market: MarketId,
    pub(super) client_order_id: ClientOrderId,
}

impl RefOrder {
    pub(super) fn who(&self) -> Who {
        Who {
            id: self.id,
            account: self.account,
            market: self.market,
            client_order_id: self.client_order_id,
        }
    }
}
