//! Golden files: the exact bytes of every persisted and wire format, so that an accidental
//! format change fails here instead of in production against old journals, snapshots or
//! clients.
//!
//! Each test encodes a fixed, hand-built set of values (no clocks, no randomness) and
//! compares the bytes with a file in `matcher/tests/golden/`, then decodes the file back
//! and checks it yields the same values. A mismatch names the first differing byte and the
//! value it belongs to.
//!
//! A deliberate format change must bump the format's version and regenerate the files:
//!
//! ```text
//! UPDATE_GOLDEN=1 cargo test -p matcher --test it golden
//! ```
//!
//! With `UPDATE_GOLDEN=1` the tests (re)write the files instead of comparing; review the
//! binary diff (`git diff --stat`) and commit the new files together with the change.
//!
//! Files:
//! - `codec.bin`: every command shape (with timestamp, as journaled), every event kind and
//!   every enum value (reject and cancel reasons, command types), order views and depths;
//! - `journal_records.bin`: journal records of commands run through a real engine;
//! - `journal_segment.bin`: the start of a segment written by `JournalWriter` (the 64-byte
//!   header, then its records);
//! - `snapshot.bin`: a snapshot of an engine with resting orders and a recent client id
//!   window;
//! - `requests.bin` / `responses.bin`: one wire frame per request and response variant.

mod codec;
mod file;
mod journal;
mod snapshot;
mod values;
mod wire;
