//! Orders: place, read, cancel, list, cancel all; RBAC and ownership; bad input; a dead
//! shard.

use std::time::{Duration, Instant};

use gateway::auth::Role;
use reqwest::StatusCode;
use serde_json::{Value, json};
use tradeplane_sdk::types::{
    AmendOrder, ApiOrderType, ApiSide, ApiTimeInForce, OrderStatus, PlaceOrder,
};

use crate::harness::{Stack, limit, order, problem, raw_problem, token, trader};

/// A resting buy of 1.500 AAA-USD at `price`, with `client_order_id` `c-1`.
fn buy(price: &str) -> PlaceOrder {
    PlaceOrder {
        client_order_id: Some("c-1".to_owned()),
        ..limit(ApiSide::Buy, price)
    }
}

fn amend(price: Option<&str>, quantity: Option<&str>) -> AmendOrder {
    AmendOrder {
        price: price.map(str::to_owned),
        quantity: quantity.map(str::to_owned),
    }
}

/// `buy("10.05")` as raw JSON, for the bodies the SDK's types cannot express.
fn raw_buy() -> Value {
    serde_json::to_value(buy("10.05")).unwrap()
}

#[tokio::test]
async fn place_read_and_cancel_a_limit_order() {
    let stack = Stack::start().await;
    let client = stack.sdk(&trader(7));
    let placed = client
        .place_order()
        .body(buy("10.05"))
        .send()
        .await
        .unwrap();
    assert_eq!(placed.status(), StatusCode::CREATED);
    let placed = placed.into_inner();
    let id = placed.id.clone();
    assert!(id.starts_with("ord_"), "{id}");
    assert_eq!(placed.status, OrderStatus::Open);
    assert_eq!(placed.price.as_deref(), Some("10.05"));
    assert_eq!(placed.quantity, "1.500");
    assert_eq!(placed.remaining_quantity, "1.500");
    assert_eq!(placed.client_order_id, "c-1");
    assert_eq!(placed.time_in_force, ApiTimeInForce::Gtc);
    assert!(matches!(placed.fills.as_deref(), Some([])), "{placed:?}");

    let read = client.get_order().id(&id).send().await.unwrap();
    assert_eq!(read.status(), StatusCode::OK);
    assert_eq!(read.id, id);
    assert_eq!(read.status, OrderStatus::Open);
    assert_eq!(read.symbol, "AAA-USD");

    let cancelled = client.cancel_order().id(&id).send().await.unwrap();
    assert_eq!(cancelled.status(), StatusCode::OK);
    assert_eq!(cancelled.status, OrderStatus::Cancelled);
    assert_eq!(cancelled.remaining_quantity, "0.000");

    problem(
        client.get_order().id(&id).send().await,
        StatusCode::NOT_FOUND,
        "order_not_found",
    );
    stack.stop().await;
}

#[tokio::test]
async fn crossing_orders_report_fills() {
    let stack = Stack::start().await;
    stack.place_limit(&trader(1), ApiSide::Sell, "10.00").await;
    let res = stack
        .sdk(&trader(2))
        .place_order()
        .body(order("AAA-USD", ApiSide::Buy, None, "1.000"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let body = res.into_inner();
    assert_eq!(body.type_, ApiOrderType::Market);
    assert_eq!(body.status, OrderStatus::Filled);
    assert_eq!(body.time_in_force, ApiTimeInForce::Ioc);
    assert_eq!(
        serde_json::to_value(&body.fills).unwrap(),
        json!([{"price": "10.00", "quantity": "1.000"}])
    );
    assert_eq!(body.remaining_quantity, "0.000");
    assert!(body.price.is_none());
    stack.stop().await;
}

#[tokio::test]
async fn a_viewer_cannot_place_orders() {
    let stack = Stack::start().await;
    let viewer = stack.sdk(&token("v", 7, &[Role::Viewer]));
    problem(
        viewer.place_order().body(buy("10.05")).send().await,
        StatusCode::FORBIDDEN,
        "forbidden",
    );
    stack.stop().await;
}

#[tokio::test]
async fn another_accounts_order_is_not_found() {
    let stack = Stack::start().await;
    let id = stack.place_limit(&trader(1), ApiSide::Buy, "10.05").await;
    let other = stack.sdk(&trader(2));
    let read = problem(
        other.get_order().id(&id).send().await,
        StatusCode::NOT_FOUND,
        "order_not_found",
    );
    let missing = problem(
        other.get_order().id("ord_0_999999").send().await,
        StatusCode::NOT_FOUND,
        "order_not_found",
    );
    assert_eq!(
        serde_json::to_value(read.into_inner()).unwrap(),
        serde_json::to_value(missing.into_inner()).unwrap(),
        "another account's order must look like a missing one"
    );
    problem(
        other.cancel_order().id(&id).send().await,
        StatusCode::NOT_FOUND,
        "order_not_found",
    );
    problem(
        other.get_order().id("bogus").send().await,
        StatusCode::NOT_FOUND,
        "order_not_found",
    );
    // Still there for its owner, and readable by an operator.
    let owner = stack.sdk(&trader(1));
    let read = owner.get_order().id(&id).send().await.unwrap();
    assert_eq!(read.status(), StatusCode::OK);
    let operator = stack.sdk(&token("op", 99, &[Role::Operator]));
    let read = operator.get_order().id(&id).send().await.unwrap();
    assert_eq!(read.status(), StatusCode::OK);
    // An operator reads but does not cancel; an admin may.
    problem(
        operator.cancel_order().id(&id).send().await,
        StatusCode::FORBIDDEN,
        "forbidden",
    );
    let admin = stack.sdk(&token("root", 98, &[Role::Admin]));
    let cancelled = admin.cancel_order().id(&id).send().await.unwrap();
    assert_eq!(cancelled.status(), StatusCode::OK);
    problem(
        owner.get_order().id(&id).send().await,
        StatusCode::NOT_FOUND,
        "order_not_found",
    );
    stack.stop().await;
}

#[tokio::test]
async fn bad_values_are_422_naming_the_field() {
    let stack = Stack::start().await;
    let t = trader(7);
    let client = stack.sdk(&t);
    let off_tick = problem(
        client.place_order().body(buy("10.03")).send().await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "price_not_on_tick",
    );
    assert_eq!(off_tick.field.as_deref(), Some("price"));
    let too_precise = problem(
        client.place_order().body(buy("10.051")).send().await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "too_many_decimals",
    );
    assert_eq!(too_precise.field.as_deref(), Some("price"));
    // A limit order without a price: the SDK leaves the member out...
    let missing = problem(
        client
            .place_order()
            .body(PlaceOrder {
                price: None,
                ..buy("10.05")
            })
            .send()
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "price_required",
    );
    assert_eq!(missing.field.as_deref(), Some("price"));
    // ...and a raw request sends an explicit `null`, which the SDK never sends.
    let mut body = raw_buy();
    body["price"] = Value::Null;
    let null = raw_problem(
        stack.post("/v1/orders", &t, &body).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "price_required",
    )
    .await;
    assert_eq!(null["field"], "price");
    // Raw: `side` is an enum in the SDK, so it cannot send an unknown one.
    let mut body = raw_buy();
    body["side"] = json!("sideways");
    let shape = raw_problem(
        stack.post("/v1/orders", &t, &body).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_body",
    )
    .await;
    assert_eq!(shape["field"], "side");
    // Raw: the SDK's `PlaceOrder` has no `account` member to send.
    let mut body = raw_buy();
    body["account"] = json!(1);
    raw_problem(
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
    // Raw: the SDK only sends well-formed JSON.
    let res = stack
        .http
        .post(stack.url("/v1/orders"))
        .bearer_auth(trader(7))
        .header("content-type", "application/json")
        .body("{\"symbol\": ")
        .send()
        .await
        .unwrap();
    raw_problem(res, StatusCode::BAD_REQUEST, "malformed_json").await;
    stack.stop().await;
}

#[tokio::test]
async fn duplicate_client_order_ids_are_refused() {
    let stack = Stack::start().await;
    let client = stack.sdk(&trader(7));
    let first = client
        .place_order()
        .body(buy("10.05"))
        .send()
        .await
        .unwrap();
    assert_eq!(first.status(), StatusCode::CREATED);
    let second = match client.place_order().body(buy("10.05")).send().await {
        Err(tradeplane_sdk::Error::ErrorResponse(problem)) => problem,
        other => panic!("expected a problem, got {other:?}"),
    };
    assert!(second.status().is_client_error(), "{}", second.status());
    assert_eq!(second.code, "duplicate_client_order_id", "{second:?}");
    stack.stop().await;
}

#[tokio::test]
async fn list_open_orders_and_cancel_all() {
    let stack = Stack::start().await;
    let mine = trader(7);
    let a = stack.place_limit(&mine, ApiSide::Buy, "10.05").await;
    let b = stack.place_limit(&mine, ApiSide::Sell, "12.00").await;
    stack.place_limit(&trader(8), ApiSide::Buy, "10.00").await;
    let client = stack.sdk(&mine);
    let open = client.list_orders().status("open").send().await.unwrap();
    assert_eq!(open.status(), StatusCode::OK);
    let mut ids: Vec<&str> = open.orders.iter().map(|o| o.id.as_str()).collect();
    ids.sort_unstable();
    let mut expected = vec![a.as_str(), b.as_str()];
    expected.sort_unstable();
    assert_eq!(ids, expected);

    let cancelled = client
        .cancel_all_orders()
        .symbol("AAA-USD")
        .send()
        .await
        .unwrap();
    assert_eq!(cancelled.status(), StatusCode::OK);
    assert_eq!(cancelled.cancelled.len(), 2);
    let open = client.list_orders().status("open").send().await.unwrap();
    assert!(open.orders.is_empty(), "{open:?}");
    // The other account's order is untouched.
    let theirs = stack.sdk(&trader(8)).list_orders().send().await.unwrap();
    assert_eq!(theirs.orders.len(), 1);
    stack.stop().await;
}

#[tokio::test]
async fn a_dead_shard_is_a_503_with_retry_after_in_bounded_time() {
    let stack = Stack::start_with_dead_shard().await;
    let client = stack.sdk(&trader(7));
    let body = order("CCC-USD", ApiSide::Buy, Some("10.05"), "1");
    for _ in 0..3 {
        let started = Instant::now();
        let res = client.place_order().body(body.clone()).send().await;
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "{:?}",
            started.elapsed()
        );
        let p = problem(res, StatusCode::SERVICE_UNAVAILABLE, "unavailable");
        assert!(p.headers().contains_key("retry-after"));
    }
    let res = client.get_book().symbol("CCC-USD").send().await;
    let p = problem(res, StatusCode::SERVICE_UNAVAILABLE, "unavailable");
    assert!(p.headers().contains_key("retry-after"));
    stack.stop().await;
}

#[tokio::test]
async fn amend_price_and_quantity() {
    let stack = Stack::start().await;
    let t = trader(7);
    let id = stack.place_limit(&t, ApiSide::Buy, "10.05").await;
    let client = stack.sdk(&t);
    let patch = |body: AmendOrder| client.amend_order().id(&id).body(body).send();
    let res = patch(amend(Some("10.50"), Some("2.000"))).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.price.as_deref(), Some("10.50"));
    assert_eq!(res.quantity, "2.000");
    assert_eq!(res.remaining_quantity, "2.000");
    assert_eq!(res.status, OrderStatus::Open);
    let read = client.get_order().id(&id).send().await.unwrap();
    assert_eq!(read.price.as_deref(), Some("10.50"));

    let off_tick = problem(
        patch(amend(Some("10.51"), None)).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "price_not_on_tick",
    );
    assert_eq!(off_tick.field.as_deref(), Some("price"));

    // Crossing a resting sell fills at once.
    stack.place_limit(&trader(8), ApiSide::Sell, "11.00").await;
    let res = patch(amend(Some("11.00"), Some("1.500"))).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let body = res.into_inner();
    assert_eq!(body.status, OrderStatus::Filled, "{body:?}");
    assert_eq!(
        serde_json::to_value(&body.fills).unwrap(),
        json!([{"price": "11.00", "quantity": "1.500"}])
    );
    problem(
        patch(amend(Some("10.00"), None)).await,
        StatusCode::NOT_FOUND,
        "order_not_found",
    );
    stack.stop().await;
}

#[tokio::test]
async fn amending_is_for_the_owner_only() {
    let stack = Stack::start().await;
    let id = stack.place_limit(&trader(1), ApiSide::Buy, "10.05").await;
    let (at, id) = (&stack, &id);
    let send = |token: String| async move {
        at.sdk(&token)
            .amend_order()
            .id(id)
            .body(amend(Some("10.10"), None))
            .send()
            .await
    };
    problem(
        send(trader(2)).await,
        StatusCode::NOT_FOUND,
        "order_not_found",
    );
    problem(
        send(token("v", 1, &[Role::Viewer])).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    );
    stack.stop().await;
}

#[tokio::test]
async fn orders_route_to_their_market_s_shard() {
    let stack = Stack::start_two_shards().await;
    let t = trader(7);
    let a = stack.place_limit(&t, ApiSide::Buy, "10.05").await;
    let client = stack.sdk(&t);
    let res = client
        .place_order()
        .body(order("BBB-USD", ApiSide::Sell, Some("20.00"), "1"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let b = res.into_inner().id;
    // Each shard numbers its orders from the start: the ids differ only by shard.
    assert_ne!(a, b);
    for (id, symbol) in [(&a, "AAA-USD"), (&b, "BBB-USD")] {
        let read = client.get_order().id(id).send().await.unwrap();
        assert_eq!(read.symbol, symbol, "{read:?}");
    }
    let list = client.list_orders().send().await.unwrap();
    assert_eq!(list.orders.len(), 2);
    let book = client.get_book().symbol("BBB-USD").send().await.unwrap();
    assert_eq!(book.asks[0].price, "20.00");
    let cancelled = client.cancel_all_orders().send().await.unwrap();
    assert_eq!(cancelled.cancelled.len(), 2);
    stack.stop().await;
}

#[tokio::test]
async fn a_silent_shard_is_a_503_within_the_request_timeout() {
    let stack = Stack::start_with_silent_shard().await;
    let client = stack.sdk(&trader(7));
    let body = order("CCC-USD", ApiSide::Buy, Some("10.05"), "1");
    let started = Instant::now();
    let res = client.place_order().body(body).send().await;
    let took = started.elapsed();
    assert!(took >= Duration::from_millis(250), "{took:?}");
    assert!(took < Duration::from_secs(2), "{took:?}");
    let p = problem(res, StatusCode::SERVICE_UNAVAILABLE, "unavailable");
    assert!(p.headers().contains_key("retry-after"));
    stack.stop().await;
}
