//! The engine allocates nothing per command once warm: a counting global allocator watches
//! one million mixed commands (every order type, time in force, self-trade-prevention mode,
//! cancel and amend form, cancel-all and reject reason) and must see zero allocations and
//! zero reallocations.
//!
//! Tests in one binary run on parallel threads and share the global allocator, so it
//! counts only on a thread that has switched counting on (a thread-local flag), and the
//! count is thread-local too.

mod counting;
mod generator;
mod markets;
mod rng;
mod tally;

use std::hint::black_box;

use matcher::{CancelReason, Command, RejectReason};

use crate::counting::count_allocations;
use crate::generator::Generator;
use crate::markets::{M1, engine};
use crate::tally::Tally;

const WARMUP: usize = 200_000;
const MEASURED: usize = 1_000_000;

#[test]
fn counter_counts_allocations_on_this_thread_only() {
    let (v, n) = count_allocations(|| black_box(Vec::<u64>::with_capacity(16)));
    assert_eq!(n, 1, "one Vec allocation");
    let mut v = v;
    let ((), n) = count_allocations(|| v.reserve(1_000));
    assert_eq!(n, 1, "one reallocation");
    let ((), n) = count_allocations(|| black_box(()));
    assert_eq!(n, 0, "nothing allocated");
    let ((), n) = count_allocations(|| {
        std::thread::spawn(|| black_box(vec![1u8; 64]))
            .join()
            .map(drop)
            .expect("thread ran");
    });
    assert!(n >= 1, "spawning allocates on this thread");
    // The engine's own allocations are seen too: a depth query builds vectors.
    let engine = engine();
    let (depth, n) = count_allocations(|| engine.depth(M1, 5));
    assert!(depth.is_ok());
    assert!(n >= 2, "depth allocates its two sides, saw {n}");
}

#[test]
fn a_million_mixed_commands_allocate_nothing_once_warm() {
    // Pre-generate against one engine (the generator allocates freely), then replay the
    // identical commands into a fresh engine: ids repeat, so every cancel and amend hits.
    let mut generator = Generator::new(0x05EE_D0FA_110C);
    let commands: Vec<Command> = (0..WARMUP + MEASURED)
        .map(|_| generator.next_command())
        .collect();
    let (warmup, measured) = commands.split_at(WARMUP);

    let mut engine = engine();
    for command in warmup {
        engine.process(command);
    }
    let mut tally = Tally::default();
    let ((), allocations) = count_allocations(|| {
        for command in measured {
            for event in engine.process(command) {
                tally.add(&event.kind);
            }
        }
    });

    assert_eq!(
        engine.state_hash(),
        generator.engine.state_hash(),
        "the replay must reproduce the generator's engine"
    );
    assert_eq!(
        allocations, 0,
        "the engine allocated {allocations} times in {MEASURED} commands ({tally:?})"
    );

    // The window exercised what it claims to.
    assert!(
        tally.kinds.iter().all(|&n| n > 0),
        "every event kind: {tally:?}"
    );
    for reason in [
        RejectReason::UnknownMarket,
        RejectReason::PriceNotOnTick,
        RejectReason::PriceOutOfBand,
        RejectReason::ZeroQuantity,
        RejectReason::QuantityNotOnLot,
        RejectReason::QuantityTooLarge,
        RejectReason::Duplicate,
        RejectReason::BookFull,
        RejectReason::UnknownOrder,
        RejectReason::InvalidOrderType,
        RejectReason::NothingToAmend,
        RejectReason::QuantityBelowFilled,
        RejectReason::PostOnlyWouldCross,
    ] {
        assert!(tally.rejects[reason as usize] > 0, "{reason:?}: {tally:?}");
    }
    for reason in [
        CancelReason::User,
        CancelReason::IocRemainder,
        CancelReason::FokNotFillable,
        CancelReason::SelfTradePrevention,
        CancelReason::PostOnlyWouldCross,
    ] {
        assert!(tally.cancels[reason as usize] > 0, "{reason:?}: {tally:?}");
    }
    assert!(
        tally.amends.iter().all(|&n| n > 0),
        "both amend kinds: {tally:?}"
    );
    assert!(tally.stp_decrements > 0, "decrement and cancel: {tally:?}");
}
