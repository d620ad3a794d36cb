//! `GET /metrics` counts what the gateway served, by route template.

use gateway::auth::Role;
use reqwest::StatusCode;

use crate::harness::{Stack, token};

#[tokio::test]
async fn metrics_count_requests_by_route_template_method_and_status() {
    let stack = Stack::start().await;
    let t = token("alice", 7, &[Role::Viewer]);
    for _ in 0..3 {
        assert_eq!(stack.get("/v1/whoami", &t).await.status(), StatusCode::OK);
    }
    assert_eq!(
        stack.get("/v1/orders/ord_0_99", &t).await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        stack.get("/v1/whoami", "garbage").await.status(),
        StatusCode::UNAUTHORIZED
    );
    let res = reqwest::get(stack.url("/metrics")).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let text = res.text().await.unwrap();
    for line in [
        r#"http_requests_total{route="/v1/whoami",method="GET",status="200"} 3"#,
        r#"http_requests_total{route="/v1/whoami",method="GET",status="401"} 1"#,
        r#"http_requests_total{route="/v1/orders/{id}",method="GET",status="404"} 1"#,
    ] {
        assert!(text.contains(line), "missing {line:?} in:\n{text}");
    }
    assert!(
        !text.contains("ord_0_99"),
        "concrete ids never become labels"
    );
    assert!(text.trim_end().ends_with("# EOF"));
    stack.stop().await;
}
