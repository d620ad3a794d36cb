//! What must hold after every command: agreement with the reference and the twin engine,
//! gapless sequences, uncrossed books and quantity conservation.

use matcher::{AccountId, Command, Event, EventKind, OrderId, Seq, Side, UnknownMarket};

use super::harness::Harness;
use super::markets::{ACCOUNTS, MARKET_A, MARKET_B, UNKNOWN_MARKET, config_of};

impl Harness {
    pub(super) fn step(&mut self, command: &Command) -> Result<(), String> {
        let events: Vec<Event> = self.engine.process(command).to_vec();
        let expected = self.reference.process(command);
        check_eq!(
            events,
            expected,
            "events differ from the reference (left: engine, right: reference)"
        );

        // Determinism: a second engine fed the same commands agrees exactly.
        let twin: Vec<Event> = self.twin.process(command).to_vec();
        check_eq!(events, twin, "a second engine emitted other events");
        check_eq!(
            self.engine.state_hash(),
            self.twin.state_hash(),
            "a second engine has another state hash"
        );

        // Gapless sequence numbers from 1, each stamped with the command's time.
        for e in &events {
            check_eq!(e.seq, Seq(self.last_seq + 1), "sequence gap at {e:?}");
            check_eq!(e.timestamp, command.timestamp, "timestamp of {e:?}");
            self.last_seq = e.seq.0;
        }
        check_eq!(self.engine.last_seq(), Seq(self.last_seq), "last_seq");
        check_eq!(
            self.engine.next_order_id(),
            OrderId(self.next_id + count_accepted(&events)),
            "next_order_id"
        );

        let touched = self.account_for(&events)?;

        // Books: same resting orders as the reference, never crossed.
        let mut resting = Vec::new();
        for market in [MARKET_A, MARKET_B] {
            let got = self
                .engine
                .resting_orders(market)
                .expect("configured market");
            let want = self
                .reference
                .resting_orders(market)
                .expect("configured market");
            check_eq!(
                got,
                want,
                "resting orders of {market:?} (left: engine, right: reference)"
            );
            check_eq!(
                self.engine
                    .resting_count(market)
                    .expect("configured market") as usize,
                got.len(),
                "resting_count of {market:?}"
            );
            check!(
                got.len() <= config_of(market).max_resting_orders() as usize,
                "{market:?} holds more than its maximum"
            );
            let (bid, ask) = self.engine.best_prices(market).expect("configured market");
            if let (Some(bid), Some(ask)) = (bid, ask) {
                check!(bid < ask, "{market:?} is crossed: bid {bid:?} ask {ask:?}");
            }
            check_eq!(
                bid,
                got.iter()
                    .filter(|o| o.side == Side::Buy)
                    .map(|o| o.price)
                    .max(),
                "best bid of {market:?}"
            );
            check_eq!(
                ask,
                got.iter()
                    .filter(|o| o.side == Side::Sell)
                    .map(|o| o.price)
                    .min(),
                "best ask of {market:?}"
            );
            if self.check_depth {
                for levels in [1, 3, 100] {
                    check_eq!(
                        self.engine
                            .depth(market, levels)
                            .expect("configured market"),
                        self.reference
                            .depth(market, levels)
                            .expect("configured market"),
                        "depth({market:?}, {levels})"
                    );
                }
            }
            resting.extend(got);
        }
        check_eq!(
            self.engine.resting_orders(UNKNOWN_MARKET),
            Err(UnknownMarket(UNKNOWN_MARKET)),
            "resting orders of an unknown market"
        );

        // Quantity conservation, per order.
        check_eq!(
            resting.len(),
            self.live,
            "resting orders vs accepted and not done"
        );
        for o in &resting {
            let l = self
                .ledger
                .get(&o.order_id)
                .ok_or_else(|| format!("resting order {:?} was never accepted", o.order_id))?;
            check!(!l.done, "resting order {:?} is done", o.order_id);
            check_eq!(o.filled.0, l.filled, "filled of {:?}", o.order_id);
            check_eq!(o.quantity.0, l.total, "total quantity of {:?}", o.order_id);
            check_eq!(
                o.quantity.0,
                o.filled.0 + o.remaining.0,
                "quantity = filled + remaining of {:?}",
                o.order_id
            );
            check_eq!(
                l.supply(),
                i128::from(l.filled + o.remaining.0 + l.cancelled),
                "conservation of live {:?}: {l:?}, remaining {:?}",
                o.order_id,
                o.remaining
            );
            check_eq!(
                self.engine.order(o.order_id),
                Some(*o),
                "order({:?})",
                o.order_id
            );
            check_eq!(
                self.engine.order_by_client_id(o.account, o.client_order_id),
                Some(*o),
                "order_by_client_id of {:?}",
                o.order_id
            );
        }
        for id in touched {
            let l = self.ledger[&id];
            if l.done {
                check!(
                    self.engine.order(id).is_none(),
                    "done order {id:?} is still live"
                );
                let k = self.history[usize::try_from(id.0 - 1).expect("ids are small")];
                check!(
                    self.engine
                        .order_by_client_id(k.account, k.client_order_id)
                        .is_none_or(|o| o.order_id != id),
                    "done order {id:?} is still found by its client order id"
                );
                check_eq!(
                    l.supply(),
                    i128::from(l.filled + l.cancelled),
                    "conservation of done {id:?}: {l:?}"
                );
            }
        }

        // Per-account views agree with the reference.
        for a in 1..=ACCOUNTS {
            let account = AccountId(a);
            for market in [None, Some(MARKET_A), Some(MARKET_B)] {
                check_eq!(
                    self.engine.open_orders(account, market),
                    self.reference.open_orders(account, market),
                    "open_orders({account:?}, {market:?})"
                );
            }
        }
        Ok(())
    }
}

fn count_accepted(events: &[Event]) -> u64 {
    events
        .iter()
        .filter(|e| matches!(e.kind, EventKind::Accepted(_)))
        .count() as u64
}
