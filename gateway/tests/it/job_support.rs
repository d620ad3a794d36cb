//! A throwaway PostgreSQL database and Redis key prefix per test, for the job routes
//! (mirrors `control-plane/tests/it/support.rs`).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

use control_plane::{JobStore, PgConfig, RedisConfig, StoreConfig, connect, migrate};
use gateway::config::ControlPlaneConfig;

fn server_url() -> String {
    std::env::var("TRADEPLANE_TEST_PG")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".to_owned())
}

fn redis_url() -> String {
    std::env::var("TRADEPLANE_TEST_REDIS").unwrap_or_else(|_| "redis://127.0.0.1:6379/0".to_owned())
}

fn pg(database: &str, pool_size: usize) -> PgConfig {
    PgConfig {
        url: format!("{}/{database}", server_url()),
        pool_size,
        ..PgConfig::default()
    }
}

/// A name no other test (in this or a concurrent run) uses.
fn unique(prefix: &str) -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!(
        "{prefix}{}_{}_{nanos}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// A migrated database and a Redis prefix of their own, both removed on drop (also when the
/// test panics). Redis is shared, so only this prefix's keys are deleted, never the server.
pub(crate) struct TestControlPlane {
    database: String,
    pub(crate) prefix: String,
    store: JobStore,
}

impl TestControlPlane {
    pub(crate) async fn new() -> Self {
        let database = unique("gw_test_");
        let admin = connect(&pg("postgres", 1)).unwrap();
        admin
            .get()
            .await
            .expect("PostgreSQL must run on 127.0.0.1:5432 (or set TRADEPLANE_TEST_PG)")
            .batch_execute(&format!("CREATE DATABASE {database}"))
            .await
            .unwrap();
        let pool = connect(&pg(&database, 4)).unwrap();
        migrate(&pool).await.unwrap();
        let store = JobStore::new(pool, StoreConfig::default()).unwrap();
        Self {
            database,
            prefix: unique("g"),
            store,
        }
    }

    /// The gateway's setting for this database and prefix.
    pub(crate) fn config(&self) -> ControlPlaneConfig {
        ControlPlaneConfig {
            postgres: pg(&self.database, 4),
            redis: RedisConfig {
                url: redis_url(),
                pool_size: 4,
                prefix: self.prefix.clone(),
                ..RedisConfig::default()
            },
            store: StoreConfig::default(),
            metrics: control_plane::JobMetrics::default(),
        }
    }

    /// The store, as a worker would use it (to start and fail jobs).
    pub(crate) fn store(&self) -> &JobStore {
        &self.store
    }

    /// The attempt Redis's queue index holds for `job` in `queue`, if published.
    pub(crate) fn published_attempt(&self, queue: &str, job: &str) -> Option<u32> {
        let mut conn = redis::Client::open(redis_url())
            .unwrap()
            .get_connection()
            .expect("Redis must run on 127.0.0.1:6379 (or set TRADEPLANE_TEST_REDIS)");
        redis::cmd("HGET")
            .arg(format!("{{tp:{}:{queue}}}:index", self.prefix))
            .arg(job)
            .query(&mut conn)
            .unwrap()
    }

    fn delete_keys(&self) {
        let Ok(mut conn) = redis::Client::open(redis_url()).and_then(|c| c.get_connection()) else {
            return;
        };
        let pattern = format!("{{tp:{}:*", self.prefix);
        let mut cursor = 0u64;
        loop {
            let Ok((next, keys)): redis::RedisResult<(u64, Vec<String>)> = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(&pattern)
                .arg("COUNT")
                .arg(1000)
                .query(&mut conn)
            else {
                return;
            };
            if !keys.is_empty() {
                let _: redis::RedisResult<usize> = redis::cmd("DEL").arg(&keys).query(&mut conn);
            }
            if next == 0 {
                return;
            }
            cursor = next;
        }
    }
}

impl Drop for TestControlPlane {
    fn drop(&mut self) {
        self.store.pool().close();
        self.delete_keys();
        let database = self.database.clone();
        // Drop runs inside the test's runtime, which cannot be blocked on: a short-lived
        // thread with its own runtime drops the database, and is joined.
        let cleanup = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                let admin = connect(&pg("postgres", 1)).unwrap();
                let client = admin.get().await.unwrap();
                client
                    .batch_execute(&format!("DROP DATABASE IF EXISTS {database} WITH (FORCE)"))
                    .await
                    .unwrap();
            });
        });
        if cleanup.join().is_err() && !std::thread::panicking() {
            panic!("could not drop test database {}", self.database);
        }
    }
}
