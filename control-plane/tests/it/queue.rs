//! The Redis fast path against real Redis and PostgreSQL: relay, consume, delay, retry,
//! reclaim, and a lost consumer group.

use std::time::Duration;

use control_plane::{AuditKind, Error, JobStatus, NewJob, QueueDepth};
use serde_json::json;

use crate::support::{TestDb, TestRedis, dispatcher};

const Q: &str = "default";

fn job() -> NewJob {
    NewJob::new(Q, "noop", json!({"n": 1}))
}

fn kinds(trail: &[control_plane::AuditEntry]) -> Vec<AuditKind> {
    trail.iter().map(|a| a.kind).collect()
}

#[tokio::test]
async fn enqueue_relay_consume_succeed() {
    let db = TestDb::migrated().await;
    let redis = TestRedis::new();
    let (store, clock) = db.store();
    let queue = redis.queue(&clock);
    let worker = dispatcher(&store, &queue, "w");

    let job = store.enqueue(job()).await.expect("enqueue").job;
    assert_eq!(
        queue
            .publish(std::slice::from_ref(&job))
            .await
            .expect("publish"),
        1
    );
    assert_eq!(
        queue
            .publish(std::slice::from_ref(&job))
            .await
            .expect("again"),
        0,
        "idempotent"
    );
    let depth = queue.depth(Q).await.expect("depth");
    assert_eq!((depth.stream, depth.delayed), (1, 0));

    let claimed = worker.poll(Q, None).await.expect("poll");
    assert_eq!(claimed.len(), 1);
    let c = &claimed[0];
    assert_eq!(
        (c.job.id, c.job.status, c.job.attempt),
        (job.id, JobStatus::Running, 1)
    );
    assert_eq!(c.lease.worker_id, worker.consumer());
    assert_eq!(c.delivery.message.attempt, 0);
    assert_eq!(queue.depth(Q).await.expect("depth").pending, 1);

    let done = worker.succeed(c).await.expect("succeed");
    assert_eq!(done.status, JobStatus::Succeeded);
    assert_eq!(queue.depth(Q).await.expect("depth"), QueueDepth::default());
    let index_len: u64 = redis.raw(redis::cmd("HLEN").arg(queue.keys(Q).index));
    assert_eq!(index_len, 0, "acknowledged jobs leave the index");
    assert!(worker.poll(Q, None).await.expect("empty").is_empty());
    assert_eq!(
        kinds(&store.audit_trail(job.id).await.expect("trail")),
        [
            AuditKind::Enqueued,
            AuditKind::Started,
            AuditKind::Succeeded
        ]
    );
}

#[tokio::test]
async fn consumer_names_are_unique_per_process_start() {
    let db = TestDb::migrated().await;
    let redis = TestRedis::new();
    let (store, clock) = db.store();
    let queue = redis.queue(&clock);
    let a = dispatcher(&store, &queue, "host-1");
    let b = dispatcher(&store, &queue, "host-1");
    assert_ne!(a.consumer(), b.consumer());
    assert!(a.consumer().starts_with("host-1-"));
}

#[tokio::test]
async fn a_delayed_job_becomes_visible_only_when_due() {
    let db = TestDb::migrated().await;
    let redis = TestRedis::new();
    let (store, clock) = db.store();
    let queue = redis.queue(&clock);
    let worker = dispatcher(&store, &queue, "w");
    let due = crate::support::t0() + Duration::from_secs(60);
    let job = store.enqueue(job().run_at(due)).await.expect("enqueue").job;
    assert_eq!(job.status, JobStatus::Scheduled);
    queue
        .publish(std::slice::from_ref(&job))
        .await
        .expect("publish");
    let depth = queue.depth(Q).await.expect("depth");
    assert_eq!((depth.stream, depth.delayed), (0, 1));

    assert!(worker.poll(Q, None).await.expect("poll").is_empty());
    clock.advance(Duration::from_millis(59_999));
    assert!(worker.poll(Q, None).await.expect("poll").is_empty());
    assert_eq!(queue.depth(Q).await.expect("depth").delayed, 1);
    clock.advance(Duration::from_millis(1));
    let claimed = worker.poll(Q, None).await.expect("poll");
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].job.id, job.id);
    worker.succeed(&claimed[0]).await.expect("succeed");
    assert_eq!(queue.depth(Q).await.expect("depth"), QueueDepth::default());
}

#[tokio::test]
async fn a_failed_attempt_waits_out_its_backoff_in_the_delayed_set() {
    let db = TestDb::migrated().await;
    let redis = TestRedis::new();
    let (store, clock) = db.store();
    let queue = redis.queue(&clock);
    let worker = dispatcher(&store, &queue, "w");
    let job = store.enqueue(job()).await.expect("enqueue").job;
    queue.publish(&[job]).await.expect("publish");

    let first = worker.poll(Q, None).await.expect("poll").remove(0);
    let failed = worker.fail(&first, "boom").await.expect("fail");
    // Backoff base 5 s, no jitter: due at t0 + 5 s, waiting in the delayed set.
    assert_eq!(failed.status, JobStatus::Scheduled);
    let depth = queue.depth(Q).await.expect("depth");
    assert_eq!((depth.stream, depth.pending, depth.delayed), (0, 0, 1));

    clock.advance(Duration::from_millis(4_999));
    assert!(worker.poll(Q, None).await.expect("early").is_empty());
    clock.advance(Duration::from_millis(1));
    let second = worker.poll(Q, None).await.expect("due").remove(0);
    assert_eq!(
        (second.job.attempt, second.delivery.message.attempt),
        (2, 1)
    );
    worker.succeed(&second).await.expect("succeed");
    assert_eq!(queue.depth(Q).await.expect("depth"), QueueDepth::default());
}

#[tokio::test]
async fn an_unacked_delivery_is_reclaimed_by_another_consumer_after_the_visibility_timeout() {
    let db = TestDb::migrated().await;
    let redis = TestRedis::new();
    let (store, clock) = db.store();
    let queue = redis.queue(&clock);
    let dead = dispatcher(&store, &queue, "dies");
    let rescuer = dispatcher(&store, &queue, "rescues");
    let job = store.enqueue(job()).await.expect("enqueue").job;
    queue
        .publish(std::slice::from_ref(&job))
        .await
        .expect("publish");
    let lost = dead.poll(Q, None).await.expect("poll").remove(0);

    // Within the visibility timeout the attempt is presumed alive: claimed, left alone.
    clock.advance(Duration::from_secs(29));
    let report = rescuer.reclaim(Q).await.expect("reclaim");
    assert_eq!(report.in_flight, 1);
    assert!(report.requeued.is_empty() && report.redelivered.is_empty());
    assert!(rescuer.poll(Q, None).await.expect("poll").is_empty());

    clock.advance(Duration::from_secs(1));
    let report = rescuer.reclaim(Q).await.expect("reclaim");
    assert_eq!(report.requeued, [job.id]);
    let second = rescuer.poll(Q, None).await.expect("poll").remove(0);
    assert_eq!((second.job.id, second.job.attempt), (job.id, 2));
    rescuer.succeed(&second).await.expect("succeed");

    // The first worker was only presumed dead: its late outcome is refused.
    let err = dead.succeed(&lost).await.expect_err("fenced");
    assert!(matches!(err, Error::LeaseLost { attempt: 1, .. }), "{err}");
    assert_eq!(queue.depth(Q).await.expect("depth"), QueueDepth::default());
    let trail = store.audit_trail(job.id).await.expect("trail");
    assert_eq!(
        kinds(&trail),
        [
            AuditKind::Enqueued,
            AuditKind::Started,
            AuditKind::Reclaimed,
            AuditKind::Started,
            AuditKind::Succeeded
        ]
    );
    assert_eq!(trail[2].worker_id.as_deref(), Some(dead.consumer()));
    assert_eq!(trail[4].worker_id.as_deref(), Some(rescuer.consumer()));
}

#[tokio::test]
async fn a_delivery_read_but_never_started_is_redelivered_at_once() {
    let db = TestDb::migrated().await;
    let redis = TestRedis::new();
    let (store, clock) = db.store();
    let queue = redis.queue(&clock);
    let rescuer = dispatcher(&store, &queue, "rescues");
    let job = store.enqueue(job()).await.expect("enqueue").job;
    queue
        .publish(std::slice::from_ref(&job))
        .await
        .expect("publish");
    // A consumer that died between XREADGROUP and starting the job.
    let read = queue
        .read(Q, "crashed-consumer", 10, None)
        .await
        .expect("read");
    assert_eq!(read.len(), 1);

    let report = rescuer.reclaim(Q).await.expect("reclaim");
    assert_eq!(report.redelivered.len(), 1);
    let claimed = &report.redelivered[0];
    assert_eq!((claimed.job.id, claimed.job.attempt), (job.id, 1));
    rescuer.succeed(claimed).await.expect("succeed");
    assert_eq!(queue.depth(Q).await.expect("depth"), QueueDepth::default());
}

#[tokio::test]
async fn a_reclaimed_last_attempt_is_dead_lettered() {
    let db = TestDb::migrated().await;
    let redis = TestRedis::new();
    let (store, clock) = db.store();
    let queue = redis.queue(&clock);
    let dead = dispatcher(&store, &queue, "dies");
    let rescuer = dispatcher(&store, &queue, "rescues");
    let job = store
        .enqueue(job().max_attempts(1))
        .await
        .expect("enqueue")
        .job;
    queue
        .publish(std::slice::from_ref(&job))
        .await
        .expect("publish");
    dead.poll(Q, None).await.expect("poll");
    clock.advance(Duration::from_secs(30));
    let report = rescuer.reclaim(Q).await.expect("reclaim");
    assert_eq!(report.dead_lettered, [job.id]);
    let detail = store.get(job.id).await.expect("get");
    assert_eq!(detail.job.status, JobStatus::Dead);
    assert!(
        detail
            .job
            .last_error
            .expect("error")
            .starts_with("worker lost")
    );
    assert_eq!(queue.depth(Q).await.expect("depth"), QueueDepth::default());
}

#[tokio::test]
async fn a_lost_consumer_group_is_recreated_at_runtime() {
    let db = TestDb::migrated().await;
    let redis = TestRedis::new();
    let (store, clock) = db.store();
    let queue = redis.queue(&clock);
    let worker = dispatcher(&store, &queue, "w");
    assert!(
        worker
            .poll(Q, None)
            .await
            .expect("creates the group")
            .is_empty()
    );

    // A restart without persistence: stream and group gone. The next publish recreates the
    // stream only, so the group is missing while entries wait.
    redis.lose_everything();
    let job = store.enqueue(job()).await.expect("enqueue").job;
    queue
        .publish(std::slice::from_ref(&job))
        .await
        .expect("publish");
    let groups: Vec<redis::Value> =
        redis.raw(redis::cmd("XINFO").arg("GROUPS").arg(queue.keys(Q).stream));
    assert!(groups.is_empty(), "group is gone");

    let claimed = worker.poll(Q, None).await.expect("NOGROUP recovered");
    assert_eq!(
        claimed.len(),
        1,
        "entries published before the group existed are delivered"
    );
    worker.succeed(&claimed[0]).await.expect("succeed");

    // Claiming meets NOGROUP the same way.
    redis.lose_everything();
    let report = worker.reclaim(Q).await.expect("NOGROUP recovered");
    assert_eq!(report, control_plane::ReclaimReport::default());
}

#[tokio::test]
async fn a_duplicate_message_starts_the_job_once_and_is_dropped_later() {
    let db = TestDb::migrated().await;
    let redis = TestRedis::new();
    let (store, clock) = db.store();
    let queue = redis.queue(&clock);
    let worker = dispatcher(&store, &queue, "w");
    let job = store.enqueue(job()).await.expect("enqueue").job;
    queue
        .publish(std::slice::from_ref(&job))
        .await
        .expect("publish");
    // The index lost its entry (e.g. evicted): the job is published a second time.
    redis.raw::<u64>(redis::cmd("DEL").arg(queue.keys(Q).index));
    assert_eq!(
        queue
            .publish(std::slice::from_ref(&job))
            .await
            .expect("again"),
        1
    );
    assert_eq!(queue.depth(Q).await.expect("depth").stream, 2);

    let claimed = worker.poll(Q, None).await.expect("poll");
    assert_eq!(claimed.len(), 1, "one start per attempt");
    worker.succeed(&claimed[0]).await.expect("succeed");
    // The twin stayed pending while the attempt ran; now it is obsolete and dropped.
    let report = worker.reclaim(Q).await.expect("reclaim");
    assert_eq!(report.dropped, 1);
    assert_eq!(queue.depth(Q).await.expect("depth"), QueueDepth::default());
    let started = store
        .audit_trail(job.id)
        .await
        .expect("trail")
        .iter()
        .filter(|a| a.kind == AuditKind::Started)
        .count();
    assert_eq!(started, 1);
}

#[tokio::test]
async fn garbage_entries_are_dropped_and_newer_versions_left_pending() {
    let db = TestDb::migrated().await;
    let redis = TestRedis::new();
    let (store, clock) = db.store();
    let queue = redis.queue(&clock);
    let worker = dispatcher(&store, &queue, "w");
    queue.ensure_group(Q).await.expect("group");
    let stream = queue.keys(Q).stream;
    redis.raw::<String>(
        redis::cmd("XADD")
            .arg(&stream)
            .arg("*")
            .arg("msg")
            .arg("not json"),
    );
    redis.raw::<String>(
        redis::cmd("XADD")
            .arg(&stream)
            .arg("*")
            .arg("msg")
            .arg(r#"{"v":99}"#),
    );
    assert!(worker.poll(Q, None).await.expect("poll").is_empty());
    let depth = queue.depth(Q).await.expect("depth");
    assert_eq!(
        (depth.stream, depth.pending),
        (1, 1),
        "only the v99 entry remains, pending"
    );
}
