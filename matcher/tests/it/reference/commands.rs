//! The commands, applied by the rules and nothing else.

use matcher::{
    Accepted, Amend, Amended, Cancel, CancelAll, CancelReason, ClientOrderId, CommandType,
    EventKind, NewOrder, OrderId, OrderRef, OrderType, Quantity, RejectReason, TimeInForce,
    Timestamp,
};

use super::Reference;
use super::book::RefOrder;
use super::locate::Loc;
use super::log::{Log, Who};
use super::matching::{Taker, fok_fillable, match_taker};

impl Reference {
    pub(super) fn new_order(&mut self, o: &NewOrder, now: Timestamp) {
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

    pub(super) fn cancel(&mut self, c: &Cancel) {
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

    pub(super) fn cancel_all(&mut self, c: &CancelAll) {
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

    pub(super) fn amend(&mut self, a: &Amend, now: Timestamp) {
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
