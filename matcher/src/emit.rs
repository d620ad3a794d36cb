//! The events one command produces, each numbered as it is emitted.

use crate::event::{CancelReason, Cancelled, Done, Event, EventKind};
use crate::types::{AccountId, MarketId, OrderId, Quantity, Seq, Timestamp};

/// Events emitted by the command being processed.
#[derive(Debug)]
pub(crate) struct Out {
    pub(crate) seq: u64,
    pub(crate) timestamp: Timestamp,
    pub(crate) events: Vec<Event>,
}

impl Out {
    #[inline]
    pub(crate) fn push(&mut self, kind: EventKind) {
        self.seq += 1;
        self.events.push(Event {
            seq: Seq(self.seq),
            timestamp: self.timestamp,
            kind,
        });
    }

    #[inline]
    pub(crate) fn cancelled(
        &mut self,
        order: OrderId,
        account: AccountId,
        market: MarketId,
        quantity: Quantity,
        remaining: Quantity,
        reason: CancelReason,
    ) {
        self.push(EventKind::Cancelled(Cancelled {
            order_id: order,
            account,
            market,
            quantity,
            remaining,
            reason,
        }));
    }

    #[inline]
    pub(crate) fn done(
        &mut self,
        order: OrderId,
        account: AccountId,
        market: MarketId,
        filled: Quantity,
    ) {
        self.push(EventKind::Done(Done {
            order_id: order,
            account,
            market,
            filled,
        }));
    }
}
