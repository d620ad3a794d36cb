//! The feed across a shard restart: a WebSocket subscriber of `book:` and `trades:` sees
//! every book delta and every trade exactly once, in sequence, while the shard is stopped
//! and started again on the same journal and address under a running gateway, including
//! trades the gateway's feed could not see as they happened.

use std::num::NonZeroU32;
use std::time::Duration;

use gateway::auth::Role;
use gateway::decimal::{format_price, format_quantity};
use gateway::shards::{ShardIndex, format_order_id};
use matcher::client::{ClientConfig, ShardClient};
use matcher::{
    AccountId, ClientOrderId, CommandKind, EventKind, MarketId, NewOrder, OrderType, Price,
    Quantity, Side, StpMode, TimeInForce,
};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tradeplane_sdk::Error;
use tradeplane_sdk::types::{ApiSide, PlaceOrder};

use crate::harness::{Stack, order, precision, problem, token, trader};
use crate::stream::{Book, Lcg, MESSAGE_DEADLINE, Ws, connect, next, subscribe};
use crate::trades::eventually;

const SYMBOL: &str = "AAA-USD";
/// Longest wait for the subscriber to catch up with everything placed so far. Not longer
/// than the wait for one message (which starts later), so that a missing message fails
/// here, with what did arrive.
const CATCH_UP_DEADLINE: Duration = MESSAGE_DEADLINE;

/// What the subscriber has received, checked message by message.
struct Seen {
    book: Book,
    /// The `seq` of the snapshot or delta applied last.
    book_seq: u64,
    /// Trades in arrival order, without their `type` (so they compare with REST).
    trades: Vec<Value>,
}

impl Seen {
    fn from_snapshot(snapshot: &Value) -> Self {
        assert_eq!(snapshot["type"], "book_snapshot", "{snapshot}");
        assert_eq!(snapshot["symbol"], SYMBOL);
        Self {
            book: Book::of(snapshot),
            book_seq: snapshot["seq"].as_u64().unwrap(),
            trades: Vec::new(),
        }
    }

    /// Takes the next message: a delta must apply to the book's current `seq`, a trade must
    /// come after the last one; anything else (a second snapshot, an error) fails.
    fn take(&mut self, mut m: Value) {
        match m["type"].as_str() {
            Some("book_delta") => {
                assert_eq!(m["symbol"], SYMBOL, "{m}");
                let prev = m["prev_seq"].as_u64().unwrap();
                let seq = m["seq"].as_u64().unwrap();
                assert_eq!(prev, self.book_seq, "gap or duplicate delta: {m}");
                assert!(seq > prev, "delta going backwards: {m}");
                self.book_seq = seq;
                self.book.apply(&m);
            }
            Some("trade") => {
                assert_eq!(m["symbol"], SYMBOL, "{m}");
                if let Some(last) = self.trades.last() {
                    assert!(
                        m["seq"].as_u64().unwrap() > last["seq"].as_u64().unwrap(),
                        "duplicate or reordered trade: {m} after {last}"
                    );
                }
                m.as_object_mut().unwrap().remove("type");
                self.trades.push(m);
            }
            _ => panic!("unexpected message: {m}"),
        }
    }

    /// Reads until the book equals `book` and `trades` trades have arrived; more trades
    /// than that fail at once (one was repeated).
    async fn catch_up(&mut self, ws: &mut Ws, book: &Book, trades: usize) {
        let deadline = tokio::time::Instant::now() + CATCH_UP_DEADLINE;
        while self.book != *book || self.trades.len() < trades {
            let Ok(m) = tokio::time::timeout_at(deadline, next(ws)).await else {
                panic!(
                    "not caught up: {} of {trades} trades; book {:?}, expected {book:?}",
                    self.trades.len(),
                    self.book
                );
            };
            self.take(m);
            assert!(
                self.trades.len() <= trades,
                "more trades than fills: {:?}",
                self.trades.last()
            );
        }
    }
}

/// The orders placed and the fills their answers reported, in order.
#[derive(Default)]
struct Placed {
    count: usize,
    /// `(taker order id, price, quantity)` of every fill.
    fills: Vec<(String, String, String)>,
}

impl Placed {
    /// Places an order (`price` `None`: a market order), retrying while the gateway answers
    /// 503: after a restart, each pooled connection to the shard comes back once its
    /// reconnect backoff has passed. The `client_order_id` makes a retry safe (a second
    /// order with it would be refused, and fail this test, not trade twice).
    async fn order(
        &mut self,
        stack: &Stack,
        account: u64,
        side: ApiSide,
        price: Option<&str>,
        quantity: &str,
    ) {
        self.count += 1;
        let body = PlaceOrder {
            client_order_id: Some(format!("restart-{}", self.count)),
            ..order(SYMBOL, side, price, quantity)
        };
        let client = stack.sdk(&trader(account));
        let placed = eventually("the order to be placed", || async {
            match client.place_order().body(body.clone()).send().await {
                Err(Error::ErrorResponse(p)) if p.status() == StatusCode::SERVICE_UNAVAILABLE => {
                    None
                }
                Ok(placed) if placed.status() == StatusCode::CREATED => Some(placed.into_inner()),
                other => panic!("{body:?}: {other:?}"),
            }
        })
        .await;
        let fills = placed.fills.expect("a placed order reports its fills");
        for fill in fills {
            self.fills
                .push((placed.id.clone(), fill.price, fill.quantity));
        }
    }

    /// Places a GTC limit order on the shard at `shard` directly, bypassing the gateway,
    /// and records its fills from the acknowledgement's trades (prices and quantities in
    /// integer units, formatted as the gateway would).
    async fn direct(
        &mut self,
        shard: &ShardClient,
        account: u64,
        side: Side,
        price: i64,
        quantity: u64,
    ) {
        self.count += 1;
        let order = NewOrder {
            market: MarketId(1),
            account: AccountId(account),
            client_order_id: ClientOrderId::from_u64(self.count as u64),
            side,
            order_type: OrderType::Limit {
                price: Price(price),
            },
            quantity: Quantity(quantity),
            time_in_force: TimeInForce::Gtc,
            post_only: false,
            stp: StpMode::CancelNewest,
        };
        let ack = shard.submit(CommandKind::NewOrder(order)).await.unwrap();
        let p = precision();
        for event in &ack.events {
            match event.kind {
                EventKind::Rejected(r) => panic!("{order:?} rejected: {r:?}"),
                EventKind::Trade(t) => self.fills.push((
                    format_order_id(ShardIndex(0), t.taker_order_id),
                    format_price(t.price, p),
                    format_quantity(t.quantity, p),
                )),
                _ => {}
            }
        }
    }

    /// `count` random orders from accounts 1 to 4: limits on both sides around 10.00, and
    /// some market orders.
    async fn random(&mut self, stack: &Stack, seed: u64, count: usize) {
        let mut rng = Lcg(seed);
        for _ in 0..count {
            let account = rng.below(4) + 1;
            let side = if rng.below(2) == 0 {
                ApiSide::Buy
            } else {
                ApiSide::Sell
            };
            let lots = rng.below(2000) + 1;
            let quantity = format!("{}.{:03}", lots / 1000, lots % 1000);
            let price = (rng.below(10) != 0).then(|| {
                let ticks = 190 + rng.below(20);
                format!("{}.{:02}", ticks * 5 / 100, ticks * 5 % 100)
            });
            self.order(stack, account, side, price.as_deref(), &quantity)
                .await;
        }
    }
}

/// The shard's book (`GET /book` asks the shard), once the gateway reaches it again.
async fn shard_book(stack: &Stack) -> Book {
    let viewer = stack.sdk(&token("v", 50, &[Role::Viewer]));
    eventually("the shard's book", || async {
        let res = viewer
            .get_book()
            .symbol(SYMBOL)
            .depth(NonZeroU32::new(1000).unwrap())
            .send()
            .await;
        match res {
            Err(Error::ErrorResponse(p)) if p.status() == StatusCode::SERVICE_UNAVAILABLE => None,
            Ok(book) if book.status() == StatusCode::OK => Some(Book::of_view(&book)),
            other => panic!("GET the book: {other:?}"),
        }
    })
    .await
}

/// The gateway's recent trades, oldest first, as JSON (to compare with the stream's trade
/// messages).
async fn rest_trades(stack: &Stack) -> Vec<Value> {
    let res = stack
        .sdk(&token("v", 50, &[Role::Viewer]))
        .get_trades()
        .symbol(SYMBOL)
        .limit(NonZeroU32::new(1000).unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    res.into_inner()
        .trades
        .iter()
        .rev()
        .map(|t| serde_json::to_value(t).unwrap())
        .collect()
}

#[tokio::test]
async fn a_shard_restarted_mid_stream_gives_subscribers_no_gap_and_no_duplicate() {
    let mut stack = Stack::start_restartable().await;
    let mut ws = connect(&stack, Some(&token("v", 50, &[Role::Viewer])), None).await;
    assert_eq!(
        next(&mut ws).await,
        json!({"type": "authenticated", "account": 50})
    );
    // Nothing is placed yet, so nothing can come between these answers.
    subscribe(&mut ws, &format!("book:{SYMBOL}")).await;
    let mut seen = Seen::from_snapshot(&next(&mut ws).await);
    subscribe(&mut ws, &format!("trades:{SYMBOL}")).await;
    let mut placed = Placed::default();

    // Resting orders on both sides, then a buy that takes two of the asks.
    placed
        .order(&stack, 1, ApiSide::Sell, Some("10.00"), "1.500")
        .await;
    placed
        .order(&stack, 1, ApiSide::Sell, Some("10.05"), "1.500")
        .await;
    placed
        .order(&stack, 1, ApiSide::Sell, Some("10.10"), "1.500")
        .await;
    placed
        .order(&stack, 3, ApiSide::Buy, Some("9.50"), "1.500")
        .await;
    placed
        .order(&stack, 2, ApiSide::Buy, Some("10.05"), "2.000")
        .await;
    assert_eq!(placed.fills.len(), 2);
    seen.catch_up(&mut ws, &shard_book(&stack).await, placed.fills.len())
        .await;
    let seen_before_stop = seen.trades.len();

    // Mid-stream: two more crossing orders, and the shard stops at once, whether or not
    // the subscriber (or the gateway's feed) has their events yet.
    placed
        .order(&stack, 4, ApiSide::Sell, Some("9.50"), "1.000")
        .await;
    placed.order(&stack, 2, ApiSide::Buy, None, "0.500").await;
    assert_eq!(placed.fills.len(), 4);
    stack.stop_shard().await;

    // While it is down, orders are refused with a retryable 503; the trades the gateway
    // kept are still served.
    let refused = order(SYMBOL, ApiSide::Buy, Some("10.10"), "1.000");
    let one = stack.sdk(&trader(1));
    for _ in 0..2 {
        let res = one.place_order().body(refused.clone()).send().await;
        let p = problem(res, StatusCode::SERVICE_UNAVAILABLE, "unavailable");
        assert!(p.headers().contains_key("retry-after"));
    }
    assert!(rest_trades(&stack).await.len() >= seen_before_stop);

    // Trading the gateway cannot see (as when it is cut off from a shard that goes on
    // trading): the shard runs on another address and two crossing orders reach it
    // directly. After the restart, the gateway's feed must fetch their events from the
    // journal, resuming after the last one it applied.
    let aside = stack.start_shard_aside().await;
    let direct = ShardClient::new(ClientConfig::new(aside));
    placed.direct(&direct, 5, Side::Buy, 1010, 1000).await;
    placed.direct(&direct, 6, Side::Sell, 950, 200).await;
    assert_eq!(placed.fills.len(), 7, "{:?}", placed.fills);
    let res = one.place_order().body(refused.clone()).send().await;
    problem(res, StatusCode::SERVICE_UNAVAILABLE, "unavailable");
    drop(direct);
    stack.stop_shard().await;

    // Back on the same journal and address; more crossing orders, then random ones.
    stack.restart_shard().await;
    placed
        .order(&stack, 4, ApiSide::Buy, Some("10.10"), "3.000")
        .await;
    placed
        .order(&stack, 1, ApiSide::Sell, Some("9.00"), "0.250")
        .await;
    assert_eq!(placed.fills.len(), 9, "{:?}", placed.fills);
    placed.random(&stack, 23, 40).await;
    seen.catch_up(&mut ws, &shard_book(&stack).await, placed.fills.len())
        .await;

    // Every trade exactly once, in order: as the order answers reported the fills, and as
    // the gateway keeps them.
    let streamed: Vec<(String, String, String)> = seen
        .trades
        .iter()
        .map(|t| {
            let field = |k: &str| t[k].as_str().unwrap().to_owned();
            (field("taker_order_id"), field("price"), field("quantity"))
        })
        .collect();
    assert_eq!(streamed, placed.fills);
    assert_eq!(seen.trades, rest_trades(&stack).await);

    // A last resting order far from the touch: its delta must follow straight on from the
    // last one applied. A repeated delta or trade still queued would arrive before it and
    // fail the checks in `take`.
    let trades = seen.trades.len();
    placed
        .order(&stack, 3, ApiSide::Buy, Some("1.00"), "0.001")
        .await;
    let sentinel = tokio::time::timeout(CATCH_UP_DEADLINE, async {
        loop {
            let m = next(&mut ws).await;
            let is_sentinel = m["type"] == "book_delta"
                && m["changes"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|c| c["price"] == "1.00");
            seen.take(m.clone());
            if is_sentinel {
                return m;
            }
        }
    })
    .await
    .expect("the last order's delta");
    assert_eq!(
        sentinel["changes"],
        json!([{"side": "buy", "price": "1.00", "quantity": "0.001", "orders": 1}])
    );
    assert_eq!(seen.trades.len(), trades);
    assert_eq!(seen.book, shard_book(&stack).await);
    stack.stop().await;
}
