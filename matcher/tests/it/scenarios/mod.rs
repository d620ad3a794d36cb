//! Hand-written scenarios: one test per order type, edge case and reject reason, each
//! asserting the exact event stream in a compact notation.

mod amend;
mod cancel;
mod harness;
mod matching;
mod order_types;
mod queries;
mod rejects;
mod stp;
