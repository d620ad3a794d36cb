//! The shard's wire protocol: length-delimited binary frames over TCP.
//!
//! ```text
//! frame := len: u32 (bytes that follow) | version: u8 = 1 | type: u8 | request_id: u64 | body
//! ```
//! Every request carries a client-chosen id that its response echoes, so a client may
//! pipeline many requests on one connection and match answers as they come. Responses to
//! commands come in command order per connection; a feed subscription answers with a
//! stream of `Event` frames carrying the subscription's request id.
//!
//! Bodies use [`crate::codec`]. A frame that does not decode is answered with an `Error`
//! frame and the connection is closed; nothing else on the shard is affected.

use crate::codec::{
    DecodeError, Encode, Reader, decode_command_kind, decode_depth, decode_event,
    decode_order_view, put_client_order_id, put_u8, put_u32, put_u64,
};
use crate::command::CommandKind;
use crate::event::Event;
use crate::query::{Depth, OrderView};
use crate::types::{AccountId, ClientOrderId, MarketId, OrderId};

/// The protocol version this build speaks.
pub const PROTOCOL_VERSION: u8 = 1;
/// Largest request frame a shard accepts.
pub const MAX_REQUEST_FRAME: usize = 64 * 1024;
/// Largest response frame a client accepts (a cancel-all can answer with many events).
pub const MAX_RESPONSE_FRAME: usize = 1 << 30;
/// Longest error message a frame carries, in bytes.
pub const MAX_ERROR_MESSAGE: usize = 1024;
/// Bytes of the frame header after the length: version, type, request id.
pub const FRAME_PREFIX: usize = 1 + 1 + 8;

/// What a client asks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Request {
    /// Run a command; answered with `Ack` once its journal record is durable.
    Command(CommandKind),
    /// A live order by id.
    Order(OrderId),
    /// A live order by its owner's client order id.
    OrderByClientId(AccountId, ClientOrderId),
    /// An account's resting orders, optionally in one market.
    OpenOrders(AccountId, Option<MarketId>),
    /// The top levels of a book.
    Depth(MarketId, u32),
    /// Stream every event from this sequence number on: journaled ones from disk, then
    /// live ones, with no gap and no duplicate.
    Subscribe(u64),
    /// Liveness and position.
    Ping,
    /// Take a snapshot now.
    Snapshot,
}

/// What a shard answers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Response {
    /// A command ran and its record is durable.
    Ack {
        /// The command's journal sequence number.
        command_seq: u64,
        /// What it produced.
        events: Vec<Event>,
    },
    /// The shard's queue is full: try again shortly. Nothing was done.
    Busy,
    /// The request could not be handled; for `Malformed` the connection closes after it.
    Error {
        /// Stable error code.
        code: ErrorCode,
        /// Human-readable detail.
        message: String,
    },
    /// Answer to `Order` and `OrderByClientId`.
    Order(Option<OrderView>),
    /// Answer to `OpenOrders`.
    Orders(Vec<OrderView>),
    /// Answer to `Depth`; `None` for a market the shard does not own.
    Depth(Option<Depth>),
    /// One event of a subscription.
    Event(Event),
    /// Answer to `Ping`: the last durable command and event sequence numbers.
    Pong {
        /// Last durable command.
        command_seq: u64,
        /// Last durable event.
        event_seq: u64,
    },
    /// A snapshot was written, covering commands up to this one.
    SnapshotTaken {
        /// The command it follows.
        command_seq: u64,
    },
}

/// Why a request failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum ErrorCode {
    /// The frame does not decode.
    Malformed = 1,
    /// The frame's version is not spoken here.
    UnsupportedVersion = 2,
    /// The frame exceeds the size limit.
    FrameTooLarge = 3,
    /// The shard is shutting down; nothing was done.
    ShuttingDown = 4,
    /// The shard failed (journal I/O); it stops acknowledging.
    Internal = 5,
    /// A subscription asked for events no longer retained.
    NotRetained = 6,
}

impl ErrorCode {
    fn from_u8(v: u8) -> Option<Self> {
        Some(match v {
            1 => Self::Malformed,
            2 => Self::UnsupportedVersion,
            3 => Self::FrameTooLarge,
            4 => Self::ShuttingDown,
            5 => Self::Internal,
            6 => Self::NotRetained,
            _ => return None,
        })
    }
}

const REQ_COMMAND: u8 = 1;
const REQ_ORDER: u8 = 2;
const REQ_ORDER_BY_CLIENT_ID: u8 = 3;
const REQ_OPEN_ORDERS: u8 = 4;
const REQ_DEPTH: u8 = 5;
const REQ_SUBSCRIBE: u8 = 6;
const REQ_PING: u8 = 7;
const REQ_SNAPSHOT: u8 = 8;

const RES_ACK: u8 = 128;
const RES_BUSY: u8 = 129;
const RES_ERROR: u8 = 130;
const RES_ORDER: u8 = 131;
const RES_ORDERS: u8 = 132;
const RES_DEPTH: u8 = 133;
const RES_EVENT: u8 = 134;
const RES_PONG: u8 = 135;
const RES_SNAPSHOT_TAKEN: u8 = 136;

/// Starts a frame: reserves the length and writes the prefix. Returns where it starts.
fn begin(out: &mut Vec<u8>, kind: u8, request_id: u64) -> usize {
    let start = out.len();
    put_u32(out, 0);
    put_u8(out, PROTOCOL_VERSION);
    put_u8(out, kind);
    put_u64(out, request_id);
    start
}

fn end(out: &mut [u8], start: usize) {
    // Frames are bounded well below 4 GiB by MAX_RESPONSE_FRAME.
    #[allow(clippy::cast_possible_truncation)]
    let len = (out.len() - start - 4) as u32;
    out[start..start + 4].copy_from_slice(&len.to_le_bytes());
}

/// Appends a whole request frame (length prefix included) to `out`.
pub fn encode_request(out: &mut Vec<u8>, request_id: u64, request: &Request) {
    let kind = match request {
        Request::Command(_) => REQ_COMMAND,
        Request::Order(_) => REQ_ORDER,
        Request::OrderByClientId(..) => REQ_ORDER_BY_CLIENT_ID,
        Request::OpenOrders(..) => REQ_OPEN_ORDERS,
        Request::Depth(..) => REQ_DEPTH,
        Request::Subscribe(_) => REQ_SUBSCRIBE,
        Request::Ping => REQ_PING,
        Request::Snapshot => REQ_SNAPSHOT,
    };
    let start = begin(out, kind, request_id);
    match request {
        Request::Command(c) => c.encode(out),
        Request::Order(id) => put_u64(out, id.0),
        Request::OrderByClientId(account, cid) => {
            put_u64(out, account.0);
            put_client_order_id(out, cid);
        }
        Request::OpenOrders(account, market) => {
            put_u64(out, account.0);
            put_u8(out, u8::from(market.is_some()));
            put_u32(out, market.map_or(0, |m| m.0));
        }
        Request::Depth(market, levels) => {
            put_u32(out, market.0);
            put_u32(out, *levels);
        }
        Request::Subscribe(from) => put_u64(out, *from),
        Request::Ping | Request::Snapshot => {}
    }
    end(out, start);
}

/// A frame's prefix.
fn prefix(r: &mut Reader<'_>) -> Result<(u8, u64), FrameError> {
    let version = r.u8()?;
    if version != PROTOCOL_VERSION {
        return Err(FrameError::Version(version));
    }
    let kind = r.u8()?;
    let request_id = r.u64()?;
    Ok((kind, request_id))
}

/// Why a frame body does not decode.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// Not this protocol version.
    #[error("unsupported protocol version {0}")]
    Version(u8),
    /// Bad bytes.
    #[error(transparent)]
    Decode(#[from] DecodeError),
}

/// Decodes a request frame's body (everything after the length prefix).
///
/// # Errors
/// [`FrameError`] for another version or bytes that do not decode.
pub fn decode_request(body: &[u8]) -> Result<(u64, Request), FrameError> {
    let mut r = Reader::new(body);
    let (kind, request_id) = prefix(&mut r)?;
    let request = match kind {
        REQ_COMMAND => Request::Command(decode_command_kind(&mut r)?),
        REQ_ORDER => Request::Order(OrderId(r.u64()?)),
        REQ_ORDER_BY_CLIENT_ID => {
            Request::OrderByClientId(AccountId(r.u64()?), r.client_order_id()?)
        }
        REQ_OPEN_ORDERS => {
            let account = AccountId(r.u64()?);
            let present = r.bool()?;
            let market = r.u32()?;
            if !present && market != 0 {
                return Err(DecodeError::Invalid {
                    what: "absent market",
                    value: 1,
                    offset: r.position(),
                }
                .into());
            }
            Request::OpenOrders(account, present.then_some(MarketId(market)))
        }
        REQ_DEPTH => Request::Depth(MarketId(r.u32()?), r.u32()?),
        REQ_SUBSCRIBE => Request::Subscribe(r.u64()?),
        REQ_PING => Request::Ping,
        REQ_SNAPSHOT => Request::Snapshot,
        v => {
            return Err(DecodeError::Invalid {
                what: "request type",
                value: v,
                offset: 1,
            }
            .into());
        }
    };
    r.finish()?;
    Ok((request_id, request))
}

/// Appends a whole response frame (length prefix included) to `out`.
pub fn encode_response(out: &mut Vec<u8>, request_id: u64, response: &Response) {
    match response {
        Response::Ack {
            command_seq,
            events,
        } => encode_ack(out, request_id, *command_seq, events),
        Response::Busy => {
            let start = begin(out, RES_BUSY, request_id);
            end(out, start);
        }
        Response::Error { code, message } => {
            let start = begin(out, RES_ERROR, request_id);
            put_u8(out, *code as u8);
            // At most 1 KiB, cut on a character boundary so the text stays valid UTF-8.
            let mut cut = message.len().min(MAX_ERROR_MESSAGE);
            while !message.is_char_boundary(cut) {
                cut -= 1;
            }
            let msg = &message.as_bytes()[..cut];
            // At most 1024 bytes.
            #[allow(clippy::cast_possible_truncation)]
            put_u32(out, msg.len() as u32);
            out.extend_from_slice(msg);
            end(out, start);
        }
        Response::Order(o) => {
            let start = begin(out, RES_ORDER, request_id);
            put_u8(out, u8::from(o.is_some()));
            if let Some(o) = o {
                o.encode(out);
            }
            end(out, start);
        }
        Response::Orders(orders) => {
            let start = begin(out, RES_ORDERS, request_id);
            // Bounded by the pool size (u32).
            #[allow(clippy::cast_possible_truncation)]
            put_u32(out, orders.len() as u32);
            for o in orders {
                o.encode(out);
            }
            end(out, start);
        }
        Response::Depth(d) => {
            let start = begin(out, RES_DEPTH, request_id);
            put_u8(out, u8::from(d.is_some()));
            if let Some(d) = d {
                d.encode(out);
            }
            end(out, start);
        }
        Response::Event(e) => encode_event_frame(out, request_id, e),
        Response::Pong {
            command_seq,
            event_seq,
        } => {
            let start = begin(out, RES_PONG, request_id);
            put_u64(out, *command_seq);
            put_u64(out, *event_seq);
            end(out, start);
        }
        Response::SnapshotTaken { command_seq } => {
            let start = begin(out, RES_SNAPSHOT_TAKEN, request_id);
            put_u64(out, *command_seq);
            end(out, start);
        }
    }
}

/// Appends an `Ack` frame without building a [`Response`] (the shard's hot path).
pub fn encode_ack(out: &mut Vec<u8>, request_id: u64, command_seq: u64, events: &[Event]) {
    let start = begin(out, RES_ACK, request_id);
    put_u64(out, command_seq);
    // A command's events are bounded by the pool size (u32).
    #[allow(clippy::cast_possible_truncation)]
    put_u32(out, events.len() as u32);
    for e in events {
        e.encode(out);
    }
    end(out, start);
}

/// Appends an `Event` frame (the feed's hot path).
pub fn encode_event_frame(out: &mut Vec<u8>, request_id: u64, event: &Event) {
    let start = begin(out, RES_EVENT, request_id);
    event.encode(out);
    end(out, start);
}

/// Decodes a response frame's body (everything after the length prefix).
///
/// # Errors
/// [`FrameError`] for another version or bytes that do not decode.
pub fn decode_response(body: &[u8]) -> Result<(u64, Response), FrameError> {
    let mut r = Reader::new(body);
    let (kind, request_id) = prefix(&mut r)?;
    let response = match kind {
        RES_ACK => {
            let command_seq = r.u64()?;
            let n = r.u32()? as usize;
            let mut events = Vec::with_capacity(n.min(r.remaining() / 17));
            for _ in 0..n {
                events.push(decode_event(&mut r)?);
            }
            Response::Ack {
                command_seq,
                events,
            }
        }
        RES_BUSY => Response::Busy,
        RES_ERROR => {
            let code_byte = r.u8()?;
            let code = ErrorCode::from_u8(code_byte).ok_or(DecodeError::Invalid {
                what: "error code",
                value: code_byte,
                offset: r.position() - 1,
            })?;
            let len = r.u32()? as usize;
            if len > MAX_ERROR_MESSAGE {
                return Err(DecodeError::Invalid {
                    what: "error message length",
                    value: u8::MAX,
                    offset: r.position() - 4,
                }
                .into());
            }
            let bytes = r.bytes(len)?;
            let message = std::str::from_utf8(bytes)
                .map_err(|_| DecodeError::Invalid {
                    what: "error message",
                    value: 0,
                    offset: r.position() - len,
                })?
                .to_owned();
            Response::Error { code, message }
        }
        RES_ORDER => Response::Order(if r.bool()? {
            Some(decode_order_view(&mut r)?)
        } else {
            None
        }),
        RES_ORDERS => {
            let n = r.u32()? as usize;
            let mut orders = Vec::with_capacity(n.min(r.remaining() / 80));
            for _ in 0..n {
                orders.push(decode_order_view(&mut r)?);
            }
            Response::Orders(orders)
        }
        RES_DEPTH => Response::Depth(if r.bool()? {
            Some(decode_depth(&mut r)?)
        } else {
            None
        }),
        RES_EVENT => Response::Event(decode_event(&mut r)?),
        RES_PONG => Response::Pong {
            command_seq: r.u64()?,
            event_seq: r.u64()?,
        },
        RES_SNAPSHOT_TAKEN => Response::SnapshotTaken {
            command_seq: r.u64()?,
        },
        v => {
            return Err(DecodeError::Invalid {
                what: "response type",
                value: v,
                offset: 1,
            }
            .into());
        }
    };
    r.finish()?;
    Ok((request_id, response))
}
