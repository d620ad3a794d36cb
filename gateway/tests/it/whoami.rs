//! Authentication at the door, through `GET /v1/whoami`, and the fallbacks.

use std::time::{Duration, SystemTime};

use gateway::auth::Role;
use reqwest::StatusCode;
use tradeplane_sdk::types;

use crate::harness::{Stack, problem, raw_problem, token, token_at};

#[tokio::test]
async fn whoami_echoes_the_token() {
    let stack = Stack::start().await;
    let t = token("alice", 7, &[Role::Trader, Role::Viewer]);
    let me = stack.sdk(&t).whoami().send().await.unwrap();
    assert_eq!(me.status(), StatusCode::OK);
    assert_eq!(me.subject, "alice");
    assert_eq!(me.account, 7);
    assert_eq!(me.roles, [types::Role::Trader, types::Role::Viewer]);
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
    let missing = problem(
        stack.anonymous().whoami().send().await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    );
    assert_eq!(missing.headers()["www-authenticate"], "Bearer");
    for bad in ["garbage", expired.as_str()] {
        let res = problem(
            stack.sdk(bad).whoami().send().await,
            StatusCode::UNAUTHORIZED,
            "unauthorized",
        );
        let challenge = res.headers()["www-authenticate"].to_str().unwrap();
        assert!(
            challenge.starts_with("Bearer error=\"invalid_token\""),
            "{challenge}"
        );
    }
    stack.stop().await;
}

#[tokio::test]
async fn unknown_routes_and_methods_are_problems() {
    let stack = Stack::start().await;
    let t = token("alice", 7, &[Role::Admin]);
    // Raw: an unknown path and an undocumented method have no SDK call.
    raw_problem(
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
    raw_problem(res, StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed").await;
    stack.stop().await;
}
