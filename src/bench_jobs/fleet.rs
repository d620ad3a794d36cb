//! The worker processes of a run: started as real `tradeplane worker` children, killed
//! with SIGKILL on schedule and replaced, stopped at the end.

use std::convert::Infallible;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use control_plane::{PgConfig, RedisConfig, RedisQueue};
use tokio_util::sync::CancellationToken;

use super::{BenchJobsConfig, QUEUE};

/// How long an attempt may run in the bench's workers, and how soon a killed worker's
/// attempts are reclaimed: short, so a `--kill-every` run is not mostly waiting (the
/// production defaults are 30 s and 45 s).
const JOB_TIMEOUT_MS: u64 = 2_000;
const VISIBILITY_TIMEOUT_MS: u64 = 4_000;
const RECLAIM_EVERY_MS: u64 = 500;

/// The running worker processes.
#[derive(Debug)]
pub(super) struct Fleet {
    exe: PathBuf,
    env: Vec<(&'static str, String)>,
    args: Vec<String>,
    children: Vec<Child>,
    next_victim: usize,
    kills: u64,
}

impl Fleet {
    /// Starts `config.workers` workers on the run's database, prefix and queue.
    pub(super) fn start(
        exe: &Path,
        config: &BenchJobsConfig,
        postgres: &PgConfig,
        redis: &RedisConfig,
    ) -> std::io::Result<Self> {
        let env = vec![
            ("TRADEPLANE_POSTGRES__URL", postgres.url.clone()),
            (
                "TRADEPLANE_POSTGRES__POOL_SIZE",
                (config.concurrency / 4).clamp(4, 16).to_string(),
            ),
            ("TRADEPLANE_REDIS__URL", redis.url.clone()),
            ("TRADEPLANE_REDIS__PREFIX", redis.prefix.clone()),
            ("TRADEPLANE_WORKER__NAME", "bench".to_owned()),
            (
                "TRADEPLANE_WORKER__JOB_TIMEOUT_MS",
                JOB_TIMEOUT_MS.to_string(),
            ),
            (
                "TRADEPLANE_WORKER__VISIBILITY_TIMEOUT_MS",
                VISIBILITY_TIMEOUT_MS.to_string(),
            ),
            (
                "TRADEPLANE_WORKER__RECLAIM_EVERY_MS",
                RECLAIM_EVERY_MS.to_string(),
            ),
            ("RUST_LOG", "error".to_owned()),
        ];
        let args = vec![
            "worker".to_owned(),
            "--queue".to_owned(),
            QUEUE.to_owned(),
            "--concurrency".to_owned(),
            config.concurrency.to_string(),
        ];
        let mut fleet = Fleet {
            exe: exe.to_owned(),
            env,
            args,
            children: Vec::with_capacity(config.workers),
            next_victim: 0,
            kills: 0,
        };
        for _ in 0..config.workers {
            let child = fleet.spawn()?;
            fleet.children.push(child);
        }
        Ok(fleet)
    }

    fn spawn(&self) -> std::io::Result<Child> {
        let mut command = Command::new(&self.exe);
        command
            .args(&self.args)
            .env_remove("TRADEPLANE_CONFIG")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        for (key, value) in &self.env {
            command.env(key, value);
        }
        command.spawn()
    }

    /// Waits until every worker reads the queue (its consumer shows in the group), so the
    /// clock starts with the fleet in place.
    pub(super) async fn wait_polling(
        &mut self,
        queue: &RedisQueue,
        limit: Duration,
    ) -> Result<(), String> {
        let deadline = Instant::now() + limit;
        loop {
            for child in &mut self.children {
                if let Ok(Some(status)) = child.try_wait() {
                    return Err(format!("a worker exited at start-up ({status})"));
                }
            }
            let consumers = queue
                .consumers(QUEUE)
                .await
                .map_err(|e| format!("reading the consumer group: {e}"))?;
            if consumers >= self.children.len() {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "only {consumers} of {} workers polling after {limit:?}",
                    self.children.len()
                ));
            }
            // A benchmark's set-up, not a test: polling the group is the signal there is.
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Every `every`, kills the next worker with SIGKILL and starts a replacement; never
    /// returns (the run drops it). Without `every`, waits forever.
    pub(super) async fn kill_every(
        &mut self,
        every: Option<Duration>,
        shutdown: &CancellationToken,
    ) -> Infallible {
        let Some(every) = every else {
            return std::future::pending().await;
        };
        let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        loop {
            tokio::select! {
                () = shutdown.cancelled() => return std::future::pending().await,
                _ = tick.tick() => {}
            }
            let i = self.next_victim % self.children.len();
            self.next_victim += 1;
            let victim = &mut self.children[i];
            let _ = victim.kill();
            let _ = victim.wait();
            self.kills += 1;
            match self.spawn() {
                Ok(child) => self.children[i] = child,
                Err(e) => eprintln!("could not restart a killed worker: {e}"),
            }
        }
    }

    /// Workers killed so far.
    pub(super) fn kills(&self) -> u64 {
        self.kills
    }
}

/// Kills every worker when the run ends, however it ends (nothing is left in flight that
/// matters: the figures come from the store).
impl Drop for Fleet {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
