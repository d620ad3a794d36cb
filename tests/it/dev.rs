//! `tradeplane dev` runs two shards and the gateway, prints tokens that work, and stops
//! cleanly on SIGTERM.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

/// What the ready banner says.
#[derive(Default)]
struct Banner {
    gateway: String,
    trader: String,
    operator: String,
}

fn value(line: &str, var: &str) -> Option<String> {
    line.strip_prefix(&format!("export {var}="))
        .map(|v| v.split_whitespace().next().unwrap_or_default().to_owned())
}

#[tokio::test]
async fn tradeplane_dev_serves_orders_with_the_printed_tokens_and_exits_zero_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tradeplane"));
    for (k, _) in std::env::vars() {
        if k.starts_with("TRADEPLANE_") {
            cmd.env_remove(k);
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
        for line in BufReader::new(stdout).lines() {
            let line = line.unwrap_or_default();
            if let Some(v) = value(&line, "GATEWAY") {
                banner.gateway = v;
            } else if let Some(v) = value(&line, "TRADER_TOKEN") {
                banner.trader = v;
            } else if let Some(v) = value(&line, "OPERATOR_TOKEN") {
                banner.operator = v;
            } else if line == tradeplane::READY_LINE
                && let Some(tx) = tx.take()
            {
                let _ = tx.send(std::mem::take(&mut banner));
            }
        }
    });
    let banner = tokio::time::timeout(Duration::from_secs(60), rx)
        .await
        .expect("no ready line within 60 s")
        .expect("tradeplane dev exited before it was ready");
    assert!(banner.gateway.starts_with("http://127.0.0.1:"));

    // The dev secret was generated once, private to its owner.
    let secret = dir.path().join("dev-secret");
    let mode =
        std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&secret).unwrap().permissions());
    assert_eq!(mode & 0o777, 0o600);

    let http = reqwest::Client::new();
    let whoami: serde_json::Value = http
        .get(format!("{}/v1/whoami", banner.gateway))
        .bearer_auth(&banner.trader)
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
            .post(format!("{}/v1/orders", banner.gateway))
            .bearer_auth(&banner.trader)
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
            .get(format!("{}/v1/orders/{id}", banner.gateway))
            .bearer_auth(&banner.operator)
            .send()
            .await
            .unwrap();
        assert_eq!(got.status(), 200, "the operator reads any account's order");
    }

    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = tokio::task::spawn_blocking(move || child.wait().unwrap())
        .await
        .unwrap();
    assert_eq!(status.code(), Some(0));
    // Both journals were written under the data dir.
    assert!(dir.path().join("shard-1").is_dir() && dir.path().join("shard-2").is_dir());
}
