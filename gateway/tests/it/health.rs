//! `/healthz`, `/readyz` (unauthenticated) and `X-Request-Id` on every response.

use reqwest::StatusCode;
use reqwest::header::HeaderMap;

use crate::harness::{Stack, problem, raw_problem, trader};

#[tokio::test]
async fn healthz_is_ok_without_a_token() {
    let stack = Stack::start_with_dead_shard().await;
    let res = stack.anonymous().healthz().send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.status, "ok");
    stack.stop().await;
}

#[tokio::test]
async fn readyz_is_ok_when_every_shard_answers() {
    let stack = Stack::start_two_shards().await;
    let res = stack.anonymous().readyz().send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.status, "ready");
    assert_eq!(res.shards, 2);
    stack.stop().await;
}

#[tokio::test]
async fn readyz_names_the_unreachable_shard_count() {
    let stack = Stack::start_with_dead_shard().await;
    // Raw: `unreachable_shards` is a problem extension the SDK's typed `Problem` drops.
    let res = stack.http.get(stack.url("/readyz")).send().await.unwrap();
    assert!(res.headers().contains_key("retry-after"));
    let body = raw_problem(res, StatusCode::SERVICE_UNAVAILABLE, "not_ready").await;
    assert_eq!(body["unreachable_shards"], 1);
    stack.stop().await;
}

#[tokio::test]
async fn readyz_does_not_hang_on_a_silent_shard() {
    let stack = Stack::start_with_silent_shard().await;
    let started = std::time::Instant::now();
    // Raw: `unreachable_shards` is a problem extension the SDK's typed `Problem` drops.
    let res = stack.http.get(stack.url("/readyz")).send().await.unwrap();
    assert!(started.elapsed() < std::time::Duration::from_secs(2));
    let body = raw_problem(res, StatusCode::SERVICE_UNAVAILABLE, "not_ready").await;
    assert_eq!(body["unreachable_shards"], 1);
    stack.stop().await;
}

fn request_id(headers: &HeaderMap) -> String {
    headers["x-request-id"].to_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_valid_request_id_is_echoed() {
    let stack = Stack::start().await;
    let res = stack
        .sdk(&trader(1))
        .whoami()
        .x_request_id("client-abc.123")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(request_id(res.headers()), "client-abc.123");
    // Problems carry it too: a 401 and a fallback 404.
    let res = stack
        .anonymous()
        .whoami()
        .x_request_id("r-401")
        .send()
        .await;
    let p = problem(res, StatusCode::UNAUTHORIZED, "unauthorized");
    assert_eq!(request_id(p.headers()), "r-401");
    // Raw: an unknown path has no SDK method.
    let res = stack
        .http
        .get(stack.url("/nowhere"))
        .header("x-request-id", "r-404")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert_eq!(request_id(res.headers()), "r-404");
    stack.stop().await;
}

#[tokio::test]
async fn a_missing_or_invalid_request_id_is_generated() {
    let stack = Stack::start().await;
    let client = stack.anonymous();
    let a = client.healthz().send().await.unwrap();
    let b = client.healthz().send().await.unwrap();
    let (a, b) = (request_id(a.headers()), request_id(b.headers()));
    assert_eq!(a.len(), 32, "{a}");
    assert_ne!(a, b);
    let too_long = "x".repeat(129);
    let res = client
        .healthz()
        .x_request_id(too_long.as_str())
        .send()
        .await
        .unwrap();
    let id = request_id(res.headers());
    assert_ne!(id, too_long);
    assert_eq!(id.len(), 32);
    stack.stop().await;
}
