//! Per-principal rate limit: over the quota is a 429 problem with `Retry-After`; other
//! principals are unaffected.

use std::num::NonZeroU32;

use gateway::rate_limit::RateLimit;
use reqwest::StatusCode;

use crate::harness::{Stack, problem, trader};

#[tokio::test]
async fn over_the_quota_is_429_per_principal() {
    let stack = Stack::start_configured(|c| {
        c.rate_limit = Some(RateLimit {
            per_second: NonZeroU32::new(1).unwrap(),
            burst: NonZeroU32::new(2).unwrap(),
        });
    })
    .await;
    let t = trader(41);
    for _ in 0..2 {
        assert_eq!(stack.get("/v1/whoami", &t).await.status(), StatusCode::OK);
    }
    let res = stack.get("/v1/whoami", &t).await;
    assert_eq!(res.headers()["retry-after"], "1");
    let body = problem(res, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
    assert_eq!(body["retry_after"], 1);
    // Another subject has its own quota.
    let other = trader(42);
    assert_eq!(
        stack.get("/v1/whoami", &other).await.status(),
        StatusCode::OK
    );
    // Unauthenticated health checks are never limited.
    let res = stack.http.get(stack.url("/healthz")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    stack.stop().await;
}
