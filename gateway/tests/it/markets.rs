//! Market data: the market list and book depth, in decimal strings.

use std::num::NonZeroU32;

use gateway::auth::Role;
use reqwest::StatusCode;
use serde_json::json;
use tradeplane_sdk::types::ApiSide;

use crate::harness::{Stack, problem, raw_problem, token, trader};

#[tokio::test]
async fn markets_list_in_decimal_strings() {
    let stack = Stack::start().await;
    let viewer = stack.sdk(&token("v", 1, &[Role::Viewer]));
    let res = viewer.list_markets().send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.markets.len(), 2);
    assert_eq!(
        serde_json::to_value(&res.markets[0]).unwrap(),
        json!({
            "symbol": "AAA-USD", "tick_size": "0.05", "lot_size": "0.001",
            "min_price": "0.05", "max_price": "1000.00", "max_quantity": "1000.000",
        })
    );
    stack.stop().await;
}

#[tokio::test]
async fn book_shows_resting_orders_and_refuses_bad_queries() {
    let stack = Stack::start().await;
    let t = trader(1);
    stack.place_limit(&t, ApiSide::Buy, "10.05").await;
    stack.place_limit(&t, ApiSide::Buy, "10.05").await;
    stack.place_limit(&t, ApiSide::Sell, "11.00").await;
    let viewer_token = token("v", 2, &[Role::Viewer]);
    let viewer = stack.sdk(&viewer_token);
    let res = viewer
        .get_book()
        .symbol("AAA-USD")
        .depth(NonZeroU32::new(5).unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        serde_json::to_value(res.into_inner()).unwrap(),
        json!({
            "symbol": "AAA-USD",
            "bids": [{"price": "10.05", "quantity": "3.000", "orders": 2}],
            "asks": [{"price": "11.00", "quantity": "1.500", "orders": 1}],
        })
    );
    problem(
        viewer.get_book().symbol("ZZZ-USD").send().await,
        StatusCode::NOT_FOUND,
        "market_not_found",
    );
    let too_deep = problem(
        viewer
            .get_book()
            .symbol("AAA-USD")
            .depth(NonZeroU32::new(1001).unwrap())
            .send()
            .await,
        StatusCode::BAD_REQUEST,
        "invalid_query",
    );
    assert_eq!(too_deep.field.as_deref(), Some("depth"));
    // Raw: the SDK's `depth` is a `NonZeroU32`, so it cannot ask for 0 or for `x`.
    let bad = raw_problem(
        stack
            .get("/v1/markets/AAA-USD/book?depth=0", &viewer_token)
            .await,
        StatusCode::BAD_REQUEST,
        "invalid_query",
    )
    .await;
    assert_eq!(bad["field"], "depth");
    raw_problem(
        stack
            .get("/v1/markets/AAA-USD/book?depth=x", &viewer_token)
            .await,
        StatusCode::BAD_REQUEST,
        "invalid_query",
    )
    .await;
    stack.stop().await;
}
