//! Authentication at the door, through `GET /v1/whoami`, and the fallbacks.

use std::time::{Duration, SystemTime};

use gateway::auth::Role;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::harness::{Stack, problem, token, token_at};

#[tokio::test]
async fn whoami_echoes_the_token() {
    let stack = Stack::start().await;
    let t = token("alice", 7, &[Role::Trader, Role::Viewer]);
    let res = stack.get("/v1/whoami", &t).await;
    assert_eq!(res.status(), StatusCode::OK);
    let body: Value = res.json().await.unwrap();
    assert_eq!(
        body,
        json!({"subject": "alice", "account": 7, "roles": ["trader", "viewer"]})
    );
    stack.stop().await;
}

#[tokio::test]
async fn bad_tokens_are_401_problems_with_a_challenge() {
    let stack = Stack::start().await;
    let expired = token_at(
        "alice",
        7,
        &[Role::Trader],
        SystemTime::now() - Duration::from_secs(7200),
        Duration::from_secs(60),
    );
    let missing = stack
        .http
        .get(stack.url("/v1/whoami"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.headers()["www-authenticate"], "Bearer");
    problem(missing, StatusCode::UNAUTHORIZED, "unauthorized").await;
    for bad in ["garbage", expired.as_str()] {
        let res = stack.get("/v1/whoami", bad).await;
        let challenge = res.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(
            challenge.starts_with("Bearer error=\"invalid_token\""),
            "{challenge}"
        );
        problem(res, StatusCode::UNAUTHORIZED, "unauthorized").await;
    }
    stack.stop().await;
}

#[tokio::test]
async fn unknown_routes_and_methods_are_problems() {
    let stack = Stack::start().await;
    let t = token("alice", 7, &[Role::Admin]);
    problem(
        stack.get("/v1/nope", &t).await,
        StatusCode::NOT_FOUND,
        "route_not_found",
    )
    .await;
    let res = stack
        .http
        .put(stack.url("/v1/whoami"))
        .bearer_auth(&t)
        .send()
        .await
        .unwrap();
    problem(res, StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed").await;
    stack.stop().await;
}
