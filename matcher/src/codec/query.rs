//! The layout of query answers: resting order views and depth.

use super::error::DecodeError;
use super::reader::Reader;
use super::writer::{Encode, put_client_order_id, put_i64, put_u8, put_u32, put_u64};
use crate::query::{Depth, DepthLevel, OrderView};
use crate::types::{AccountId, MarketId, OrderId, Price, Quantity, Timestamp};

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
