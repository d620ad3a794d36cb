//! A deliberately simple reference order book, written from the rules in the `engine`
//! module's documentation ("Semantics, precisely") and nothing else.
//!
//! It trades speed for obviousness: each side of a book is a `BTreeMap` from price to a
//! FIFO `VecDeque` of orders, every lookup is a linear scan, and the recent client order
//! id window is a `VecDeque`. It speaks the engine's own types ([`Command`] in,
//! [`Event`] out, [`OrderView`] and [`Depth`] for state), so the property tests can
//! compare the two with `assert_eq!`.

mod book;
mod commands;
mod locate;
mod log;
mod matching;
mod queries;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, VecDeque};

use matcher::{Command, CommandKind, EngineConfig, Event, Timestamp};

use self::book::RefBook;
use self::log::Log;

/// The reference engine.
#[derive(Clone, Debug)]
pub(crate) struct Reference {
    books: Vec<RefBook>,
    log: Log,
    next_order_id: u64,
}

impl Reference {
    /// A reference with the markets and window of `config`.
    pub(crate) fn new(config: &EngineConfig) -> Self {
        Self {
            books: config
                .markets
                .iter()
                .map(|c| RefBook {
                    config: *c,
                    bids: BTreeMap::new(),
                    asks: BTreeMap::new(),
                })
                .collect(),
            log: Log {
                seq: 0,
                timestamp: Timestamp(0),
                events: Vec::new(),
                window: config.client_id_window as usize,
                recent: VecDeque::new(),
            },
            next_order_id: 1,
        }
    }

    /// Applies one command; returns its events.
    pub(crate) fn process(&mut self, command: &Command) -> Vec<Event> {
        self.log.events.clear();
        self.log.timestamp = command.timestamp;
        match &command.kind {
            CommandKind::NewOrder(o) => self.new_order(o, command.timestamp),
            CommandKind::Cancel(c) => self.cancel(c),
            CommandKind::Amend(a) => self.amend(a, command.timestamp),
            CommandKind::CancelAll(c) => self.cancel_all(c),
        }
        std::mem::take(&mut self.log.events)
    }
}
