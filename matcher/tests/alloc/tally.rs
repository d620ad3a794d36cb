//! What a measured window did, counted without allocating.

use matcher::{CancelReason, EventKind};

/// What the measured window did, tallied without allocating.
#[derive(Debug, Default)]
pub(super) struct Tally {
    pub(super) events: u64,
    /// Accepted, Rejected, Trade, Cancelled, Amended, Done.
    pub(super) kinds: [u64; 6],
    /// By `RejectReason as usize`.
    pub(super) rejects: [u64; 14],
    /// By `CancelReason as usize`.
    pub(super) cancels: [u64; 6],
    /// Amended without and with kept priority.
    pub(super) amends: [u64; 2],
    /// Self-trade-prevention cancellations that left quantity (decrement and cancel).
    pub(super) stp_decrements: u64,
}

impl Tally {
    pub(super) fn add(&mut self, kind: &EventKind) {
        self.events += 1;
        match kind {
            EventKind::Accepted(_) => self.kinds[0] += 1,
            EventKind::Rejected(r) => {
                self.kinds[1] += 1;
                self.rejects[r.reason as usize] += 1;
            }
            EventKind::Trade(_) => self.kinds[2] += 1,
            EventKind::Cancelled(c) => {
                self.kinds[3] += 1;
                self.cancels[c.reason as usize] += 1;
                if c.reason == CancelReason::SelfTradePrevention && !c.remaining.is_zero() {
                    self.stp_decrements += 1;
                }
            }
            EventKind::Amended(a) => {
                self.kinds[4] += 1;
                self.amends[usize::from(a.kept_priority)] += 1;
            }
            EventKind::Done(_) => self.kinds[5] += 1,
        }
    }
}
