//! `tradeplane gateway` with RBAC policy files: SIGHUP reloads them in the running process,
//! and a half-configured pair is refused at start-up.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant, SystemTime};

use reqwest::StatusCode;
use tokio::sync::mpsc;

const SECRET: &str = "0123456789abcdef0123456789abcdef-test";

/// One market on a shard that is not running: `/v1/markets` answers from configuration.
const CONFIG: &str = r#"
[[markets]]
id = 1
symbol = "BTC-USD"
tick_size = 100
lot_size = 10000
min_price = 100000
max_price = 20000000
max_quantity = 10000000000
max_resting_orders = 1000

[[gateway.markets]]
symbol = "BTC-USD"
price_decimals = 2
quantity_decimals = 8
shard = "127.0.0.1:7001"
"#;

/// The shipped rule this test revokes and then expects to see revoked.
const VIEWER_MARKETS: &str = "p, viewer, /v1/markets, GET, any\n";

/// How long any one observable effect may take to show.
const DEADLINE: Duration = Duration::from_secs(20);

fn command(config: &Path, listen: &str, env: &[(&str, &str)]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_tradeplane"));
    for (k, _) in std::env::vars() {
        if k.starts_with("TRADEPLANE_") {
            c.env_remove(k);
        }
    }
    c.args(["gateway", "--listen", listen, "--config"])
        .arg(config)
        .env("TRADEPLANE_AUTH__HS256_SECRET", SECRET)
        .envs(env.iter().copied());
    c
}

fn config_file(dir: &Path) -> PathBuf {
    let path = dir.join("tradeplane.toml");
    std::fs::write(&path, CONFIG).unwrap();
    path
}

fn run_to_end(dir: &Path, env: &[(&str, &str)]) -> Output {
    command(&config_file(dir), "127.0.0.1:0", env)
        .output()
        .unwrap()
}

/// A token for `role` (subject = the role's name, account 7).
fn token(role: gateway::auth::Role) -> String {
    gateway::auth::mint_hs256(
        SECRET.as_bytes(),
        "tradeplane",
        "tradeplane-api",
        role.as_str(),
        matcher::AccountId(7),
        &[role],
        Duration::from_secs(600),
        SystemTime::now(),
    )
    .unwrap()
}

/// The gateway child; killed (by its own pid) if the test fails before stopping it.
struct Gateway {
    child: Option<Child>,
    /// Standard error, line by line.
    log: mpsc::UnboundedReceiver<String>,
    base: String,
}

impl Gateway {
    /// Starts the gateway and waits for its "gateway listening" line, which it logs after
    /// the SIGHUP handler is installed and the policy is loaded.
    async fn start(config: &Path, model: &Path, policy: &Path) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let (model, policy) = (model.to_str().unwrap(), policy.to_str().unwrap());
        let mut child = command(
            config,
            &format!("127.0.0.1:{port}"),
            &[
                ("TRADEPLANE_GATEWAY__RBAC_MODEL", model),
                ("TRADEPLANE_GATEWAY__RBAC_POLICY", policy),
            ],
        )
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
        let stderr = child.stderr.take().unwrap();
        let (tx, log) = mpsc::unbounded_channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { return };
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        let mut gateway = Self {
            child: Some(child),
            log,
            base: format!("http://127.0.0.1:{port}"),
        };
        gateway.wait_for_log(&["gateway listening"]).await;
        gateway
    }

    /// Waits for a log line containing every one of `needles`; returns it.
    async fn wait_for_log(&mut self, needles: &[&str]) -> String {
        let deadline = tokio::time::Instant::now() + DEADLINE;
        let mut seen = Vec::new();
        loop {
            match tokio::time::timeout_at(deadline, self.log.recv()).await {
                Ok(Some(line)) if needles.iter().all(|n| line.contains(n)) => return line,
                Ok(Some(line)) => seen.push(line),
                Ok(None) => panic!(
                    "the gateway exited before logging {needles:?}:\n{}",
                    seen.join("\n")
                ),
                Err(_) => panic!(
                    "no log line with {needles:?} in {DEADLINE:?}:\n{}",
                    seen.join("\n")
                ),
            }
        }
    }

    fn signal(&self, name: &str) {
        let pid = self.child.as_ref().unwrap().id().to_string();
        let sent = Command::new("kill")
            .args([&format!("-{name}"), pid.as_str()])
            .status()
            .unwrap();
        assert!(sent.success(), "kill -{name} {pid}");
    }

    async fn markets_status(&self, role: gateway::auth::Role) -> StatusCode {
        reqwest::Client::new()
            .get(format!("{}/v1/markets", self.base))
            .bearer_auth(token(role))
            .send()
            .await
            .unwrap()
            .status()
    }

    /// Polls `GET /v1/markets` as `role` until it answers `want`, within [`DEADLINE`].
    /// Polling the observable answer is the synchronisation; the pause only paces it.
    async fn await_markets_status(&self, role: gateway::auth::Role, want: StatusCode) {
        let start = Instant::now();
        loop {
            let got = self.markets_status(role).await;
            if got == want {
                return;
            }
            assert!(
                start.elapsed() < DEADLINE,
                "{role:?} still gets {got} after {DEADLINE:?}, expected {want}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// SIGTERM, then the exit status.
    async fn stop(mut self) -> std::process::ExitStatus {
        self.signal("TERM");
        let mut child = self.child.take().unwrap();
        tokio::task::spawn_blocking(move || child.wait().unwrap())
            .await
            .unwrap()
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

#[tokio::test]
async fn sighup_reloads_the_policy_files_and_a_broken_file_keeps_the_old_policy() {
    use gateway::auth::Role;

    let dir = tempfile::tempdir().unwrap();
    let config = config_file(dir.path());
    let model = dir.path().join("model.conf");
    let policy = dir.path().join("policy.csv");
    std::fs::write(&model, gateway::rbac::DEFAULT_MODEL).unwrap();
    std::fs::write(&policy, gateway::rbac::DEFAULT_POLICY).unwrap();
    let mut gw = Gateway::start(&config, &model, &policy).await;
    assert_eq!(gw.markets_status(Role::Viewer).await, StatusCode::OK);

    // Revoke the viewer's market list, then SIGHUP.
    let revoked = gateway::rbac::DEFAULT_POLICY.replace(VIEWER_MARKETS, "");
    assert_ne!(revoked, gateway::rbac::DEFAULT_POLICY);
    std::fs::write(&policy, &revoked).unwrap();
    assert_eq!(
        gw.markets_status(Role::Viewer).await,
        StatusCode::OK,
        "nothing changes before the signal"
    );
    gw.signal("HUP");
    gw.await_markets_status(Role::Viewer, StatusCode::FORBIDDEN)
        .await;
    let line = gw.wait_for_log(&["rbac: policy reloaded", "sighup"]).await;
    assert!(line.starts_with('{'), "JSON logs: {line}");
    // A trader inherits the viewer's rules, and lost this one with it.
    assert_eq!(gw.markets_status(Role::Trader).await, StatusCode::FORBIDDEN);
    assert_eq!(gw.markets_status(Role::Admin).await, StatusCode::OK);

    // A broken file: the reload fails, is logged, and the revoked policy stays in force.
    let mut broken = std::fs::OpenOptions::new()
        .append(true)
        .open(&policy)
        .unwrap();
    broken
        .write_all(VIEWER_MARKETS.replace("any", "anyone").as_bytes())
        .unwrap();
    drop(broken);
    gw.signal("HUP");
    let line = gw
        .wait_for_log(&["rbac: reload failed; keeping the current policy", "sighup"])
        .await;
    assert!(line.contains("anyone"), "the log names the fault: {line}");
    assert_eq!(gw.markets_status(Role::Viewer).await, StatusCode::FORBIDDEN);
    assert_eq!(gw.markets_status(Role::Admin).await, StatusCode::OK);

    // Fixed and signalled again: the task kept listening after the failure.
    std::fs::write(&policy, gateway::rbac::DEFAULT_POLICY).unwrap();
    gw.signal("HUP");
    gw.await_markets_status(Role::Viewer, StatusCode::OK).await;

    // SIGTERM still stops everything, the reload task included, with a clean exit.
    assert_eq!(gw.stop().await.code(), Some(0));
}

#[tokio::test]
async fn a_request_logs_json_lines_carrying_its_request_id() {
    use gateway::auth::Role;

    let dir = tempfile::tempdir().unwrap();
    let config = config_file(dir.path());
    let model = dir.path().join("model.conf");
    let policy = dir.path().join("policy.csv");
    std::fs::write(&model, gateway::rbac::DEFAULT_MODEL).unwrap();
    std::fs::write(&policy, gateway::rbac::DEFAULT_POLICY).unwrap();
    let mut gw = Gateway::start(&config, &model, &policy).await;
    let res = reqwest::Client::new()
        .post(format!("{}/v1/admin/policies/reload", gw.base))
        .bearer_auth(token(Role::Admin))
        .header("x-request-id", "it-reload-4711")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["x-request-id"], "it-reload-4711");
    let line = gw
        .wait_for_log(&["rbac: policy reload requested", "it-reload-4711"])
        .await;
    let json: serde_json::Value = serde_json::from_str(&line).expect("a JSON log line");
    let spans = json["spans"].as_array().expect("the line lists its spans");
    assert!(
        spans.iter().any(|s| s["request_id"] == "it-reload-4711"),
        "the request's span carries its id: {line}"
    );
    assert_eq!(gw.stop().await.code(), Some(0));
}

#[test]
fn rbac_files_go_together_and_must_load_before_the_gateway_listens() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("model.conf");
    std::fs::write(&model, gateway::rbac::DEFAULT_MODEL).unwrap();
    let model = model.to_str().unwrap();
    for (set, missing) in [
        ("TRADEPLANE_GATEWAY__RBAC_MODEL", "gateway.rbac_policy"),
        ("TRADEPLANE_GATEWAY__RBAC_POLICY", "gateway.rbac_model"),
    ] {
        let out = run_to_end(dir.path(), &[(set, model)]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{set} alone: started");
        assert!(
            err.contains(&format!("{missing} is not"))
                && err.contains("TRADEPLANE_GATEWAY__RBAC_MODEL")
                && err.contains("TRADEPLANE_GATEWAY__RBAC_POLICY"),
            "{set} alone: {err}"
        );
    }

    let absent = dir.path().join("absent.csv");
    let out = run_to_end(
        dir.path(),
        &[
            ("TRADEPLANE_GATEWAY__RBAC_MODEL", model),
            ("TRADEPLANE_GATEWAY__RBAC_POLICY", absent.to_str().unwrap()),
        ],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains(absent.to_str().unwrap()),
        "{err}"
    );
    assert!(!err.contains("gateway listening"), "{err}");
}
