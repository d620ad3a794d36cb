//! The reconciler re-drives from PostgreSQL whatever Redis lost.

use std::collections::HashMap;
use std::time::Duration;

use control_plane::{
    AuditKind, Dispatcher, JobId, JobStatus, JobStore, NewJob, QueueDepth, ReconcileConfig,
    Reconciler, RedisQueue,
};
use serde_json::json;
use tokio_util::sync::CancellationToken;

use crate::support::{TestDb, TestRedis, dispatcher, dispatcher_with_batch, t0};

const Q: &str = "default";

fn reconciler(store: &JobStore, queue: &RedisQueue) -> Reconciler {
    let config = ReconcileConfig {
        visibility_timeout: crate::support::dispatch_config().visibility_timeout,
        // Small pages so the keyset pagination is exercised.
        batch: 7,
    };
    Reconciler::new(store.clone(), queue.clone(), config).expect("reconciler")
}

/// Polls and succeeds until the queue yields nothing; returns the ids run.
async fn drain(worker: &Dispatcher) -> Vec<JobId> {
    let mut ran = Vec::new();
    loop {
        let claimed = worker.poll(Q, None).await.expect("poll");
        if claimed.is_empty() {
            return ran;
        }
        for c in &claimed {
            worker.succeed(c).await.expect("succeed");
            ran.push(c.job.id);
        }
    }
}

#[tokio::test]
async fn the_reconciler_publishes_what_the_relay_never_did() {
    let db = TestDb::migrated().await;
    let redis = TestRedis::new();
    let (store, clock) = db.store();
    let queue = redis.queue(&clock);
    let reconciler = reconciler(&store, &queue);
    // Committed, then the process died before publishing.
    let jobs: Vec<_> = (0..10)
        .map(|i| NewJob::new(Q, "noop", json!({ "i": i })))
        .collect();
    store.enqueue_batch(jobs).await.expect("enqueue");

    let report = reconciler.run_once().await.expect("reconcile");
    assert_eq!((report.scanned, report.republished), (10, 10));
    let again = reconciler.run_once().await.expect("reconcile");
    assert_eq!(
        (again.scanned, again.republished),
        (10, 0),
        "nothing missing: no duplicates"
    );
    assert_eq!(drain(&dispatcher(&store, &queue, "w")).await.len(), 10);
}

#[tokio::test]
async fn after_redis_loses_everything_every_unfinished_job_completes_exactly_once() {
    let db = TestDb::migrated().await;
    let redis = TestRedis::new();
    let (store, clock) = db.store();
    let queue = redis.queue(&clock);
    let reconciler = reconciler(&store, &queue);
    // Batches sized so each poll takes exactly the deliveries the scenario needs.
    let alive = dispatcher_with_batch(&store, &queue, "alive", 14);
    let doomed = dispatcher_with_batch(&store, &queue, "doomed", 2);

    // 30 due jobs and 5 delayed ones, relayed.
    let mut new: Vec<_> = (0..30)
        .map(|i| NewJob::new(Q, "noop", json!({ "i": i })))
        .collect();
    new.extend((0..5).map(|i| {
        NewJob::new(Q, "noop", json!({ "d": i })).run_at(t0() + Duration::from_secs(120))
    }));
    let all: Vec<_> = store
        .enqueue_batch(new)
        .await
        .expect("enqueue")
        .into_iter()
        .map(|e| e.job)
        .collect();
    assert_eq!(queue.publish(&all).await.expect("publish"), 35);

    // Mid-run: 10 finished, 4 in flight on a live worker, 2 in flight on a worker that
    // will die, 14 still waiting on the stream, 5 delayed.
    let first = alive.poll(Q, None).await.expect("poll");
    assert_eq!(first.len(), 14);
    let (done, in_flight) = first.split_at(10);
    for c in done {
        alive.succeed(c).await.expect("succeed");
    }
    let abandoned = doomed.poll(Q, None).await.expect("poll");
    assert_eq!(abandoned.len(), 2);

    // Redis restarts without persistence.
    assert!(redis.lose_everything() > 0);
    assert_eq!(queue.depth(Q).await.expect("depth"), QueueDepth::default());

    // The live worker finishes its in-flight jobs; acknowledging into the void is harmless.
    for c in in_flight {
        alive.succeed(c).await.expect("succeed after the flush");
    }

    // Nothing is on Redis now, yet the reconciler restores every waiting job.
    let report = reconciler.run_once().await.expect("reconcile");
    assert_eq!(report.republished, 14 + 5);
    assert_eq!(
        report.reclaimed, 0,
        "the abandoned attempts are not stale yet"
    );
    let ran_now = drain(&alive).await;
    assert_eq!(ran_now.len(), 14);

    // Time passes: the delayed jobs come due and the abandoned attempts go stale.
    clock.advance(Duration::from_secs(120));
    let report = reconciler.run_once().await.expect("reconcile");
    assert_eq!(report.reclaimed, 2);
    let ran_later = drain(&alive).await;
    assert_eq!(ran_later.len(), 5 + 2);

    // The abandoned worker's late outcomes are refused.
    for c in &abandoned {
        let err = doomed.succeed(c).await.expect_err("fenced");
        assert!(
            matches!(err, control_plane::Error::LeaseLost { .. }),
            "{err}"
        );
    }

    // Every job succeeded exactly once; the abandoned two started twice.
    let abandoned_ids: Vec<_> = abandoned.iter().map(|c| c.job.id).collect();
    for job in &all {
        let detail = store.get(job.id).await.expect("get");
        assert_eq!(detail.job.status, JobStatus::Succeeded, "{}", job.id);
        let mut counts: HashMap<AuditKind, usize> = HashMap::new();
        for entry in &detail.audit {
            *counts.entry(entry.kind).or_default() += 1;
        }
        assert_eq!(counts.get(&AuditKind::Succeeded), Some(&1), "{}", job.id);
        let expected_starts = if abandoned_ids.contains(&job.id) {
            2
        } else {
            1
        };
        assert_eq!(
            counts.get(&AuditKind::Started),
            Some(&expected_starts),
            "{}",
            job.id
        );
    }
    assert_eq!(reconciler.run_once().await.expect("idle").republished, 0);
    let depth = queue.depth(Q).await.expect("depth");
    assert_eq!((depth.stream, depth.delayed), (0, 0));
}

#[tokio::test]
async fn the_reconciler_loop_stops_on_cancel() {
    let db = TestDb::migrated().await;
    let redis = TestRedis::new();
    let (store, clock) = db.store();
    let queue = redis.queue(&clock);
    store
        .enqueue(NewJob::new(Q, "noop", json!({})))
        .await
        .expect("enqueue");
    let cancel = CancellationToken::new();
    cancel.cancel();
    // One pass always runs before the first wait, then the cancelled token ends the loop.
    reconciler(&store, &queue)
        .run(Duration::from_secs(3600), cancel)
        .await;
    assert_eq!(queue.depth(Q).await.expect("depth").stream, 1);
}
