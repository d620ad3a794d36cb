use std::time::Duration;

use control_plane::{AuditKind, Error, JobStatus, NewJob};
use serde_json::json;

use crate::support::{TestDb, t0};

fn job(n: u32) -> NewJob {
    NewJob::new("default", "noop", json!({ "n": n }))
}

#[tokio::test]
async fn enqueue_now_is_queued_and_later_is_scheduled() {
    let db = TestDb::migrated().await;
    let (store, _clock) = db.store();
    let now = store.enqueue(job(1)).await.expect("enqueue");
    assert!(now.created);
    assert_eq!(now.job.status, JobStatus::Queued);
    assert_eq!(now.job.run_at, t0());
    assert_eq!((now.job.attempt, now.job.max_attempts), (0, 5));
    assert_eq!(now.job.payload, json!({ "n": 1 }));
    assert_eq!(now.job.created_at, t0());

    let later = store
        .enqueue(job(2).run_at(t0() + Duration::from_secs(30)))
        .await
        .expect("enqueue later");
    assert_eq!(later.job.status, JobStatus::Scheduled);
    assert_eq!(later.job.run_at, t0() + Duration::from_secs(30));

    let detail = store.get(now.job.id).await.expect("get");
    assert_eq!(detail.job, now.job);
    assert_eq!(detail.audit.len(), 1);
    assert_eq!(detail.audit[0].kind, AuditKind::Enqueued);
    assert_eq!(detail.audit[0].at, t0());
}

#[tokio::test]
async fn same_dedup_key_returns_the_unfinished_job() {
    let db = TestDb::migrated().await;
    let (store, _clock) = db.store();
    let first = store
        .enqueue(job(1).dedup_key("order-42"))
        .await
        .expect("first");
    let again = store
        .enqueue(job(2).dedup_key("order-42"))
        .await
        .expect("again");
    assert!(first.created && !again.created);
    assert_eq!(again.job, first.job, "the existing job, payload untouched");
    // Still returned while it runs.
    store.mark_started(first.job.id, "w1").await.expect("start");
    let running = store
        .enqueue(job(3).dedup_key("order-42"))
        .await
        .expect("running");
    assert!(!running.created);
    assert_eq!(running.job.id, first.job.id);
    // Only one `enqueued` entry: dedup hits are not audited as new jobs.
    let audit = store.audit_trail(first.job.id).await.expect("trail");
    let enqueued = audit
        .iter()
        .filter(|a| a.kind == AuditKind::Enqueued)
        .count();
    assert_eq!(enqueued, 1);
}

#[tokio::test]
async fn dedup_key_is_free_again_once_the_job_finished() {
    let db = TestDb::migrated().await;
    let (store, _clock) = db.store();
    let first = store.enqueue(job(1).dedup_key("k")).await.expect("first");
    let (_, lease) = store.mark_started(first.job.id, "w1").await.expect("start");
    store.mark_succeeded(&lease).await.expect("succeed");
    let second = store.enqueue(job(2).dedup_key("k")).await.expect("second");
    assert!(second.created);
    assert_ne!(second.job.id, first.job.id);
    // Cancelling frees it too.
    store.cancel(second.job.id).await.expect("cancel");
    let third = store.enqueue(job(3).dedup_key("k")).await.expect("third");
    assert!(third.created);
}

#[tokio::test]
async fn dedup_keys_are_per_queue() {
    let db = TestDb::migrated().await;
    let (store, _clock) = db.store();
    let a = store.enqueue(job(1).dedup_key("k")).await.expect("a");
    let mut other = job(2).dedup_key("k");
    other.queue = "webhooks".into();
    let b = store.enqueue(other).await.expect("b");
    assert!(a.created && b.created);
    assert_ne!(a.job.id, b.job.id);
}

#[tokio::test]
async fn batch_answers_in_order_and_dedups_within_the_batch() {
    let db = TestDb::migrated().await;
    let (store, _clock) = db.store();
    let held = store.enqueue(job(0).dedup_key("held")).await.expect("held");
    let out = store
        .enqueue_batch(vec![
            job(1),
            job(2).dedup_key("dup"),
            job(3).dedup_key("dup"),
            job(4).dedup_key("held"),
            job(5),
        ])
        .await
        .expect("batch");
    let created: Vec<bool> = out.iter().map(|e| e.created).collect();
    assert_eq!(created, [true, true, false, false, true]);
    assert_eq!(out[2].job.id, out[1].job.id, "first of two equal keys wins");
    assert_eq!(out[2].job.payload, json!({ "n": 2 }));
    assert_eq!(out[3].job.id, held.job.id);
    assert!(out[0].job.id < out[1].job.id && out[1].job.id < out[4].job.id);
}

#[tokio::test]
async fn max_attempts_defaults_to_five_and_is_capped() {
    let db = TestDb::migrated().await;
    let (store, _clock) = db.store();
    let out = store
        .enqueue_batch(vec![
            job(1),
            job(2).max_attempts(3),
            job(3).max_attempts(1000),
        ])
        .await
        .expect("batch");
    let attempts: Vec<u32> = out.iter().map(|e| e.job.max_attempts).collect();
    assert_eq!(attempts, [5, 3, 25]);
}

#[tokio::test]
async fn invalid_jobs_are_refused_and_nothing_is_enqueued() {
    let db = TestDb::migrated().await;
    let (store, _clock) = db.store();
    let mut bad_queue = job(1);
    bad_queue.queue = "no spaces".into();
    let cases = [
        vec![job(1), bad_queue],
        vec![job(1).max_attempts(0)],
        vec![job(1).dedup_key("")],
        vec![],
        (0..1001).map(job).collect(),
    ];
    for batch in cases {
        let err = store.enqueue_batch(batch).await.expect_err("refused");
        assert!(matches!(err, Error::InvalidInput { .. }), "{err}");
        assert!(!err.retryable());
    }
    let page = store
        .list(&Default::default(), Default::default())
        .await
        .expect("list");
    assert!(page.jobs.is_empty());
}
