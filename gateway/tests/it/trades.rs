//! Recent trades kept from the shard feed: `GET /v1/markets/{symbol}/trades`.

use std::future::Future;
use std::time::Duration;

use gateway::auth::Role;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::harness::{Stack, problem, token, trader};

/// How long the feed may take to deliver what the shard acknowledged.
const FEED_DEADLINE: Duration = Duration::from_secs(10);

/// Re-evaluates `check` (each call a real HTTP round trip) until it yields a value, failing
/// after [`FEED_DEADLINE`].
pub(crate) async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    tokio::time::timeout(FEED_DEADLINE, async {
        loop {
            if let Some(v) = check().await {
                return v;
            }
            tokio::task::yield_now().await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
}

#[tokio::test]
async fn trades_after_crossing_orders_match_the_fills() {
    let stack = Stack::start().await;
    let maker1 = stack.place_limit(&trader(1), "sell", "10.00").await;
    let maker2 = stack.place_limit(&trader(1), "sell", "10.05").await;
    let res = stack
        .post(
            "/v1/orders",
            &trader(2),
            &json!({"symbol": "AAA-USD", "side": "buy", "type": "limit",
                    "price": "10.05", "quantity": "2.000"}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let taker: Value = res.json().await.unwrap();
    let fills = taker["fills"].as_array().unwrap().clone();
    assert_eq!(fills.len(), 2, "{taker}");

    let viewer = token("v", 3, &[Role::Viewer]);
    let trades = eventually("two trades", || async {
        let body: Value = stack
            .get("/v1/markets/AAA-USD/trades", &viewer)
            .await
            .json()
            .await
            .unwrap();
        let trades = body["trades"].as_array().unwrap().clone();
        (trades.len() == 2).then_some(trades)
    })
    .await;
    // Newest first; fills are in matching order.
    let mut oldest_first = trades.clone();
    oldest_first.reverse();
    for (trade, fill) in oldest_first.iter().zip(&fills) {
        assert_eq!(trade["price"], fill["price"], "{trade} vs {fill}");
        assert_eq!(trade["quantity"], fill["quantity"], "{trade} vs {fill}");
        assert_eq!(trade["symbol"], "AAA-USD");
        assert_eq!(trade["side"], "buy");
        assert_eq!(trade["taker_order_id"], taker["id"]);
    }
    assert_eq!(oldest_first[0]["maker_order_id"], maker1.as_str());
    assert_eq!(oldest_first[1]["maker_order_id"], maker2.as_str());
    assert!(oldest_first[0]["seq"].as_u64() < oldest_first[1]["seq"].as_u64());

    let one: Value = stack
        .get("/v1/markets/AAA-USD/trades?limit=1", &viewer)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(one["trades"], json!([trades[0]]));
    let other: Value = stack
        .get("/v1/markets/BBB-USD/trades", &viewer)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(other, json!({"symbol": "BBB-USD", "trades": []}));
    stack.stop().await;
}

#[tokio::test]
async fn trades_refuse_bad_queries_and_unknown_markets() {
    let stack = Stack::start().await;
    let viewer = token("v", 3, &[Role::Viewer]);
    for q in ["limit=0", "limit=1001", "limit=x", "depth=3"] {
        problem(
            stack
                .get(&format!("/v1/markets/AAA-USD/trades?{q}"), &viewer)
                .await,
            StatusCode::BAD_REQUEST,
            "invalid_query",
        )
        .await;
    }
    problem(
        stack.get("/v1/markets/ZZZ-USD/trades", &viewer).await,
        StatusCode::NOT_FOUND,
        "market_not_found",
    )
    .await;
    stack.stop().await;
}
