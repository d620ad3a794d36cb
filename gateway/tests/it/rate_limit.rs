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
    let client = stack.sdk(&trader(41));
    for _ in 0..2 {
        let me = client.whoami().send().await.unwrap();
        assert_eq!(me.status(), StatusCode::OK);
    }
    let limited = problem(
        client.whoami().send().await,
        StatusCode::TOO_MANY_REQUESTS,
        "rate_limited",
    );
    assert_eq!(limited.headers()["retry-after"], "1");
    assert_eq!(limited.retry_after, Some(1));
    // Another subject has its own quota.
    let other = stack.sdk(&trader(42)).whoami().send().await.unwrap();
    assert_eq!(other.status(), StatusCode::OK);
    // Unauthenticated health checks are never limited.
    let res = stack.anonymous().healthz().send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    stack.stop().await;
}
