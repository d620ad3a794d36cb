//! `/healthz`, `/readyz` (unauthenticated) and `X-Request-Id` on every response.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::harness::{Stack, problem, trader};

#[tokio::test]
async fn healthz_is_ok_without_a_token() {
    let stack = Stack::start_with_dead_shard().await;
    let res = stack.http.get(stack.url("/healthz")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body, json!({"status": "ok"}));
    stack.stop().await;
}

#[tokio::test]
async fn readyz_is_ok_when_every_shard_answers() {
    let stack = Stack::start_two_shards().await;
    let res = stack.http.get(stack.url("/readyz")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body, json!({"status": "ready", "shards": 2}));
    stack.stop().await;
}

#[tokio::test]
async fn readyz_names_the_unreachable_shard_count() {
    let stack = Stack::start_with_dead_shard().await;
    let res = stack.http.get(stack.url("/readyz")).send().await.unwrap();
    assert!(res.headers().contains_key("retry-after"));
    let body = problem(res, StatusCode::SERVICE_UNAVAILABLE, "not_ready").await;
    assert_eq!(body["unreachable_shards"], 1);
    stack.stop().await;
}

#[tokio::test]
async fn readyz_does_not_hang_on_a_silent_shard() {
    let stack = Stack::start_with_silent_shard().await;
    let started = std::time::Instant::now();
    let res = stack.http.get(stack.url("/readyz")).send().await.unwrap();
    assert!(started.elapsed() < std::time::Duration::from_secs(2));
    let body = problem(res, StatusCode::SERVICE_UNAVAILABLE, "not_ready").await;
    assert_eq!(body["unreachable_shards"], 1);
    stack.stop().await;
}

fn request_id(res: &reqwest::Response) -> String {
    res.headers()["x-request-id"].to_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_valid_request_id_is_echoed() {
    let stack = Stack::start().await;
    let res = stack
        .http
        .get(stack.url("/v1/whoami"))
        .bearer_auth(trader(1))
        .header("x-request-id", "client-abc.123")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(request_id(&res), "client-abc.123");
    // Problems carry it too: a 401 and a fallback 404.
    let res = stack
        .http
        .get(stack.url("/v1/whoami"))
        .header("x-request-id", "r-401")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(request_id(&res), "r-401");
    let res = stack
        .http
        .get(stack.url("/nowhere"))
        .header("x-request-id", "r-404")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert_eq!(request_id(&res), "r-404");
    stack.stop().await;
}

#[tokio::test]
async fn a_missing_or_invalid_request_id_is_generated() {
    let stack = Stack::start().await;
    let a = stack.http.get(stack.url("/healthz")).send().await.unwrap();
    let b = stack.http.get(stack.url("/healthz")).send().await.unwrap();
    let (a, b) = (request_id(&a), request_id(&b));
    assert_eq!(a.len(), 32, "{a}");
    assert_ne!(a, b);
    let too_long = "x".repeat(129);
    let res = stack
        .http
        .get(stack.url("/healthz"))
        .header("x-request-id", &too_long)
        .send()
        .await
        .unwrap();
    let id = request_id(&res);
    assert_ne!(id, too_long);
    assert_eq!(id.len(), 32);
    stack.stop().await;
}
