//! Pausing a job type parks its jobs without losing them, resuming runs them at once; and
//! the queue's outcome rates and counts.

use std::time::Duration;

use control_plane::{
    JobStatus, NewJob, QueueDepth, Rates, ReconcileConfig, Reconciler, redrive_type,
};
use serde_json::json;

use crate::support::{TestDb, TestRedis, dispatcher};

const Q: &str = "default";

#[tokio::test]
async fn a_paused_type_is_parked_and_resuming_runs_it() {
    let db = TestDb::migrated().await;
    let redis = TestRedis::new();
    let (store, clock) = db.store();
    let queue = redis.queue(&clock);
    let worker = dispatcher(&store, &queue, "w");

    let pause = store
        .pause_type("webhook.deliver", Some("endpoint down"))
        .await
        .expect("pause");
    assert_eq!(pause.reason.as_deref(), Some("endpoint down"));
    let jobs: Vec<_> = store
        .enqueue_batch(vec![
            NewJob::new(Q, "webhook.deliver", json!({})),
            NewJob::new(Q, "noop", json!({})),
            NewJob::new(Q, "webhook.deliver", json!({})),
        ])
        .await
        .expect("enqueue")
        .into_iter()
        .map(|e| e.job)
        .collect();
    queue.publish(&jobs).await.expect("publish");

    let claimed = worker.poll(Q, None).await.expect("poll");
    assert_eq!(claimed.len(), 1, "only the other type starts");
    assert_eq!(claimed[0].job.id, jobs[1].id);
    worker.succeed(&claimed[0]).await.expect("succeed");
    // The paused deliveries were acknowledged: Redis holds nothing, the store still
    // holds both jobs, queued, with no attempt spent.
    assert_eq!(queue.depth(Q).await.expect("depth"), QueueDepth::default());
    for parked in [&jobs[0], &jobs[2]] {
        let job = store.get(parked.id).await.expect("get").job;
        assert_eq!((job.status, job.attempt), (JobStatus::Queued, 0));
    }
    // The reconciler leaves parked jobs alone (otherwise they would cycle through Redis).
    let reconciler = Reconciler::new(store.clone(), queue.clone(), ReconcileConfig::default())
        .expect("reconciler");
    let report = reconciler.run_once().await.expect("reconcile");
    assert_eq!(report.republished, 0, "{report:?}");
    assert_eq!(store.paused_types().await.expect("paused").len(), 1);

    let parked = [jobs[0].id, jobs[2].id];
    assert!(
        store
            .unpaused_waiting(&parked)
            .await
            .expect("check")
            .is_empty(),
        "still paused: nothing to publish"
    );
    assert!(store.resume_type("webhook.deliver").await.expect("resume"));
    // What a worker that parked them checks after a resume it raced.
    assert_eq!(
        store.unpaused_waiting(&parked).await.expect("check").len(),
        2
    );
    assert!(!store.resume_type("webhook.deliver").await.expect("again"));
    assert_eq!(
        redrive_type(&store, &queue, "webhook.deliver")
            .await
            .expect("redrive"),
        2
    );
    let claimed = worker.poll(Q, None).await.expect("poll");
    let mut ids: Vec<_> = claimed.iter().map(|c| c.job.id).collect();
    ids.sort();
    let mut want = vec![jobs[0].id, jobs[2].id];
    want.sort();
    assert_eq!(ids, want);
    let counts = store.queue_counts().await.expect("counts");
    assert_eq!(counts.len(), 1);
    assert_eq!((counts[0].queued, counts[0].running), (0, 2));
}

#[tokio::test]
async fn outcome_rates_count_recorded_successes_and_failures_per_minute() {
    let db = TestDb::migrated().await;
    let redis = TestRedis::new();
    let (store, clock) = db.store();
    let queue = redis.queue(&clock);
    let worker = dispatcher(&store, &queue, "w");
    let jobs: Vec<_> = store
        .enqueue_batch((0..4).map(|_| NewJob::new(Q, "noop", json!({}))).collect())
        .await
        .expect("enqueue")
        .into_iter()
        .map(|e| e.job)
        .collect();
    queue.publish(&jobs).await.expect("publish");
    let claimed = worker.poll(Q, None).await.expect("poll");
    assert_eq!(claimed.len(), 4);
    let outcomes = worker.succeed_many(&claimed[..3]).await.expect("succeed");
    assert!(outcomes.iter().all(Result::is_ok));
    worker.fail(&claimed[3], "boom").await.expect("fail");
    // A second success for an attempt already recorded is refused and not counted.
    assert!(worker.succeed(&claimed[0]).await.is_err());

    assert_eq!(
        queue.rates(Q).await.expect("rates"),
        Rates::default(),
        "the current bucket is not a whole one yet"
    );
    clock.advance(Duration::from_secs(10));
    assert_eq!(
        queue.rates(Q).await.expect("rates"),
        Rates {
            succeeded_per_minute: 3,
            failed_per_minute: 1
        }
    );
    clock.advance(Duration::from_secs(60));
    assert_eq!(
        queue.rates(Q).await.expect("rates"),
        Rates::default(),
        "a minute later they are out of the window"
    );
}

#[tokio::test]
async fn the_group_lists_its_workers_and_prunes_only_gone_idle_ones() {
    let db = TestDb::migrated().await;
    let redis = TestRedis::new();
    let (store, clock) = db.store();
    let queue = redis.queue(&clock);
    let busy = dispatcher(&store, &queue, "busy");
    let idle = dispatcher(&store, &queue, "idle");
    assert!(queue.consumer_list(Q).await.expect("list").is_empty());
    busy.register(Q).await.expect("register");
    idle.register(Q).await.expect("register");
    let job = store
        .enqueue(NewJob::new(Q, "noop", json!({})))
        .await
        .expect("enqueue")
        .job;
    queue.publish(&[job]).await.expect("publish");
    assert_eq!(busy.poll(Q, None).await.expect("poll").len(), 1);

    let mut workers = queue.consumer_list(Q).await.expect("list");
    workers.sort_by(|a, b| a.name.cmp(&b.name));
    assert_eq!(workers.len(), 2);
    assert_eq!(workers[0].name, busy.consumer());
    assert_eq!((workers[0].pending, workers[1].pending), (1, 0));

    // Nothing is idle for a minute yet.
    assert_eq!(
        queue
            .prune_consumers(Q, Duration::from_secs(60), "someone-else")
            .await
            .expect("prune"),
        0
    );
    // With no idle threshold, only the consumer holding nothing goes; the caller and a
    // consumer with a delivery in flight stay.
    assert_eq!(
        queue
            .prune_consumers(Q, Duration::ZERO, "someone-else")
            .await
            .expect("prune"),
        1
    );
    let left = queue.consumer_list(Q).await.expect("list");
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].name, busy.consumer());
    assert_eq!(
        queue
            .prune_consumers(Q, Duration::ZERO, busy.consumer())
            .await
            .expect("prune"),
        0
    );
}
