//! `http.request` against a real HTTP server on loopback: 2xx is success, anything else a
//! failed attempt with the status in `last_error`; the job id travels as Idempotency-Key.

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use control_plane::{JobStatus, NewJob};
use serde_json::json;
use workers::{HttpConfig, Registry};

use crate::support::{Env, Q, pool_config};

/// Serves `/ok` (204) and `/fail` (500) on a free loopback port; records the
/// Idempotency-Key of every call.
async fn server() -> (String, Arc<Mutex<Vec<String>>>) {
    let keys = Arc::new(Mutex::new(Vec::new()));
    let seen = keys.clone();
    let record = move |headers: HeaderMap| {
        if let Some(key) = headers.get("idempotency-key") {
            seen.lock().unwrap().push(key.to_str().unwrap().to_owned());
        }
    };
    let (ok, fail) = (record.clone(), record);
    let app = Router::new()
        .route(
            "/ok",
            post(move |headers: HeaderMap| async move {
                ok(headers);
                StatusCode::NO_CONTENT
            }),
        )
        .route(
            "/fail",
            post(move |headers: HeaderMap| async move {
                fail(headers);
                (StatusCode::INTERNAL_SERVER_ERROR, "database on fire")
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (base, keys)
}

#[tokio::test]
async fn http_request_succeeds_on_2xx_and_fails_with_the_status_otherwise() {
    let env = Env::new().await;
    let (base, keys) = server().await;
    let pool = env.start(
        Registry::builtins(&HttpConfig::default()).unwrap(),
        pool_config(4),
    );
    let ids = env
        .enqueue(vec![
            NewJob::new(
                Q,
                "http.request",
                json!({ "url": format!("{base}/ok"), "body": {"a": 1} }),
            ),
            NewJob::new(
                Q,
                "http.request",
                json!({ "url": format!("{base}/fail?token=secret") }),
            )
            .max_attempts(1),
        ])
        .await;

    let ok = env
        .job_until(ids[0], |j| j.status == JobStatus::Succeeded)
        .await;
    let failed = env.job_until(ids[1], |j| j.status == JobStatus::Dead).await;
    pool.stop().await;
    assert_eq!(ok.attempt, 1);
    let error = failed.last_error.unwrap();
    assert!(error.contains("HTTP 500 Internal Server Error"), "{error}");
    assert!(error.contains("database on fire"), "{error}");
    assert!(
        !error.contains("secret"),
        "no query string in errors: {error}"
    );

    let mut keys = keys.lock().unwrap().clone();
    keys.sort();
    let mut expected: Vec<String> = ids.iter().map(ToString::to_string).collect();
    expected.sort();
    assert_eq!(keys, expected, "the job id is the Idempotency-Key");
}

#[tokio::test]
async fn http_request_without_an_answer_fails_the_attempt() {
    let env = Env::new().await;
    let pool = env.start(
        Registry::builtins(&HttpConfig::default()).unwrap(),
        pool_config(2),
    );
    // Port 1 on loopback: nothing listens, the connection is refused at once.
    let id = env
        .enqueue(vec![
            NewJob::new(
                Q,
                "http.request",
                json!({ "url": "http://127.0.0.1:1/x", "method": "GET" }),
            )
            .max_attempts(1),
        ])
        .await[0];
    let job = env.job_until(id, |j| j.status == JobStatus::Dead).await;
    pool.stop().await;
    let error = job.last_error.unwrap();
    assert!(
        error.starts_with("request to http://127.0.0.1:1/x failed"),
        "{error}"
    );
}
