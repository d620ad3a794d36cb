//! Market data: the market list and book depth, in decimal strings.

use gateway::auth::Role;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::harness::{Stack, problem, token, trader};

#[tokio::test]
async fn markets_list_in_decimal_strings() {
    let stack = Stack::start().await;
    let res = stack
        .get("/v1/markets", &token("v", 1, &[Role::Viewer]))
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["markets"].as_array().unwrap().len(), 2);
    assert_eq!(
        body["markets"][0],
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
    stack.place_limit(&t, "buy", "10.05").await;
    stack.place_limit(&t, "buy", "10.05").await;
    stack.place_limit(&t, "sell", "11.00").await;
    let viewer = token("v", 2, &[Role::Viewer]);
    let res = stack.get("/v1/markets/AAA-USD/book?depth=5", &viewer).await;
    assert_eq!(res.status(), StatusCode::OK);
    let body: Value = res.json().await.unwrap();
    assert_eq!(
        body,
        json!({
            "symbol": "AAA-USD",
            "bids": [{"price": "10.05", "quantity": "3.000", "orders": 2}],
            "asks": [{"price": "11.00", "quantity": "1.500", "orders": 1}],
        })
    );
    problem(
        stack.get("/v1/markets/ZZZ-USD/book", &viewer).await,
        StatusCode::NOT_FOUND,
        "market_not_found",
    )
    .await;
    let bad = problem(
        stack.get("/v1/markets/AAA-USD/book?depth=0", &viewer).await,
        StatusCode::BAD_REQUEST,
        "invalid_query",
    )
    .await;
    assert_eq!(bad["field"], "depth");
    problem(
        stack.get("/v1/markets/AAA-USD/book?depth=x", &viewer).await,
        StatusCode::BAD_REQUEST,
        "invalid_query",
    )
    .await;
    stack.stop().await;
}
