//! Binary encoding of commands and events, shared by the journal and the wire protocol.
//!
//! Little-endian, fixed layouts, one tag byte per variant; no self-description, no
//! padding, no allocation when the output buffer has room. The enclosing formats (journal
//! record, protocol frame) carry the version; this layout is version 1 of both, and the
//! golden-file tests pin its bytes.
//!
//! Decoding is for untrusted bytes: every read is bounds-checked, every tag and enum byte
//! validated, and a failure is a [`DecodeError`], never a panic.

use crate::command::{Amend, Cancel, CancelAll, Command, CommandKind, NewOrder, OrderRef};
use crate::event::{
    Accepted, Amended, CancelReason, Cancelled, CommandType, Done, Event, EventKind, RejectReason,
    Rejected, Trade,
};
use crate::query::{Depth, DepthLevel, OrderView};
use crate::types::{
    AccountId, ClientOrderId, MarketId, OrderId, OrderType, Price, Quantity, Seq, Side, StpMode,
    TimeInForce, Timestamp,
};

/// Why bytes do not decode.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The input ended inside a value.
    #[error("input ends {needed} bytes short at offset {offset}")]
    Truncated {
        /// Where the short read started.
        offset: usize,
        /// Bytes missing.
        needed: usize,
    },
    /// A tag or enum byte with no meaning.
    #[error("invalid {what} byte {value} at offset {offset}")]
    Invalid {
        /// Which field.
        what: &'static str,
        /// The byte found.
        value: u8,
        /// Where.
        offset: usize,
    },
    /// Bytes were left over after a complete value.
    #[error("{0} unexpected trailing bytes")]
    Trailing(usize),
}

/// A bounds-checked cursor over untrusted bytes.
#[derive(Debug)]
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    /// Starts at the beginning of `buf`.
    #[must_use]
    pub fn new(buf: &'a [u8]) -> Self {
        Self { buf, pos: 0 }
    }

    /// Bytes consumed so far.
    #[must_use]
    pub fn position(&self) -> usize {
        self.pos
    }

    /// Bytes not yet consumed.
    #[must_use]
    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// Fails unless everything was consumed.
    ///
    /// # Errors
    /// [`DecodeError::Trailing`].
    pub fn finish(&self) -> Result<(), DecodeError> {
        match self.remaining() {
            0 => Ok(()),
            n => Err(DecodeError::Trailing(n)),
        }
    }

    /// The next `n` bytes.
    ///
    /// # Errors
    /// [`DecodeError::Truncated`].
    pub fn bytes(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|end| *end <= self.buf.len())
            .ok_or(DecodeError::Truncated {
                offset: self.pos,
                needed: n.saturating_sub(self.remaining()),
            })?;
        let out = &self.buf[self.pos..end];
        self.pos = end;
        Ok(out)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.bytes(N)?);
        Ok(out)
    }

    /// One byte.
    ///
    /// # Errors
    /// [`DecodeError::Truncated`].
    pub fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.array::<1>()?[0])
    }

    /// A little-endian `u16`.
    ///
    /// # Errors
    /// [`DecodeError::Truncated`].
    pub fn u16(&mut self) -> Result<u16, DecodeError> {
        Ok(u16::from_le_bytes(self.array()?))
    }

    /// A little-endian `u32`.
    ///
    /// # Errors
    /// [`DecodeError::Truncated`].
    pub fn u32(&mut self) -> Result<u32, DecodeError> {
        Ok(u32::from_le_bytes(self.array()?))
    }

    /// A little-endian `u64`.
    ///
    /// # Errors
    /// [`DecodeError::Truncated`].
    pub fn u64(&mut self) -> Result<u64, DecodeError> {
        Ok(u64::from_le_bytes(self.array()?))
    }

    /// A little-endian `i64`.
    ///
    /// # Errors
    /// [`DecodeError::Truncated`].
    pub fn i64(&mut self) -> Result<i64, DecodeError> {
        Ok(i64::from_le_bytes(self.array()?))
    }

    fn invalid(&self, what: &'static str, value: u8) -> DecodeError {
        DecodeError::Invalid {
            what,
            value,
            offset: self.pos.saturating_sub(1),
        }
    }

    /// A `0`/`1` byte.
    ///
    /// # Errors
    /// [`DecodeError`] on truncation or any other byte.
    pub fn bool(&mut self) -> Result<bool, DecodeError> {
        match self.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            v => Err(self.invalid("bool", v)),
        }
    }

    pub(crate) fn client_order_id(&mut self) -> Result<ClientOrderId, DecodeError> {
        let len = self.u8()?;
        let bytes = self.bytes(usize::from(len))?;
        ClientOrderId::from_bytes(bytes).map_err(|_| self.invalid("client order id", len))
    }

    pub(crate) fn time_in_force(&mut self) -> Result<TimeInForce, DecodeError> {
        match self.u8()? {
            0 => Ok(TimeInForce::Gtc),
            1 => Ok(TimeInForce::Ioc),
            2 => Ok(TimeInForce::Fok),
            v => Err(self.invalid("time in force", v)),
        }
    }

    pub(crate) fn stp(&mut self) -> Result<StpMode, DecodeError> {
        match self.u8()? {
            0 => Ok(StpMode::CancelNewest),
            1 => Ok(StpMode::CancelOldest),
            2 => Ok(StpMode::CancelBoth),
            3 => Ok(StpMode::DecrementAndCancel),
            v => Err(self.invalid("stp mode", v)),
        }
    }

    pub(crate) fn side(&mut self) -> Result<Side, DecodeError> {
        match self.u8()? {
            0 => Ok(Side::Buy),
            1 => Ok(Side::Sell),
            v => Err(self.invalid("side", v)),
        }
    }
}

/// Appends encodings to a byte buffer.
pub trait Encode {
    /// Appends `self`'s encoding to `out`.
    fn encode(&self, out: &mut Vec<u8>);
}

pub(crate) fn put_u8(out: &mut Vec<u8>, v: u8) {
    out.push(v);
}
pub(crate) fn put_u32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_le_bytes());
}
pub(crate) fn put_u64(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(&v.to_le_bytes());
}
pub(crate) fn put_i64(out: &mut Vec<u8>, v: i64) {
    out.extend_from_slice(&v.to_le_bytes());
}
pub(crate) fn put_client_order_id(out: &mut Vec<u8>, c: &ClientOrderId) {
    let bytes = c.as_bytes();
    // At most 36 bytes by construction.
    #[allow(clippy::cast_possible_truncation)]
    put_u8(out, bytes.len() as u8);
    out.extend_from_slice(bytes);
}

impl Encode for NewOrder {
    fn encode(&self, out: &mut Vec<u8>) {
        put_u32(out, self.market.0);
        put_u64(out, self.account.0);
        put_client_order_id(out, &self.client_order_id);
        put_u8(out, self.side as u8);
        match self.order_type {
            OrderType::Limit { price } => {
                put_u8(out, 0);
                put_i64(out, price.0);
            }
            OrderType::Market => {
                put_u8(out, 1);
                put_i64(out, 0);
            }
        }
        put_u64(out, self.quantity.0);
        put_u8(out, self.time_in_force as u8);
        put_u8(out, u8::from(self.post_only));
        put_u8(out, self.stp as u8);
    }
}

fn decode_new_order(r: &mut Reader<'_>) -> Result<NewOrder, DecodeError> {
    let market = MarketId(r.u32()?);
    let account = AccountId(r.u64()?);
    let client_order_id = r.client_order_id()?;
    let side = r.side()?;
    let type_tag = r.u8()?;
    let type_offset = r.position() - 1;
    let price = Price(r.i64()?);
    let order_type = match type_tag {
        0 => OrderType::Limit { price },
        // One encoding per value: a market order's unused price is zero.
        1 if price.0 == 0 => OrderType::Market,
        v => {
            return Err(DecodeError::Invalid {
                what: "order type",
                value: v,
                offset: type_offset,
            });
        }
    };
    let quantity = Quantity(r.u64()?);
    let time_in_force = r.time_in_force()?;
    let post_only = r.bool()?;
    let stp = r.stp()?;
    Ok(NewOrder {
        market,
        account,
        client_order_id,
        side,
        order_type,
        quantity,
        time_in_force,
        post_only,
        stp,
    })
}

fn put_order_ref(out: &mut Vec<u8>, o: &OrderRef) {
    match o {
        OrderRef::Id(id) => {
            put_u8(out, 1);
            put_u64(out, id.0);
        }
        OrderRef::Client(c) => {
            put_u8(out, 2);
            put_client_order_id(out, c);
        }
    }
}

fn decode_order_ref(r: &mut Reader<'_>) -> Result<OrderRef, DecodeError> {
    match r.u8()? {
        1 => Ok(OrderRef::Id(OrderId(r.u64()?))),
        2 => Ok(OrderRef::Client(r.client_order_id()?)),
        v => Err(r.invalid("order ref", v)),
    }
}

fn put_opt_u64(out: &mut Vec<u8>, v: Option<u64>) {
    match v {
        Some(v) => {
            put_u8(out, 1);
            put_u64(out, v);
        }
        None => {
            put_u8(out, 0);
            put_u64(out, 0);
        }
    }
}

fn decode_opt_u64(r: &mut Reader<'_>) -> Result<Option<u64>, DecodeError> {
    let present = r.bool()?;
    let v = r.u64()?;
    if !present && v != 0 {
        // One encoding per value: an absent field is all zeros.
        return Err(r.invalid("absent field", 1));
    }
    Ok(present.then_some(v))
}

/// The command body's tag byte.
const CMD_NEW_ORDER: u8 = 1;
const CMD_CANCEL: u8 = 2;
const CMD_AMEND: u8 = 3;
const CMD_CANCEL_ALL: u8 = 4;

impl Encode for Command {
    fn encode(&self, out: &mut Vec<u8>) {
        put_u64(out, self.timestamp.0);
        self.kind.encode(out);
    }
}

impl Encode for CommandKind {
    fn encode(&self, out: &mut Vec<u8>) {
        match self {
            CommandKind::NewOrder(o) => {
                put_u8(out, CMD_NEW_ORDER);
                o.encode(out);
            }
            CommandKind::Cancel(c) => {
                put_u8(out, CMD_CANCEL);
                put_u64(out, c.account.0);
                put_order_ref(out, &c.order);
            }
            CommandKind::Amend(a) => {
                put_u8(out, CMD_AMEND);
                put_u64(out, a.account.0);
                put_order_ref(out, &a.order);
                // Prices travel as their two's-complement bits.
                #[allow(clippy::cast_sign_loss)]
                put_opt_u64(out, a.price.map(|p| p.0 as u64));
                put_opt_u64(out, a.quantity.map(|q| q.0));
            }
            CommandKind::CancelAll(c) => {
                put_u8(out, CMD_CANCEL_ALL);
                put_u64(out, c.account.0);
                match c.market {
                    Some(m) => {
                        put_u8(out, 1);
                        put_u32(out, m.0);
                    }
                    None => {
                        put_u8(out, 0);
                        put_u32(out, 0);
                    }
                }
            }
        }
    }
}

/// Decodes one command from the reader's position.
///
/// # Errors
/// [`DecodeError`] for truncated or invalid bytes.
pub fn decode_command(r: &mut Reader<'_>) -> Result<Command, DecodeError> {
    let timestamp = Timestamp(r.u64()?);
    let kind = decode_command_kind(r)?;
    Ok(Command { timestamp, kind })
}

/// Decodes a command without its timestamp (as clients send it: the shard stamps it).
///
/// # Errors
/// [`DecodeError`] for truncated or invalid bytes.
pub fn decode_command_kind(r: &mut Reader<'_>) -> Result<CommandKind, DecodeError> {
    let kind = match r.u8()? {
        CMD_NEW_ORDER => CommandKind::NewOrder(decode_new_order(r)?),
        CMD_CANCEL => CommandKind::Cancel(Cancel {
            account: AccountId(r.u64()?),
            order: decode_order_ref(r)?,
        }),
        CMD_AMEND => {
            let account = AccountId(r.u64()?);
            let order = decode_order_ref(r)?;
            // The inverse of the encoding's bit cast.
            #[allow(clippy::cast_possible_wrap)]
            let price = decode_opt_u64(r)?.map(|p| Price(p as i64));
            let quantity = decode_opt_u64(r)?.map(Quantity);
            CommandKind::Amend(Amend {
                account,
                order,
                price,
                quantity,
            })
        }
        CMD_CANCEL_ALL => {
            let account = AccountId(r.u64()?);
            let present = r.bool()?;
            let market = MarketId(r.u32()?);
            if !present && market.0 != 0 {
                return Err(r.invalid("absent field", 1));
            }
            CommandKind::CancelAll(CancelAll {
                account,
                market: present.then_some(market),
            })
        }
        v => return Err(r.invalid("command", v)),
    };
    Ok(kind)
}

const EV_ACCEPTED: u8 = 1;
const EV_REJECTED: u8 = 2;
const EV_TRADE: u8 = 3;
const EV_CANCELLED: u8 = 4;
const EV_AMENDED: u8 = 5;
const EV_DONE: u8 = 6;

impl Encode for Event {
    fn encode(&self, out: &mut Vec<u8>) {
        put_u64(out, self.seq.0);
        put_u64(out, self.timestamp.0);
        match &self.kind {
            EventKind::Accepted(a) => {
                put_u8(out, EV_ACCEPTED);
                put_u64(out, a.order_id.0);
                a.order.encode(out);
            }
            EventKind::Rejected(r) => {
                put_u8(out, EV_REJECTED);
                put_u8(out, r.command as u8);
                put_u64(out, r.account.0);
                match &r.client_order_id {
                    Some(c) => {
                        put_u8(out, 1);
                        put_client_order_id(out, c);
                    }
                    None => put_u8(out, 0),
                }
                put_opt_u64(out, r.order_id.map(|o| o.0));
                put_u8(out, r.reason as u8);
            }
            EventKind::Trade(t) => {
                put_u8(out, EV_TRADE);
                put_u32(out, t.market.0);
                put_u64(out, t.maker_order_id.0);
                put_u64(out, t.maker_account.0);
                put_u64(out, t.taker_order_id.0);
                put_u64(out, t.taker_account.0);
                put_i64(out, t.price.0);
                put_u64(out, t.quantity.0);
                put_u8(out, t.aggressor as u8);
                put_u64(out, t.maker_remaining.0);
                put_u64(out, t.taker_remaining.0);
            }
            EventKind::Cancelled(c) => {
                put_u8(out, EV_CANCELLED);
                put_u64(out, c.order_id.0);
                put_u64(out, c.account.0);
                put_u32(out, c.market.0);
                put_u64(out, c.quantity.0);
                put_u64(out, c.remaining.0);
                put_u8(out, c.reason as u8);
            }
            EventKind::Amended(a) => {
                put_u8(out, EV_AMENDED);
                put_u64(out, a.order_id.0);
                put_u64(out, a.account.0);
                put_u32(out, a.market.0);
                put_i64(out, a.price.0);
                put_u64(out, a.quantity.0);
                put_u64(out, a.remaining.0);
                put_u8(out, u8::from(a.kept_priority));
            }
            EventKind::Done(d) => {
                put_u8(out, EV_DONE);
                put_u64(out, d.order_id.0);
                put_u64(out, d.account.0);
                put_u32(out, d.market.0);
                put_u64(out, d.filled.0);
            }
        }
    }
}

fn decode_reject_reason(r: &mut Reader<'_>) -> Result<RejectReason, DecodeError> {
    use RejectReason as R;
    Ok(match r.u8()? {
        1 => R::UnknownMarket,
        2 => R::PriceNotOnTick,
        3 => R::PriceOutOfBand,
        4 => R::ZeroQuantity,
        5 => R::QuantityNotOnLot,
        6 => R::QuantityTooLarge,
        7 => R::Duplicate,
        8 => R::BookFull,
        9 => R::UnknownOrder,
        10 => R::InvalidOrderType,
        11 => R::NothingToAmend,
        12 => R::QuantityBelowFilled,
        13 => R::PostOnlyWouldCross,
        v => return Err(r.invalid("reject reason", v)),
    })
}

fn decode_cancel_reason(r: &mut Reader<'_>) -> Result<CancelReason, DecodeError> {
    use CancelReason as C;
    Ok(match r.u8()? {
        1 => C::User,
        2 => C::IocRemainder,
        3 => C::FokNotFillable,
        4 => C::SelfTradePrevention,
        5 => C::PostOnlyWouldCross,
        v => return Err(r.invalid("cancel reason", v)),
    })
}

/// Decodes one event from the reader's position.
///
/// # Errors
/// [`DecodeError`] for truncated or invalid bytes.
pub fn decode_event(r: &mut Reader<'_>) -> Result<Event, DecodeError> {
    let seq = Seq(r.u64()?);
    let timestamp = Timestamp(r.u64()?);
    let kind = match r.u8()? {
        EV_ACCEPTED => EventKind::Accepted(Accepted {
            order_id: OrderId(r.u64()?),
            order: decode_new_order(r)?,
        }),
        EV_REJECTED => {
            let command = match r.u8()? {
                0 => CommandType::NewOrder,
                1 => CommandType::Cancel,
                2 => CommandType::Amend,
                3 => CommandType::CancelAll,
                v => return Err(r.invalid("command type", v)),
            };
            let account = AccountId(r.u64()?);
            let client_order_id = if r.bool()? {
                Some(r.client_order_id()?)
            } else {
                None
            };
            let order_id = decode_opt_u64(r)?.map(OrderId);
            let reason = decode_reject_reason(r)?;
            EventKind::Rejected(Rejected {
                command,
                account,
                client_order_id,
                order_id,
                reason,
            })
        }
        EV_TRADE => EventKind::Trade(Trade {
            market: MarketId(r.u32()?),
            maker_order_id: OrderId(r.u64()?),
            maker_account: AccountId(r.u64()?),
            taker_order_id: OrderId(r.u64()?),
            taker_account: AccountId(r.u64()?),
            price: Price(r.i64()?),
            quantity: Quantity(r.u64()?),
            aggressor: r.side()?,
            maker_remaining: Quantity(r.u64()?),
            taker_remaining: Quantity(r.u64()?),
        }),
        EV_CANCELLED => EventKind::Cancelled(Cancelled {
            order_id: OrderId(r.u64()?),
            account: AccountId(r.u64()?),
            market: MarketId(r.u32()?),
            quantity: Quantity(r.u64()?),
            remaining: Quantity(r.u64()?),
            reason: decode_cancel_reason(r)?,
        }),
        EV_AMENDED => EventKind::Amended(Amended {
            order_id: OrderId(r.u64()?),
            account: AccountId(r.u64()?),
            market: MarketId(r.u32()?),
            price: Price(r.i64()?),
            quantity: Quantity(r.u64()?),
            remaining: Quantity(r.u64()?),
            kept_priority: r.bool()?,
        }),
        EV_DONE => EventKind::Done(Done {
            order_id: OrderId(r.u64()?),
            account: AccountId(r.u64()?),
            market: MarketId(r.u32()?),
            filled: Quantity(r.u64()?),
        }),
        v => return Err(r.invalid("event", v)),
    };
    Ok(Event {
        seq,
        timestamp,
        kind,
    })
}

impl Encode for OrderView {
    fn encode(&self, out: &mut Vec<u8>) {
        put_u32(out, self.market.0);
        put_u64(out, self.order_id.0);
        put_u64(out, self.account.0);
        put_client_order_id(out, &self.client_order_id);
        put_u8(out, self.side as u8);
        put_i64(out, self.price.0);
        put_u64(out, self.quantity.0);
        put_u64(out, self.remaining.0);
        put_u64(out, self.filled.0);
        put_u64(out, self.created.0);
        put_u64(out, self.updated.0);
        put_u8(out, self.time_in_force as u8);
        put_u8(out, u8::from(self.post_only));
        put_u8(out, self.stp as u8);
    }
}

/// Decodes one resting order's view.
///
/// # Errors
/// [`DecodeError`] for truncated or invalid bytes.
pub fn decode_order_view(r: &mut Reader<'_>) -> Result<OrderView, DecodeError> {
    Ok(OrderView {
        market: MarketId(r.u32()?),
        order_id: OrderId(r.u64()?),
        account: AccountId(r.u64()?),
        client_order_id: r.client_order_id()?,
        side: r.side()?,
        price: Price(r.i64()?),
        quantity: Quantity(r.u64()?),
        remaining: Quantity(r.u64()?),
        filled: Quantity(r.u64()?),
        created: Timestamp(r.u64()?),
        updated: Timestamp(r.u64()?),
        time_in_force: r.time_in_force()?,
        post_only: r.bool()?,
        stp: r.stp()?,
    })
}

impl Encode for Depth {
    fn encode(&self, out: &mut Vec<u8>) {
        for side in [&self.bids, &self.asks] {
            // Depth is bounded by the band (at most 2^20 levels).
            #[allow(clippy::cast_possible_truncation)]
            put_u32(out, side.len() as u32);
            for l in side {
                put_i64(out, l.price.0);
                put_u64(out, l.quantity.0);
                put_u32(out, l.orders);
            }
        }
    }
}

/// Decodes a depth answer.
///
/// # Errors
/// [`DecodeError`] for truncated or invalid bytes.
pub fn decode_depth(r: &mut Reader<'_>) -> Result<Depth, DecodeError> {
    let mut sides = [Vec::new(), Vec::new()];
    for side in &mut sides {
        let n = r.u32()? as usize;
        side.reserve(n.min(r.remaining() / 20));
        for _ in 0..n {
            side.push(DepthLevel {
                price: Price(r.i64()?),
                quantity: Quantity(r.u64()?),
                orders: r.u32()?,
            });
        }
    }
    let [bids, asks] = sides;
    Ok(Depth { bids, asks })
}
