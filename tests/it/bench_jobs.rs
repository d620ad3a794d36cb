//! `tradeplane bench-jobs` as a real child process on the real PostgreSQL and Redis: its
//! last line has the documented shape and reports every job done exactly once, with and
//! without workers killed mid-run, and the run leaves no database and no Redis key behind.

use std::process::Command;

use super::cleanup::{POSTGRES, REDIS};

/// The figures of the last line, strictly parsed.
#[derive(Debug)]
struct Line {
    jobs: u64,
    jobs_per_s: u64,
    start_p50_ms: f64,
    start_p99_ms: f64,
    lost: u64,
    duplicates: u64,
}

fn parse(line: &str) -> Line {
    let fields: Vec<(&str, &str)> = line
        .split(' ')
        .map(|kv| kv.split_once('=').unwrap())
        .collect();
    let keys: Vec<&str> = fields.iter().map(|(k, _)| *k).collect();
    assert_eq!(
        keys,
        [
            "bench",
            "jobs",
            "jobs_per_s",
            "start_p50_ms",
            "start_p99_ms",
            "lost",
            "duplicates"
        ],
        "{line}"
    );
    assert_eq!(fields[0].1, "jobs");
    Line {
        jobs: fields[1].1.parse().unwrap(),
        jobs_per_s: fields[2].1.parse().unwrap(),
        start_p50_ms: fields[3].1.parse().unwrap(),
        start_p99_ms: fields[4].1.parse().unwrap(),
        lost: fields[5].1.parse().unwrap(),
        duplicates: fields[6].1.parse().unwrap(),
    }
}

/// Runs the benchmark; returns the detail line's fields and the last line.
fn bench(args: &[&str]) -> (Vec<(String, String)>, Line) {
    let stem = format!("tp_it_bench_{}", std::process::id());
    let out = Command::new(env!("CARGO_BIN_EXE_tradeplane"))
        .arg("bench-jobs")
        .args(args)
        .env_remove("TRADEPLANE_CONFIG")
        .env("TRADEPLANE_POSTGRES__URL", format!("{POSTGRES}/{stem}"))
        .env("TRADEPLANE_REDIS__URL", REDIS)
        .env("RUST_LOG", "error")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}\n{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(lines.len() >= 2, "{stdout}");
    let detail = lines[lines.len() - 2]
        .split(' ')
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap();
            (k.to_owned(), v.to_owned())
        })
        .collect();
    (detail, parse(lines[lines.len() - 1]))
}

fn field<'a>(detail: &'a [(String, String)], key: &str) -> &'a str {
    &detail.iter().find(|(k, _)| k == key).unwrap().1
}

/// Nothing of the run is left: no database named after it, no key under its prefix.
fn assert_cleaned_up(run: &str) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let databases: i64 = rt.block_on(async {
        let (client, conn) =
            tokio_postgres::connect(&format!("{POSTGRES}/postgres"), tokio_postgres::NoTls)
                .await
                .unwrap();
        let conn = tokio::spawn(conn);
        let n = client
            .query_one(
                "SELECT count(*) FROM pg_database WHERE datname LIKE $1",
                &[&format!("%_bench_{run}")],
            )
            .await
            .unwrap()
            .get(0);
        drop(client);
        let _ = conn.await;
        n
    });
    assert_eq!(databases, 0, "the run's database is dropped");
    let mut redis = redis::Client::open(REDIS)
        .unwrap()
        .get_connection()
        .unwrap();
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{{tp:bench-{run}:*"))
        .query(&mut redis)
        .unwrap();
    assert!(keys.is_empty(), "{keys:?}");
}

#[test]
fn every_job_runs_exactly_once_and_the_run_cleans_up() {
    let (detail, line) = bench(&["--jobs", "2000", "--workers", "2", "--concurrency", "16"]);
    assert_eq!(line.jobs, 2000);
    assert_eq!((line.lost, line.duplicates), (0, 0), "{detail:?}");
    assert!(line.jobs_per_s > 0);
    assert!(line.start_p50_ms > 0.0 && line.start_p50_ms <= line.start_p99_ms);
    assert_eq!(field(&detail, "kills"), "0");
    assert_eq!(
        field(&detail, "reruns"),
        "0",
        "nothing ran twice without kills"
    );
    assert_eq!(field(&detail, "finished"), "true");
    assert_cleaned_up(field(&detail, "run"));
}

#[test]
fn workers_killed_throughout_lose_nothing() {
    let (detail, line) = bench(&[
        "--jobs",
        "5000",
        "--workers",
        "2",
        "--concurrency",
        "16",
        "--kill-every",
        "0.2",
    ]);
    assert_eq!((line.lost, line.duplicates), (0, 0), "{detail:?}");
    assert_eq!(field(&detail, "finished"), "true");
    assert_eq!(field(&detail, "dead"), "0");
    let kills: u64 = field(&detail, "kills").parse().unwrap();
    assert!(kills >= 1, "{detail:?}");
    assert_cleaned_up(field(&detail, "run"));
}

#[test]
fn bad_flags_are_refused_with_a_message() {
    let out = Command::new(env!("CARGO_BIN_EXE_tradeplane"))
        .args(["bench-jobs", "--jobs", "0"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("must be positive"), "{stderr}");
}
