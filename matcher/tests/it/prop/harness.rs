//! The harness: engine, twin engine and reference in lockstep, and what the properties
//! remember between commands.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use matcher::{AccountId, ClientOrderId, Command, Engine, MarketId, OrderId, StpMode, Timestamp};
use proptest::test_runner::TestCaseError;

use super::ledger::Ledger;
use super::markets::engine_config;
use super::ops::Op;
use crate::reference::Reference;

/// What the tests remember about an accepted order.
#[derive(Clone, Copy, Debug)]
pub(super) struct Known {
    pub(super) id: OrderId,
    pub(super) account: AccountId,
    pub(super) client_order_id: ClientOrderId,
    pub(super) market: MarketId,
    pub(super) stp: StpMode,
}

/// Engine, twin engine and reference, run in lockstep, with the bookkeeping the
/// properties need.
pub(super) struct Harness {
    pub(super) engine: Engine,
    pub(super) twin: Engine,
    pub(super) reference: Reference,
    commands: Vec<Command>,
    pub(super) last_seq: u64,
    pub(super) next_id: u64,
    pub(super) ledger: BTreeMap<OrderId, Ledger>,
    pub(super) live: usize,
    pub(super) history: Vec<Known>,
    pub(super) client_ids: BTreeMap<AccountId, Vec<ClientOrderId>>,
    next_client_id: u64,
    /// Compare `Engine::depth` with the reference after every command too.
    pub(super) check_depth: bool,
    /// How often each kind of outcome happened, to show the generators reach them all.
    pub(super) outcomes: BTreeMap<(&'static str, &'static str), usize>,
    /// The order taking liquidity in the current command, and whether it is an amend.
    pub(super) taker: Option<(Known, bool)>,
}

impl Harness {
    pub(super) fn new(window: u32, check_depth: bool) -> Self {
        let config = engine_config(window);
        Self {
            engine: Engine::new(config.clone()).expect("valid engine config"),
            twin: Engine::new(config.clone()).expect("valid engine config"),
            reference: Reference::new(&config),
            commands: Vec::new(),
            last_seq: 0,
            next_id: 1,
            ledger: BTreeMap::new(),
            live: 0,
            history: Vec::new(),
            client_ids: BTreeMap::new(),
            next_client_id: 1,
            check_depth,
            outcomes: BTreeMap::new(),
            taker: None,
        }
    }

    pub(super) fn saw(&mut self, kind: &'static str, detail: &'static str) {
        *self.outcomes.entry((kind, detail)).or_default() += 1;
    }

    pub(super) fn fresh_client_id(&mut self) -> ClientOrderId {
        let n = self.next_client_id;
        self.next_client_id += 1;
        ClientOrderId::new(&format!("c-{n}")).expect("valid client order id")
    }

    /// Runs `op` and checks every property; on failure, the message lists the concrete
    /// commands that led there.
    pub(super) fn run(&mut self, op: Op) -> Result<(), TestCaseError> {
        let timestamp = Timestamp(1_000 + 10 * self.commands.len() as u64);
        let command = self.command(op, timestamp);
        self.commands.push(command);
        self.step(&command).map_err(|msg| {
            let mut s = format!("{msg}\ncommands ({}):\n", self.commands.len());
            for (i, c) in self.commands.iter().enumerate() {
                let _ = writeln!(s, "  {i:3}: {c:?}");
            }
            TestCaseError::fail(s)
        })
    }
}
