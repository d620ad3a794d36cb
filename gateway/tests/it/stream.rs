//! `GET /v1/stream`: book snapshots and deltas, own-order updates and slow readers,
//! through a real WebSocket client (the feed across a shard restart is in
//! [`crate::stream_restart`], which shares the client helpers here).

use std::collections::BTreeMap;
use std::num::NonZeroU32;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use gateway::auth::Role;
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tradeplane_sdk::types::{ApiSide, BookView, LevelView};

use crate::harness::{Stack, order, token, trader};

/// Longest wait for any one message.
pub(crate) const MESSAGE_DEADLINE: Duration = Duration::from_secs(10);

pub(crate) type Ws = WebSocketStream<TcpStream>;

/// Opens `/v1/stream`, with a bearer header if `token` is given; `recv_buffer` shrinks the
/// client's socket receive buffer (a slow reader fills it sooner).
pub(crate) async fn connect(stack: &Stack, token: Option<&str>, recv_buffer: Option<u32>) -> Ws {
    let addr = stack.base.trim_start_matches("http://").parse().unwrap();
    let socket = TcpSocket::new_v4().unwrap();
    if let Some(size) = recv_buffer {
        socket.set_recv_buffer_size(size).unwrap();
    }
    let tcp = socket.connect(addr).await.unwrap();
    let mut request = format!("ws://{addr}/v1/stream")
        .into_client_request()
        .unwrap();
    if let Some(token) = token {
        request
            .headers_mut()
            .insert("authorization", format!("Bearer {token}").parse().unwrap());
    }
    let (ws, response) = tokio_tungstenite::client_async(request, tcp).await.unwrap();
    assert_eq!(response.status(), StatusCode::SWITCHING_PROTOCOLS);
    ws
}

pub(crate) async fn send(ws: &mut Ws, message: Value) {
    ws.send(Message::Text(message.to_string().into()))
        .await
        .unwrap();
}

/// The next JSON message; panics on close or after [`MESSAGE_DEADLINE`].
pub(crate) async fn next(ws: &mut Ws) -> Value {
    loop {
        let m = tokio::time::timeout(MESSAGE_DEADLINE, ws.next())
            .await
            .expect("no message in time")
            .expect("stream ended")
            .expect("websocket error");
        match m {
            Message::Text(t) => return serde_json::from_str(&t).unwrap(),
            Message::Close(frame) => panic!("closed: {frame:?}"),
            _ => {}
        }
    }
}

/// The next message of `type`, skipping others.
pub(crate) async fn next_of(ws: &mut Ws, kind: &str) -> Value {
    loop {
        let m = next(ws).await;
        if m["type"] == kind {
            return m;
        }
    }
}

pub(crate) async fn subscribe(ws: &mut Ws, channel: &str) {
    send(ws, json!({"type": "subscribe", "channel": channel})).await;
    let m = next_of(ws, "subscribed").await;
    assert_eq!(m["channel"], channel);
}

type Side = BTreeMap<String, (String, u64)>;

/// A book rebuilt from a snapshot and deltas, refusing gaps.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct Book {
    bids: Side,
    asks: Side,
}

fn levels(v: &Value) -> Side {
    v.as_array()
        .unwrap()
        .iter()
        .map(|l| {
            let key = l["price"].as_str().unwrap().to_owned();
            let value = (
                l["quantity"].as_str().unwrap().to_owned(),
                l["orders"].as_u64().unwrap(),
            );
            (key, value)
        })
        .collect()
}

fn view_levels(levels: &[LevelView]) -> Side {
    levels
        .iter()
        .map(|l| (l.price.clone(), (l.quantity.clone(), u64::from(l.orders))))
        .collect()
}

impl Book {
    /// The book of a `GET /v1/markets/{symbol}/book` answer.
    pub(crate) fn of_view(view: &BookView) -> Self {
        Self {
            bids: view_levels(&view.bids),
            asks: view_levels(&view.asks),
        }
    }

    /// The book of a `book_snapshot` message.
    pub(crate) fn of(v: &Value) -> Self {
        Self {
            bids: levels(&v["bids"]),
            asks: levels(&v["asks"]),
        }
    }

    pub(crate) fn apply(&mut self, delta: &Value) {
        for c in delta["changes"].as_array().unwrap() {
            let side = if c["side"] == "buy" {
                &mut self.bids
            } else {
                &mut self.asks
            };
            let price = c["price"].as_str().unwrap().to_owned();
            let orders = c["orders"].as_u64().unwrap();
            if orders == 0 {
                side.remove(&price);
            } else {
                side.insert(price, (c["quantity"].as_str().unwrap().to_owned(), orders));
            }
        }
    }
}

/// A small deterministic generator (no seedable RNG in the dependency set).
pub(crate) struct Lcg(pub(crate) u64);

impl Lcg {
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % n
    }
}

/// Places `count` random orders (limit on both sides around 10.00, some market orders)
/// from accounts 1 to 4, each of which must be accepted.
async fn random_orders(stack: &Stack, seed: u64, count: usize) {
    let mut rng = Lcg(seed);
    for _ in 0..count {
        let account = rng.below(4) + 1;
        let side = if rng.below(2) == 0 {
            ApiSide::Buy
        } else {
            ApiSide::Sell
        };
        let quantity = format!("{}.{:03}", rng.below(3), rng.below(1000) + 1);
        let price = (rng.below(10) != 0).then(|| {
            let ticks = 190 + rng.below(20);
            format!("{}.{:02}", ticks * 5 / 100, ticks * 5 % 100)
        });
        let body = order("AAA-USD", side, price.as_deref(), &quantity);
        let res = stack
            .sdk(&trader(account))
            .place_order()
            .body(body.clone())
            .send()
            .await;
        assert!(res.is_ok(), "{body:?}: {res:?}");
    }
}

/// Reads book deltas into `book` until it equals `expected`; every delta must follow the
/// previous one (`prev_seq`), so a gap or a duplicate fails.
async fn replay_until(ws: &mut Ws, book: &mut Book, seq: &mut u64, expected: &Book) {
    while book != expected {
        let m = next_of(ws, "book_delta").await;
        assert_eq!(
            m["prev_seq"].as_u64().unwrap(),
            *seq,
            "gap or duplicate: {m}"
        );
        *seq = m["seq"].as_u64().unwrap();
        book.apply(&m);
    }
}

pub(crate) async fn rest_book(stack: &Stack) -> Book {
    let viewer = token("v", 50, &[Role::Viewer]);
    let res = stack
        .sdk(&viewer)
        .get_book()
        .symbol("AAA-USD")
        .depth(NonZeroU32::new(1000).unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    Book::of_view(&res)
}

#[tokio::test]
async fn book_snapshot_and_deltas_replay_to_the_rest_book() {
    let stack = Stack::start().await;
    // Some history before the subscription, so the snapshot is not empty.
    random_orders(&stack, 7, 40).await;
    let mut ws = connect(&stack, Some(&token("v", 50, &[Role::Viewer])), None).await;
    assert_eq!(
        next(&mut ws).await,
        json!({"type": "authenticated", "account": 50})
    );
    subscribe(&mut ws, "book:AAA-USD").await;
    let snapshot = next_of(&mut ws, "book_snapshot").await;
    assert_eq!(snapshot["symbol"], "AAA-USD");
    let mut book = Book::of(&snapshot);
    let mut seq = snapshot["seq"].as_u64().unwrap();

    random_orders(&stack, 11, 150).await;
    let expected = rest_book(&stack).await;
    assert!(
        !expected.bids.is_empty() && !expected.asks.is_empty(),
        "{expected:?}"
    );
    replay_until(&mut ws, &mut book, &mut seq, &expected).await;

    // A second subscriber's snapshot is the same book.
    let mut late = connect(&stack, Some(&token("v", 51, &[Role::Viewer])), None).await;
    subscribe(&mut late, "book:AAA-USD").await;
    let again = next_of(&mut late, "book_snapshot").await;
    assert_eq!(Book::of(&again), expected);
    assert_eq!(again["seq"].as_u64().unwrap(), seq);
    stack.stop().await;
}

#[tokio::test]
async fn orders_channel_shows_only_the_callers_orders() {
    let stack = Stack::start().await;
    let mut one = connect(&stack, Some(&trader(1)), None).await;
    // Account 2 authenticates with a message instead of a header.
    let mut two = connect(&stack, None, None).await;
    send(&mut two, json!({"type": "auth", "token": trader(2)})).await;
    assert_eq!(
        next(&mut two).await,
        json!({"type": "authenticated", "account": 2})
    );
    next_of(&mut one, "authenticated").await;
    subscribe(&mut one, "orders").await;
    subscribe(&mut two, "orders").await;

    let a = stack.place_limit(&trader(2), ApiSide::Buy, "9.00").await;
    let b = stack.place_limit(&trader(1), ApiSide::Sell, "11.00").await;
    let c = stack.place_limit(&trader(2), ApiSide::Buy, "9.05").await;

    let m = next_of(&mut one, "order").await;
    assert_eq!(
        (m["event"].as_str(), m["order_id"].as_str()),
        (Some("accepted"), Some(b.as_str())),
        "{m}"
    );
    assert_eq!(m["price"], "11.00");
    assert_eq!(m["side"], "sell");
    let m = next_of(&mut two, "order").await;
    assert_eq!(m["order_id"], a.as_str(), "{m}");
    let m = next_of(&mut two, "order").await;
    assert_eq!(m["order_id"], c.as_str(), "account 1's order leaked: {m}");

    // Unknown channels are refused; the connection stays usable.
    send(&mut one, json!({"type": "subscribe", "channel": "nope"})).await;
    assert_eq!(next_of(&mut one, "error").await["code"], "unknown_channel");
    send(
        &mut one,
        json!({"type": "unsubscribe", "channel": "orders"}),
    )
    .await;
    assert_eq!(next_of(&mut one, "unsubscribed").await["channel"], "orders");
    stack.stop().await;
}

#[tokio::test]
async fn a_bad_first_message_closes_with_4001() {
    let stack = Stack::start().await;
    let mut ws = connect(&stack, None, None).await;
    send(&mut ws, json!({"type": "auth", "token": "not-a-jwt"})).await;
    let closed = tokio::time::timeout(MESSAGE_DEADLINE, async {
        while let Some(m) = ws.next().await {
            if let Ok(Message::Close(frame)) = m {
                return frame;
            }
        }
        None
    })
    .await
    .unwrap();
    assert_eq!(closed.unwrap().code, CloseCode::from(4001));
    stack.stop().await;
}

/// Levels of [`deep_book`]: its snapshot is ~30 kB.
pub(crate) const DEEP_LEVELS: usize = 600;

/// Rests one small buy of account 1 on each of [`DEEP_LEVELS`] prices (1.00 and up), so a
/// reader that reads nothing soon fills its socket buffers with snapshots.
pub(crate) async fn deep_book(stack: &Stack) {
    let t = trader(1);
    let client = stack.sdk(&t);
    for i in 0..DEEP_LEVELS {
        let ticks = 20 + i;
        let price = format!("{}.{:02}", ticks * 5 / 100, ticks * 5 % 100);
        let body = order("AAA-USD", ApiSide::Buy, Some(&price), "0.001");
        let placed = client.place_order().body(body).send().await.unwrap();
        assert_eq!(placed.status(), StatusCode::CREATED);
    }
}

#[tokio::test]
async fn a_slow_reader_is_disconnected_while_a_normal_one_keeps_receiving() {
    const RESUBSCRIBES: usize = 300;
    let stack = Stack::start_configured(|c| c.stream_buffer = 16).await;
    let t = trader(1);
    deep_book(&stack).await;
    let mut normal = connect(&stack, Some(&t), None).await;
    next_of(&mut normal, "authenticated").await;
    subscribe(&mut normal, "orders").await;
    let mut slow = connect(&stack, Some(&t), Some(4096)).await;
    for _ in 0..RESUBSCRIBES {
        send(
            &mut slow,
            json!({"type": "subscribe", "channel": "book:AAA-USD"}),
        )
        .await;
        send(
            &mut slow,
            json!({"type": "unsubscribe", "channel": "book:AAA-USD"}),
        )
        .await;
    }
    crate::trades::eventually("the slow reader's disconnection", || async {
        let text = stack.metrics().await;
        text.contains("stream_dropped_clients_total 1")
            .then_some(())
    })
    .await;

    // The normal reader is unaffected.
    let id = stack.place_limit(&t, ApiSide::Sell, "900.00").await;
    let m = next_of(&mut normal, "order").await;
    assert_eq!(
        (m["event"].as_str(), m["order_id"].as_str()),
        (Some("accepted"), Some(id.as_str()))
    );

    // The slow reader finds part of its backlog, then the close frame.
    let mut snapshots = 0;
    let frame = tokio::time::timeout(MESSAGE_DEADLINE, async {
        while let Some(m) = slow.next().await {
            match m.unwrap_or_else(|e| panic!("after {snapshots} snapshots: {e}")) {
                Message::Close(frame) => return frame,
                Message::Text(t) if t.contains("book_snapshot") => snapshots += 1,
                _ => {}
            }
        }
        None
    })
    .await
    .unwrap()
    .expect("a close frame");
    assert_eq!(frame.code, CloseCode::from(4008), "{frame:?}");
    assert!(snapshots < RESUBSCRIBES, "the slow reader got everything");
    stack.stop().await;
}
