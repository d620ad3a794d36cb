//! The layout of events, with every reject and cancel reason.

use super::command::decode_new_order;
use super::error::DecodeError;
use super::reader::{Reader, decode_opt_u64};
use super::writer::{Encode, put_client_order_id, put_i64, put_opt_u64, put_u8, put_u32, put_u64};
use crate::event::{
    Accepted, Amended, CancelReason, Cancelled, CommandType, Done, Event, EventKind, RejectReason,
    Rejected, Trade,
};
use crate::types::{AccountId, MarketId, OrderId, Price, Quantity, Seq, Timestamp};

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
