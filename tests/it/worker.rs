//! `tradeplane worker` as real child processes on the real PostgreSQL and Redis: a worker
//! killed with SIGKILL mid-job loses nothing (another completes the job after the
//! visibility timeout); SIGTERM during load exits 0 with every job done exactly once,
//! nothing dead-lettered, and what was handed back run elsewhere on its unspent attempt;
//! and a worker whose PostgreSQL connections are all cut, again and again, keeps running.

use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::Arc;
use std::time::Duration;

use control_plane::{
    AuditKind, Job, JobId, JobStatus, JobStore, NewJob, PgConfig, RedisConfig, RedisQueue,
    StoreConfig, SystemClock,
};
use serde_json::json;

use super::cleanup::{POSTGRES as SERVER, REDIS};
/// Bound on every awaited condition: reached only when something is broken.
const PATIENCE: Duration = Duration::from_secs(30);

/// A migrated database and a Redis prefix of its own, removed on drop.
struct Env {
    name: String,
    prefix: String,
    store: JobStore,
    queue: RedisQueue,
    logs: tempfile::TempDir,
}

impl Env {
    async fn new() -> Env {
        let nanos = std::time::SystemTime::UNIX_EPOCH
            .elapsed()
            .unwrap()
            .as_nanos();
        let name = format!("tp_it_worker_{}_{nanos}", std::process::id());
        let admin = control_plane::connect(&pg(&format!("{SERVER}/postgres"))).unwrap();
        admin
            .get()
            .await
            .unwrap()
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await
            .unwrap();
        let pool = control_plane::connect(&pg(&format!("{SERVER}/{name}"))).unwrap();
        control_plane::migrate(&pool).await.unwrap();
        let store = JobStore::new(pool, StoreConfig::default()).unwrap();
        let prefix = format!("tpit{}-{nanos}", std::process::id());
        let redis = RedisConfig {
            url: REDIS.into(),
            prefix: prefix.clone(),
            ..RedisConfig::default()
        };
        let queue = RedisQueue::connect(&redis, Arc::new(SystemClock)).unwrap();
        Env {
            name,
            prefix,
            store,
            queue,
            logs: tempfile::tempdir().unwrap(),
        }
    }

    async fn enqueue(&self, jobs: Vec<NewJob>) -> Vec<JobId> {
        let mut ids = Vec::new();
        for chunk in jobs.chunks(500) {
            let jobs: Vec<Job> = self
                .store
                .enqueue_batch(chunk.to_vec())
                .await
                .unwrap()
                .into_iter()
                .map(|e| e.job)
                .collect();
            self.queue.publish(&jobs).await.unwrap();
            ids.extend(jobs.iter().map(|j| j.id));
        }
        ids
    }

    /// Starts `tradeplane worker` on this environment; `env` adds `TRADEPLANE_WORKER__*`
    /// settings. Logs go to a file (a full pipe would block the child).
    fn worker(&self, label: &str, env: &[(&str, &str)]) -> Child {
        let mut c = Command::new(env!("CARGO_BIN_EXE_tradeplane"));
        for (k, _) in std::env::vars() {
            if k.starts_with("TRADEPLANE_") {
                c.env_remove(k);
            }
        }
        let log = std::fs::File::create(self.logs.path().join(format!("{label}.log"))).unwrap();
        c.args([
            "--log-format",
            "pretty",
            "worker",
            "--concurrency",
            "8",
            "--queue",
            "default",
        ])
        .env(
            "TRADEPLANE_POSTGRES__URL",
            format!("{SERVER}/{}", self.name),
        )
        .env("TRADEPLANE_REDIS__URL", REDIS)
        .env("TRADEPLANE_REDIS__PREFIX", &self.prefix)
        .env("TRADEPLANE_WORKER__NAME", label)
        .env("TRADEPLANE_WORKER__POLL_BLOCK_MS", "100")
        .env("TRADEPLANE_WORKER__RECLAIM_EVERY_MS", "200")
        .stdout(Stdio::null())
        .stderr(log);
        for (k, v) in env {
            c.env(format!("TRADEPLANE_WORKER__{k}"), v);
        }
        c.spawn().unwrap()
    }

    fn log(&self, label: &str) -> String {
        std::fs::read_to_string(self.logs.path().join(format!("{label}.log"))).unwrap_or_default()
    }

    async fn job_until(&self, id: JobId, ready: impl Fn(&Job) -> bool) -> Job {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            let job = self.store.get(id).await.unwrap().job;
            if ready(&job) {
                return job;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "not reached: {job:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Waits until the worker labelled `label` has just started a job that sleeps 1 s or
    /// more (at least 800 ms of it left), and returns such jobs with that worker's id.
    async fn long_job_running_on(&self, label: &str) -> Vec<(String, String)> {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            let client = self.store.pool().get().await.unwrap();
            let rows = client
                .query(
                    "SELECT id::text, worker_id FROM jobs
                     WHERE status = 'running' AND worker_id LIKE $1 || '-%'
                       AND (payload->>'ms')::int >= 1000
                       AND started_at > clock_timestamp() - interval '200 milliseconds'",
                    &[&label],
                )
                .await
                .unwrap();
            if !rows.is_empty() {
                return rows.iter().map(|r| (r.get(0), r.get(1))).collect();
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{label} never ran a long job"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    async fn count(&self, sql: &str) -> i64 {
        let client = self.store.pool().get().await.unwrap();
        client.query_one(sql, &[]).await.unwrap().get(0)
    }

    async fn count_until(&self, sql: &str, ready: impl Fn(i64) -> bool) -> i64 {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            let n = self.count(sql).await;
            if ready(n) {
                return n;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "not reached: {sql} = {n}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        self.store.pool().close();
        super::cleanup::remove(Some(&self.name), Some(&self.prefix));
    }
}

fn pg(url: &str) -> PgConfig {
    PgConfig {
        url: url.to_owned(),
        pool_size: 4,
        ..PgConfig::default()
    }
}

/// Sends SIGTERM (through kill(1): std has no way to send it) and waits, bounded, for exit.
async fn terminate(child: &mut Child) -> ExitStatus {
    let sent = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    exited(child).await
}

async fn exited(child: &mut Child) -> ExitStatus {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "worker did not exit"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_worker_killed_mid_job_loses_nothing_another_completes_it() {
    let env = Env::new().await;
    // A 3 s lease; attempts are cut at 2 s, the sleep takes 1.5 s.
    let short = [
        ("VISIBILITY_TIMEOUT_MS", "3000"),
        ("JOB_TIMEOUT_MS", "2000"),
    ];
    let mut first = env.worker("first", &short);
    let slow = env
        .enqueue(vec![NewJob::new("default", "sleep", json!({"ms": 1500}))])
        .await[0];
    let running = env
        .job_until(slow, |j| j.status == JobStatus::Running)
        .await;
    first.kill().unwrap();
    first.wait().unwrap();
    let more = env
        .enqueue(
            (0..20)
                .map(|i| NewJob::new("default", "noop", json!({"i": i})))
                .collect(),
        )
        .await;

    let mut second = env.worker("second", &short);
    let done = env
        .job_until(slow, |j| j.status == JobStatus::Succeeded)
        .await;
    for id in more {
        env.job_until(id, |j| j.status == JobStatus::Succeeded)
            .await;
    }
    let status = terminate(&mut second).await;
    assert!(status.success(), "{status:?}\n{}", env.log("second"));

    assert_eq!(
        done.attempt, 2,
        "the lost attempt counts; the second ran it"
    );
    assert_ne!(done.worker_id, running.worker_id);
    let kinds: Vec<AuditKind> = env
        .store
        .audit_trail(slow)
        .await
        .unwrap()
        .iter()
        .map(|a| a.kind)
        .collect();
    use AuditKind::*;
    assert_eq!(kinds, [Enqueued, Started, Reclaimed, Started, Succeeded]);
    assert_eq!(
        env.count("SELECT count(*) FROM jobs WHERE status <> 'succeeded'")
            .await,
        0
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_during_load_exits_zero_and_loses_nothing() {
    let env = Env::new().await;
    const JOBS: i64 = 400;
    // A short grace, so jobs in flight at SIGTERM are handed back rather than awaited.
    let settings = [
        ("VISIBILITY_TIMEOUT_MS", "5000"),
        ("JOB_TIMEOUT_MS", "3000"),
        ("SHUTDOWN_GRACE_MS", "100"),
    ];
    let mut a = env.worker("a", &settings);
    let mut b = env.worker("b", &settings);
    // Every 40th job outlasts the grace many times over: each worker is stopped while it
    // runs one, so each stop certainly hands work back.
    env.enqueue(
        (0..JOBS)
            .map(|i| {
                let ms = if i % 40 == 20 { 1000 } else { 20 + i % 7 * 30 };
                NewJob::new("default", "sleep", json!({ "ms": ms }))
            })
            .collect(),
    )
    .await;
    let succeeded = "SELECT count(*) FROM jobs WHERE status = 'succeeded'";
    env.count_until(succeeded, |n| n >= JOBS / 4).await;
    let mut held = env.long_job_running_on("a").await;
    let status = terminate(&mut a).await;
    assert!(status.success(), "{status:?}\n{}", env.log("a"));

    env.count_until(succeeded, |n| n >= JOBS * 3 / 4).await;
    held.extend(env.long_job_running_on("b").await);
    let status = terminate(&mut b).await;
    assert!(status.success(), "{status:?}\n{}", env.log("b"));
    // Whatever b handed back, a third worker finishes.
    let mut c = env.worker("c", &settings);
    env.count_until(succeeded, |n| n == JOBS).await;
    let status = terminate(&mut c).await;
    assert!(status.success(), "{status:?}\n{}", env.log("c"));

    assert_eq!(
        env.count("SELECT count(*) FROM jobs WHERE status = 'dead'")
            .await,
        0
    );
    let audit = |event: &str| format!("SELECT count(*) FROM job_audit WHERE event = '{event}'");
    assert_eq!(
        env.count(&audit("succeeded")).await,
        JOBS,
        "each job succeeded exactly once"
    );
    assert_eq!(env.count(&audit("failed")).await, 0);
    assert_eq!(
        env.count(&audit("reclaimed")).await,
        0,
        "nothing waited out a lease"
    );
    let released = env.count(&audit("released")).await;
    // Every start is either the one that succeeded or one that was handed back.
    assert_eq!(env.count(&audit("started")).await, JOBS + released);
    assert_eq!(
        env.count("SELECT count(*) FROM jobs WHERE attempt <> 1")
            .await,
        0,
        "a handed-back attempt is not spent"
    );
    // The long jobs each stopped worker held were handed back by it, then finished.
    let client = env.store.pool().get().await.unwrap();
    for (id, worker) in &held {
        let trail: Vec<(String, Option<String>)> = client
            .query(
                "SELECT event, worker_id FROM job_audit WHERE job_id::text = $1 ORDER BY id",
                &[id],
            )
            .await
            .unwrap()
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect();
        let events: Vec<&str> = trail.iter().map(|(e, _)| e.as_str()).collect();
        assert_eq!(
            events[..3],
            ["enqueued", "started", "released"],
            "{id}: {trail:?}"
        );
        assert_eq!(trail[2].1.as_ref(), Some(worker), "{id}: {trail:?}");
        assert_eq!(events[events.len() - 2..], ["started", "succeeded"], "{id}");
    }
    eprintln!("released on SIGTERM: {released}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_worker_serves_its_job_series_on_metrics_listen() {
    let env = Env::new().await;
    // A free port (the worker binds it again at once; nothing else here takes ports).
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let listen = format!("127.0.0.1:{port}");
    let mut worker = env.worker("metrics", &[("METRICS_LISTEN", listen.as_str())]);
    let ids = env
        .enqueue(
            (0..5)
                .map(|i| NewJob::new("default", "noop", json!({"i": i})))
                .collect(),
        )
        .await;
    for id in ids {
        env.job_until(id, |j| j.status == JobStatus::Succeeded)
            .await;
    }
    let http = reqwest::Client::new();
    let want = [
        "jobs_started_total{queue=\"default\",type=\"noop\"} 5",
        "jobs_succeeded_total{queue=\"default\",type=\"noop\"} 5",
        "jobs_start_delay_seconds_count{queue=\"default\"} 5",
        "jobs_queue_depth{queue=\"default\",state=\"pending\"} 0",
    ];
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let text = match http.get(format!("http://{listen}/metrics")).send().await {
            Ok(res) => res.text().await.unwrap(),
            Err(_) => String::new(),
        };
        if want.iter().all(|w| text.contains(w)) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "missing series in:\n{text}\n{}",
            env.log("metrics")
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let health = http
        .get(format!("http://{listen}/healthz"))
        .send()
        .await
        .unwrap();
    assert!(health.status().is_success());
    let status = terminate(&mut worker).await;
    assert!(status.success(), "{status:?}\n{}", env.log("metrics"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_worker_whose_postgres_connections_are_cut_mid_run_loses_nothing_and_exits_zero() {
    let env = Env::new().await;
    const JOBS: i64 = 300;
    const ROUNDS: i64 = 6;
    // Default lease (45 s) and so default Redis idle threshold: anything the worker failed
    // to start or record would wait longer than this test may take.
    let mut worker = env.worker("w", &[]);
    env.enqueue(
        (0..JOBS)
            .map(|i| NewJob::new("default", "sleep", json!({ "ms": 10 + i % 4 * 10 })))
            .collect(),
    )
    .await;
    // A connection of the test's own: it cuts every other one of the database (the
    // worker's, and the idle ones of this test's store) and watches meanwhile.
    let side = control_plane::connect(&pg(&format!("{SERVER}/{}", env.name))).unwrap();
    let client = side.get().await.unwrap();
    let succeeded = async || -> i64 {
        client
            .query_one("SELECT count(*) FROM jobs WHERE status = 'succeeded'", &[])
            .await
            .unwrap()
            .get(0)
    };
    let deadline = tokio::time::Instant::now() + PATIENCE;
    let mut cut = Vec::new();
    for round in 1..=ROUNDS + 1 {
        let progress = JOBS * round / (ROUNDS + 1);
        loop {
            let n = succeeded().await;
            if n >= progress {
                break;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "stuck at {n} succeeded\n{}",
                env.log("w")
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        if round <= ROUNDS {
            // The call in the select list runs only for the rows the filter keeps; in WHERE
            // the planner may call it first, on every backend of the shared server.
            let rows = client
                .query(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                     WHERE datname = $1 AND pid <> pg_backend_pid()",
                    &[&env.name],
                )
                .await
                .unwrap();
            cut.push(rows.iter().filter(|r| r.get::<_, bool>(0)).count());
        }
    }
    assert!(cut.iter().all(|&n| n >= 1), "{cut:?}");
    assert!(
        worker.try_wait().unwrap().is_none(),
        "the worker kept running"
    );
    let status = terminate(&mut worker).await;
    assert!(status.success(), "{status:?}\n{}", env.log("w"));

    let count = async |sql: &str| -> i64 { client.query_one(sql, &[]).await.unwrap().get(0) };
    let audit = |event: &str| format!("SELECT count(*) FROM job_audit WHERE event = '{event}'");
    assert_eq!(count(&audit("started")).await, JOBS, "each started once");
    assert_eq!(
        count(&audit("succeeded")).await,
        JOBS,
        "each succeeded once"
    );
    for event in ["failed", "reclaimed", "released", "dead_lettered"] {
        assert_eq!(count(&audit(event)).await, 0, "{event}");
    }
    let log = env.log("w");
    assert!(
        log.contains("terminating connection due to administrator command")
            || log.contains("connection closed"),
        "the cuts reached the worker:\n{log}"
    );
    eprintln!("connections cut per round: {cut:?}");
}
