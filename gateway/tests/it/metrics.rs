//! `GET /metrics` counts what the gateway served, by route template.

use gateway::auth::Role;
use reqwest::StatusCode;

use crate::harness::{Stack, problem, token};

#[tokio::test]
async fn metrics_count_requests_by_route_template_method_and_status() {
    let stack = Stack::start().await;
    let client = stack.sdk(&token("alice", 7, &[Role::Viewer]));
    for _ in 0..3 {
        let me = client.whoami().send().await.unwrap();
        assert_eq!(me.status(), StatusCode::OK);
    }
    problem(
        client.get_order().id("ord_0_99").send().await,
        StatusCode::NOT_FOUND,
        "order_not_found",
    );
    problem(
        stack.sdk("garbage").whoami().send().await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    );
    let text = stack.metrics().await;
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
