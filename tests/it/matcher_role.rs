//! `tradeplane matcher` serves a real shard and stops cleanly on SIGTERM.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use matcher::client::{ClientConfig, ShardClient};

#[tokio::test]
async fn tradeplane_matcher_serves_a_shard_and_exits_zero_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_tradeplane"))
        .args([
            "matcher",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--data-dir",
            dir.path().to_str().unwrap(),
            "--market",
            "1:BTC-USD:1:1:1:1000000:1000000:1000",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Serving once it says so.
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        let mut tx = Some(tx);
        for line in BufReader::new(stderr).lines() {
            let line = line.unwrap_or_default();
            if line.contains("shard serving")
                && let Some(tx) = tx.take()
            {
                let _ = tx.send(());
            }
        }
    });
    tokio::time::timeout(Duration::from_secs(30), rx)
        .await
        .unwrap()
        .unwrap();
    let client = ShardClient::new(ClientConfig::new(
        format!("127.0.0.1:{port}").parse().unwrap(),
    ));
    assert_eq!(client.ping().await.unwrap(), (0, 0));

    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = tokio::task::spawn_blocking(move || child.wait().unwrap())
        .await
        .unwrap();
    assert_eq!(status.code(), Some(0));
}
