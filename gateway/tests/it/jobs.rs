//! The job routes against a real PostgreSQL and Redis: enqueue (one, a batch, dedup), read
//! with the audit trail, filtered keyset pages, cancel, the dead-letter flow, and the
//! problems (404, 409, 422, 400, 503 without a control plane).

use std::num::NonZeroU32;

use control_plane::{JobId, JobStatus};
use gateway::auth::Role;
use reqwest::StatusCode;
use serde_json::json;
use tradeplane_sdk::Client;
use tradeplane_sdk::types::{
    ApiAuditEvent, ApiJobStatus, EnqueueJobs, EnqueuedJob, JobBody, NewJobBody, ReplayFilter,
};

use crate::harness::{Stack, problem, token};
use crate::job_support::TestControlPlane;

fn operator() -> String {
    token("operator", 1, &[Role::Operator])
}

fn admin() -> String {
    token("admin", 2, &[Role::Admin])
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

async fn enqueue(client: &Client, jobs: Vec<NewJobBody>) -> Vec<EnqueuedJob> {
    let answer = client
        .enqueue_jobs()
        .body(EnqueueJobs { jobs })
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::CREATED);
    answer.into_inner().jobs
}

async fn enqueue_one(client: &Client, job: NewJobBody) -> JobBody {
    enqueue(client, vec![job]).await.remove(0).job
}

/// Fails `id`'s only attempt through the store, as a worker would: it becomes a dead letter.
async fn kill(cp: &TestControlPlane, id: &str) {
    let id: JobId = id.parse().unwrap();
    let (_, lease) = cp.store().mark_started(id, "test-worker").await.unwrap();
    let job = cp.store().mark_failed(&lease, "boom").await.unwrap();
    assert_eq!(job.status, JobStatus::Dead);
}

fn one_shot(queue: &str, job_type: &str) -> NewJobBody {
    NewJobBody {
        max_attempts: Some(NonZeroU32::MIN),
        ..new_job(queue, job_type)
    }
}

#[tokio::test]
async fn enqueue_one_and_a_batch_then_read_with_the_audit_trail() {
    let cp = TestControlPlane::new().await;
    let stack = Stack::start_with_control_plane(&cp).await;
    let client = stack.sdk(&operator());

    let single = NewJobBody {
        payload: Some(
            json!({"url": "https://example.test"})
                .as_object()
                .unwrap()
                .clone(),
        ),
        ..new_job("webhooks", "http.request")
    };
    let one = enqueue_one(&client, single).await;
    assert!(one.id.starts_with("job_"), "{one:?}");
    assert_eq!(
        (one.status, one.attempt, one.max_attempts),
        (ApiJobStatus::Queued, 0, 5)
    );
    assert_eq!(one.payload["url"], "https://example.test");
    // Published to the workers' queue after the commit.
    assert_eq!(cp.published_attempt("webhooks", &one.id), Some(0));

    let batch = enqueue(
        &client,
        vec![new_job("q", "a"), new_job("q", "b"), new_job("other", "a")],
    )
    .await;
    assert_eq!(batch.len(), 3);
    assert!(
        batch
            .iter()
            .all(|e| e.created && e.job.status == ApiJobStatus::Queued)
    );
    assert_eq!(
        batch
            .iter()
            .map(|e| e.job.type_.as_str())
            .collect::<Vec<_>>(),
        ["a", "b", "a"],
        "answers are in request order"
    );
    for entry in &batch {
        assert_eq!(
            cp.published_attempt(&entry.job.queue, &entry.job.id),
            Some(0)
        );
    }

    let detail = client
        .get_job()
        .id(&one.id)
        .send()
        .await
        .unwrap()
        .into_inner();
    assert_eq!(detail.job.id, one.id);
    let events: Vec<_> = detail.audit.iter().map(|a| a.event).collect();
    assert_eq!(events, [ApiAuditEvent::Enqueued]);
    stack.stop().await;
}

#[tokio::test]
async fn dedup_answers_the_existing_job() {
    let cp = TestControlPlane::new().await;
    let stack = Stack::start_with_control_plane(&cp).await;
    let client = stack.sdk(&admin());
    let keyed = || NewJobBody {
        dedup_key: Some("invoice-42".to_owned()),
        ..new_job("billing", "invoice.send")
    };
    let first = enqueue(&client, vec![keyed()]).await.remove(0);
    assert!(first.created);
    let again = enqueue(&client, vec![keyed(), keyed()]).await;
    assert!(
        again.iter().all(|e| !e.created && e.job.id == first.job.id),
        "{again:?}"
    );
    stack.stop().await;
}

#[tokio::test]
async fn list_filters_and_pages_newest_first() {
    let cp = TestControlPlane::new().await;
    let stack = Stack::start_with_control_plane(&cp).await;
    let client = stack.sdk(&operator());
    let mut ids = Vec::new();
    for (queue, job_type) in [
        ("q1", "a"),
        ("q1", "b"),
        ("q2", "a"),
        ("q1", "a"),
        ("q2", "b"),
    ] {
        ids.push(enqueue_one(&client, new_job(queue, job_type)).await.id);
    }
    let cancelled = client.cancel_job().id(&ids[0]).send().await.unwrap();
    assert_eq!(cancelled.status, ApiJobStatus::Cancelled);

    let list = |queue: Option<&str>, job_type: Option<&str>, status: Option<ApiJobStatus>| {
        let mut request = client.list_jobs();
        if let Some(q) = queue {
            request = request.queue(q);
        }
        if let Some(t) = job_type {
            request = request.type_(t);
        }
        if let Some(s) = status {
            request = request.status(s);
        }
        async move {
            let page = request.send().await.unwrap().into_inner();
            page.jobs.into_iter().map(|j| j.id).collect::<Vec<_>>()
        }
    };
    let newest_first = |picks: &[usize]| {
        picks
            .iter()
            .rev()
            .map(|&i| ids[i].clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(list(None, None, None).await, newest_first(&[0, 1, 2, 3, 4]));
    assert_eq!(list(Some("q1"), None, None).await, newest_first(&[0, 1, 3]));
    assert_eq!(
        list(Some("q1"), Some("a"), None).await,
        newest_first(&[0, 3])
    );
    assert_eq!(
        list(Some("q1"), Some("a"), Some(ApiJobStatus::Queued)).await,
        newest_first(&[3])
    );
    assert_eq!(
        list(None, None, Some(ApiJobStatus::Cancelled)).await,
        [ids[0].clone()]
    );

    // Keyset pages of two: 4,3 | 2,1 | 0, and no cursor after the last.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut request = client.list_jobs().limit(NonZeroU32::new(2).unwrap());
        if let Some(c) = &cursor {
            request = request.cursor(c);
        }
        let page = request.send().await.unwrap().into_inner();
        pages += 1;
        seen.extend(page.jobs.into_iter().map(|j| j.id));
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    assert_eq!((pages, seen), (3, newest_first(&[0, 1, 2, 3, 4])));

    let bad_cursor = client.list_jobs().cursor("ord_1").send().await;
    let p = problem(bad_cursor, StatusCode::BAD_REQUEST, "invalid_query");
    assert_eq!(p.field.as_deref(), Some("cursor"));
    let too_many = client
        .list_jobs()
        .limit(NonZeroU32::new(501).unwrap())
        .send()
        .await;
    let p = problem(too_many, StatusCode::BAD_REQUEST, "invalid_query");
    assert_eq!(p.field.as_deref(), Some("limit"));
    stack.stop().await;
}

#[tokio::test]
async fn cancel_unknown_ids_and_refused_transitions() {
    let cp = TestControlPlane::new().await;
    let stack = Stack::start_with_control_plane(&cp).await;
    let client = stack.sdk(&operator());
    let job = enqueue_one(&client, new_job("q", "a")).await;
    let cancelled = client
        .cancel_job()
        .id(&job.id)
        .send()
        .await
        .unwrap()
        .into_inner();
    assert_eq!(cancelled.status, ApiJobStatus::Cancelled);
    assert!(cancelled.finished_at_ms.is_some());

    let again = client.cancel_job().id(&job.id).send().await;
    let p = problem(again, StatusCode::CONFLICT, "invalid_transition");
    assert!(p.job_status.as_deref() == Some("cancelled"), "{p:?}");
    let trail = client
        .get_job()
        .id(&job.id)
        .send()
        .await
        .unwrap()
        .into_inner()
        .audit;
    let events: Vec<_> = trail.iter().map(|a| a.event).collect();
    assert_eq!(events, [ApiAuditEvent::Enqueued, ApiAuditEvent::Cancelled]);

    let unknown = JobId::generate().to_string();
    problem(
        client.get_job().id(&unknown).send().await,
        StatusCode::NOT_FOUND,
        "job_not_found",
    );
    problem(
        client.cancel_job().id(&unknown).send().await,
        StatusCode::NOT_FOUND,
        "job_not_found",
    );
    let malformed = client.get_job().id("job_nope").send().await;
    let p = problem(malformed, StatusCode::BAD_REQUEST, "invalid_path");
    assert_eq!(p.field.as_deref(), Some("id"));

    let invalid = client
        .enqueue_jobs()
        .body(EnqueueJobs {
            jobs: vec![new_job("has space", "a")],
        })
        .send()
        .await;
    let p = problem(invalid, StatusCode::UNPROCESSABLE_ENTITY, "invalid_job");
    assert_eq!(p.field.as_deref(), Some("queue"));
    let empty = client
        .enqueue_jobs()
        .body(EnqueueJobs { jobs: vec![] })
        .send()
        .await;
    let p = problem(empty, StatusCode::UNPROCESSABLE_ENTITY, "invalid_job");
    assert_eq!(p.field.as_deref(), Some("jobs"));
    stack.stop().await;
}

#[tokio::test]
async fn dead_letters_are_listed_replayed_and_purged() {
    let cp = TestControlPlane::new().await;
    let stack = Stack::start_with_control_plane(&cp).await;
    let client = stack.sdk(&operator());
    let a = enqueue_one(&client, one_shot("dl", "a")).await.id;
    let b = enqueue_one(&client, one_shot("dl", "b")).await.id;
    let keyed = NewJobBody {
        dedup_key: Some("k".to_owned()),
        ..one_shot("dl", "a")
    };
    let c = enqueue_one(&client, keyed.clone()).await.id;
    let live = enqueue_one(&client, new_job("dl", "a")).await.id;
    for id in [&a, &b, &c] {
        kill(&cp, id).await;
    }
    // A new holder of `c`'s dedup key: `c` cannot be replayed while it is unfinished.
    let holder = enqueue_one(
        &client,
        NewJobBody {
            max_attempts: None,
            ..keyed
        },
    )
    .await
    .id;

    let dead = client
        .list_dead_letters()
        .queue("dl")
        .send()
        .await
        .unwrap()
        .into_inner();
    let ids: Vec<_> = dead.jobs.iter().map(|j| j.id.clone()).collect();
    assert_eq!(ids, [c.clone(), b.clone(), a.clone()]);
    assert!(
        dead.jobs
            .iter()
            .all(|j| j.last_error.as_deref() == Some("boom"))
    );

    let replayed = client
        .replay_dead_letter()
        .id(&a)
        .send()
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (replayed.status, replayed.attempt),
        (ApiJobStatus::Queued, 0)
    );
    assert_eq!(cp.published_attempt("dl", &a), Some(0));
    let trail = client
        .get_job()
        .id(&a)
        .send()
        .await
        .unwrap()
        .into_inner()
        .audit;
    assert_eq!(
        trail.iter().map(|e| e.event).collect::<Vec<_>>(),
        [
            ApiAuditEvent::Enqueued,
            ApiAuditEvent::Started,
            ApiAuditEvent::Failed,
            ApiAuditEvent::DeadLettered,
            ApiAuditEvent::Replayed
        ]
    );
    let p = problem(
        client.replay_dead_letter().id(&live).send().await,
        StatusCode::CONFLICT,
        "invalid_transition",
    );
    assert_eq!(p.job_status.as_deref(), Some("queued"));
    let p = problem(
        client.replay_dead_letter().id(&c).send().await,
        StatusCode::CONFLICT,
        "dedup_conflict",
    );
    assert_eq!(p.existing_job_id.as_deref(), Some(holder.as_str()));

    let filter = ReplayFilter {
        type_: Some("b".to_owned()),
        queue: Some("dl".to_owned()),
        limit: None,
    };
    let report = client
        .replay_dead_letters()
        .body(filter)
        .send()
        .await
        .unwrap()
        .into_inner();
    assert_eq!((report.replayed, report.skipped), (vec![b.clone()], vec![]));
    assert_eq!(cp.published_attempt("dl", &b), Some(0));
    let report = client
        .replay_dead_letters()
        .body(ReplayFilter::default())
        .send()
        .await
        .unwrap()
        .into_inner();
    assert_eq!((report.replayed, report.skipped), (vec![], vec![c.clone()]));

    // Purge: admin only, dead letters only, and gone afterwards.
    problem(
        client.purge_dead_letter().id(&c).send().await,
        StatusCode::FORBIDDEN,
        "forbidden",
    );
    let admin = stack.sdk(&admin());
    problem(
        admin.purge_dead_letter().id(&live).send().await,
        StatusCode::CONFLICT,
        "invalid_transition",
    );
    let purged = admin.purge_dead_letter().id(&c).send().await.unwrap();
    assert_eq!(purged.status(), StatusCode::NO_CONTENT);
    problem(
        admin.get_job().id(&c).send().await,
        StatusCode::NOT_FOUND,
        "job_not_found",
    );
    problem(
        admin.purge_dead_letter().id(&c).send().await,
        StatusCode::NOT_FOUND,
        "job_not_found",
    );
    let left = client
        .list_dead_letters()
        .send()
        .await
        .unwrap()
        .into_inner();
    assert!(
        left.jobs.is_empty() && left.next_cursor.is_none(),
        "{left:?}"
    );
    stack.stop().await;
}

#[tokio::test]
async fn without_a_control_plane_job_routes_answer_503() {
    let stack = Stack::start().await;
    let client = stack.sdk(&admin());
    let p = problem(
        client.list_jobs().send().await,
        StatusCode::SERVICE_UNAVAILABLE,
        "control_plane_unavailable",
    );
    assert!(p.detail.is_some());
    problem(
        client
            .enqueue_jobs()
            .body(EnqueueJobs {
                jobs: vec![new_job("q", "a")],
            })
            .send()
            .await,
        StatusCode::SERVICE_UNAVAILABLE,
        "control_plane_unavailable",
    );
    problem(
        client.list_dead_letters().send().await,
        StatusCode::SERVICE_UNAVAILABLE,
        "control_plane_unavailable",
    );
    // Authorization still comes first: a viewer is refused, not told about the backend.
    let viewer = stack.sdk(&token("viewer", 3, &[Role::Viewer]));
    problem(
        viewer.list_jobs().send().await,
        StatusCode::FORBIDDEN,
        "forbidden",
    );
    stack.stop().await;
}
