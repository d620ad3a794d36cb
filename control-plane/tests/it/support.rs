//! A throwaway database and a Redis key prefix per test.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use control_plane::{
    DispatchConfig, Dispatcher, JobStore, ManualClock, NoJitter, PgConfig, RedisConfig, RedisQueue,
    RetryPolicy, StoreConfig, connect, migrate,
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

    /// A one-connection pool of the test's own on this database, outside the pools under
    /// test: for holding locks and terminating their connections.
    pub(crate) fn side_pool(&self) -> Pool {
        connect(&pg(&self.name, 1)).expect("side pool")
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

fn redis_url() -> String {
    std::env::var("TRADEPLANE_TEST_REDIS").unwrap_or_else(|_| "redis://127.0.0.1:6379/0".to_owned())
}

/// A Redis key prefix of its own on the shared server. Redis is shared with other tests and
/// sessions, so nothing here flushes the server: [`TestRedis::lose_everything`] and the drop
/// delete only this prefix's keys (every key of the prefix starts with `{tp:<prefix>:`).
pub(crate) struct TestRedis {
    pub(crate) prefix: String,
}

impl TestRedis {
    pub(crate) fn new() -> TestRedis {
        TestRedis {
            prefix: format!("t{}", uuid::Uuid::now_v7().simple()),
        }
    }

    /// A queue handle under this prefix, judging run times by `clock`.
    pub(crate) fn queue(&self, clock: &ManualClock) -> RedisQueue {
        let config = RedisConfig {
            url: redis_url(),
            pool_size: 8,
            prefix: self.prefix.clone(),
            ..RedisConfig::default()
        };
        RedisQueue::connect(&config, Arc::new(clock.clone())).expect("redis queue")
    }

    /// What a Redis restart without persistence does to this prefix: every key is gone.
    pub(crate) fn lose_everything(&self) -> usize {
        let client = redis::Client::open(redis_url()).expect("redis url");
        let mut conn = client
            .get_connection()
            .expect("Redis must run on 127.0.0.1:6379 (or set TRADEPLANE_TEST_REDIS)");
        let pattern = format!("{{tp:{}:*", self.prefix);
        let mut cursor = 0u64;
        let mut deleted = 0;
        loop {
            let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(&pattern)
                .arg("COUNT")
                .arg(1000)
                .query(&mut conn)
                .expect("scan");
            if !keys.is_empty() {
                let n: usize = redis::cmd("DEL").arg(&keys).query(&mut conn).expect("del");
                deleted += n;
            }
            if next == 0 {
                return deleted;
            }
            cursor = next;
        }
    }

    /// Runs a raw command on the shared server (for assertions and fault injection).
    pub(crate) fn raw<T: redis::FromRedisValue>(&self, cmd: &redis::Cmd) -> T {
        let client = redis::Client::open(redis_url()).expect("redis url");
        let mut conn = client.get_connection().expect("redis connection");
        cmd.query(&mut conn).expect("redis command")
    }
}

impl Drop for TestRedis {
    fn drop(&mut self) {
        self.lose_everything();
    }
}

/// Dispatch timing for tests: a 30 s visibility timeout on the injected clock, and no Redis
/// idle threshold (Redis's clock cannot be injected, so the store's clock decides alone).
pub(crate) fn dispatch_config() -> DispatchConfig {
    DispatchConfig {
        visibility_timeout: Duration::from_secs(30),
        claim_min_idle: Duration::ZERO,
        batch: 64,
    }
}

/// A dispatcher named after `label` on `store` and `queue`.
pub(crate) fn dispatcher(store: &JobStore, queue: &RedisQueue, label: &str) -> Dispatcher {
    Dispatcher::new(store.clone(), queue.clone(), label, dispatch_config()).expect("dispatcher")
}

/// A dispatcher that reads, claims and promotes at most `batch` deliveries per call.
pub(crate) fn dispatcher_with_batch(
    store: &JobStore,
    queue: &RedisQueue,
    label: &str,
    batch: usize,
) -> Dispatcher {
    let config = DispatchConfig {
        batch,
        ..dispatch_config()
    };
    Dispatcher::new(store.clone(), queue.clone(), label, config).expect("dispatcher")
}
