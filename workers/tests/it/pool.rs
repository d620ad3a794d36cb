//! Running jobs: every job exactly once, retries then a dead letter on an injected clock,
//! panics recorded as failures.

use std::time::Duration;

use control_plane::{AuditKind, JobStatus, NewJob};
use serde_json::json;
use workers::{Handler, HandlerError, HttpConfig, JobContext, Registry};

use crate::support::{Env, Q, pool_config};

#[tokio::test]
async fn two_pools_run_every_noop_job_to_success_exactly_once() {
    let env = Env::new().await;
    let registry = Registry::builtins(&HttpConfig::default()).unwrap();
    let a = env.start(registry.clone(), pool_config(8));
    let b = env.start(registry, pool_config(8));
    let ids = env
        .enqueue(
            (0..300)
                .map(|i| NewJob::new(Q, "noop", json!({ "i": i })))
                .collect(),
        )
        .await;
    assert_eq!(ids.len(), 300);

    let total = crate::support::eventually(
        || async { Some(env.count(JobStatus::Succeeded).await) },
        |n| *n == 300,
    )
    .await;
    let (ra, rb) = (a.stop().await, b.stop().await);
    assert_eq!(ra.succeeded + rb.succeeded, 300, "{ra:?} {rb:?}");
    assert_eq!(
        ra.failed + rb.failed + ra.released + rb.released + ra.unrecorded + rb.unrecorded,
        0
    );
    assert_eq!(total, 300);
    // The audit trail: every job started once and succeeded once.
    assert_eq!(env.per_job("started").await, (1, 1));
    assert_eq!(env.per_job("succeeded").await, (1, 1));
    assert_eq!(env.per_job("failed").await, (0, 0));
    assert_eq!(
        env.queue.depth(Q).await.unwrap(),
        Default::default(),
        "all acknowledged"
    );
}

/// Always fails.
struct Broken;

impl Handler for Broken {
    type Payload = serde::de::IgnoredAny;

    async fn handle(&self, _: &JobContext, _: Self::Payload) -> Result<(), HandlerError> {
        Err(HandlerError::failed("downstream said no"))
    }
}

#[tokio::test]
async fn a_failing_handler_is_retried_on_schedule_then_dead_lettered() {
    let env = Env::new().await;
    let mut registry = Registry::new();
    registry.register("broken", Broken);
    let pool = env.start(registry, pool_config(2));
    let id = env
        .enqueue(vec![NewJob::new(Q, "broken", json!({})).max_attempts(3)])
        .await[0];

    // Attempt 1 fails: retry in 5 s (no jitter) by the injected clock, which has not moved.
    let job = env
        .job_until(id, |j| j.status == JobStatus::Scheduled && j.attempt == 1)
        .await;
    assert_eq!(job.run_at, crate::support::t0() + Duration::from_secs(5));
    env.clock.advance(Duration::from_secs(5));
    let job = env
        .job_until(id, |j| j.status == JobStatus::Scheduled && j.attempt == 2)
        .await;
    assert_eq!(job.run_at, crate::support::t0() + Duration::from_secs(15));
    env.clock.advance(Duration::from_secs(10));
    let job = env.job_until(id, |j| j.status == JobStatus::Dead).await;
    assert_eq!(job.attempt, 3);
    assert_eq!(job.last_error.as_deref(), Some("downstream said no"));

    let report = pool.stop().await;
    assert_eq!((report.failed, report.succeeded), (3, 0), "{report:?}");
    let kinds: Vec<AuditKind> = env
        .store
        .audit_trail(id)
        .await
        .unwrap()
        .iter()
        .map(|a| a.kind)
        .collect();
    use AuditKind::*;
    assert_eq!(
        kinds,
        [
            Enqueued,
            Started,
            Failed,
            RetryScheduled,
            Started,
            Failed,
            RetryScheduled,
            Started,
            Failed,
            DeadLettered
        ]
    );
}

/// Panics, or decodes a payload it cannot.
struct Panics;

impl Handler for Panics {
    type Payload = serde::de::IgnoredAny;

    async fn handle(&self, _: &JobContext, _: Self::Payload) -> Result<(), HandlerError> {
        panic!("handler bug")
    }
}

#[tokio::test]
async fn panics_bad_payloads_and_unknown_types_are_failed_attempts_not_lost_ones() {
    let env = Env::new().await;
    let mut registry = Registry::builtins(&HttpConfig::default()).unwrap();
    registry.register("panics", Panics);
    let pool = env.start(registry, pool_config(4));
    let ids = env
        .enqueue(vec![
            NewJob::new(Q, "panics", json!({})).max_attempts(1),
            NewJob::new(Q, "sleep", json!({ "ms": "soon" })).max_attempts(1),
            NewJob::new(Q, "unheard.of", json!({})).max_attempts(1),
        ])
        .await;
    let mut errors = Vec::new();
    for id in ids {
        let job = env.job_until(id, |j| j.status == JobStatus::Dead).await;
        errors.push(job.last_error.unwrap());
    }
    pool.stop().await;
    assert_eq!(errors[0], "handler panicked: handler bug");
    assert!(
        errors[1].starts_with("payload does not match the handler"),
        "{}",
        errors[1]
    );
    assert_eq!(
        errors[2],
        "no handler for job type `unheard.of` in this worker"
    );
}

/// Refuses for good.
struct Refuses;

impl Handler for Refuses {
    type Payload = serde::de::IgnoredAny;

    async fn handle(&self, _: &JobContext, _: Self::Payload) -> Result<(), HandlerError> {
        Err(HandlerError::permanent("410 Gone"))
    }
}

#[tokio::test]
async fn a_permanent_failure_dead_letters_at_once_without_spending_other_attempts() {
    let env = Env::new().await;
    let mut registry = Registry::builtins(&HttpConfig::default()).unwrap();
    registry.register("refuses", Refuses);
    let pool = env.start(registry, pool_config(4));
    let ids = env
        .enqueue(vec![
            NewJob::new(Q, "refuses", json!({})).max_attempts(5),
            NewJob::new(Q, "sleep", json!({ "ms": "soon" })).max_attempts(5),
        ])
        .await;
    for id in ids {
        let job = env.job_until(id, |j| j.status == JobStatus::Dead).await;
        assert_eq!(job.attempt, 1, "one attempt of five: {job:?}");
        let kinds: Vec<AuditKind> = env
            .store
            .audit_trail(id)
            .await
            .unwrap()
            .iter()
            .map(|e| e.kind)
            .collect();
        assert_eq!(
            kinds,
            [
                AuditKind::Enqueued,
                AuditKind::Started,
                AuditKind::Failed,
                AuditKind::DeadLettered
            ]
        );
    }
    pool.stop().await;
}

/// Counts how many of its jobs run at once, per queue.
#[derive(Default)]
struct Tracked {
    running: std::sync::Mutex<std::collections::HashMap<String, (usize, usize)>>,
}

struct TrackedHandler(std::sync::Arc<Tracked>);

impl Handler for TrackedHandler {
    type Payload = serde::de::IgnoredAny;

    async fn handle(&self, ctx: &JobContext, _: Self::Payload) -> Result<(), HandlerError> {
        {
            let mut running = self.0.running.lock().unwrap();
            let (now, max) = running.entry(ctx.queue.clone()).or_default();
            *now += 1;
            *max = (*max).max(*now);
        }
        // Work that takes a while, so that jobs would overlap if the limit let them.
        tokio::time::sleep(Duration::from_millis(20)).await;
        self.0
            .running
            .lock()
            .unwrap()
            .get_mut(&ctx.queue)
            .unwrap()
            .0 -= 1;
        Ok(())
    }
}

#[tokio::test]
async fn a_queue_limit_caps_that_queue_while_others_use_the_rest_of_the_pool() {
    let env = Env::new().await;
    let tracked = std::sync::Arc::new(Tracked::default());
    let mut registry = Registry::default();
    registry.register("tracked", TrackedHandler(tracked.clone()));
    let mut config = pool_config(4);
    config.queues = vec![Q.to_owned(), "slow".to_owned()];
    config.queue_concurrency = [("slow".to_owned(), 1)].into();
    let pool = env.start(registry, config);
    let jobs = (0..6)
        .flat_map(|_| {
            [
                NewJob::new("slow", "tracked", json!({})),
                NewJob::new(Q, "tracked", json!({})),
            ]
        })
        .collect();
    let ids = env.enqueue(jobs).await;
    for id in ids {
        env.job_until(id, |j| j.status == JobStatus::Succeeded)
            .await;
    }
    pool.stop().await;
    let running = tracked.running.lock().unwrap();
    assert_eq!(running["slow"].1, 1, "the slow queue never ran two at once");
    assert!(
        running[Q].1 >= 2,
        "the other queue used the free slots: {running:?}"
    );
}
