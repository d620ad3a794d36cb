//! PostgreSQL failing under the dispatcher: connections cut mid-statement.

use std::time::Duration;

use control_plane::{AuditKind, JobStatus, NewJob};
use serde_json::json;
use tokio_postgres::types::ToSql;

use crate::support::{TestDb, TestRedis, dispatcher};

const Q: &str = "default";

/// Regression: a poll whose start statement lost its connection (`pg_terminate_backend`, a
/// PostgreSQL restart or failover) failed as a whole, leaving the deliveries it had already
/// read pending in Redis, where only reclaim finds them once idle for `claim_min_idle` (the
/// visibility timeout: 45 s by default) — a stall of up to a batch of jobs per blip.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_cut_while_a_poll_starts_its_deliveries_does_not_strand_them() {
    let db = TestDb::migrated().await;
    let redis = TestRedis::new();
    let (store, clock) = db.store();
    let queue = redis.queue(&clock);
    let worker = dispatcher(&store, &queue, "w");
    let job = store
        .enqueue(NewJob::new(Q, "noop", json!({})))
        .await
        .expect("enqueue")
        .job;
    queue
        .publish(std::slice::from_ref(&job))
        .await
        .expect("publish");

    // The test's own connection locks the job's row, so the poll's start statement waits
    // on it: the cut below lands mid-statement, never between statements by luck.
    let side = db.side_pool();
    let mut holder = side.get().await.expect("side connection");
    let tx = holder.transaction().await.expect("begin");
    tx.execute(
        "SELECT 1 FROM jobs WHERE id = $1 FOR UPDATE",
        &[&job.id.as_uuid()],
    )
    .await
    .expect("lock the row");
    let poll = tokio::spawn({
        let worker = worker.clone();
        async move { worker.poll(Q, None).await }
    });
    // Inside a transaction pg_stat_activity is a snapshot taken at first use: clear it.
    let activity = async |sql: &str, params: &[&(dyn ToSql + Sync)]| -> i64 {
        tx.execute("SELECT pg_stat_clear_snapshot()", &[])
            .await
            .expect("clear");
        tx.query_one(sql, params).await.expect("activity").get(0)
    };
    let waiting = "SELECT count(*) FROM pg_stat_activity
                   WHERE datname = current_database() AND wait_event_type = 'Lock'";
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while activity(waiting, &[]).await == 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the start never blocked"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    // The call in the select list runs only for the rows the filter keeps; in WHERE the
    // planner may call it first, on every backend of the shared server.
    let cut: Vec<i32> = tx
        .query(
            "SELECT pid, pg_terminate_backend(pid) FROM pg_stat_activity
             WHERE datname = current_database() AND pid <> pg_backend_pid()",
            &[],
        )
        .await
        .expect("terminate")
        .iter()
        .filter(|r| r.get::<_, bool>(1))
        .map(|r| r.get(0))
        .collect();
    assert!(!cut.is_empty());
    // Gone for good before the lock is released, so the blocked statement cannot win it.
    let alive = "SELECT count(*) FROM pg_stat_activity WHERE pid = ANY($1)";
    while activity(alive, &[&cut]).await > 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "backends outlived the cut"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    tx.commit().await.expect("release the row");

    let claims = tokio::time::timeout(Duration::from_secs(10), poll)
        .await
        .expect("the poll returns")
        .expect("poll task")
        .expect("the poll got over the cut connection");
    assert_eq!(claims.len(), 1, "started at once, not left for reclaim");
    assert_eq!((claims[0].job.id, claims[0].job.attempt), (job.id, 1));
    worker.succeed(&claims[0]).await.expect("succeed");
    let detail = store.get(job.id).await.expect("get");
    assert_eq!(detail.job.status, JobStatus::Succeeded);
    let kinds: Vec<AuditKind> = detail.audit.iter().map(|a| a.kind).collect();
    assert_eq!(
        kinds,
        [
            AuditKind::Enqueued,
            AuditKind::Started,
            AuditKind::Succeeded
        ]
    );
}
