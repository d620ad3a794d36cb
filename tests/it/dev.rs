//! `tradeplane dev` runs two shards and the gateway, prints tokens that work, and stops
//! cleanly on SIGTERM.
//!
//! [`Dev`] starts one on free ports in a temporary data dir; other modules (`loadgen`) use it
//! as their platform.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::Duration;

/// How long `tradeplane dev` may take to print its ready line.
const READY_WITHIN: Duration = Duration::from_secs(60);

/// What the ready banner says.
#[derive(Default)]
struct Banner {
    gateway: String,
    trader: String,
    operator: String,
    control_plane: String,
}

/// A PostgreSQL URL nothing answers (connection refused at once): dev then runs without
/// its control plane, creating no database.
const NO_POSTGRES: &str = "postgres://postgres@127.0.0.1:1/tradeplane";
use super::cleanup::{POSTGRES, REDIS};

/// The control plane's database and Redis prefix of one dev child, removed on drop.
struct ControlPlane {
    database: String,
    prefix: String,
}

impl Drop for ControlPlane {
    fn drop(&mut self) {
        super::cleanup::remove(Some(&self.database), Some(&self.prefix));
    }
}

fn value(line: &str, var: &str) -> Option<String> {
    line.strip_prefix(&format!("export {var}="))
        .map(|v| v.split_whitespace().next().unwrap_or_default().to_owned())
}

/// A running `tradeplane dev` child; killed (by its own pid) if a test fails before
/// stopping it.
pub(crate) struct Dev {
    child: Option<Child>,
    dir: tempfile::TempDir,
    /// The gateway's base URL, `http://127.0.0.1:PORT`.
    pub(crate) gateway: String,
    /// The printed trader token (`sub=trader`, account 1).
    pub(crate) trader: String,
    /// The printed operator token (reads any account's orders).
    pub(crate) operator: String,
    /// The banner's control plane line.
    pub(crate) control_plane: String,
    /// Dropped after the child (fields drop in order): the database is free by then.
    _control_plane: Option<ControlPlane>,
}

impl Dev {
    /// Starts `tradeplane dev` on free ports with a fresh data dir, and returns once it has
    /// printed [`tradeplane::READY_LINE`] (after the tokens and the gateway's address).
    /// Without PostgreSQL, so without the control plane (nothing to clean up).
    pub(crate) async fn start() -> Self {
        Self::start_with(None).await
    }

    /// With the control plane on a database and a Redis prefix of its own.
    pub(crate) async fn start_with_control_plane() -> Self {
        let nanos = std::time::SystemTime::UNIX_EPOCH
            .elapsed()
            .unwrap()
            .as_nanos();
        Self::start_with(Some(ControlPlane {
            database: format!("tp_it_dev_{}_{nanos}", std::process::id()),
            prefix: format!("tpitdev{}-{nanos}", std::process::id()),
        }))
        .await
    }

    async fn start_with(control_plane: Option<ControlPlane>) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_tradeplane"));
        for (k, _) in std::env::vars() {
            if k.starts_with("TRADEPLANE_") {
                cmd.env_remove(k);
            }
        }
        match &control_plane {
            None => {
                cmd.env("TRADEPLANE_POSTGRES__URL", NO_POSTGRES);
            }
            Some(cp) => {
                cmd.env(
                    "TRADEPLANE_POSTGRES__URL",
                    format!("{POSTGRES}/{}", cp.database),
                )
                .env("TRADEPLANE_REDIS__PREFIX", &cp.prefix)
                .env("TRADEPLANE_REDIS__URL", REDIS);
            }
        }
        let mut child = cmd
            .args([
                "dev",
                "--data-dir",
                dir.path().to_str().unwrap(),
                "--listen",
                "127.0.0.1:0",
                "--shard-ports",
                "0,0",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel();
        std::thread::spawn(move || {
            let mut banner = Banner::default();
            let mut tx = Some(tx);
            // Reads to the end, so the child never blocks on a full pipe.
            for line in BufReader::new(stdout).lines() {
                let line = line.unwrap_or_default();
                if let Some(v) = value(&line, "GATEWAY") {
                    banner.gateway = v;
                } else if let Some(v) = value(&line, "TRADER_TOKEN") {
                    banner.trader = v;
                } else if let Some(v) = value(&line, "OPERATOR_TOKEN") {
                    banner.operator = v;
                } else if line.starts_with("tradeplane dev: control plane") {
                    banner.control_plane = line.clone();
                } else if line == tradeplane::READY_LINE
                    && let Some(tx) = tx.take()
                {
                    let _ = tx.send(std::mem::take(&mut banner));
                }
            }
        });
        // The handle owns the child from here: a failed wait below still kills it.
        let mut dev = Self {
            child: Some(child),
            dir,
            gateway: String::new(),
            trader: String::new(),
            operator: String::new(),
            control_plane: String::new(),
            _control_plane: control_plane,
        };
        let banner = tokio::time::timeout(READY_WITHIN, rx)
            .await
            .unwrap_or_else(|_| panic!("no ready line within {READY_WITHIN:?}"))
            .expect("tradeplane dev exited before it was ready");
        dev.gateway = banner.gateway;
        dev.trader = banner.trader;
        dev.operator = banner.operator;
        dev.control_plane = banner.control_plane;
        dev
    }

    /// The data dir (journals, and the generated `dev-secret`).
    pub(crate) fn data_dir(&self) -> &Path {
        self.dir.path()
    }

    /// SIGTERM, then the exit status. The data dir stays until the handle is dropped.
    pub(crate) async fn stop(&mut self) -> ExitStatus {
        let mut child = self.child.take().expect("already stopped");
        let killed = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap();
        assert!(killed.success());
        tokio::task::spawn_blocking(move || child.wait().unwrap())
            .await
            .unwrap()
    }
}

impl Drop for Dev {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

#[tokio::test]
async fn tradeplane_dev_serves_orders_with_the_printed_tokens_and_exits_zero_on_sigterm() {
    let mut dev = Dev::start().await;
    assert!(dev.gateway.starts_with("http://127.0.0.1:"));

    // The dev secret was generated once, private to its owner.
    let secret = dev.data_dir().join("dev-secret");
    let mode =
        std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&secret).unwrap().permissions());
    assert_eq!(mode & 0o777, 0o600);

    let http = reqwest::Client::new();
    let whoami: serde_json::Value = http
        .get(format!("{}/v1/whoami", dev.gateway))
        .bearer_auth(&dev.trader)
        .send()
        .await
        .unwrap()
        .error_for_status()
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(whoami["subject"], "trader");
    assert_eq!(whoami["roles"], serde_json::json!(["trader"]));

    // One market on each shard.
    for (symbol, price, quantity) in [
        ("BTC-USD", "50000.00", "0.0100"),
        ("SOL-USD", "150.25", "2.5"),
    ] {
        let placed = http
            .post(format!("{}/v1/orders", dev.gateway))
            .bearer_auth(&dev.trader)
            .json(&serde_json::json!({
                "symbol": symbol, "side": "buy", "type": "limit",
                "price": price, "quantity": quantity,
            }))
            .send()
            .await
            .unwrap();
        assert_eq!(placed.status(), 201, "{symbol}");
        let order: serde_json::Value = placed.json().await.unwrap();
        assert_eq!(order["status"], "open", "{order}");
        assert_eq!(order["symbol"], symbol);
        let id = order["id"].as_str().unwrap();
        let got = http
            .get(format!("{}/v1/orders/{id}", dev.gateway))
            .bearer_auth(&dev.operator)
            .send()
            .await
            .unwrap();
        assert_eq!(got.status(), 200, "the operator reads any account's order");
    }

    let status = dev.stop().await;
    assert_eq!(status.code(), Some(0));
    // Both journals were written under the data dir.
    assert!(dev.data_dir().join("shard-1").is_dir() && dev.data_dir().join("shard-2").is_dir());
}

#[tokio::test]
async fn tradeplane_dev_says_when_the_control_plane_is_off_and_job_routes_answer_503() {
    let mut dev = Dev::start().await;
    assert!(
        dev.control_plane.contains("control plane OFF"),
        "{}",
        dev.control_plane
    );
    let res = reqwest::Client::new()
        .get(format!("{}/v1/jobs", dev.gateway))
        .bearer_auth(&dev.operator)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), reqwest::StatusCode::SERVICE_UNAVAILABLE);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["code"], "control_plane_unavailable", "{body}");
    assert!(dev.stop().await.success());
}

#[tokio::test]
async fn tradeplane_dev_runs_the_control_plane_and_a_worker_pool() {
    let mut dev = Dev::start_with_control_plane().await;
    assert!(
        dev.control_plane.contains("control plane on"),
        "{}",
        dev.control_plane
    );
    let http = reqwest::Client::new();
    let res = http
        .post(format!("{}/v1/jobs", dev.gateway))
        .bearer_auth(&dev.operator)
        .json(&serde_json::json!({"jobs": [{"queue": "default", "type": "noop"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), reqwest::StatusCode::CREATED);
    let body: serde_json::Value = res.json().await.unwrap();
    let id = body["jobs"][0]["job"]["id"].as_str().unwrap().to_owned();
    // The dev worker pool runs it: poll the job's observable status, bounded.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let detail: serde_json::Value = http
            .get(format!("{}/v1/jobs/{id}", dev.gateway))
            .bearer_auth(&dev.operator)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if detail["job"]["status"] == "succeeded" {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the job did not succeed: {detail}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // One scrape shows the gateway's enqueue and the worker pool's start and outcome.
    // The success is recorded before the job reads `succeeded`, and counted right after:
    // poll the scrape too, bounded.
    let series = [
        "jobs_enqueued_total{queue=\"default\",type=\"noop\"} 1",
        "jobs_started_total{queue=\"default\",type=\"noop\"} 1",
        "jobs_succeeded_total{queue=\"default\",type=\"noop\"} 1",
        "jobs_start_delay_seconds_count{queue=\"default\"} 1",
    ];
    loop {
        let text = http
            .get(format!("{}/metrics", dev.gateway))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        if series.iter().all(|s| text.contains(s)) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "missing job series in:\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(dev.stop().await.success());
}
