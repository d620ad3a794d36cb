use std::time::Duration;

use control_plane::{AuditKind, JobStatus, NewJob};
use serde_json::json;

use crate::support::{TestDb, t0};

const fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

/// Five attempts, each failing: retries at 5, 10, 20, 40 s (base 5 s doubling, no jitter),
/// then the fifth failure dead-letters the job with its whole history.
#[tokio::test]
async fn failures_back_off_exponentially_then_dead_letter_after_max_attempts() {
    let db = TestDb::migrated().await;
    let (store, clock) = db.store();
    let id = store
        .enqueue(NewJob::new(
            "default",
            "http.request",
            json!({ "url": "x" }),
        ))
        .await
        .expect("enqueue")
        .job
        .id;
    let mut retry_times = Vec::new();
    for attempt in 1..=5u32 {
        let (job, lease) = store.mark_started(id, "w1").await.expect("start");
        assert_eq!(job.attempt, attempt);
        let failed = store
            .mark_failed(&lease, &format!("boom {attempt}"))
            .await
            .expect("fail");
        assert_eq!(
            failed.last_error.as_deref(),
            Some(format!("boom {attempt}").as_str())
        );
        if attempt < 5 {
            assert_eq!(failed.status, JobStatus::Scheduled);
            assert_eq!(
                failed.run_at,
                control_plane::Clock::now(&clock) + secs(5 << (attempt - 1))
            );
            retry_times.push(failed.run_at);
            // Time moves only when the test says so: jump exactly to the retry.
            clock.set(failed.run_at);
        } else {
            assert_eq!(failed.status, JobStatus::Dead);
            assert!(failed.finished_at.is_some());
        }
    }
    assert_eq!(
        retry_times,
        [
            t0() + secs(5),
            t0() + secs(15),
            t0() + secs(35),
            t0() + secs(75)
        ]
    );

    let detail = store.get(id).await.expect("get");
    let kinds: Vec<_> = detail.audit.iter().map(|a| (a.kind, a.attempt)).collect();
    let mut expected = vec![(AuditKind::Enqueued, 0)];
    for attempt in 1..=4 {
        expected.extend([
            (AuditKind::Started, attempt),
            (AuditKind::Failed, attempt),
            (AuditKind::RetryScheduled, attempt),
        ]);
    }
    expected.extend([
        (AuditKind::Started, 5),
        (AuditKind::Failed, 5),
        (AuditKind::DeadLettered, 5),
    ]);
    assert_eq!(kinds, expected);
    let scheduled: Vec<_> = detail.audit.iter().filter_map(|a| a.retry_at).collect();
    assert_eq!(scheduled, retry_times);
    let errors: Vec<_> = detail
        .audit
        .iter()
        .filter_map(|a| a.error.as_deref())
        .collect();
    assert_eq!(errors, ["boom 1", "boom 2", "boom 3", "boom 4", "boom 5"]);

    // A dead job does not start again.
    assert!(store.mark_started(id, "w1").await.is_err());
}

#[tokio::test]
async fn a_single_attempt_job_dead_letters_on_its_first_failure_and_long_errors_are_cut() {
    let db = TestDb::migrated().await;
    let (store, _clock) = db.store();
    let id = store
        .enqueue(NewJob::new("default", "noop", json!(null)).max_attempts(1))
        .await
        .expect("enqueue")
        .job
        .id;
    let (_, lease) = store.mark_started(id, "w").await.expect("start");
    let long = "x".repeat(10_000);
    let dead = store.mark_failed(&lease, &long).await.expect("fail");
    assert_eq!(dead.status, JobStatus::Dead);
    assert_eq!(
        dead.last_error.map(|e| e.len()),
        Some(control_plane::store::MAX_ERROR_LEN)
    );
}
