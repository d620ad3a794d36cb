//! Watching a run to its end, and its figures, read from PostgreSQL.

use std::time::{Duration, Instant, SystemTime};

use deadpool_postgres::Pool;
use tokio_util::sync::CancellationToken;

/// How often the watch counts unfinished jobs.
const WATCH_EVERY: Duration = Duration::from_millis(200);

/// What a run measured.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// The run's id (its database is `…_bench_<run>`, its Redis prefix `bench-<run>`).
    pub run: String,
    /// Jobs enqueued.
    pub jobs: u64,
    /// Jobs whose success is recorded.
    pub succeeded: u64,
    /// Jobs that became dead letters (a noop job never should).
    pub dead: u64,
    /// From the first enqueue to the last recorded success.
    pub elapsed: Duration,
    /// Enqueue to first start, median, in milliseconds.
    pub start_p50_ms: f64,
    /// Enqueue to first start, 99th percentile, in milliseconds.
    pub start_p99_ms: f64,
    /// Jobs not succeeded when the run ended.
    pub lost: u64,
    /// Runs nobody can account for: successes recorded twice, or attempts started again
    /// without a failure, hand-back or reclaim in the audit trail to say why.
    pub duplicates: u64,
    /// Attempts started beyond one per job (a killed worker's attempts, run again).
    pub reruns: u64,
    /// Workers killed.
    pub kills: u64,
    /// Whether every job finished (else the run stalled or was stopped).
    pub finished: bool,
    /// Wall time of the whole run, set-up excluded.
    pub wall: Duration,
}

impl Report {
    /// Successful jobs per second from the first enqueue to the last success.
    #[must_use]
    pub fn jobs_per_second(&self) -> u64 {
        crate::loadgen::report::per_second(self.succeeded, self.elapsed)
    }

    /// The context line printed before the last one.
    #[must_use]
    pub fn detail(&self) -> String {
        format!(
            "run={} kills={} reruns={} dead={} finished={} wall_s={:.1}",
            self.run,
            self.kills,
            self.reruns,
            self.dead,
            self.finished,
            self.wall.as_secs_f64()
        )
    }

    /// The benchmark's last line.
    #[must_use]
    pub fn line(&self) -> String {
        format!(
            "bench=jobs jobs={} jobs_per_s={} start_p50_ms={:.2} start_p99_ms={:.2} lost={} \
             duplicates={}",
            self.jobs,
            self.jobs_per_second(),
            self.start_p50_ms,
            self.start_p99_ms,
            self.lost,
            self.duplicates
        )
    }
}

/// Waits until no job is unfinished (`true`), or until none finished for `stall` or the
/// run is stopped (`false`).
pub(super) async fn watch(
    pool: &Pool,
    stall: Duration,
    progress: bool,
    jobs: usize,
    shutdown: &CancellationToken,
) -> control_plane::Result<bool> {
    let bar = progress.then(|| {
        let bar = indicatif::ProgressBar::new(jobs as u64);
        bar.set_style(
            indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} jobs {per_sec}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        bar
    });
    let mut last = u64::MAX;
    let mut last_change = Instant::now();
    let done = loop {
        let client = pool.get().await?;
        let unfinished: i64 = client
            .query_one(
                "SELECT count(*) FROM jobs WHERE status IN ('queued', 'scheduled', 'running')",
                &[],
            )
            .await?
            .try_get(0)?;
        drop(client);
        let unfinished = u64::try_from(unfinished).unwrap_or(0);
        if let Some(bar) = &bar {
            bar.set_position((jobs as u64).saturating_sub(unfinished));
        }
        if unfinished == 0 {
            break true;
        }
        if unfinished != last {
            last = unfinished;
            last_change = Instant::now();
        } else if last_change.elapsed() > stall {
            eprintln!("no job finished for {stall:?}: {unfinished} unfinished");
            break false;
        }
        tokio::select! {
            () = shutdown.cancelled() => break false,
            () = tokio::time::sleep(WATCH_EVERY) => {}
        }
    };
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    Ok(done)
}

/// Reads the run's figures from the store.
pub(super) async fn collect(
    run: String,
    pool: &Pool,
    jobs: usize,
    started: SystemTime,
    finished: bool,
    wall: Duration,
    kills: u64,
) -> control_plane::Result<Report> {
    let client = pool.get().await?;
    let totals = client
        .query_one(
            "SELECT count(*) FILTER (WHERE status = 'succeeded'),
                    count(*) FILTER (WHERE status = 'dead'),
                    max(finished_at) FILTER (WHERE status = 'succeeded')
             FROM jobs",
            &[],
        )
        .await?;
    let succeeded: i64 = totals.try_get(0)?;
    let dead: i64 = totals.try_get(1)?;
    let last: Option<SystemTime> = totals.try_get(2)?;
    // A duplicate is a run nobody can account for: a success recorded twice, or an
    // attempt started again without the audit trail saying why (a failure, a hand-back,
    // or a reclaim after its worker died). Re-runs the trail explains are at-least-once
    // doing its job, and are reported apart (`reruns`).
    let duplicates: i64 = client
        .query_one(
            "SELECT coalesce(sum(greatest(succeeded - 1, 0)
                               + greatest(started - 1 - explained, 0)), 0)::int8
             FROM (SELECT job_id,
                          count(*) FILTER (WHERE event = 'succeeded') AS succeeded,
                          count(*) FILTER (WHERE event = 'started') AS started,
                          count(*) FILTER (WHERE event IN ('failed', 'released', 'reclaimed'))
                              AS explained
                   FROM job_audit GROUP BY job_id) d",
            &[],
        )
        .await?
        .try_get(0)?;
    let starts = client
        .query_one(
            "SELECT percentile_cont(ARRAY[0.5, 0.99]::float8[]) WITHIN GROUP (ORDER BY ms),
                    coalesce(sum(starts) - count(*), 0)::int8
             FROM (SELECT extract(epoch FROM min(a.at) - j.created_at)::float8 * 1000 AS ms,
                          count(*) AS starts
                   FROM jobs j JOIN job_audit a ON a.job_id = j.id AND a.event = 'started'
                   GROUP BY j.id, j.created_at) s",
            &[],
        )
        .await?;
    let quantiles: Option<Vec<f64>> = starts.try_get(0)?;
    let reruns: i64 = starts.try_get(1)?;
    let quantiles = quantiles.unwrap_or_default();
    let count = |n: i64| u64::try_from(n).unwrap_or(0);
    let succeeded = count(succeeded);
    let jobs = jobs as u64;
    Ok(Report {
        run,
        jobs,
        succeeded,
        dead: count(dead),
        elapsed: last
            .and_then(|last| last.duration_since(started).ok())
            .unwrap_or_default(),
        start_p50_ms: quantiles.first().copied().unwrap_or(0.0),
        start_p99_ms: quantiles.get(1).copied().unwrap_or(0.0),
        lost: jobs.saturating_sub(succeeded),
        duplicates: count(duplicates),
        reruns: count(reruns),
        kills,
        finished,
        wall,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_line_has_the_documented_shape() {
        let report = Report {
            run: "ab".into(),
            jobs: 1000,
            succeeded: 1000,
            dead: 0,
            elapsed: Duration::from_millis(250),
            start_p50_ms: 1.234,
            start_p99_ms: 12.5,
            lost: 0,
            duplicates: 0,
            reruns: 3,
            kills: 1,
            finished: true,
            wall: Duration::from_secs(1),
        };
        assert_eq!(
            report.line(),
            "bench=jobs jobs=1000 jobs_per_s=4000 start_p50_ms=1.23 start_p99_ms=12.50 lost=0 \
             duplicates=0"
        );
        assert_eq!(
            report.detail(),
            "run=ab kills=1 reruns=3 dead=0 finished=true wall_s=1.0"
        );
    }
}
