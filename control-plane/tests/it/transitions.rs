use std::time::Duration;

use control_plane::{AuditKind, Error, JobStatus, Lease, NewJob};
use serde_json::json;

use crate::support::{TestDb, t0};

fn job() -> NewJob {
    NewJob::new("default", "noop", json!({}))
}

#[tokio::test]
async fn a_job_runs_to_success_and_every_step_is_audited() {
    let db = TestDb::migrated().await;
    let (store, clock) = db.store();
    let id = store.enqueue(job()).await.expect("enqueue").job.id;
    clock.advance(Duration::from_secs(1));
    let (running, lease) = store.mark_started(id, "worker-a").await.expect("start");
    assert_eq!(running.status, JobStatus::Running);
    assert_eq!(running.attempt, 1);
    assert_eq!(running.worker_id.as_deref(), Some("worker-a"));
    assert_eq!(running.started_at, Some(t0() + Duration::from_secs(1)));
    assert_eq!(
        lease,
        Lease {
            job_id: id,
            worker_id: "worker-a".into(),
            attempt: 1
        }
    );
    clock.advance(Duration::from_secs(2));
    let done = store.mark_succeeded(&lease).await.expect("succeed");
    assert_eq!(done.status, JobStatus::Succeeded);
    assert_eq!(done.finished_at, Some(t0() + Duration::from_secs(3)));

    let detail = store.get(id).await.expect("get");
    assert_eq!(detail.job, done);
    let trail: Vec<_> = detail
        .audit
        .iter()
        .map(|a| (a.kind, a.attempt, a.worker_id.as_deref(), a.at))
        .collect();
    assert_eq!(
        trail,
        [
            (AuditKind::Enqueued, 0, None, t0()),
            (
                AuditKind::Started,
                1,
                Some("worker-a"),
                t0() + Duration::from_secs(1)
            ),
            (
                AuditKind::Succeeded,
                1,
                Some("worker-a"),
                t0() + Duration::from_secs(3)
            ),
        ]
    );
    assert!(detail.audit.windows(2).all(|w| w[0].seq < w[1].seq));
}

#[tokio::test]
async fn unexpected_transitions_are_errors_not_double_transitions() {
    let db = TestDb::migrated().await;
    let (store, _clock) = db.store();
    let id = store.enqueue(job()).await.expect("enqueue").job.id;
    let (_, lease) = store.mark_started(id, "w1").await.expect("start");

    let err = store
        .mark_started(id, "w2")
        .await
        .expect_err("already running");
    assert!(
        matches!(
            err,
            Error::InvalidTransition {
                from: JobStatus::Running,
                action: "start",
                ..
            }
        ),
        "{err}"
    );
    let err = store
        .cancel(id)
        .await
        .expect_err("running cannot be cancelled");
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

    store.mark_succeeded(&lease).await.expect("succeed");
    let err = store.mark_succeeded(&lease).await.expect_err("twice");
    assert!(
        matches!(
            err,
            Error::InvalidTransition {
                from: JobStatus::Succeeded,
                action: "succeed",
                ..
            }
        ),
        "{err}"
    );
    let err = store
        .mark_failed(&lease, "late")
        .await
        .expect_err("after success");
    assert!(matches!(err, Error::InvalidTransition { .. }), "{err}");
    let err = store.mark_started(id, "w1").await.expect_err("finished");
    assert!(matches!(
        err,
        Error::InvalidTransition {
            from: JobStatus::Succeeded,
            ..
        }
    ));
    assert!(!err.retryable());

    let kinds: Vec<_> = store
        .audit_trail(id)
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
            AuditKind::Succeeded
        ]
    );
}

#[tokio::test]
async fn a_stale_lease_cannot_record_an_outcome() {
    let db = TestDb::migrated().await;
    let (store, clock) = db.store();
    let id = store.enqueue(job()).await.expect("enqueue").job.id;
    let (_, first) = store.mark_started(id, "w1").await.expect("start 1");
    store.mark_failed(&first, "timeout").await.expect("fail 1");
    clock.advance(Duration::from_secs(60));
    let (_, second) = store.mark_started(id, "w2").await.expect("start 2");

    let err = store.mark_succeeded(&first).await.expect_err("stale");
    assert!(matches!(err, Error::LeaseLost { attempt: 1, .. }), "{err}");
    let forged = Lease {
        worker_id: "w3".into(),
        ..second.clone()
    };
    let err = store
        .mark_failed(&forged, "x")
        .await
        .expect_err("wrong worker");
    assert!(matches!(err, Error::LeaseLost { .. }), "{err}");

    let done = store.mark_succeeded(&second).await.expect("current lease");
    assert_eq!((done.status, done.attempt), (JobStatus::Succeeded, 2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_starts_of_one_job_have_exactly_one_winner() {
    let db = TestDb::migrated().await;
    let (store, _clock) = db.store();
    let id = store.enqueue(job()).await.expect("enqueue").job.id;
    let starts: Vec<_> = (0..8)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move { store.mark_started(id, &format!("w{i}")).await })
        })
        .collect();
    let mut winners = 0;
    for start in starts {
        match start.await.expect("task") {
            Ok((job, _)) => {
                winners += 1;
                assert_eq!(job.attempt, 1);
            }
            Err(Error::InvalidTransition {
                from: JobStatus::Running,
                ..
            }) => {}
            Err(e) => panic!("unexpected: {e}"),
        }
    }
    assert_eq!(winners, 1);
}

#[tokio::test]
async fn cancel_stops_a_queued_or_scheduled_job() {
    let db = TestDb::migrated().await;
    let (store, _clock) = db.store();
    let queued = store.enqueue(job()).await.expect("queued").job.id;
    let scheduled = store
        .enqueue(job().run_at(t0() + Duration::from_secs(600)))
        .await
        .expect("scheduled")
        .job
        .id;
    for id in [queued, scheduled] {
        let job = store.cancel(id).await.expect("cancel");
        assert_eq!(job.status, JobStatus::Cancelled);
        assert_eq!(job.finished_at, Some(t0()));
        let err = store.mark_started(id, "w").await.expect_err("cancelled");
        assert!(matches!(
            err,
            Error::InvalidTransition {
                from: JobStatus::Cancelled,
                ..
            }
        ));
        let err = store.cancel(id).await.expect_err("twice");
        assert!(matches!(err, Error::InvalidTransition { .. }));
        let last = store
            .audit_trail(id)
            .await
            .expect("trail")
            .pop()
            .expect("entry");
        assert_eq!(last.kind, AuditKind::Cancelled);
    }
}

#[tokio::test]
async fn unknown_jobs_are_not_found() {
    let db = TestDb::migrated().await;
    let (store, _clock) = db.store();
    let id = control_plane::JobId::generate();
    assert!(matches!(store.get(id).await, Err(Error::NotFound(x)) if x == id));
    assert!(matches!(
        store.mark_started(id, "w").await,
        Err(Error::NotFound(_))
    ));
    assert!(matches!(store.cancel(id).await, Err(Error::NotFound(_))));
    assert!(store.audit_trail(id).await.expect("trail").is_empty());
}
