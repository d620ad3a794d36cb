//! `/v1/queues` and pausing job types against a real PostgreSQL and Redis: counts per
//! queue, the Redis view, paused types parked and re-driven on resume, and the problems.

use reqwest::StatusCode;
use tradeplane_sdk::types::{EnqueueJobs, NewJobBody, PauseRequest};

use crate::harness::{Stack, problem, token};
use crate::job_support::TestControlPlane;

fn operator() -> String {
    token("operator", 1, &[gateway::auth::Role::Operator])
}

fn new_job(queue: &str, job_type: &str) -> NewJobBody {
    NewJobBody {
        queue: queue.to_owned(),
        type_: job_type.to_owned(),
        payload: None,
        run_at_ms: None,
        max_attempts: None,
        dedup_key: None,
    }
}

#[tokio::test]
async fn queues_show_counts_redis_depth_and_paused_types() {
    let cp = TestControlPlane::new().await;
    let stack = Stack::start_with_control_plane(&cp).await;
    let client = stack.sdk(&operator());

    let empty = client.list_queues().send().await.unwrap().into_inner();
    assert!(empty.queues.is_empty() && empty.paused_types.is_empty());

    let jobs = vec![
        new_job("webhooks", "webhook.deliver"),
        new_job("webhooks", "webhook.deliver"),
        new_job("reports", "report.build"),
    ];
    let enqueued = client
        .enqueue_jobs()
        .body(EnqueueJobs { jobs })
        .send()
        .await
        .unwrap()
        .into_inner()
        .jobs;
    let paused = client
        .pause_job_type()
        .job_type("webhook.deliver")
        .body(PauseRequest {
            reason: Some("endpoint down".to_owned()),
        })
        .send()
        .await
        .unwrap()
        .into_inner();
    assert_eq!(paused.job_type, "webhook.deliver");
    assert_eq!(paused.reason.as_deref(), Some("endpoint down"));

    let list = client.list_queues().send().await.unwrap().into_inner();
    let names: Vec<&str> = list.queues.iter().map(|q| q.queue.as_str()).collect();
    assert_eq!(names, ["reports", "webhooks"]);
    let webhooks = &list.queues[1];
    assert_eq!(
        (
            webhooks.queued,
            webhooks.scheduled,
            webhooks.running,
            webhooks.dead
        ),
        (2, 0, 0, 0)
    );
    let redis = webhooks.redis.as_ref().expect("Redis answers");
    assert_eq!((redis.stream, redis.pending, redis.delayed), (2, 0, 0));
    let rates = webhooks.rates.as_ref().expect("Redis answers");
    assert_eq!(rates.succeeded_per_minute, 0);
    assert_eq!(list.paused_types.len(), 1);
    assert_eq!(list.paused_types[0].job_type, "webhook.deliver");

    // A worker meets the paused type: the deliveries are parked, the jobs stay queued.
    let worker = control_plane::Dispatcher::new(
        cp.store().clone(),
        control_plane::RedisQueue::connect(
            &cp.config().redis,
            std::sync::Arc::new(control_plane::SystemClock),
        )
        .unwrap(),
        "test-worker",
        control_plane::DispatchConfig::default(),
    )
    .unwrap();
    assert!(worker.poll("webhooks", None).await.unwrap().is_empty());
    let list = client.list_queues().send().await.unwrap().into_inner();
    let workers = list.queues[1].workers.as_ref().expect("Redis answers");
    assert_eq!(workers.len(), 1, "{workers:?}");
    assert_eq!(workers[0].worker, worker.consumer());
    assert_eq!(workers[0].pending, 0);
    assert_eq!(cp.published_attempt("webhooks", &enqueued[0].job.id), None);

    let resumed = client
        .resume_job_type()
        .job_type("webhook.deliver")
        .send()
        .await
        .unwrap()
        .into_inner();
    assert!(resumed.was_paused);
    assert_eq!(resumed.republished, 2);
    assert_eq!(worker.poll("webhooks", None).await.unwrap().len(), 2);
    let again = client
        .resume_job_type()
        .job_type("webhook.deliver")
        .send()
        .await
        .unwrap()
        .into_inner();
    assert!(!again.was_paused);
    let list = client.list_queues().send().await.unwrap().into_inner();
    assert!(list.paused_types.is_empty());
    assert_eq!(list.queues[1].running, 2);
}

#[tokio::test]
async fn bad_job_types_and_reasons_are_problems() {
    let cp = TestControlPlane::new().await;
    let stack = Stack::start_with_control_plane(&cp).await;
    let client = stack.sdk(&operator());
    problem(
        client
            .pause_job_type()
            .job_type("no spaces")
            .body(PauseRequest { reason: None })
            .send()
            .await,
        StatusCode::BAD_REQUEST,
        "invalid_path",
    );
    problem(
        client
            .pause_job_type()
            .job_type("ok.type")
            .body(PauseRequest {
                reason: Some("x".repeat(1025)),
            })
            .send()
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_job",
    );
    problem(
        client.resume_job_type().job_type("a/b").send().await,
        StatusCode::BAD_REQUEST,
        "invalid_path",
    );
}

#[tokio::test]
async fn without_a_control_plane_queue_routes_answer_503() {
    let stack = Stack::start().await;
    let client = stack.sdk(&operator());
    problem(
        client.list_queues().send().await,
        StatusCode::SERVICE_UNAVAILABLE,
        "control_plane_unavailable",
    );
}
