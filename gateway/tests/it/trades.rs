//! Recent trades kept from the shard feed: `GET /v1/markets/{symbol}/trades`.

use std::future::Future;
use std::num::NonZeroU32;
use std::time::Duration;

use gateway::auth::Role;
use reqwest::StatusCode;
use serde_json::json;
use tradeplane_sdk::types::ApiSide;

use crate::harness::{Stack, order, problem, raw_problem, token, trader};

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
    let maker1 = stack.place_limit(&trader(1), ApiSide::Sell, "10.00").await;
    let maker2 = stack.place_limit(&trader(1), ApiSide::Sell, "10.05").await;
    let res = stack
        .sdk(&trader(2))
        .place_order()
        .body(order("AAA-USD", ApiSide::Buy, Some("10.05"), "2.000"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let taker = res.into_inner();
    let fills = taker
        .fills
        .clone()
        .expect("a placed order reports its fills");
    assert_eq!(fills.len(), 2, "{taker:?}");

    let viewer = stack.sdk(&token("v", 3, &[Role::Viewer]));
    let trades = eventually("two trades", || async {
        let list = viewer.get_trades().symbol("AAA-USD").send().await.unwrap();
        (list.trades.len() == 2).then(|| list.into_inner().trades)
    })
    .await;
    // Newest first; fills are in matching order.
    let mut oldest_first = trades.clone();
    oldest_first.reverse();
    for (trade, fill) in oldest_first.iter().zip(&fills) {
        assert_eq!(trade.price, fill.price, "{trade:?} vs {fill:?}");
        assert_eq!(trade.quantity, fill.quantity, "{trade:?} vs {fill:?}");
        assert_eq!(trade.symbol, "AAA-USD");
        assert_eq!(trade.side, ApiSide::Buy);
        assert_eq!(trade.taker_order_id, taker.id);
    }
    assert_eq!(oldest_first[0].maker_order_id, maker1);
    assert_eq!(oldest_first[1].maker_order_id, maker2);
    assert!(oldest_first[0].seq < oldest_first[1].seq);

    let one = viewer
        .get_trades()
        .symbol("AAA-USD")
        .limit(NonZeroU32::new(1).unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(
        serde_json::to_value(&one.trades).unwrap(),
        json!([trades[0]])
    );
    let other = viewer.get_trades().symbol("BBB-USD").send().await.unwrap();
    assert_eq!(other.symbol, "BBB-USD");
    assert!(other.trades.is_empty(), "{other:?}");
    stack.stop().await;
}

#[tokio::test]
async fn trades_refuse_bad_queries_and_unknown_markets() {
    let stack = Stack::start().await;
    let viewer_token = token("v", 3, &[Role::Viewer]);
    let viewer = stack.sdk(&viewer_token);
    let too_many = viewer
        .get_trades()
        .symbol("AAA-USD")
        .limit(NonZeroU32::new(1001).unwrap())
        .send()
        .await;
    problem(too_many, StatusCode::BAD_REQUEST, "invalid_query");
    // Raw: the SDK's `limit` is a `NonZeroU32` and it sends no unknown parameter, so it
    // cannot ask for these.
    for q in ["limit=0", "limit=x", "depth=3"] {
        raw_problem(
            stack
                .get(&format!("/v1/markets/AAA-USD/trades?{q}"), &viewer_token)
                .await,
            StatusCode::BAD_REQUEST,
            "invalid_query",
        )
        .await;
    }
    problem(
        viewer.get_trades().symbol("ZZZ-USD").send().await,
        StatusCode::NOT_FOUND,
        "market_not_found",
    );
    stack.stop().await;
}
