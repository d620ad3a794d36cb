//! tradeplane's matching engine: price-time priority limit order books, pure and
//! synchronous.
//!
//! The engine is a function of its commands. It does no I/O, starts no thread, reads no
//! clock and draws no random number: each [`Command`] carries its timestamp, order ids
//! and sequence numbers come from counters, and nothing it reports depends on hash-map
//! iteration order. The same commands therefore give byte-identical [`Event`]s and the
//! same [`Engine::state_hash`], which is what lets a shard recover by replaying its
//! journal and check the replay against what it recorded.
//!
//! It is also built to never allocate once running: orders live in a pool sized at
//! start-up, price levels are a dense array over each market's price band with a bitmap
//! of non-empty levels (no tree to rebalance), and the id maps are pre-sized at twice
//! their peak. A full book is a [`RejectReason::BookFull`], never growth.
//!
//! The exact rules (validation order, self-trade prevention, amend priority) are in the
//! `engine` module's documentation; the property tests hold the engine to a separate,
//! simple reference book written from those rules.
//!
//! Around the engine, the rest of the crate makes it a durable network service:
//! - [`codec`]: the binary encoding of commands and events, shared by the journal and the
//!   wire;
//! - [`journal`]: preallocated, checksummed segments written in group-committed batches,
//!   read back by recovery and by the event feed; snapshots (`Engine::begin_snapshot`)
//!   are copy-on-write so the matching loop never stops for them;
//! - [`shard`]: the server (I/O threads → ring → one pinned matching thread → journal
//!   thread → acknowledgements and feed), recovery, retention;
//! - [`protocol`] and [`client`]: the wire format and the pooled, pipelined client the
//!   gateway uses.

mod accounts;
mod background;
mod bitset;
mod book;
pub mod client;
mod client_ids;
pub mod codec;
mod command;
mod emit;
mod engine;
mod event;
pub mod journal;
mod ladder;
mod market;
mod matching;
mod order_ids;
mod pool;
pub mod protocol;
mod query;
mod resting;
pub mod shard;
mod snapshot;
mod state_hash;
mod types;
mod validate;

pub use command::{Amend, Cancel, CancelAll, Command, CommandKind, NewOrder, OrderRef};
pub use engine::{Engine, EngineConfig, EngineConfigError};
pub use event::{
    Accepted, Amended, CancelReason, Cancelled, CommandType, Done, Event, EventKind, RejectReason,
    Rejected, Trade,
};
pub use market::{MAX_LEVELS, MarketConfig, MarketConfigError};
pub use query::{Depth, DepthLevel, OrderView, UnknownMarket};
pub use snapshot::{SNAPSHOT_VERSION, Snapshot, SnapshotError, SnapshotImage, decode_snapshot};
pub use types::{
    AccountId, ClientOrderId, IdentError, MAX_CLIENT_ORDER_ID_LEN, MAX_SYMBOL_LEN, MarketId,
    OrderId, OrderType, Price, Quantity, Seq, Side, StpMode, Symbol, TimeInForce, Timestamp,
};
