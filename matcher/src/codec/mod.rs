//! Binary encoding of commands and events, shared by the journal and the wire protocol.
//!
//! Little-endian, fixed layouts, one tag byte per variant; no self-description, no
//! padding, no allocation when the output buffer has room. The enclosing formats (journal
//! record, protocol frame) carry the version; this layout is version 1 of both, and the
//! golden-file tests pin its bytes.
//!
//! Decoding is for untrusted bytes: every read is bounds-checked, every tag and enum byte
//! validated, and a failure is a [`DecodeError`], never a panic.

mod command;
mod error;
mod event;
mod query;
mod reader;
mod writer;

pub use command::{decode_command, decode_command_kind};
pub use error::DecodeError;
pub use event::decode_event;
pub use query::{decode_depth, decode_order_view};
pub use reader::Reader;
pub use writer::Encode;
pub(crate) use writer::{put_client_order_id, put_i64, put_u8, put_u32, put_u64};
