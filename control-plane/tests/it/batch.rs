//! The batched hot transitions: one statement per poll's starts and per batch of
//! successes, with exactly the single-job answers per item.

use control_plane::{AuditKind, Error, JobStatus, Lease, NewJob};
use serde_json::json;

use crate::support::TestDb;

fn job() -> NewJob {
    NewJob::new("default", "noop", json!({}))
}

#[tokio::test]
async fn a_batch_start_answers_each_item_as_a_single_start_would() {
    let db = TestDb::migrated().await;
    let (store, _clock) = db.store();
    let ids: Vec<_> = store
        .enqueue_batch((0..4).map(|_| job()).collect())
        .await
        .expect("enqueue")
        .into_iter()
        .map(|e| e.job.id)
        .collect();
    // ids[1] already runs elsewhere; ids[2] is named with an attempt it is not at; ids[0]
    // is named twice; one id does not exist.
    store
        .start_delivery(ids[1], "other", 0)
        .await
        .expect("start");
    let ghost = control_plane::JobId::generate();
    let items = [
        (ids[0], 0),
        (ids[1], 0),
        (ids[2], 3),
        (ids[0], 0),
        (ghost, 0),
        (ids[3], 0),
    ];
    let answers = store.start_deliveries("w", &items).await.expect("batch");
    assert_eq!(answers.len(), items.len());
    let (started, lease) = answers[0].as_ref().expect("first start");
    assert_eq!((started.status, started.attempt), (JobStatus::Running, 1));
    assert_eq!(lease.worker_id, "w");
    assert!(matches!(
        answers[1],
        Err(Error::InvalidTransition {
            from: JobStatus::Running,
            ..
        })
    ));
    assert!(matches!(
        answers[2],
        Err(Error::StaleDelivery {
            attempt: 3,
            current: 0,
            ..
        })
    ));
    assert!(
        matches!(answers[3], Err(Error::InvalidTransition { .. })),
        "a job named twice starts once"
    );
    assert!(matches!(answers[4], Err(Error::NotFound(id)) if id == ghost));
    assert!(answers[5].is_ok());

    let trail = store.audit_trail(ids[0]).await.expect("trail");
    let starts = trail
        .iter()
        .filter(|e| e.kind == AuditKind::Started)
        .count();
    assert_eq!(starts, 1, "one start, one audit row: {trail:?}");
    let untouched = store.get(ids[2]).await.expect("get").job;
    assert_eq!(
        (untouched.status, untouched.attempt),
        (JobStatus::Queued, 0)
    );
}

#[tokio::test]
async fn a_batch_of_successes_records_only_what_its_leases_still_own() {
    let db = TestDb::migrated().await;
    let (store, _clock) = db.store();
    let ids: Vec<_> = store
        .enqueue_batch((0..3).map(|_| job()).collect())
        .await
        .expect("enqueue")
        .into_iter()
        .map(|e| e.job.id)
        .collect();
    let items: Vec<_> = ids.iter().map(|id| (*id, 0)).collect();
    let leases: Vec<Lease> = store
        .start_deliveries("w", &items)
        .await
        .expect("start")
        .into_iter()
        .map(|a| a.expect("started").1)
        .collect();
    // ids[1] was already recorded; ids[2]'s lease names another worker.
    store.mark_succeeded(&leases[1]).await.expect("succeed one");
    let forged = Lease {
        worker_id: "impostor".into(),
        ..leases[2].clone()
    };
    let answers = store
        .succeed_batch(&[&leases[0], &leases[1], &forged])
        .await
        .expect("batch");
    assert_eq!(
        answers[0].as_ref().expect("recorded").status,
        JobStatus::Succeeded
    );
    assert!(matches!(
        answers[1],
        Err(Error::InvalidTransition {
            from: JobStatus::Succeeded,
            ..
        })
    ));
    assert!(matches!(answers[2], Err(Error::LeaseLost { .. })));
    assert_eq!(
        store.get(ids[2]).await.expect("get").job.status,
        JobStatus::Running,
        "a foreign lease changes nothing"
    );
    let trail = store.audit_trail(ids[1]).await.expect("trail");
    let successes = trail
        .iter()
        .filter(|e| e.kind == AuditKind::Succeeded)
        .count();
    assert_eq!(successes, 1, "{trail:?}");
    assert!(store.succeed_batch(&[]).await.expect("empty").is_empty());
}

#[tokio::test]
async fn a_stale_and_a_fresh_message_of_one_job_in_one_batch_are_told_apart() {
    let db = TestDb::migrated().await;
    let (store, clock) = db.store();
    let id = store.enqueue(job()).await.expect("enqueue").job.id;
    let (_, first) = store.start_delivery(id, "w", 0).await.expect("start");
    store.mark_failed(&first, "boom").await.expect("fail");
    clock.advance(std::time::Duration::from_secs(60));
    // The old message (attempt 0) comes back beside the retry's (attempt 1), stale first.
    let answers = store
        .start_deliveries("w", &[(id, 0), (id, 1)])
        .await
        .expect("batch");
    assert!(
        matches!(
            answers[0],
            Err(Error::StaleDelivery {
                attempt: 0,
                current: 2,
                ..
            })
        ),
        "{:?}",
        answers[0]
    );
    let (job, retry) = answers[1].as_ref().expect("the retry starts");
    assert_eq!((job.attempt, retry.attempt), (2, 2));

    // A lease of an attempt reclaimed from this very worker, beside the new attempt's:
    // only the new one records.
    clock.advance(std::time::Duration::from_secs(60));
    let requeued = store
        .reclaim_stale(id, 2, std::time::Duration::from_secs(30))
        .await
        .expect("reclaim")
        .expect("stale");
    assert_eq!(requeued.status, JobStatus::Queued);
    let (_, third) = store.start_delivery(id, "w", 2).await.expect("restart");
    let answers = store.succeed_batch(&[retry, &third]).await.expect("batch");
    assert!(
        matches!(answers[0], Err(Error::LeaseLost { attempt: 2, .. })),
        "{:?}",
        answers[0]
    );
    assert_eq!(answers[1].as_ref().expect("recorded").attempt, 3);
}
