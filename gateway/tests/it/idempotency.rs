//! `Idempotency-Key` against the real Redis (127.0.0.1:6379): replay, mismatch, concurrent
//! duplicates, Redis down, no store configured. Each test writes under its own key prefix
//! and deletes it afterwards.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use serde_json::Value;
use tradeplane_sdk::types::{ApiSide, OrderBody, PlaceOrder, Problem};
use tradeplane_sdk::{Error, ResponseValue};

use crate::harness::{Stack, limit, problem, trader};

const REDIS_URL: &str = "redis://127.0.0.1:6379";

/// A limit order without `client_order_id`: the gateway generates one per execution, so
/// a second execution would be a second order (the engine's dedup cannot hide it).
fn order(price: &str) -> PlaceOrder {
    limit(ApiSide::Buy, price)
}

/// A unique key prefix for one test.
fn prefix(test: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("tp-it:{test}:{nanos}:")
}

async fn start(prefix: &str) -> Stack {
    let prefix = prefix.to_owned();
    Stack::start_configured(move |c| {
        c.redis_url = Some(REDIS_URL.to_owned());
        c.redis_prefix = prefix;
        // A failed test skips `cleanup`; its keys then go away on their own.
        c.idempotency_ttl = Duration::from_secs(60);
    })
    .await
}

/// Deletes every key under `prefix`.
async fn cleanup(prefix: &str) {
    let client = redis::Client::open(REDIS_URL).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{prefix}*"))
        .query_async(&mut conn)
        .await
        .unwrap();
    if !keys.is_empty() {
        let _: () = redis::cmd("DEL")
            .arg(keys)
            .query_async(&mut conn)
            .await
            .unwrap();
    }
}

async fn post_with_key(
    stack: &Stack,
    token: &str,
    key: &str,
    body: &PlaceOrder,
) -> Result<ResponseValue<OrderBody>, Error<Problem>> {
    stack
        .sdk(token)
        .place_order()
        .idempotency_key(key)
        .body(body.clone())
        .send()
        .await
}

/// `post_with_key` without the SDK: the same request bytes (the body serialized from the
/// same type), for the test that compares the replayed answer byte for byte.
async fn raw_post_with_key(
    stack: &Stack,
    token: &str,
    key: &str,
    body: &PlaceOrder,
) -> reqwest::Response {
    stack
        .http
        .post(stack.url("/v1/orders"))
        .bearer_auth(token)
        .header("idempotency-key", key)
        .json(body)
        .send()
        .await
        .unwrap()
}

async fn open_orders(stack: &Stack, token: &str) -> usize {
    let res = stack
        .sdk(token)
        .list_orders()
        .status("open")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    res.orders.len()
}

fn replayed(headers: &HeaderMap) -> bool {
    headers
        .get("idempotent-replayed")
        .is_some_and(|v| v == "true")
}

#[tokio::test]
async fn a_retry_replays_the_stored_response_and_places_once() {
    let prefix = prefix("replay");
    let stack = start(&prefix).await;
    let t = trader(31);
    let body = order("10.05");
    // Raw: the replay must be the stored answer byte for byte, and the SDK hands out only
    // the deserialized body.
    let first = raw_post_with_key(&stack, &t, "key-1", &body).await;
    assert_eq!(first.status(), StatusCode::CREATED);
    assert!(!replayed(first.headers()));
    let first_type = first.headers()["content-type"].clone();
    let first_body = first.bytes().await.unwrap();

    // The SDK's retry: the same typed answer, marked as a replay.
    let second = post_with_key(&stack, &t, "key-1", &body).await.unwrap();
    assert_eq!(second.status(), StatusCode::CREATED);
    assert!(replayed(second.headers()));
    assert_eq!(second.headers()["content-type"], first_type);
    let first_json: Value = serde_json::from_slice(&first_body).unwrap();
    assert_eq!(
        serde_json::to_value(second.into_inner()).unwrap(),
        first_json
    );

    // Raw again: byte for byte.
    let third = raw_post_with_key(&stack, &t, "key-1", &body).await;
    assert_eq!(third.status(), StatusCode::CREATED);
    assert!(replayed(third.headers()));
    assert_eq!(third.headers()["content-type"], first_type);
    assert_eq!(third.bytes().await.unwrap(), first_body);

    assert_eq!(open_orders(&stack, &t).await, 1);
    // The same key belongs to each principal separately.
    let other = trader(32);
    let res = post_with_key(&stack, &other, "key-1", &body).await.unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    assert!(!replayed(res.headers()));
    stack.stop().await;
    cleanup(&prefix).await;
}

#[tokio::test]
async fn the_same_key_with_another_body_is_422() {
    let prefix = prefix("mismatch");
    let stack = start(&prefix).await;
    let t = trader(33);
    let res = post_with_key(&stack, &t, "key-2", &order("10.05"))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let res = post_with_key(&stack, &t, "key-2", &order("10.10")).await;
    problem(
        res,
        StatusCode::UNPROCESSABLE_ENTITY,
        "idempotency_key_reused",
    );
    assert_eq!(open_orders(&stack, &t).await, 1);
    stack.stop().await;
    cleanup(&prefix).await;
}

#[tokio::test]
async fn concurrent_duplicates_execute_once() {
    let prefix = prefix("concurrent");
    let stack = start(&prefix).await;
    let t = trader(34);
    let body = order("10.05");
    let (a, b) = tokio::join!(
        post_with_key(&stack, &t, "key-3", &body),
        post_with_key(&stack, &t, "key-3", &body),
    );
    let mut originals = 0;
    for res in [a, b] {
        match res {
            Ok(res) if res.status() == StatusCode::CREATED && !replayed(res.headers()) => {
                originals += 1;
            }
            Ok(res) if res.status() == StatusCode::CREATED => {}
            Err(e) if e.status() == Some(StatusCode::CONFLICT) => {
                problem::<OrderBody>(Err(e), StatusCode::CONFLICT, "idempotency_in_flight");
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(originals, 1);
    assert_eq!(open_orders(&stack, &t).await, 1);
    stack.stop().await;
    cleanup(&prefix).await;
}

#[tokio::test]
async fn redis_down_is_503_and_nothing_runs() {
    let stack = Stack::start_configured(|c| {
        c.redis_url = Some("redis://127.0.0.1:1".to_owned());
    })
    .await;
    let t = trader(35);
    let res = post_with_key(&stack, &t, "key-4", &order("10.05")).await;
    let p = problem(
        res,
        StatusCode::SERVICE_UNAVAILABLE,
        "idempotency_unavailable",
    );
    assert!(p.headers().contains_key("retry-after"));
    assert_eq!(open_orders(&stack, &t).await, 0);
    // Without the header the request does not need Redis.
    let res = stack
        .sdk(&t)
        .place_order()
        .body(order("10.05"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    stack.stop().await;
}

#[tokio::test]
async fn no_store_configured_is_503_for_keyed_requests() {
    let stack = Stack::start().await;
    let t = trader(36);
    let res = post_with_key(&stack, &t, "key-5", &order("10.05")).await;
    let p = problem(
        res,
        StatusCode::SERVICE_UNAVAILABLE,
        "idempotency_unavailable",
    );
    assert!(p.headers().contains_key("retry-after"));
    assert_eq!(open_orders(&stack, &t).await, 0);
    stack.stop().await;
}

#[tokio::test]
async fn an_invalid_key_is_400() {
    let prefix = prefix("invalid");
    let stack = start(&prefix).await;
    let t = trader(37);
    // Longer than the documented 255 characters; the SDK sends it as given.
    let long = "k".repeat(256);
    let res = post_with_key(&stack, &t, &long, &order("10.05")).await;
    problem(res, StatusCode::BAD_REQUEST, "invalid_idempotency_key");
    assert_eq!(open_orders(&stack, &t).await, 0);
    stack.stop().await;
    cleanup(&prefix).await;
}
