use std::time::Duration;

use control_plane::{
    AuditKind, DeadLetterFilter, Error, JobId, JobStatus, JobStore, NewJob, PageRequest,
};
use serde_json::json;

use crate::support::{TestDb, t0};

/// Enqueues and fails a job until it is dead.
async fn dead_job(store: &JobStore, job: NewJob) -> JobId {
    let max = job.max_attempts;
    let id = store.enqueue(job).await.expect("enqueue").job.id;
    for _ in 0..max.unwrap_or(5) {
        let (_, lease) = store.mark_started(id, "w").await.expect("start");
        store.mark_failed(&lease, "down").await.expect("fail");
    }
    assert_eq!(
        store.get(id).await.expect("get").job.status,
        JobStatus::Dead
    );
    id
}

fn one_shot(queue: &str, job_type: &str) -> NewJob {
    NewJob::new(queue, job_type, json!({})).max_attempts(1)
}

#[tokio::test]
async fn replay_resets_attempts_and_keeps_the_history() {
    let db = TestDb::migrated().await;
    let (store, clock) = db.store();
    let id = dead_job(&store, NewJob::new("default", "noop", json!({}))).await;
    clock.advance(Duration::from_secs(3600));
    let replayed = store.replay(id).await.expect("replay");
    assert_eq!(replayed.status, JobStatus::Queued);
    assert_eq!((replayed.attempt, replayed.max_attempts), (0, 5));
    assert_eq!(replayed.run_at, t0() + Duration::from_secs(3600));
    assert_eq!((replayed.last_error, replayed.finished_at), (None, None));

    let audit = store.audit_trail(id).await.expect("trail");
    let last = audit.last().expect("entry");
    assert_eq!((last.kind, last.attempt), (AuditKind::Replayed, 5));
    assert_eq!(
        audit.iter().filter(|a| a.kind == AuditKind::Failed).count(),
        5
    );

    // It runs again, from attempt 1.
    let (job, lease) = store.mark_started(id, "w2").await.expect("start");
    assert_eq!(job.attempt, 1);
    store.mark_succeeded(&lease).await.expect("succeed");
    let err = store.replay(id).await.expect_err("not dead");
    assert!(matches!(
        err,
        Error::InvalidTransition {
            from: JobStatus::Succeeded,
            ..
        }
    ));
}

#[tokio::test]
async fn replay_refuses_when_the_dedup_key_is_held_again() {
    let db = TestDb::migrated().await;
    let (store, _clock) = db.store();
    let dead = dead_job(&store, one_shot("default", "noop").dedup_key("k")).await;
    let holder = store
        .enqueue(NewJob::new("default", "noop", json!({})).dedup_key("k"))
        .await
        .expect("new holder");
    assert!(holder.created, "a dead job no longer holds its key");
    let err = store.replay(dead).await.expect_err("conflict");
    assert!(
        matches!(err, Error::DedupConflict { id, existing } if id == dead && existing == holder.job.id),
        "{err}"
    );
}

#[tokio::test]
async fn dead_letters_are_listed_and_replayed_by_filter() {
    let db = TestDb::migrated().await;
    let (store, _clock) = db.store();
    let a1 = dead_job(&store, one_shot("default", "a")).await;
    let b1 = dead_job(&store, one_shot("default", "b")).await;
    let a2 = dead_job(&store, one_shot("other", "a")).await;
    let a3 = dead_job(&store, one_shot("default", "a").dedup_key("held")).await;
    store
        .enqueue(NewJob::new("default", "a", json!({})).dedup_key("held"))
        .await
        .expect("holder");
    // A live job is not a dead letter.
    store
        .enqueue(NewJob::new("default", "a", json!({})))
        .await
        .expect("live");

    let all = store
        .list_dead_letters(&DeadLetterFilter::default(), PageRequest::default())
        .await
        .expect("list");
    let ids: Vec<_> = all.jobs.iter().map(|j| j.id).collect();
    assert_eq!(ids, [a3, a2, b1, a1], "newest first");

    let filter = DeadLetterFilter {
        job_type: Some("a".into()),
        queue: Some("default".into()),
    };
    let report = store.replay_matching(&filter, 100).await.expect("replay");
    assert_eq!(report.replayed, [a1]);
    assert_eq!(report.skipped, [a3]);

    let left = store
        .list_dead_letters(&DeadLetterFilter::default(), PageRequest::default())
        .await
        .expect("list");
    let ids: Vec<_> = left.jobs.iter().map(|j| j.id).collect();
    assert_eq!(ids, [a3, a2, b1]);
    let report = store
        .replay_matching(&DeadLetterFilter::default(), 1)
        .await
        .expect("limited");
    assert_eq!(report.replayed, [b1], "limit 1, oldest first");
}

#[tokio::test]
async fn purge_deletes_the_dead_letter_but_not_its_audit_trail() {
    let db = TestDb::migrated().await;
    let (store, _clock) = db.store();
    let dead = dead_job(&store, one_shot("default", "noop")).await;
    let live = store
        .enqueue(NewJob::new("default", "noop", json!({})))
        .await
        .expect("live")
        .job
        .id;
    let err = store.purge(live).await.expect_err("only dead letters");
    assert!(matches!(
        err,
        Error::InvalidTransition {
            from: JobStatus::Queued,
            action: "purge",
            ..
        }
    ));

    store.purge(dead).await.expect("purge");
    assert!(matches!(store.get(dead).await, Err(Error::NotFound(_))));
    assert!(matches!(store.purge(dead).await, Err(Error::NotFound(_))));
    let kinds: Vec<_> = store
        .audit_trail(dead)
        .await
        .expect("trail")
        .iter()
        .map(|a| a.kind)
        .collect();
    assert_eq!(
        kinds,
        [
            AuditKind::Enqueued,
            AuditKind::Started,
            AuditKind::Failed,
            AuditKind::DeadLettered,
            AuditKind::Purged
        ]
    );
}
