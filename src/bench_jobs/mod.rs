//! `tradeplane bench-jobs`: the control plane's end-to-end job throughput, with every job's
//! state in PostgreSQL.
//!
//! One run, start to finish:
//!
//! 1. A database of its own (`<configured name>_bench_<run id>`, created and migrated) and a
//!    Redis key prefix of its own, so a run never touches real jobs and leaves nothing
//!    behind (both are removed at the end unless `--keep`).
//! 2. `--workers` real `tradeplane worker` child processes on one queue, each with
//!    `--concurrency` slots, running the `noop` handler.
//! 3. `--jobs` jobs enqueued through the library in batches of `--batch` (one transaction
//!    and one Redis publish per batch), as the API's `POST /v1/jobs` does.
//! 4. With `--kill-every S`, one worker is killed with SIGKILL every S seconds (round robin)
//!    and a new one started: its attempts are reclaimed after the visibility timeout.
//! 5. The figures come from PostgreSQL, not from the workers' word: throughput from the
//!    first enqueue to the last recorded success, enqueue-to-start latency from each job's
//!    first `started` audit row, `lost` = jobs not succeeded, `duplicates` = runs the
//!    audit trail cannot account for (a success recorded twice, or a start again with no
//!    failure, hand-back or reclaim before it); re-runs it does explain are `reruns`.

mod fleet;
mod report;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use control_plane::{
    JobStore, NewJob, PgConfig, RedisConfig, RedisQueue, StoreConfig, SystemClock,
};
use tokio_util::sync::CancellationToken;

pub use report::Report;

/// The one queue a run uses.
pub const QUEUE: &str = "bench";

/// A run's settings.
#[derive(Debug, Clone)]
pub struct BenchJobsConfig {
    /// The PostgreSQL server (the database name in the URL is the stem of the run's own).
    pub postgres: PgConfig,
    /// The Redis server (the prefix is replaced by the run's own).
    pub redis: RedisConfig,
    /// Jobs to run.
    pub jobs: usize,
    /// Worker processes.
    pub workers: usize,
    /// Slots per worker process.
    pub concurrency: usize,
    /// Jobs per enqueue transaction.
    pub batch: usize,
    /// Kill a worker with SIGKILL (and start another) this often.
    pub kill_every: Option<Duration>,
    /// How long the run may go without a job finishing before it gives up and reports
    /// what is missing as lost.
    pub stall_timeout: Duration,
    /// Keep the database and Redis keys afterwards (for inspection).
    pub keep: bool,
    /// The `tradeplane` executable that runs the workers.
    pub exe: PathBuf,
    /// A progress bar on standard error.
    pub progress: bool,
}

/// Why a run could not be done.
#[derive(Debug, thiserror::Error)]
pub enum BenchJobsError {
    /// Bad flags.
    #[error("{0}")]
    Config(String),
    /// PostgreSQL or Redis failed (the message names the step).
    #[error("{step}: {source}")]
    Store {
        /// What was being done.
        step: &'static str,
        /// The failure.
        source: control_plane::Error,
    },
    /// A worker process could not be started.
    #[error("worker process: {0}")]
    Worker(#[from] std::io::Error),
    /// Anything else, described.
    #[error("{0}")]
    Other(String),
}

fn store_err(step: &'static str) -> impl FnOnce(control_plane::Error) -> BenchJobsError {
    move |source| BenchJobsError::Store { step, source }
}

/// Runs the benchmark (module docs) and reports. `shutdown` cuts the run short: the report
/// then counts what had not finished as lost.
///
/// # Errors
/// [`BenchJobsError`] when the run cannot be set up.
pub async fn run(
    config: BenchJobsConfig,
    shutdown: CancellationToken,
) -> Result<Report, BenchJobsError> {
    if config.jobs == 0 || config.workers == 0 || config.concurrency == 0 || config.batch == 0 {
        return Err(BenchJobsError::Config(
            "--jobs, --workers, --concurrency and --batch must be positive".into(),
        ));
    }
    if config.batch > control_plane::store::MAX_BATCH {
        return Err(BenchJobsError::Config(format!(
            "--batch is at most {}",
            control_plane::store::MAX_BATCH
        )));
    }
    let run_id = run_id();
    let postgres = PgConfig {
        url: with_database(&config.postgres.url, &run_id)?,
        pool_size: config.postgres.pool_size.max(4),
        ..config.postgres.clone()
    };
    let redis = RedisConfig {
        prefix: format!("bench-{run_id}"),
        ..config.redis.clone()
    };
    crate::migrate::run(&postgres, true)
        .await
        .map_err(|e| BenchJobsError::Other(e.to_string()))?;
    let outcome = measure(&config, &run_id, &postgres, &redis, &shutdown).await;
    if config.keep {
        eprintln!(
            "kept: database {:?}, Redis prefix {:?}",
            database_name(&postgres.url),
            redis.prefix
        );
    } else {
        cleanup(&postgres, &redis).await;
    }
    outcome
}

async fn measure(
    config: &BenchJobsConfig,
    run_id: &str,
    postgres: &PgConfig,
    redis: &RedisConfig,
    shutdown: &CancellationToken,
) -> Result<Report, BenchJobsError> {
    let pool = control_plane::connect(postgres).map_err(store_err("connecting to PostgreSQL"))?;
    let store = JobStore::new(pool.clone(), StoreConfig::default())
        .map_err(store_err("opening the store"))?;
    let queue = RedisQueue::connect(redis, Arc::new(SystemClock))
        .map_err(store_err("connecting to Redis"))?;
    queue
        .ensure_group(QUEUE)
        .await
        .map_err(store_err("creating the consumer group"))?;

    let mut fleet = fleet::Fleet::start(&config.exe, config, postgres, redis)?;
    fleet
        .wait_polling(&queue, Duration::from_secs(30))
        .await
        .map_err(BenchJobsError::Other)?;

    let started = Instant::now();
    let started_wall = std::time::SystemTime::now();
    // Workers run from the first batch on; the watch starts once everything is enqueued
    // (before that, "nothing unfinished" would not mean "done").
    let work = async {
        let enqueued = enqueue_all(store.clone(), queue.clone(), config.jobs, config.batch).await?;
        let finished = report::watch(
            &pool,
            config.stall_timeout,
            config.progress,
            enqueued,
            shutdown,
        )
        .await
        .map_err(store_err("watching progress"))?;
        Ok::<_, BenchJobsError>((enqueued, finished))
    };
    let outcome = tokio::select! {
        outcome = work => outcome,
        never = fleet.kill_every(config.kill_every, shutdown) => match never {},
    };
    let kills = fleet.kills();
    drop(fleet);
    let (enqueued, finished) = outcome?;
    let wall = started.elapsed();
    report::collect(
        run_id.to_owned(),
        &pool,
        enqueued,
        started_wall,
        finished,
        wall,
        kills,
    )
    .await
    .map_err(store_err("reading the results"))
}

/// Enqueues `jobs` noop jobs in batches and publishes each batch after its commit.
async fn enqueue_all(
    store: JobStore,
    queue: RedisQueue,
    jobs: usize,
    batch: usize,
) -> Result<usize, BenchJobsError> {
    let mut done = 0;
    while done < jobs {
        let n = batch.min(jobs - done);
        let batch: Vec<NewJob> = (0..n)
            .map(|_| NewJob::new(QUEUE, "noop", serde_json::Value::Null))
            .collect();
        let enqueued = store
            .enqueue_batch(batch)
            .await
            .map_err(store_err("enqueueing"))?;
        let jobs: Vec<_> = enqueued.into_iter().map(|e| e.job).collect();
        queue
            .publish(&jobs)
            .await
            .map_err(store_err("publishing"))?;
        done += n;
    }
    Ok(done)
}

/// A short id for the run's database and key prefix: hex of the time and the process id.
fn run_id() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("{:x}{:x}", nanos & 0xffff_ffff_ffff, std::process::id())
}

/// `url` with its database replaced by `<its database>_bench_<run_id>`.
fn with_database(url: &str, run_id: &str) -> Result<String, BenchJobsError> {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let Some((scheme, rest)) = base.split_once("://") else {
        return Err(BenchJobsError::Config(
            "postgres.url must look like postgres://user@host:port/database".into(),
        ));
    };
    let host = rest.split('/').next().unwrap_or(rest);
    let stem = rest
        .split_once('/')
        .map(|(_, db)| db)
        .filter(|db| !db.is_empty())
        .unwrap_or("tradeplane");
    let mut out = format!("{scheme}://{host}/{stem}_bench_{run_id}");
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    Ok(out)
}

fn database_name(url: &str) -> String {
    url.split('?')
        .next()
        .and_then(|base| base.rsplit_once('/'))
        .map_or_else(String::new, |(_, db)| db.to_owned())
}

/// Drops the run's database and deletes its Redis keys; failures are reported, not fatal.
async fn cleanup(postgres: &PgConfig, redis: &RedisConfig) {
    if let Err(e) = crate::migrate::drop_database(postgres).await {
        eprintln!(
            "could not drop database {}: {e}",
            database_name(&postgres.url)
        );
    }
    let deleted = async {
        RedisQueue::connect(redis, Arc::new(SystemClock))?
            .delete_prefix()
            .await
    };
    if let Err(e) = deleted.await {
        eprintln!("could not delete Redis prefix {}: {e}", redis.prefix);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_run_gets_a_database_of_its_own() {
        assert_eq!(
            with_database("postgres://postgres@127.0.0.1:5432/tradeplane", "ab12").unwrap(),
            "postgres://postgres@127.0.0.1:5432/tradeplane_bench_ab12"
        );
        assert_eq!(
            with_database("postgres://u:p@h/db?sslmode=disable", "x").unwrap(),
            "postgres://u:p@h/db_bench_x?sslmode=disable"
        );
        assert_eq!(
            with_database("postgres://h:5432", "x").unwrap(),
            "postgres://h:5432/tradeplane_bench_x"
        );
        assert!(with_database("not a url", "x").is_err());
        assert_eq!(database_name("postgres://h/db_bench_x?a=b"), "db_bench_x");
    }
}
