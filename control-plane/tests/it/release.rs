//! Handing an unfinished attempt back (graceful worker stop): the job is `queued` again,
//! the attempt is not spent, the old lease is fenced out, and another consumer gets it
//! from Redis at once.

use control_plane::{AuditKind, Error, JobStatus, NewJob};
use serde_json::json;

use crate::support::{TestDb, TestRedis, dispatcher};

const Q: &str = "default";

#[tokio::test]
async fn release_requeues_without_spending_the_attempt() {
    let db = TestDb::migrated().await;
    let (store, _clock) = db.store();
    let id = store
        .enqueue(NewJob::new(Q, "noop", json!({})).max_attempts(1))
        .await
        .expect("enqueue")
        .job
        .id;
    let (_, lease) = store.mark_started(id, "w1").await.expect("start");

    let job = store.release(&lease).await.expect("release");
    assert_eq!((job.status, job.attempt), (JobStatus::Queued, 0));
    let last = store
        .audit_trail(id)
        .await
        .expect("trail")
        .pop()
        .expect("entry");
    assert_eq!(
        (last.kind, last.attempt, last.worker_id.as_deref()),
        (AuditKind::Released, 1, Some("w1"))
    );
    // The old lease cannot record an outcome or release twice.
    let err = store.mark_succeeded(&lease).await.expect_err("fenced");
    assert!(matches!(err, Error::LeaseLost { .. }), "{err}");
    let err = store.release(&lease).await.expect_err("twice");
    assert!(matches!(err, Error::LeaseLost { .. }), "{err}");

    // Its only attempt is still there to run.
    let (job, lease) = store.start_delivery(id, "w2", 0).await.expect("restart");
    assert_eq!(job.attempt, 1);
    assert_eq!(
        store.mark_succeeded(&lease).await.expect("succeed").status,
        JobStatus::Succeeded
    );
}

#[tokio::test]
async fn a_released_delivery_is_published_again_for_another_consumer() {
    let db = TestDb::migrated().await;
    let redis = TestRedis::new();
    let (store, clock) = db.store();
    let queue = redis.queue(&clock);
    let first = dispatcher(&store, &queue, "first");
    let second = dispatcher(&store, &queue, "second");

    let job = store
        .enqueue(NewJob::new(Q, "noop", json!({})))
        .await
        .expect("enqueue")
        .job;
    queue
        .publish(std::slice::from_ref(&job))
        .await
        .expect("publish");
    let claimed = first.poll(Q, None).await.expect("poll").pop().expect("one");
    first.release(&claimed).await.expect("release");
    let depth = queue.depth(Q).await.expect("depth");
    assert_eq!(
        (depth.stream, depth.pending),
        (1, 0),
        "acked, published again"
    );

    let again = second
        .poll(Q, None)
        .await
        .expect("poll")
        .pop()
        .expect("one");
    assert_eq!((again.job.id, again.job.attempt), (job.id, 1));
    second.succeed(&again).await.expect("succeed");
    assert_eq!(queue.depth(Q).await.expect("depth"), Default::default());
}
