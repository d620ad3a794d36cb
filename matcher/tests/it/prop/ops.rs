//! Abstract operations and their generators: what to do, made concrete only when it runs
//! (see `concrete.rs`).

use matcher::{MarketId, Side, StpMode, TimeInForce};
use proptest::prelude::*;
use proptest::sample::Index;

use super::markets::{ACCOUNTS, MARKET_A, MARKET_B, UNKNOWN_MARKET};

#[derive(Clone, Copy, Debug)]
pub(super) enum MarketSel {
    A,
    B,
    Unknown,
}

impl MarketSel {
    pub(super) fn id(self) -> MarketId {
        match self {
            MarketSel::A => MARKET_A,
            MarketSel::B => MARKET_B,
            MarketSel::Unknown => UNKNOWN_MARKET,
        }
    }
}

/// A price near the middle (`mode` < 88), off tick, or out of band.
#[derive(Clone, Copy, Debug)]
pub(super) struct PriceSel {
    pub(super) mode: u8,
    pub(super) offset: i64,
}

/// A few lots (`mode` < 88), zero, off lot, or too large.
#[derive(Clone, Copy, Debug)]
pub(super) struct QtySel {
    pub(super) mode: u8,
    pub(super) lots: u64,
}

#[derive(Clone, Copy, Debug)]
pub(super) enum ClientSel {
    Fresh,
    /// One of the account's earlier client order ids.
    Reuse(Index),
    /// A client order id any account used (so accounts share ids).
    Borrow(Index),
}

#[derive(Clone, Copy, Debug)]
pub(super) struct NewSpec {
    pub(super) market: MarketSel,
    pub(super) account: u64,
    pub(super) side: Side,
    /// `None`: a market order.
    pub(super) limit: Option<PriceSel>,
    pub(super) quantity: QtySel,
    pub(super) tif: TimeInForce,
    pub(super) post_only: bool,
    pub(super) stp: StpMode,
    pub(super) client: ClientSel,
}

#[derive(Clone, Copy, Debug)]
pub(super) enum TargetKind {
    /// A resting order.
    Live,
    /// Any order ever accepted (often finished).
    Historical,
    /// An id or client id never used.
    Unknown,
}

#[derive(Clone, Copy, Debug)]
pub(super) struct Target {
    pub(super) kind: TargetKind,
    pub(super) by_client: bool,
    pub(super) pick: Index,
    /// `None`: the order's owner; otherwise this account.
    pub(super) account: Option<u64>,
}

#[derive(Clone, Copy, Debug)]
pub(super) enum AmendPrice {
    Keep,
    Same,
    New(PriceSel),
    /// The opposite best price, this many ticks beyond it (so the amend crosses).
    Cross(i64),
}

#[derive(Clone, Copy, Debug)]
pub(super) enum AmendQty {
    Keep,
    /// The order's current total plus this many lots.
    Relative(i64),
    Absolute(QtySel),
}

#[derive(Clone, Copy, Debug)]
pub(super) enum Op {
    New(NewSpec),
    Cancel(Target),
    Amend(Target, AmendPrice, AmendQty),
    CancelAll {
        account: u64,
        market: Option<MarketSel>,
    },
}

fn market_sel() -> impl Strategy<Value = MarketSel> {
    prop_oneof![
        10 => Just(MarketSel::A),
        10 => Just(MarketSel::B),
        1 => Just(MarketSel::Unknown),
    ]
}

fn price_sel() -> impl Strategy<Value = PriceSel> {
    (0u8..100, -6i64..=6).prop_map(|(mode, offset)| PriceSel { mode, offset })
}

fn qty_sel() -> impl Strategy<Value = QtySel> {
    (0u8..100, 1u64..=6).prop_map(|(mode, lots)| QtySel { mode, lots })
}

fn account() -> impl Strategy<Value = u64> {
    1..=ACCOUNTS
}

/// How a case's operations are weighted.
#[derive(Clone, Copy, Debug)]
enum Mix {
    /// Orders come and go: a thin book, many rejects and cancels.
    Churn,
    /// Mostly resting orders and few cancels: deep books that fill up (`book_full`).
    Deep,
}

fn new_spec(mix: Mix) -> impl Strategy<Value = NewSpec> {
    let (gtc, post_only) = match mix {
        Mix::Churn => (3, 0.15),
        Mix::Deep => (8, 0.3),
    };
    (
        market_sel(),
        account(),
        prop_oneof![Just(Side::Buy), Just(Side::Sell)],
        prop_oneof![6 => price_sel().prop_map(Some), 1 => Just(None)],
        qty_sel(),
        prop_oneof![
            gtc => Just(TimeInForce::Gtc),
            1 => Just(TimeInForce::Ioc),
            1 => Just(TimeInForce::Fok),
        ],
        prop::bool::weighted(post_only),
        prop_oneof![
            Just(StpMode::CancelNewest),
            Just(StpMode::CancelOldest),
            Just(StpMode::CancelBoth),
            Just(StpMode::DecrementAndCancel),
        ],
        prop_oneof![
            10 => Just(ClientSel::Fresh),
            2 => any::<Index>().prop_map(ClientSel::Reuse),
            1 => any::<Index>().prop_map(ClientSel::Borrow),
        ],
        // Below 85, an impossible type / time in force / post-only mix is made possible.
        0u8..100,
    )
        .prop_map(
            |(market, account, side, limit, quantity, tif, post_only, stp, client, sane)| {
                let (tif, post_only) = match (limit, tif, post_only) {
                    _ if sane >= 85 => (tif, post_only),
                    (None, TimeInForce::Gtc, _) => (TimeInForce::Ioc, false),
                    (None, tif, _) => (tif, false),
                    (Some(_), _, true) => (TimeInForce::Gtc, true),
                    (Some(_), tif, false) => (tif, false),
                };
                NewSpec {
                    market,
                    account,
                    side,
                    limit,
                    quantity,
                    tif,
                    post_only,
                    stp,
                    client,
                }
            },
        )
}

fn target() -> impl Strategy<Value = Target> {
    (
        prop_oneof![
            7 => Just(TargetKind::Live),
            2 => Just(TargetKind::Historical),
            1 => Just(TargetKind::Unknown),
        ],
        prop::bool::weighted(0.3),
        any::<Index>(),
        prop_oneof![6 => Just(None), 1 => account().prop_map(Some)],
    )
        .prop_map(|(kind, by_client, pick, account)| Target {
            kind,
            by_client,
            pick,
            account,
        })
}

fn op(mix: Mix) -> impl Strategy<Value = Op> {
    let (new, cancel, amend, cancel_all) = match mix {
        Mix::Churn => (14, 2, 4, 1),
        Mix::Deep => (30, 1, 4, 1),
    };
    prop_oneof![
        new => new_spec(mix).prop_map(Op::New),
        cancel => target().prop_map(Op::Cancel),
        amend => (
            target(),
            prop_oneof![
                2 => Just(AmendPrice::Keep),
                1 => Just(AmendPrice::Same),
                3 => price_sel().prop_map(AmendPrice::New),
                2 => (0i64..=2).prop_map(AmendPrice::Cross),
            ],
            prop_oneof![
                2 => Just(AmendQty::Keep),
                3 => (-3i64..=3).prop_map(AmendQty::Relative),
                1 => qty_sel().prop_map(AmendQty::Absolute),
            ],
        )
            .prop_map(|(t, p, q)| Op::Amend(t, p, q)),
        cancel_all => (account(), prop::option::weighted(0.6, market_sel()))
            .prop_map(|(account, market)| Op::CancelAll { account, market }),
    ]
}

/// The client order id window: mostly 4 (so eviction happens), sometimes 0 or 1.
fn window() -> impl Strategy<Value = u32> {
    prop_oneof![4 => Just(4u32), 1 => Just(0u32), 1 => Just(1u32)]
}

/// One case: a window and up to `max` operations under one mix.
pub(super) fn case(min: usize, max: usize) -> impl Strategy<Value = (u32, Vec<Op>)> {
    (window(), prop_oneof![Just(Mix::Churn), Just(Mix::Deep)])
        .prop_flat_map(move |(w, mix)| (Just(w), prop::collection::vec(op(mix), min..=max)))
}
