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
        .succeed_batch(&[leases[0].clone(), leases[1].clone(), forged])
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
