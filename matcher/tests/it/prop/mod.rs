//! Property tests: random command sequences run through the engine and the reference
//! book (`reference/`) side by side, with the engine's invariants checked after every
//! command.
//!
//! Commands are generated as abstract operations ([`ops::Op`]) and made concrete just
//! before they run, against the state reached so far: that is how cancels and amends
//! mostly name orders that exist (picked from the live book or from every order ever
//! accepted), and new orders sometimes reuse a client order id on purpose.

// Early-return checks for `Harness::step`, which reports a failure as a message.
macro_rules! check {
    ($cond:expr, $($msg:tt)+) => {
        if !$cond {
            return Err(format!($($msg)+));
        }
    };
}

macro_rules! check_eq {
    ($left:expr, $right:expr, $($msg:tt)+) => {{
        let (l, r) = (&$left, &$right);
        if l != r {
            return Err(format!(
                "{}\n  left: {:?}\n right: {:?}",
                format!($($msg)+),
                l,
                r
            ));
        }
    }};
}

mod concrete;
mod harness;
mod invariants;
mod ledger;
mod markets;
mod ops;
mod outcomes;

use std::collections::BTreeMap;

use matcher::UnknownMarket;
use proptest::prelude::*;
use proptest::strategy::ValueTree;

use self::harness::Harness;
use self::markets::{MARKET_A, MARKET_B, UNKNOWN_MARKET};
use self::ops::case;

/// `cases` cases, unless `PROPTEST_CASES` asks for another number (for a long soak).
fn config(cases: u32) -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(cases);
    ProptestConfig {
        cases,
        // Nothing written next to the sources: a failure prints its commands instead.
        failure_persistence: None,
        max_shrink_iters: 4096,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config(256))]

    /// The engine agrees with the reference event for event and order for order, and
    /// keeps its invariants, after every command of a random sequence.
    #[test]
    fn engine_matches_reference(
        (window, ops) in case(1, 200),
    ) {
        let mut h = Harness::new(window, false);
        for op in ops {
            h.run(op)?;
        }
    }
}

proptest! {
    #![proptest_config(config(64))]

    /// `Engine::depth` is the reference book's levels, aggregated, at every step.
    #[test]
    fn depth_is_aggregated_reference_levels(
        (window, ops) in case(1, 200),
    ) {
        let mut h = Harness::new(window, true);
        for op in ops {
            h.run(op)?;
        }
        for market in [MARKET_A, MARKET_B] {
            prop_assert_eq!(
                h.engine.depth(market, usize::MAX).unwrap(),
                h.reference.depth(market, usize::MAX).unwrap()
            );
        }
        prop_assert_eq!(
            h.engine.depth(UNKNOWN_MARKET, 5),
            Err(UnknownMarket(UNKNOWN_MARKET))
        );
    }
}

/// The generators reach every outcome the properties are meant to cover: every reject
/// and cancel reason, both amend kinds, duplicates of live and finished orders, and a
/// client order id accepted again once the window has let it go.
#[test]
fn generators_reach_every_outcome() {
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let strategy = case(150, 200);
    let mut outcomes = BTreeMap::new();
    for _ in 0..24 {
        let (window, ops) = strategy.new_tree(&mut runner).unwrap().current();
        let mut h = Harness::new(window, false);
        for op in ops {
            h.run(op).unwrap();
        }
        for (k, n) in h.outcomes {
            *outcomes.entry(k).or_insert(0) += n;
        }
    }
    for (k, n) in &outcomes {
        println!("{k:?}: {n}");
    }
    let mut expected = vec![
        ("accepted", "limit"),
        ("accepted", "market"),
        ("accepted", "client id reused after eviction"),
        ("duplicate", "of a live order"),
        ("duplicate", "of a finished order"),
        ("accepted", "client id another account uses"),
        ("trade", "by a new order"),
        ("trade", "by an amended order"),
        ("self-trade prevention", "cancel newest"),
        ("self-trade prevention", "cancel oldest"),
        ("self-trade prevention", "cancel both"),
        ("self-trade prevention", "decrement and cancel"),
        ("cancelled", "partially (decrement)"),
        ("amended", "kept priority"),
        ("amended", "lost priority"),
        ("done", ""),
    ];
    for r in [
        matcher::RejectReason::UnknownMarket,
        matcher::RejectReason::PriceNotOnTick,
        matcher::RejectReason::PriceOutOfBand,
        matcher::RejectReason::ZeroQuantity,
        matcher::RejectReason::QuantityNotOnLot,
        matcher::RejectReason::QuantityTooLarge,
        matcher::RejectReason::Duplicate,
        matcher::RejectReason::BookFull,
        matcher::RejectReason::UnknownOrder,
        matcher::RejectReason::InvalidOrderType,
        matcher::RejectReason::NothingToAmend,
        matcher::RejectReason::QuantityBelowFilled,
        matcher::RejectReason::PostOnlyWouldCross,
    ] {
        expected.push(("rejected", r.code()));
    }
    for c in [
        matcher::CancelReason::User,
        matcher::CancelReason::IocRemainder,
        matcher::CancelReason::FokNotFillable,
        matcher::CancelReason::SelfTradePrevention,
        matcher::CancelReason::PostOnlyWouldCross,
    ] {
        expected.push(("cancelled", c.code()));
    }
    for k in expected {
        assert!(outcomes.contains_key(&k), "no {k:?} in {outcomes:#?}");
    }
}
