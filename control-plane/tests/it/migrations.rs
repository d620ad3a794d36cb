use control_plane::migrate::latest_version;
use control_plane::{Error, migrate};

use crate::support::TestDb;

#[tokio::test]
async fn migrate_applies_everything_once_and_is_idempotent() {
    let db = TestDb::empty().await;
    let first = migrate(&db.pool).await.expect("first run");
    assert_eq!(first.applied, (1..=latest_version()).collect::<Vec<_>>());
    assert_eq!(first.version, latest_version());
    let second = migrate(&db.pool).await.expect("second run");
    assert!(second.applied.is_empty());
    assert_eq!(second.version, latest_version());
    let client = db.pool.get().await.expect("client");
    let n: i64 = client
        .query_one("SELECT count(*) FROM schema_migrations", &[])
        .await
        .expect("count")
        .get(0);
    assert_eq!(n, i64::from(latest_version()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_migrations_apply_each_version_exactly_once() {
    let db = TestDb::empty().await;
    let runs: Vec<_> = (0..8)
        .map(|_| {
            let pool = db.pool.clone();
            tokio::spawn(async move { migrate(&pool).await })
        })
        .collect();
    let mut applied = Vec::new();
    for run in runs {
        let report = run.await.expect("task").expect("migrate");
        assert_eq!(report.version, latest_version());
        applied.extend(report.applied);
    }
    applied.sort_unstable();
    assert_eq!(applied, (1..=latest_version()).collect::<Vec<_>>());
}

#[tokio::test]
async fn an_applied_migration_that_changed_is_refused() {
    let db = TestDb::migrated().await;
    db.pool
        .get()
        .await
        .expect("client")
        .execute(
            "UPDATE schema_migrations SET checksum = 'edited' WHERE version = 1",
            &[],
        )
        .await
        .expect("tamper");
    let err = migrate(&db.pool).await.expect_err("must refuse");
    assert!(
        matches!(err, Error::MigrationChanged { version: 1, .. }),
        "{err}"
    );
    assert!(!err.retryable());
}

#[tokio::test]
async fn audit_rows_cannot_be_rewritten() {
    let db = TestDb::migrated().await;
    let client = db.pool.get().await.expect("client");
    client
        .execute(
            "INSERT INTO job_audit (job_id, at, event, attempt)
             VALUES (gen_random_uuid(), now(), 'enqueued', 0)",
            &[],
        )
        .await
        .expect("insert");
    let err = client
        .execute("UPDATE job_audit SET attempt = 1", &[])
        .await
        .expect_err("append-only");
    assert!(err.to_string().contains("append-only") || format!("{err:?}").contains("append-only"));
}
