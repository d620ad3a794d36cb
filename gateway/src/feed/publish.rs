//! Engine events and book state as the JSON messages clients receive.

use std::sync::Arc;

use axum::extract::ws::Utf8Bytes;
use matcher::{Event, EventKind, MarketId, OrderId, Side};
use serde::Serialize;

use super::book::{Level, MarketBook, TradeRecord};
use super::messages::{
    BookDelta, BookSnapshot, LevelChange, OrderEventKind, OrderUpdate, ServerMessage, StreamLevel,
    TradeView,
};
use super::{Outgoing, Topic};
use crate::decimal::{format_price, format_quantity};
use crate::shards::{Market, ShardIndex, Shards, format_order_id};

/// Serialises a server message (a tree of strings and numbers: cannot fail).
pub(crate) fn text(message: &ServerMessage) -> Utf8Bytes {
    Utf8Bytes::from(serde_json::to_string(message).unwrap_or_default())
}

/// A delta as [`ServerMessage::BookDelta`] serialises it, without moving it into one.
pub(crate) fn delta_text(delta: &BookDelta) -> Utf8Bytes {
    #[derive(Serialize)]
    #[serde(tag = "type", rename_all = "snake_case")]
    enum Tagged<'a> {
        BookDelta(&'a BookDelta),
    }
    Utf8Bytes::from(serde_json::to_string(&Tagged::BookDelta(delta)).unwrap_or_default())
}

/// A kept trade as the API shows it.
pub(crate) fn trade_view(record: &TradeRecord, market: &Market) -> TradeView {
    let p = market.precision;
    let t = &record.trade;
    TradeView {
        seq: record.seq,
        symbol: market.symbol(),
        price: format_price(t.price, p),
        quantity: format_quantity(t.quantity, p),
        side: t.aggressor.into(),
        maker_order_id: format_order_id(market.shard, t.maker_order_id),
        taker_order_id: format_order_id(market.shard, t.taker_order_id),
        timestamp_ns: record.timestamp_ns,
    }
}

/// A market's whole book.
pub(crate) fn book_snapshot(book: &MarketBook, market: &Market) -> BookSnapshot {
    let p = market.precision;
    let level = |(price, l): (&matcher::Price, &Level)| StreamLevel {
        price: format_price(*price, p),
        quantity: format_quantity(l.quantity, p),
        orders: l.orders,
    };
    BookSnapshot {
        symbol: market.symbol(),
        seq: book.seq,
        bids: book.bids.iter().rev().map(level).collect(),
        asks: book.asks.iter().map(level).collect(),
    }
}

/// The delta of one market's touched levels, as they stand now.
pub(crate) fn book_delta(
    book: &MarketBook,
    market: &Market,
    prev_seq: u64,
    timestamp_ns: u64,
    levels: impl Iterator<Item = (Side, matcher::Price)>,
) -> Outgoing {
    let p = market.precision;
    let changes = levels
        .map(|(side, price)| {
            let l = book.level(side, price);
            LevelChange {
                side: side.into(),
                price: format_price(price, p),
                quantity: format_quantity(l.quantity, p),
                orders: l.orders,
            }
        })
        .collect();
    let delta = BookDelta {
        symbol: market.symbol(),
        seq: book.seq,
        prev_seq,
        changes,
        timestamp_ns,
    };
    Outgoing {
        topic: Topic::Book(market.config.id()),
        seq: book.seq,
        text: delta_text(&delta),
        delta: Some(Arc::new(delta)),
    }
}

/// Which messages of an event somebody reads.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Wanted {
    /// `orders` messages.
    pub(crate) orders: bool,
    /// `trades:` messages.
    pub(crate) trades: bool,
}

/// The trade and order messages of one event, as far as they are wanted.
pub(crate) fn event_messages(
    event: &Event,
    shard: ShardIndex,
    shards: &Shards,
    wanted: Wanted,
    out: &mut Vec<Outgoing>,
) {
    let trade = matches!(event.kind, EventKind::Trade(_));
    if !(wanted.orders || wanted.trades && trade) {
        return;
    }
    let seq = event.seq.0;
    let market_of = |id: MarketId| shards.by_id(id);
    let mut order = |account: matcher::AccountId, update: OrderUpdate| {
        if wanted.orders {
            out.push(Outgoing {
                topic: Topic::Orders(account),
                seq,
                text: text(&ServerMessage::Order(update)),
                delta: None,
            });
        }
    };
    let blank = |event: OrderEventKind, market: Option<&Market>, id: Option<OrderId>| OrderUpdate {
        event,
        seq,
        order_id: market.zip(id).map(|(m, id)| format_order_id(m.shard, id)),
        client_order_id: None,
        symbol: market.map(Market::symbol),
        side: None,
        price: None,
        quantity: None,
        remaining_quantity: None,
        filled_quantity: None,
        liquidity: None,
        reason: None,
    };
    match event.kind {
        EventKind::Accepted(a) => {
            let Some(m) = market_of(a.order.market) else {
                return;
            };
            let p = m.precision;
            let o = a.order;
            let mut u = blank(OrderEventKind::Accepted, Some(m), Some(a.order_id));
            u.client_order_id = Some(o.client_order_id.as_str().to_owned());
            u.side = Some(o.side.into());
            if let matcher::OrderType::Limit { price } = o.order_type {
                u.price = Some(format_price(price, p));
            }
            u.quantity = Some(format_quantity(o.quantity, p));
            u.remaining_quantity = Some(format_quantity(o.quantity, p));
            order(o.account, u);
        }
        EventKind::Rejected(r) => {
            // A rejection names no market; an order id it names lives on this shard.
            let mut u = blank(OrderEventKind::Rejected, None, None);
            u.order_id = r.order_id.map(|id| format_order_id(shard, id));
            u.client_order_id = r.client_order_id.map(|c| c.as_str().to_owned());
            u.reason = Some(r.reason.code().to_owned());
            order(r.account, u);
        }
        EventKind::Trade(t) => {
            let Some(m) = market_of(t.market) else {
                return;
            };
            let p = m.precision;
            for (id, account, remaining, liquidity, side) in [
                (
                    t.maker_order_id,
                    t.maker_account,
                    t.maker_remaining,
                    "maker",
                    t.aggressor.opposite(),
                ),
                (
                    t.taker_order_id,
                    t.taker_account,
                    t.taker_remaining,
                    "taker",
                    t.aggressor,
                ),
            ] {
                let mut u = blank(OrderEventKind::Fill, Some(m), Some(id));
                u.side = Some(side.into());
                u.price = Some(format_price(t.price, p));
                u.quantity = Some(format_quantity(t.quantity, p));
                u.remaining_quantity = Some(format_quantity(remaining, p));
                u.liquidity = Some(liquidity.to_owned());
                order(account, u);
            }
            if wanted.trades {
                let record = TradeRecord {
                    seq,
                    timestamp_ns: event.timestamp.0,
                    trade: t,
                };
                out.push(Outgoing {
                    topic: Topic::Trades(t.market),
                    seq,
                    text: text(&ServerMessage::Trade(trade_view(&record, m))),
                    delta: None,
                });
            }
        }
        EventKind::Cancelled(c) => {
            let Some(m) = market_of(c.market) else {
                return;
            };
            let mut u = blank(OrderEventKind::Cancelled, Some(m), Some(c.order_id));
            u.quantity = Some(format_quantity(c.quantity, m.precision));
            u.remaining_quantity = Some(format_quantity(c.remaining, m.precision));
            u.reason = Some(c.reason.code().to_owned());
            order(c.account, u);
        }
        EventKind::Amended(a) => {
            let Some(m) = market_of(a.market) else {
                return;
            };
            let mut u = blank(OrderEventKind::Amended, Some(m), Some(a.order_id));
            u.price = Some(format_price(a.price, m.precision));
            u.quantity = Some(format_quantity(a.quantity, m.precision));
            u.remaining_quantity = Some(format_quantity(a.remaining, m.precision));
            order(a.account, u);
        }
        EventKind::Done(d) => {
            let Some(m) = market_of(d.market) else {
                return;
            };
            let mut u = blank(OrderEventKind::Done, Some(m), Some(d.order_id));
            u.filled_quantity = Some(format_quantity(d.filled, m.precision));
            order(d.account, u);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::routes::orders::ApiSide;

    #[test]
    fn a_delta_text_is_the_server_message_text() {
        let delta = BookDelta {
            symbol: "AAA-USD".into(),
            seq: 9,
            prev_seq: 4,
            changes: vec![LevelChange {
                side: ApiSide::Sell,
                price: "10.05".into(),
                quantity: "0.000".into(),
                orders: 0,
            }],
            timestamp_ns: 17,
        };
        assert_eq!(
            delta_text(&delta).as_str(),
            text(&ServerMessage::BookDelta(delta.clone())).as_str()
        );
    }
}
