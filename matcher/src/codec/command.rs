//! The layout of commands: new orders (also inside `Accepted` events), order references,
//! cancels, amends and cancel-alls.

use super::error::DecodeError;
use super::reader::{Reader, decode_opt_u64};
use super::writer::{Encode, put_client_order_id, put_i64, put_opt_u64, put_u8, put_u32, put_u64};
use crate::command::{Amend, Cancel, CancelAll, Command, CommandKind, NewOrder, OrderRef};
use crate::types::{AccountId, MarketId, OrderId, OrderType, Price, Quantity, Timestamp};

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

pub(super) fn decode_new_order(r: &mut Reader<'_>) -> Result<NewOrder, DecodeError> {
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
