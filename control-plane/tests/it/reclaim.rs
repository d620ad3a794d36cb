//! The store side of the fast path: the attempt fence and reclaiming abandoned attempts.

use std::time::Duration;

use control_plane::{AuditKind, Error, JobStatus, NewJob};
use serde_json::json;

use crate::support::{TestDb, t0};

fn job() -> NewJob {
    NewJob::new("default", "noop", json!({}))
}

#[tokio::test]
async fn start_delivery_is_fenced_by_the_message_attempt() {
    let db = TestDb::migrated().await;
    let (store, clock) = db.store();
    let id = store.enqueue(job()).await.expect("enqueue").job.id;

    let err = store
        .start_delivery(id, "w", 1)
        .await
        .expect_err("future attempt");
    assert!(
        matches!(
            err,
            Error::StaleDelivery {
                attempt: 1,
                current: 0,
                ..
            }
        ),
        "{err}"
    );
    let (_, lease) = store.start_delivery(id, "w", 0).await.expect("start");
    let err = store
        .start_delivery(id, "w2", 0)
        .await
        .expect_err("running");
    assert!(
        matches!(
            err,
            Error::InvalidTransition {
                from: JobStatus::Running,
                ..
            }
        ),
        "{err}"
    );

    // A retry waiting out its backoff is not started early by the old message.
    store.mark_failed(&lease, "boom").await.expect("fail");
    let err = store
        .start_delivery(id, "w2", 0)
        .await
        .expect_err("obsolete");
    assert!(
        matches!(
            err,
            Error::StaleDelivery {
                current: 1,
                status: JobStatus::Scheduled,
                ..
            }
        ),
        "{err}"
    );
    assert!(!err.retryable());
    clock.advance(Duration::from_secs(5));
    let (job, _) = store.start_delivery(id, "w2", 1).await.expect("retry");
    assert_eq!(job.attempt, 2);
}

#[tokio::test]
async fn reclaim_waits_for_the_visibility_timeout_and_fences_the_old_worker() {
    let db = TestDb::migrated().await;
    let (store, clock) = db.store();
    let visibility = Duration::from_secs(30);
    let id = store.enqueue(job()).await.expect("enqueue").job.id;
    let (_, lease) = store.mark_started(id, "old").await.expect("start");

    clock.advance(Duration::from_secs(29));
    assert!(
        store
            .stale_running(visibility, 10)
            .await
            .expect("stale")
            .is_empty()
    );
    assert_eq!(
        store.reclaim_stale(id, 1, visibility).await.expect("early"),
        None
    );
    clock.advance(Duration::from_secs(1));
    let stale = store.stale_running(visibility, 10).await.expect("stale");
    assert_eq!(stale.iter().map(|j| j.id).collect::<Vec<_>>(), [id]);
    assert_eq!(
        store
            .reclaim_stale(id, 2, visibility)
            .await
            .expect("wrong attempt"),
        None
    );

    let job = store
        .reclaim_stale(id, 1, visibility)
        .await
        .expect("reclaim")
        .expect("stale");
    assert_eq!((job.status, job.attempt), (JobStatus::Queued, 1));
    assert_eq!(job.run_at, t0() + Duration::from_secs(30));
    assert_eq!(
        store.reclaim_stale(id, 1, visibility).await.expect("twice"),
        None
    );
    let err = store.mark_succeeded(&lease).await.expect_err("fenced");
    assert!(matches!(err, Error::LeaseLost { .. }), "{err}");

    let last = store
        .audit_trail(id)
        .await
        .expect("trail")
        .pop()
        .expect("entry");
    assert_eq!(
        (last.kind, last.attempt, last.worker_id.as_deref()),
        (AuditKind::Reclaimed, 1, Some("old"))
    );
    let (job, _) = store
        .start_delivery(id, "new", 1)
        .await
        .expect("next attempt");
    assert_eq!(job.attempt, 2);
}

#[tokio::test]
async fn pending_pages_walk_every_waiting_job_by_due_time() {
    let db = TestDb::migrated().await;
    let (store, _clock) = db.store();
    let later = store
        .enqueue(job().run_at(t0() + Duration::from_secs(9)))
        .await
        .expect("later")
        .job;
    let now: Vec<_> = store
        .enqueue_batch((0..4).map(|_| job()).collect())
        .await
        .expect("now")
        .into_iter()
        .map(|e| e.job.id)
        .collect();
    let running = store.enqueue(job()).await.expect("running").job.id;
    store.mark_started(running, "w").await.expect("start");

    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let page = store.pending_page(after, 2).await.expect("page");
        let Some(last) = page.last() else { break };
        after = Some((last.run_at, last.id));
        seen.extend(page.iter().map(|j| j.id));
    }
    let mut expected = now;
    expected.push(later.id);
    assert_eq!(seen, expected);
}
