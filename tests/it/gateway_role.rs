//! `tradeplane gateway` checks its configuration before it starts.

use std::io::Write;
use std::process::{Command, Output};

fn gateway(config: &str, env: &[(&str, &str)]) -> Output {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    file.write_all(config.as_bytes()).unwrap();
    let mut c = Command::new(env!("CARGO_BIN_EXE_tradeplane"));
    c.args(["gateway", "--listen", "127.0.0.1:0", "--config"])
        .arg(file.path());
    for (k, _) in std::env::vars() {
        if k.starts_with("TRADEPLANE_") {
            c.env_remove(k);
        }
    }
    c.envs(env.iter().copied());
    c.output().unwrap()
}

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

#[test]
fn gateway_refuses_to_start_without_a_key_and_names_the_variable() {
    let out = gateway(CONFIG, &[]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("TRADEPLANE_AUTH__HS256_SECRET"), "{err}");
    assert!(err.contains("auth.jwks_file"), "{err}");
}

#[test]
fn gateway_configuration_errors_name_the_setting() {
    let secret = [(
        "TRADEPLANE_AUTH__HS256_SECRET",
        "0123456789abcdef0123456789abcdef-test",
    )];
    for (config, expected) in [
        ("", "gateway.markets is empty"),
        (
            "[[gateway.markets]]\nsymbol = \"ETH-USD\"\nprice_decimals = 2\nquantity_decimals = 6\nshard = \"127.0.0.1:7001\"\n",
            "gateway.markets[0]: no rules for \"ETH-USD\"",
        ),
        (
            &CONFIG.replace("price_decimals = 2", "price_decimals = 40"),
            "gateway.markets[0]: a market precision has at most 18 decimals",
        ),
    ] {
        let out = gateway(config, &secret);
        assert!(!out.status.success(), "{expected}: started");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(expected), "{expected}: {err}");
    }
    let out = gateway(
        CONFIG,
        &[secret[0], ("TRADEPLANE_GATEWAY__BODY_LIMIT", "0")],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("gateway.body_limit must be greater than zero"),
        "{err}"
    );
    let out = gateway(CONFIG, &[("TRADEPLANE_AUTH__HS256_SECRET", "short")]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("auth.hs256_secret"),
        "{err}"
    );
}

#[tokio::test]
async fn gateway_serves_with_the_configured_secret_and_exits_zero_on_sigterm() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;
    use std::time::{Duration, SystemTime};

    const SECRET: &str = "0123456789abcdef0123456789abcdef-test";
    let mut file = tempfile::NamedTempFile::new().unwrap();
    file.write_all(CONFIG.as_bytes()).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut c = Command::new(env!("CARGO_BIN_EXE_tradeplane"));
    for (k, _) in std::env::vars() {
        if k.starts_with("TRADEPLANE_") {
            c.env_remove(k);
        }
    }
    let mut child = c
        .args([
            "gateway",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--config",
        ])
        .arg(file.path())
        .env("TRADEPLANE_AUTH__HS256_SECRET", SECRET)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        let mut tx = Some(tx);
        for line in BufReader::new(stderr).lines() {
            if line.unwrap_or_default().contains("gateway listening")
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
    let token = gateway::auth::mint_hs256(
        SECRET.as_bytes(),
        "tradeplane",
        "tradeplane-api",
        "bob",
        matcher::AccountId(7),
        &[gateway::auth::Role::Viewer],
        Duration::from_secs(60),
        SystemTime::now(),
    )
    .unwrap();
    let whoami: serde_json::Value = reqwest::Client::new()
        .get(format!("http://127.0.0.1:{port}/v1/whoami"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .error_for_status()
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(whoami["subject"], "bob");
    assert_eq!(whoami["account"], 7);

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
