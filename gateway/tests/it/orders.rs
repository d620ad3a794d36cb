//! Orders: place, read, cancel, list, cancel all; RBAC and ownership; bad input; a dead
//! shard.

use std::time::{Duration, Instant};

use gateway::auth::Role;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::harness::{Stack, problem, token, trader};

fn limit(price: &str) -> Value {
    json!({
        "symbol": "AAA-USD", "side": "buy", "type": "limit",
        "price": price, "quantity": "1.500", "client_order_id": "c-1",
    })
}

#[tokio::test]
async fn place_read_and_cancel_a_limit_order() {
    let stack = Stack::start().await;
    let t = trader(7);
    let res = stack.post("/v1/orders", &t, &limit("10.05")).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let placed: Value = res.json().await.unwrap();
    let id = placed["id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("ord_"), "{id}");
    assert_eq!(placed["status"], "open");
    assert_eq!(placed["price"], "10.05");
    assert_eq!(placed["quantity"], "1.500");
    assert_eq!(placed["remaining_quantity"], "1.500");
    assert_eq!(placed["client_order_id"], "c-1");
    assert_eq!(placed["time_in_force"], "gtc");
    assert_eq!(placed["fills"], json!([]));

    let res = stack.get(&format!("/v1/orders/{id}"), &t).await;
    assert_eq!(res.status(), StatusCode::OK);
    let read: Value = res.json().await.unwrap();
    assert_eq!(read["id"], id.as_str());
    assert_eq!(read["status"], "open");
    assert_eq!(read["symbol"], "AAA-USD");

    let res = stack.delete(&format!("/v1/orders/{id}"), &t).await;
    assert_eq!(res.status(), StatusCode::OK);
    let cancelled: Value = res.json().await.unwrap();
    assert_eq!(cancelled["status"], "cancelled");
    assert_eq!(cancelled["remaining_quantity"], "0.000");

    problem(
        stack.get(&format!("/v1/orders/{id}"), &t).await,
        StatusCode::NOT_FOUND,
        "order_not_found",
    )
    .await;
    stack.stop().await;
}

#[tokio::test]
async fn crossing_orders_report_fills() {
    let stack = Stack::start().await;
    stack.place_limit(&trader(1), "sell", "10.00").await;
    let res = stack
        .post(
            "/v1/orders",
            &trader(2),
            &json!({"symbol": "AAA-USD", "side": "buy", "type": "market", "quantity": "1.000"}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["status"], "filled");
    assert_eq!(body["time_in_force"], "ioc");
    assert_eq!(
        body["fills"],
        json!([{"price": "10.00", "quantity": "1.000"}])
    );
    assert_eq!(body["remaining_quantity"], "0.000");
    assert!(body.get("price").is_none());
    stack.stop().await;
}

#[tokio::test]
async fn a_viewer_cannot_place_orders() {
    let stack = Stack::start().await;
    let viewer = token("v", 7, &[Role::Viewer]);
    problem(
        stack.post("/v1/orders", &viewer, &limit("10.05")).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    stack.stop().await;
}

#[tokio::test]
async fn another_accounts_order_is_not_found() {
    let stack = Stack::start().await;
    let id = stack.place_limit(&trader(1), "buy", "10.05").await;
    let path = format!("/v1/orders/{id}");
    let other = trader(2);
    let read = problem(
        stack.get(&path, &other).await,
        StatusCode::NOT_FOUND,
        "order_not_found",
    )
    .await;
    let missing = problem(
        stack.get("/v1/orders/ord_0_999999", &other).await,
        StatusCode::NOT_FOUND,
        "order_not_found",
    )
    .await;
    assert_eq!(
        read, missing,
        "another account's order must look like a missing one"
    );
    problem(
        stack.delete(&path, &other).await,
        StatusCode::NOT_FOUND,
        "order_not_found",
    )
    .await;
    problem(
        stack.get("/v1/orders/bogus", &other).await,
        StatusCode::NOT_FOUND,
        "order_not_found",
    )
    .await;
    // Still there for its owner, and readable by an operator.
    assert_eq!(stack.get(&path, &trader(1)).await.status(), StatusCode::OK);
    let operator = token("op", 99, &[Role::Operator]);
    assert_eq!(stack.get(&path, &operator).await.status(), StatusCode::OK);
    // An operator reads but does not cancel; an admin may.
    problem(
        stack.delete(&path, &operator).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    let admin = token("root", 98, &[Role::Admin]);
    let res = stack.delete(&path, &admin).await;
    assert_eq!(res.status(), StatusCode::OK);
    problem(
        stack.get(&path, &trader(1)).await,
        StatusCode::NOT_FOUND,
        "order_not_found",
    )
    .await;
    stack.stop().await;
}

#[tokio::test]
async fn bad_values_are_422_naming_the_field() {
    let stack = Stack::start().await;
    let t = trader(7);
    let off_tick = problem(
        stack.post("/v1/orders", &t, &limit("10.03")).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "price_not_on_tick",
    )
    .await;
    assert_eq!(off_tick["field"], "price");
    let too_precise = problem(
        stack.post("/v1/orders", &t, &limit("10.051")).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "too_many_decimals",
    )
    .await;
    assert_eq!(too_precise["field"], "price");
    let mut body = limit("10.05");
    body["price"] = Value::Null;
    let missing = problem(
        stack.post("/v1/orders", &t, &body).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "price_required",
    )
    .await;
    assert_eq!(missing["field"], "price");
    let mut body = limit("10.05");
    body["side"] = json!("sideways");
    let shape = problem(
        stack.post("/v1/orders", &t, &body).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_body",
    )
    .await;
    assert_eq!(shape["field"], "side");
    let mut body = limit("10.05");
    body["account"] = json!(1);
    problem(
        stack.post("/v1/orders", &t, &body).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_body",
    )
    .await;
    stack.stop().await;
}

#[tokio::test]
async fn malformed_json_is_a_400_problem() {
    let stack = Stack::start().await;
    let res = stack
        .http
        .post(stack.url("/v1/orders"))
        .bearer_auth(trader(7))
        .header("content-type", "application/json")
        .body("{\"symbol\": ")
        .send()
        .await
        .unwrap();
    problem(res, StatusCode::BAD_REQUEST, "malformed_json").await;
    stack.stop().await;
}

#[tokio::test]
async fn duplicate_client_order_ids_are_refused() {
    let stack = Stack::start().await;
    let t = trader(7);
    assert_eq!(
        stack.post("/v1/orders", &t, &limit("10.05")).await.status(),
        StatusCode::CREATED
    );
    let res = stack.post("/v1/orders", &t, &limit("10.05")).await;
    assert!(res.status().is_client_error(), "{}", res.status());
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["code"], "duplicate_client_order_id", "{body}");
    stack.stop().await;
}

#[tokio::test]
async fn list_open_orders_and_cancel_all() {
    let stack = Stack::start().await;
    let mine = trader(7);
    let a = stack.place_limit(&mine, "buy", "10.05").await;
    let b = stack.place_limit(&mine, "sell", "12.00").await;
    stack.place_limit(&trader(8), "buy", "10.00").await;
    let res = stack.get("/v1/orders?status=open", &mine).await;
    assert_eq!(res.status(), StatusCode::OK);
    let body: Value = res.json().await.unwrap();
    let mut ids: Vec<&str> = body["orders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["id"].as_str().unwrap())
        .collect();
    ids.sort_unstable();
    let mut expected = vec![a.as_str(), b.as_str()];
    expected.sort_unstable();
    assert_eq!(ids, expected);

    let res = stack.delete("/v1/orders?symbol=AAA-USD", &mine).await;
    assert_eq!(res.status(), StatusCode::OK);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["cancelled"].as_array().unwrap().len(), 2);
    let res = stack.get("/v1/orders?status=open", &mine).await;
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["orders"], json!([]));
    // The other account's order is untouched.
    let res = stack.get("/v1/orders", &trader(8)).await;
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["orders"].as_array().unwrap().len(), 1);
    stack.stop().await;
}

#[tokio::test]
async fn a_dead_shard_is_a_503_with_retry_after_in_bounded_time() {
    let stack = Stack::start_with_dead_shard().await;
    let t = trader(7);
    let body = json!({
        "symbol": "CCC-USD", "side": "buy", "type": "limit", "price": "10.05", "quantity": "1",
    });
    for _ in 0..3 {
        let started = Instant::now();
        let res = stack.post("/v1/orders", &t, &body).await;
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "{:?}",
            started.elapsed()
        );
        assert!(res.headers().contains_key("retry-after"));
        problem(res, StatusCode::SERVICE_UNAVAILABLE, "unavailable").await;
    }
    let res = stack.get("/v1/markets/CCC-USD/book", &t).await;
    assert!(res.headers().contains_key("retry-after"));
    problem(res, StatusCode::SERVICE_UNAVAILABLE, "unavailable").await;
    stack.stop().await;
}

#[tokio::test]
async fn amend_price_and_quantity() {
    let stack = Stack::start().await;
    let t = trader(7);
    let id = stack.place_limit(&t, "buy", "10.05").await;
    let path = format!("/v1/orders/{id}");
    let patch = |body: Value| {
        stack
            .http
            .patch(stack.url(&path))
            .bearer_auth(&t)
            .json(&body)
            .send()
    };
    let res = patch(json!({"price": "10.50", "quantity": "2.000"}))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["price"], "10.50");
    assert_eq!(body["quantity"], "2.000");
    assert_eq!(body["remaining_quantity"], "2.000");
    assert_eq!(body["status"], "open");
    let read: Value = stack.get(&path, &t).await.json().await.unwrap();
    assert_eq!(read["price"], "10.50");

    let off_tick = problem(
        patch(json!({"price": "10.51"})).await.unwrap(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "price_not_on_tick",
    )
    .await;
    assert_eq!(off_tick["field"], "price");

    // Crossing a resting sell fills at once.
    stack.place_limit(&trader(8), "sell", "11.00").await;
    let res = patch(json!({"price": "11.00", "quantity": "1.500"}))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["status"], "filled", "{body}");
    assert_eq!(
        body["fills"],
        json!([{"price": "11.00", "quantity": "1.500"}])
    );
    problem(
        patch(json!({"price": "10.00"})).await.unwrap(),
        StatusCode::NOT_FOUND,
        "order_not_found",
    )
    .await;
    stack.stop().await;
}

#[tokio::test]
async fn amending_is_for_the_owner_only() {
    let stack = Stack::start().await;
    let id = stack.place_limit(&trader(1), "buy", "10.05").await;
    let send = |token: String| {
        stack
            .http
            .patch(stack.url(&format!("/v1/orders/{id}")))
            .bearer_auth(token)
            .json(&json!({"price": "10.10"}))
            .send()
    };
    problem(
        send(trader(2)).await.unwrap(),
        StatusCode::NOT_FOUND,
        "order_not_found",
    )
    .await;
    problem(
        send(token("v", 1, &[Role::Viewer])).await.unwrap(),
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    stack.stop().await;
}

#[tokio::test]
async fn orders_route_to_their_market_s_shard() {
    let stack = Stack::start_two_shards().await;
    let t = trader(7);
    let a = stack.place_limit(&t, "buy", "10.05").await;
    let res = stack
        .post(
            "/v1/orders",
            &t,
            &json!({"symbol": "BBB-USD", "side": "sell", "type": "limit", "price": "20.00", "quantity": "1"}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let b: Value = res.json().await.unwrap();
    let b = b["id"].as_str().unwrap().to_owned();
    // Each shard numbers its orders from the start: the ids differ only by shard.
    assert_ne!(a, b);
    for (id, symbol) in [(&a, "AAA-USD"), (&b, "BBB-USD")] {
        let read: Value = stack
            .get(&format!("/v1/orders/{id}"), &t)
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(read["symbol"], symbol, "{read}");
    }
    let list: Value = stack.get("/v1/orders", &t).await.json().await.unwrap();
    assert_eq!(list["orders"].as_array().unwrap().len(), 2);
    let book: Value = stack
        .get("/v1/markets/BBB-USD/book", &t)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(book["asks"][0]["price"], "20.00");
    let res = stack.delete("/v1/orders", &t).await;
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["cancelled"].as_array().unwrap().len(), 2);
    stack.stop().await;
}

#[tokio::test]
async fn a_silent_shard_is_a_503_within_the_request_timeout() {
    let stack = Stack::start_with_silent_shard().await;
    let t = trader(7);
    let body = json!({
        "symbol": "CCC-USD", "side": "buy", "type": "limit", "price": "10.05", "quantity": "1",
    });
    let started = Instant::now();
    let res = stack.post("/v1/orders", &t, &body).await;
    let took = started.elapsed();
    assert!(took >= Duration::from_millis(250), "{took:?}");
    assert!(took < Duration::from_secs(2), "{took:?}");
    assert!(res.headers().contains_key("retry-after"));
    problem(res, StatusCode::SERVICE_UNAVAILABLE, "unavailable").await;
    stack.stop().await;
}
