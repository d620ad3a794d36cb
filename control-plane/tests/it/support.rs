//! A throwaway database per test.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use control_plane::{
    JobStore, ManualClock, NoJitter, PgConfig, RetryPolicy, StoreConfig, connect, migrate,
};
use deadpool_postgres::Pool;

/// A fixed, round start time: audit and retry times in assertions are exact.
pub(crate) const T0_SECS: u64 = 1_800_000_000;

pub(crate) fn t0() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(T0_SECS)
}

fn server_url() -> String {
    std::env::var("TRADEPLANE_TEST_PG")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".to_owned())
}

fn pg(database: &str, pool_size: usize) -> PgConfig {
    PgConfig {
        url: format!("{}/{database}", server_url()),
        pool_size,
        ..PgConfig::default()
    }
}

/// A database of its own, dropped (forcibly, closing stray connections) when this value is
/// dropped, including when the test panics.
pub(crate) struct TestDb {
    pub(crate) name: String,
    pub(crate) pool: Pool,
}

impl TestDb {
    /// An empty database (no migrations).
    pub(crate) async fn empty() -> TestDb {
        let name = format!("cp_test_{}", uuid::Uuid::now_v7().simple());
        let admin = connect(&pg("postgres", 1)).expect("admin pool");
        admin
            .get()
            .await
            .expect("PostgreSQL must run on 127.0.0.1:5432 (or set TRADEPLANE_TEST_PG)")
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await
            .expect("create test database");
        let pool = connect(&pg(&name, 8)).expect("test pool");
        TestDb { name, pool }
    }

    /// A migrated database.
    pub(crate) async fn migrated() -> TestDb {
        let db = TestDb::empty().await;
        migrate(&db.pool).await.expect("migrate");
        db
    }

    /// A store on a manual clock at [`t0`], without jitter (exact retry times), with the
    /// default attempts (5, capped at 25) and backoff base 5 s, cap 60 s.
    pub(crate) fn store(&self) -> (JobStore, ManualClock) {
        let clock = ManualClock::new(t0());
        let config = StoreConfig {
            retry: RetryPolicy {
                base: Duration::from_secs(5),
                cap: Duration::from_secs(60),
            },
            ..StoreConfig::default()
        };
        let store = JobStore::with_time(
            self.pool.clone(),
            config,
            Arc::new(clock.clone()),
            Arc::new(NoJitter),
        )
        .expect("store");
        (store, clock)
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        self.pool.close();
        let name = self.name.clone();
        // Drop runs inside the test's runtime, which cannot be blocked on; a short-lived
        // thread with its own runtime does the async clean-up and is joined.
        let cleanup = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("cleanup runtime");
            rt.block_on(async {
                let admin = connect(&pg("postgres", 1)).expect("admin pool");
                let client = admin.get().await.expect("admin connection");
                client
                    .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .await
                    .expect("drop test database");
            });
        });
        if cleanup.join().is_err() && !std::thread::panicking() {
            panic!("could not drop test database {}", self.name);
        }
    }
}
