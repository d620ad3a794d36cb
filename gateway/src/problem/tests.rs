//! The [`Problem`] envelope: constructors, members, headers, and what a 500 hides.

use super::*;
use axum::body::{Body, to_bytes};

fn is_problem_json(response: &Response) -> bool {
    response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        == Some(PROBLEM_JSON)
}

async fn body_of(response: Response) -> Value {
    let bytes = to_bytes(response.into_body(), 1 << 20).await.unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

/// Sends `problem` through `IntoResponse` and checks the envelope every problem shares.
async fn render(problem: Problem) -> (Response, Value) {
    let status = problem.status();
    let code = problem.code();
    let title = problem.title();
    let response = problem.into_response();
    assert_eq!(response.status(), status);
    assert!(is_problem_json(&response), "{:?}", response.headers());
    let headers = response.headers().clone();
    let body = body_of(response).await;
    assert_eq!(body["type"], format!("{PROBLEM_TYPE_BASE}{code}"));
    assert_eq!(body["title"], title);
    assert_eq!(body["status"], status.as_u16());
    assert_eq!(body["code"], code);
    let mut rebuilt = Response::new(Body::empty());
    *rebuilt.headers_mut() = headers;
    (rebuilt, body)
}

#[tokio::test]
async fn every_constructor_renders_status_code_and_members() {
    let challenge = HeaderValue::from_static(r#"Bearer realm="tradeplane""#);
    let cases: Vec<(Problem, u16, &str)> = vec![
        (Problem::bad_request("bad_thing", "why"), 400, "bad_thing"),
        (
            Problem::unauthorized(challenge.clone()),
            401,
            "unauthorized",
        ),
        (Problem::forbidden("no"), 403, "forbidden"),
        (
            Problem::not_found("order_not_found", "gone"),
            404,
            "order_not_found",
        ),
        (Problem::method_not_allowed(), 405, "method_not_allowed"),
        (
            Problem::conflict("idempotency_key_in_use", "busy"),
            409,
            "idempotency_key_in_use",
        ),
        (Problem::payload_too_large(), 413, "payload_too_large"),
        (
            Problem::unsupported_media_type("json"),
            415,
            "unsupported_media_type",
        ),
        (
            Problem::unprocessable("bad_price", "price", "no"),
            422,
            "bad_price",
        ),
        (Problem::rate_limited(7), 429, "rate_limited"),
        (Problem::internal_without_cause(), 500, "internal"),
        (Problem::unavailable(3), 503, "unavailable"),
    ];
    for (problem, status, code) in cases {
        assert_eq!(problem.status().as_u16(), status);
        assert_eq!(problem.code(), code);
        let (response, body) = render(problem).await;
        assert!(body["detail"].is_string(), "{code}: detail missing");
        let retry = response.headers().get(RETRY_AFTER);
        match status {
            429 => {
                assert_eq!(retry.unwrap(), "7");
                assert_eq!(body["retry_after"], 7);
            }
            503 => assert_eq!(retry.unwrap(), "3"),
            _ => {
                assert!(retry.is_none(), "{code}");
                assert!(body.get("retry_after").is_none(), "{code}");
            }
        }
        let auth = response.headers().get(WWW_AUTHENTICATE);
        assert_eq!(auth, (status == 401).then_some(&challenge), "{code}");
        if status == 422 {
            assert_eq!(body["field"], "price");
        } else {
            assert!(body.get("field").is_none(), "{code}");
        }
    }
}

#[tokio::test]
async fn a_problem_without_detail_or_field_omits_the_members() {
    let problem = Problem::new(StatusCode::GONE, "gone", "Gone");
    let (_, body) = render(problem).await;
    assert!(body.get("detail").is_none());
    assert!(body.get("field").is_none());
}

#[derive(Debug)]
struct Secret;
impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("password=hunter2 at db.internal:5432")
    }
}
impl StdError for Secret {}

#[tokio::test]
async fn internal_body_says_nothing_of_the_cause() {
    let problem = Problem::internal(&Secret, "loading the order");
    let response = problem.into_response();
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let bytes = to_bytes(response.into_body(), 1 << 20).await.unwrap();
    let text = String::from_utf8(bytes.to_vec()).unwrap();
    assert!(
        !text.contains("hunter2") && !text.contains("db.internal"),
        "{text}"
    );
    let body: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(body["detail"], INTERNAL_DETAIL);
    assert_eq!(body["code"], "internal");
}

#[tokio::test]
async fn a_500_built_by_hand_still_hides_its_detail() {
    let problem = Problem::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "x")
        .with_detail("connection refused to 10.0.0.7");
    let (_, body) = render(problem).await;
    assert_eq!(body["detail"], INTERNAL_DETAIL);
}

#[test]
fn extensions_never_override_standard_members() {
    let problem = Problem::conflict("duplicate_client_order_id", "dup")
        .with_extension("order_id", "ord_1")
        .with_extension("code", "evil")
        .with_extension("status", 200);
    let body = problem.to_json();
    assert_eq!(body["order_id"], "ord_1");
    assert_eq!(body["code"], "duplicate_client_order_id");
    assert_eq!(body["status"], 409);
}

#[test]
fn problem_stays_small() {
    assert!(size_of::<Problem>() <= 128, "{}", size_of::<Problem>());
}

#[test]
fn display_is_status_code_field_detail() {
    let problem = Problem::unprocessable("price_not_on_tick", "price", "off tick");
    assert_eq!(
        problem.to_string(),
        "422 price_not_on_tick (price): off tick"
    );
}
