//! The OpenAPI document: committed copy, completeness against the router, and the
//! conventions every operation follows.

use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::harness::Stack;

/// The committed document, relative to this crate.
const COMMITTED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../openapi/openapi.json");

/// Methods probed against every path: any the router answers must be documented.
const METHODS: [&str; 7] = ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE"];

/// Paths probed besides the documented ones (routes likely to be added undocumented).
const EXTRA_PATHS: [&str; 3] = ["/metrics", "/v1", "/"];

fn document() -> Value {
    serde_json::from_str(gateway::openapi::document_json()).unwrap()
}

/// `(path, method, operation)` of every documented operation.
fn operations(doc: &Value) -> Vec<(String, String, Value)> {
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            out.push((path.clone(), method.to_uppercase(), op.clone()));
        }
    }
    out
}

#[test]
fn committed_document_matches_the_generated_one() {
    let committed = std::fs::read_to_string(COMMITTED).unwrap_or_default();
    assert!(
        committed == gateway::openapi::document_json(),
        "openapi/openapi.json is out of date with the gateway's routes; regenerate it with \
         `cargo run -- openapi > openapi/openapi.json` and commit the result"
    );
}

#[test]
fn every_response_has_a_description_and_errors_are_problems() {
    let doc = document();
    assert_eq!(doc["openapi"], "3.1.0");
    let bearer = &doc["components"]["securitySchemes"]["bearer"];
    assert_eq!(bearer["type"], "http");
    assert_eq!(bearer["scheme"], "bearer");
    assert_eq!(bearer["bearerFormat"], "JWT");
    let mut operation_ids = std::collections::HashSet::new();
    for (path, method, op) in operations(&doc) {
        let at = format!("{method} {path}");
        let id = op["operationId"].as_str().unwrap_or("").to_owned();
        assert!(
            operation_ids.insert(id),
            "{at}: missing or repeated operationId"
        );
        let responses = op["responses"].as_object().unwrap();
        assert!(!responses.is_empty(), "{at}: no responses");
        for (status, response) in responses {
            let description = response["description"].as_str().unwrap_or("");
            assert!(!description.is_empty(), "{at} {status}: no description");
            assert!(
                response["headers"]["X-Request-Id"].is_object(),
                "{at} {status}: no X-Request-Id header"
            );
            let code: u16 = status.parse().unwrap();
            if code >= 400 {
                assert_eq!(
                    response["content"]["application/problem+json"]["schema"]["$ref"],
                    "#/components/schemas/Problem",
                    "{at} {status}: not a problem"
                );
            }
            if code == 429 || code == 503 {
                assert!(
                    response["headers"]["Retry-After"].is_object(),
                    "{at} {status}: no Retry-After header"
                );
            }
        }
        let params = op["parameters"].as_array().cloned().unwrap_or_default();
        let has_param = |name: &str| params.iter().any(|p| p["name"] == name);
        assert!(has_param("X-Request-Id"), "{at}: no X-Request-Id parameter");
        if path.starts_with("/v1/") {
            assert_eq!(op["security"][0]["bearer"], Value::Array(vec![]), "{at}");
            for status in ["401", "403", "429", "500", "503"] {
                assert!(responses.contains_key(status), "{at}: no {status}");
            }
            if matches!(method.as_str(), "POST" | "PATCH" | "DELETE") {
                assert!(has_param("Idempotency-Key"), "{at}: no Idempotency-Key");
                for status in ["400", "409", "413", "422"] {
                    assert!(responses.contains_key(status), "{at}: no {status}");
                }
            }
        } else {
            assert!(op.get("security").is_none(), "{at}: unauthenticated route");
        }
    }
}

/// A concrete URL for a documented path template.
fn concrete(path: &str) -> String {
    path.replace("{id}", "ord_0_1")
        .replace("{symbol}", "AAA-USD")
}

#[tokio::test]
async fn every_route_is_documented_and_every_documented_route_exists() {
    let stack = Stack::start().await;
    let doc = document();
    let documented: Vec<(String, String)> = operations(&doc)
        .into_iter()
        .map(|(path, method, _)| (path, method))
        .collect();
    let mut paths: Vec<String> = doc["paths"].as_object().unwrap().keys().cloned().collect();
    paths.extend(EXTRA_PATHS.iter().map(|p| (*p).to_owned()));
    for path in &paths {
        for method in METHODS {
            // Raw: the probe sends methods and paths the SDK has no call for.
            let res = stack
                .http
                .request(
                    Method::from_bytes(method.as_bytes()).unwrap(),
                    stack.url(&concrete(path)),
                )
                .send()
                .await
                .unwrap();
            let status = res.status();
            let body: Value = res.json().await.unwrap_or(Value::Null);
            let unrouted = (status == StatusCode::NOT_FOUND && body["code"] == "route_not_found")
                || (status == StatusCode::METHOD_NOT_ALLOWED
                    && body["code"] == "method_not_allowed");
            let is_documented = documented.iter().any(|(p, m)| p == path && m == method);
            assert_eq!(
                !unrouted, is_documented,
                "{method} {path}: routed = {}, documented = {is_documented} (answered {status}); \
                 every route needs a #[utoipa::path] and a routes!() registration",
                !unrouted
            );
        }
    }
    stack.stop().await;
}

#[tokio::test]
async fn the_document_is_served_unauthenticated() {
    let stack = Stack::start().await;
    // Through the SDK: the same document, parsed.
    let parsed = stack.anonymous().openapi().send().await.unwrap();
    assert_eq!(parsed.status(), StatusCode::OK);
    assert_eq!(Value::Object(parsed.into_inner()), document());
    // Raw: the body must be the generated text byte for byte, which the SDK parses away.
    let res = stack
        .http
        .get(stack.url("/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        res.headers()["content-type"].to_str().unwrap(),
        "application/json"
    );
    assert!(res.headers().contains_key("x-request-id"));
    let body = res.text().await.unwrap();
    assert_eq!(body, gateway::openapi::document_json());
    stack.stop().await;
}
