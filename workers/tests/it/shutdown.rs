//! Graceful stop: in-flight attempts finish within the grace period; past it they are
//! handed back (queued, attempt not spent, audited `released`) and another pool runs them.

use std::sync::Arc;
use std::time::Duration;

use control_plane::{AuditKind, JobStatus, NewJob};
use serde_json::json;
use tokio::sync::Semaphore;
use workers::{PoolConfig, Registry};

use crate::support::{Env, Gate, PATIENCE, Q, pool_config};

fn with_grace(grace: Duration) -> PoolConfig {
    PoolConfig {
        shutdown_grace: grace,
        ..pool_config(4)
    }
}

#[tokio::test]
async fn in_flight_jobs_finish_within_the_grace_period() {
    let env = Env::new().await;
    let gate = Gate::closed();
    let mut registry = Registry::new();
    registry.register("gated", gate.clone());
    let pool = env.start(registry, with_grace(PATIENCE));
    let id = env.enqueue(vec![NewJob::new(Q, "gated", json!({}))]).await[0];
    env.job_until(id, |j| j.status == JobStatus::Running).await;

    pool.stop.cancel();
    // Stopped fetching, still running the job: it finishes once the gate opens.
    assert!(!pool.task.is_finished());
    gate.0.add_permits(1);
    let report = tokio::time::timeout(PATIENCE, pool.task)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((report.succeeded, report.released), (1, 0), "{report:?}");
    assert_eq!(
        env.store.get(id).await.unwrap().job.status,
        JobStatus::Succeeded
    );
}

#[tokio::test]
async fn a_job_still_running_at_the_deadline_is_released_and_runs_elsewhere() {
    let env = Env::new().await;
    let mut slow = Registry::new();
    slow.register("slow", Gate::closed());
    let first = env.start(slow, with_grace(Duration::from_millis(200)));
    let id = env
        .enqueue(vec![NewJob::new(Q, "slow", json!({})).max_attempts(1)])
        .await[0];
    env.job_until(id, |j| j.status == JobStatus::Running).await;

    use AuditKind::*;
    let first_id = first.worker_id.clone();
    let report = first.stop().await;
    assert_eq!(
        (report.released, report.failed, report.succeeded),
        (1, 0, 0),
        "{report:?}"
    );
    let job = env.store.get(id).await.unwrap();
    assert_eq!(
        (job.job.status, job.job.attempt),
        (JobStatus::Queued, 0),
        "attempt not spent"
    );
    let last = job.audit.last().unwrap();
    assert_eq!(
        (last.kind, last.attempt, last.worker_id.as_deref()),
        (Released, 1, Some(first_id.as_str()))
    );

    // Its only attempt is intact: a second pool runs it to success at once (no visibility
    // timeout to wait out: the release published it again).
    let fast = Gate(Arc::new(Semaphore::new(1)));
    let mut registry = Registry::new();
    registry.register("slow", fast);
    let second = env.start(registry, pool_config(4));
    let job = env
        .job_until(id, |j| j.status == JobStatus::Succeeded)
        .await;
    assert_eq!(job.attempt, 1);
    assert_eq!(job.worker_id.as_deref(), Some(second.worker_id.as_str()));
    second.stop().await;
    let kinds: Vec<AuditKind> = env
        .store
        .audit_trail(id)
        .await
        .unwrap()
        .iter()
        .map(|a| a.kind)
        .collect();
    assert_eq!(kinds, [Enqueued, Started, Released, Started, Succeeded]);
    assert_eq!(env.count(JobStatus::Dead).await, 0);
}
