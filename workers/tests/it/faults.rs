//! Faults under a running pool: PostgreSQL cutting every connection mid-run, and Redis
//! losing every key while jobs are in flight, queued and delayed. Either way every job
//! succeeds exactly once, nothing is dead-lettered, and the same pool keeps going.

use std::time::Duration;

use control_plane::{JobStatus, NewJob, QueueDepth};
use serde_json::json;
use workers::{HttpConfig, Registry};

use crate::support::{Env, Gate, Q, eventually, pool_config, t0};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_dropping_every_connection_mid_run_loses_no_job_and_records_each_once() {
    const JOBS: i64 = 300;
    const ROUNDS: i64 = 5;
    let env = Env::new().await;
    let saboteur = env.saboteur();
    // The test's timing: a 30 s visibility timeout and Redis idle threshold, on a store
    // clock that never moves. Nothing the pool fails to record is ever reclaimed, so the
    // pool itself must get every start and every outcome past the cuts.
    let pool = env.start(
        Registry::builtins(&HttpConfig::default()).unwrap(),
        pool_config(8),
    );
    env.enqueue(
        (0..JOBS)
            .map(|i| NewJob::new(Q, "sleep", json!({ "ms": 10 + i % 4 * 10 })))
            .collect(),
    )
    .await;

    // Cut every connection of the database at evenly spaced points of the run: the pool's
    // idle ones and whatever its poll loop, completer and reclaim loop are using right now.
    let mut cut = Vec::new();
    for round in 1..=ROUNDS {
        let progress = JOBS * round / (ROUNDS + 1);
        saboteur
            .count_until(JobStatus::Succeeded, |n| *n >= progress)
            .await;
        cut.push(saboteur.terminate_backends().await);
    }
    saboteur
        .count_until(JobStatus::Succeeded, |n| *n == JOBS)
        .await;
    assert!(!pool.task.is_finished(), "the pool kept running");
    assert!(
        cut.iter().all(|&n| n >= 1),
        "every round cut the pool's connections: {cut:?}"
    );

    let report = pool.stop().await;
    assert_eq!(
        (
            report.succeeded,
            report.failed,
            report.released,
            report.unrecorded
        ),
        (JOBS as u64, 0, 0, 0),
        "every outcome recorded by the pool itself, none left to a lease to expire: {report:?}"
    );
    assert_eq!(env.count(JobStatus::Succeeded).await, JOBS);
    assert_eq!(env.count(JobStatus::Dead).await, 0);
    // Exactly one start and one success each: a statement cut mid-flight changed nothing,
    // and a cut never made the pool record, or run, a job twice.
    assert_eq!(env.per_job("started").await, (1, 1));
    assert_eq!(env.per_job("succeeded").await, (1, 1));
    for event in ["failed", "reclaimed", "released"] {
        assert_eq!(env.per_job(event).await, (0, 0), "{event}");
    }
    assert_eq!(
        env.queue.depth(Q).await.unwrap(),
        QueueDepth::default(),
        "every delivery acknowledged"
    );
    eprintln!("connections cut per round: {cut:?}");
}

#[tokio::test]
async fn redis_losing_every_key_mid_run_the_same_pool_recreates_its_group_and_runs_every_job_once()
{
    let env = Env::new().await;
    let gate = Gate::closed();
    let mut registry = Registry::builtins(&HttpConfig::default()).unwrap();
    registry.register("gated", gate.clone());
    let mut config = pool_config(4);
    config.reconcile_every = Some(Duration::from_millis(100));
    // One reclaim pass at start-up, then none during the test: only the poll loop may
    // notice the lost group and recreate it.
    config.reclaim_every = Duration::from_secs(60);
    let pool = env.start(registry, config);

    // Four attempts in flight (every slot held), twenty due jobs waiting on the stream,
    // five delayed for a minute.
    let in_flight = env
        .enqueue(
            (0..4)
                .map(|i| NewJob::new(Q, "gated", json!({ "i": i })))
                .collect(),
        )
        .await;
    for &id in &in_flight {
        env.job_until(id, |j| j.status == JobStatus::Running).await;
    }
    let waiting = env
        .enqueue(
            (0..20)
                .map(|i| NewJob::new(Q, "noop", json!({ "i": i })))
                .collect(),
        )
        .await;
    let later = t0() + Duration::from_secs(60);
    let delayed = env
        .enqueue(
            (0..5)
                .map(|i| NewJob::new(Q, "noop", json!({ "d": i })).run_at(later))
                .collect(),
        )
        .await;
    let before = QueueDepth {
        stream: 24,
        pending: 4,
        delayed: 5,
    };
    assert_eq!(env.queue.depth(Q).await.unwrap(), before);

    // Redis restarts without persistence: stream, consumer group, delayed set and index
    // are gone.
    assert!(env.lose_redis().await >= 3);
    // The reconciler puts the waiting and delayed jobs back (not the running ones, whose
    // worker is alive). The stream it recreates has no consumer group.
    let republished = QueueDepth {
        stream: 20,
        pending: 0,
        delayed: 5,
    };
    eventually(
        || async { env.queue.depth(Q).await.ok() },
        |d| *d == republished,
    )
    .await;
    assert_eq!(env.queue.consumers(Q).await.unwrap(), 0, "no group yet");

    // The in-flight attempts finish (acknowledging into the void), the freed slots poll,
    // meet NOGROUP, and the pool recreates the group and runs the re-published jobs.
    gate.0.add_permits(in_flight.len());
    for &id in in_flight.iter().chain(&waiting) {
        env.job_until(id, |j| j.status == JobStatus::Succeeded)
            .await;
    }
    assert_eq!(
        env.queue.consumers(Q).await.unwrap(),
        1,
        "the group is back, with this pool in it"
    );
    // The delayed jobs come due and are promoted from the re-published delayed set.
    env.clock.advance(Duration::from_secs(60));
    for &id in &delayed {
        env.job_until(id, |j| j.status == JobStatus::Succeeded)
            .await;
    }

    // Lost again while the pool idles in its blocking read (which Redis 7 ends with an
    // UNBLOCKED error): jobs committed since, whose relay never published them, still run.
    assert!(env.lose_redis().await >= 1);
    let unpublished: Vec<_> = env
        .store
        .enqueue_batch(
            (0..5)
                .map(|i| NewJob::new(Q, "noop", json!({ "u": i })))
                .collect(),
        )
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.job.id)
        .collect();
    for &id in &unpublished {
        env.job_until(id, |j| j.status == JobStatus::Succeeded)
            .await;
    }
    assert!(!pool.task.is_finished(), "the pool kept running");

    let worker_id = pool.worker_id.clone();
    let report = pool.stop().await;
    assert_eq!(
        (
            report.succeeded,
            report.failed,
            report.released,
            report.unrecorded
        ),
        (34, 0, 0, 0),
        "{report:?}"
    );
    let all = [in_flight, waiting, delayed, unpublished].concat();
    for &id in &all {
        let job = env.store.get(id).await.unwrap().job;
        assert_eq!(
            job.worker_id.as_deref(),
            Some(worker_id.as_str()),
            "run by the same pool, never restarted"
        );
        assert_eq!(job.attempt, 1, "{job:?}");
    }
    assert_eq!(env.count(JobStatus::Succeeded).await, 34);
    assert_eq!(env.per_job("started").await, (1, 1));
    assert_eq!(env.per_job("succeeded").await, (1, 1));
    for event in ["failed", "reclaimed", "released", "dead_lettered"] {
        assert_eq!(env.per_job(event).await, (0, 0), "{event}");
    }
    let after = env.queue.depth(Q).await.unwrap();
    assert_eq!(after, QueueDepth::default(), "every delivery acknowledged");
}
