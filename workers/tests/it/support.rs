//! A throwaway database and Redis key prefix per test, pools on an injected clock, and
//! waiting for observable conditions with a deadline.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use control_plane::{
    DispatchConfig, Job, JobId, JobStatus, JobStore, ManualClock, NewJob, NoJitter, PgConfig,
    RedisConfig, RedisQueue, RetryPolicy, StoreConfig, connect, migrate,
};
use deadpool_postgres::Pool;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use workers::{Handler, HandlerError, JobContext, PoolConfig, Registry, StopReport, WorkerPool};

pub(crate) const Q: &str = "default";

/// Generous bound on any awaited condition: reached only when something is broken.
pub(crate) const PATIENCE: Duration = Duration::from_secs(20);

pub(crate) fn t0() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000)
}

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

/// A migrated database and a Redis prefix of its own, both removed on drop (also when the
/// test panics). Time is a [`ManualClock`] at [`t0`]; retries back off 5 s, 10 s, … without
/// jitter.
pub(crate) struct Env {
    name: String,
    pub(crate) pool: Pool,
    pub(crate) prefix: String,
    pub(crate) clock: ManualClock,
    pub(crate) store: JobStore,
    pub(crate) queue: RedisQueue,
}

impl Env {
    pub(crate) async fn new() -> Env {
        let name = format!("wk_test_{}", uuid::Uuid::now_v7().simple());
        let admin = connect(&pg("postgres", 1)).unwrap();
        admin
            .get()
            .await
            .expect("PostgreSQL must run on 127.0.0.1:5432 (or set TRADEPLANE_TEST_PG)")
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await
            .unwrap();
        let pool = connect(&pg(&name, 16)).unwrap();
        migrate(&pool).await.unwrap();
        let clock = ManualClock::new(t0());
        let config = StoreConfig {
            retry: RetryPolicy {
                base: Duration::from_secs(5),
                cap: Duration::from_secs(60),
            },
            ..StoreConfig::default()
        };
        let store = JobStore::with_time(
            pool.clone(),
            config,
            Arc::new(clock.clone()),
            Arc::new(NoJitter),
        )
        .unwrap();
        let prefix = format!("t{}", uuid::Uuid::now_v7().simple());
        let redis = RedisConfig {
            url: redis_url(),
            pool_size: 32,
            prefix: prefix.clone(),
            ..RedisConfig::default()
        };
        let queue = RedisQueue::connect(&redis, Arc::new(clock.clone())).unwrap();
        Env {
            name,
            pool,
            prefix,
            clock,
            store,
            queue,
        }
    }

    /// Enqueues and publishes.
    pub(crate) async fn enqueue(&self, jobs: Vec<NewJob>) -> Vec<JobId> {
        let jobs: Vec<Job> = self
            .store
            .enqueue_batch(jobs)
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.job)
            .collect();
        self.queue.publish(&jobs).await.unwrap();
        jobs.iter().map(|j| j.id).collect()
    }

    /// A pool on this environment, running until its token fires.
    pub(crate) fn start(&self, registry: Registry, config: PoolConfig) -> Running {
        let pool =
            WorkerPool::new(self.store.clone(), self.queue.clone(), registry, config).unwrap();
        let worker_id = pool.worker_id().to_owned();
        let stop = CancellationToken::new();
        let task = tokio::spawn(pool.run(stop.clone()));
        Running {
            worker_id,
            stop,
            task,
        }
    }

    /// Waits until `job` satisfies `ready`, returning it.
    pub(crate) async fn job_until(&self, id: JobId, ready: impl Fn(&Job) -> bool) -> Job {
        let store = self.store.clone();
        eventually(
            || {
                let store = store.clone();
                async move { store.get(id).await.ok().map(|d| d.job) }
            },
            &ready,
        )
        .await
    }

    /// How many jobs have `status`.
    pub(crate) async fn count(&self, status: JobStatus) -> i64 {
        let client = self.pool.get().await.unwrap();
        client
            .query_one(
                "SELECT count(*) FROM jobs WHERE status = $1",
                &[&status.as_str()],
            )
            .await
            .unwrap()
            .get(0)
    }

    /// What a Redis restart without persistence (or a flush) does to this test: every key
    /// of its prefix is gone. Returns how many keys were deleted.
    pub(crate) async fn lose_redis(&self) -> usize {
        self.queue.delete_prefix().await.unwrap()
    }

    /// A connection of the test's own to this database, for cutting the pools' connections
    /// and for watching while it does (its own backend is spared).
    pub(crate) fn saboteur(&self) -> Saboteur {
        Saboteur {
            pool: connect(&pg(&self.name, 1)).unwrap(),
            database: self.name.clone(),
        }
    }

    /// How many audit rows of `event` each job has, fewest first: `(min, max)`.
    pub(crate) async fn per_job(&self, event: &str) -> (i64, i64) {
        let client = self.pool.get().await.unwrap();
        let row = client
            .query_one(
                "SELECT coalesce(min(n), 0), coalesce(max(n), 0) FROM (
                     SELECT count(*) FILTER (WHERE event = $1) AS n FROM job_audit GROUP BY job_id
                 ) t",
                &[&event],
            )
            .await
            .unwrap();
        (row.get(0), row.get(1))
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        self.pool.close();
        let name = self.name.clone();
        let prefix = self.prefix.clone();
        let cleanup = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                // A queue handle of this runtime's own: the test's belongs to the test's.
                let redis = RedisConfig {
                    url: redis_url(),
                    prefix,
                    ..RedisConfig::default()
                };
                RedisQueue::connect(&redis, Arc::new(control_plane::SystemClock))
                    .unwrap()
                    .delete_prefix()
                    .await
                    .unwrap();
                let admin = connect(&pg("postgres", 1)).unwrap();
                let client = admin.get().await.unwrap();
                client
                    .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .await
                    .unwrap();
            });
        });
        if cleanup.join().is_err() && !std::thread::panicking() {
            panic!("could not clean up test database {}", self.name);
        }
    }
}

/// A connection outside every pool under test: it terminates their connections and
/// watches the jobs meanwhile.
pub(crate) struct Saboteur {
    pool: Pool,
    database: String,
}

impl Saboteur {
    /// Terminates every other backend connected to the test's database, as an operator's
    /// `pg_terminate_backend`, a failover or a restarted PgBouncer would. Returns how many.
    pub(crate) async fn terminate_backends(&self) -> usize {
        let client = self.pool.get().await.unwrap();
        // The call in the select list runs only for the rows the filter keeps; in WHERE
        // the planner may call it first, on every backend of the shared server.
        let rows = client
            .query(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                 WHERE datname = $1 AND pid <> pg_backend_pid()",
                &[&self.database],
            )
            .await
            .unwrap();
        rows.iter().filter(|r| r.get::<_, bool>(0)).count()
    }

    /// How many jobs have `status`.
    pub(crate) async fn count(&self, status: JobStatus) -> i64 {
        let client = self.pool.get().await.unwrap();
        client
            .query_one(
                "SELECT count(*) FROM jobs WHERE status = $1",
                &[&status.as_str()],
            )
            .await
            .unwrap()
            .get(0)
    }

    /// Waits until the number of jobs with `status` satisfies `ready`.
    pub(crate) async fn count_until(&self, status: JobStatus, ready: impl Fn(&i64) -> bool) -> i64 {
        eventually(|| async { Some(self.count(status).await) }, ready).await
    }
}

/// A handler that waits until the test hands out a permit (never, for a job that must
/// outlive the grace period or be held in flight).
#[derive(Clone)]
pub(crate) struct Gate(pub(crate) Arc<tokio::sync::Semaphore>);

impl Gate {
    pub(crate) fn closed() -> Gate {
        Gate(Arc::new(tokio::sync::Semaphore::new(0)))
    }
}

impl Handler for Gate {
    type Payload = serde::de::IgnoredAny;

    async fn handle(&self, _: &JobContext, _: Self::Payload) -> Result<(), HandlerError> {
        let permit = self
            .0
            .acquire()
            .await
            .map_err(|e| HandlerError::Failed(Box::new(e)))?;
        permit.forget();
        Ok(())
    }
}

/// A pool running in a task.
pub(crate) struct Running {
    pub(crate) worker_id: String,
    pub(crate) stop: CancellationToken,
    pub(crate) task: JoinHandle<StopReport>,
}

impl Running {
    /// Fires the shutdown token and waits (bounded) for the pool's report.
    pub(crate) async fn stop(self) -> StopReport {
        self.stop.cancel();
        tokio::time::timeout(PATIENCE, self.task)
            .await
            .expect("pool stops in time")
            .unwrap()
    }
}

/// Pool timing for tests: short poll blocks (stopping and promotion are quick), a 30 s
/// lease on the injected clock, and a Redis idle threshold equal to it (nothing is
/// reclaimed behind a test's back), no reconciler.
pub(crate) fn pool_config(concurrency: usize) -> PoolConfig {
    PoolConfig {
        queues: vec![Q.to_owned()],
        concurrency,
        queue_concurrency: std::collections::BTreeMap::new(),
        label: "test".to_owned(),
        job_timeout: Duration::from_secs(10),
        shutdown_grace: Duration::from_secs(10),
        poll_block: Duration::from_millis(100),
        reclaim_every: Duration::from_secs(1),
        reconcile_every: None,
        dispatch: DispatchConfig {
            visibility_timeout: Duration::from_secs(30),
            claim_min_idle: Duration::from_secs(30),
            batch: 64,
        },
    }
}

/// Polls `probe` until `ready` holds for its value, within [`PATIENCE`].
pub(crate) async fn eventually<T, F, Fut>(probe: F, ready: impl Fn(&T) -> bool) -> T
where
    F: Fn() -> Fut,
    Fut: Future<Output = Option<T>>,
    T: std::fmt::Debug,
{
    let deadline = tokio::time::Instant::now() + PATIENCE;
    let mut last = None;
    loop {
        if let Some(value) = probe().await {
            if ready(&value) {
                return value;
            }
            last = Some(value);
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "condition not reached; last seen: {last:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
