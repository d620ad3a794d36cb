//! Defaults < file < `TRADEPLANE_*` environment < flags, and clear errors.

use std::process::{Command, Output};

fn tradeplane(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_tradeplane"));
    c.args(args);
    // Only what the test sets: nothing inherited can change the result.
    for (k, _) in std::env::vars() {
        if k.starts_with("TRADEPLANE_") {
            c.env_remove(k);
        }
    }
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().unwrap()
}

fn effective(args: &[&str], env: &[(&str, &str)]) -> serde_json::Value {
    let out = tradeplane(args, env);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

const FILE: &str = r#"
[matcher]
listen = "127.0.0.1:9001"
data_dir = "/var/lib/tradeplane/from-file"
snapshot_every = 5000
keep_snapshots = 3

[[matcher.markets]]
id = 1
symbol = "BTC-USD"
tick_size = 1
lot_size = 1
min_price = 1
max_price = 1000000
max_quantity = 1000000
max_resting_orders = 1000
"#;

#[test]
fn each_layer_overrides_the_one_below() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tradeplane.toml");
    std::fs::write(&file, FILE).unwrap();
    let file = file.to_str().unwrap();

    // Defaults only.
    let c = effective(&["matcher", "--print-config"], &[]);
    assert_eq!(c["matcher"]["listen"], "127.0.0.1:7001");
    assert_eq!(c["matcher"]["fsync"], true);
    assert_eq!(c["matcher"]["snapshot_every"], 1_000_000);

    // The file over the defaults.
    let c = effective(&["--config", file, "matcher", "--print-config"], &[]);
    assert_eq!(c["matcher"]["listen"], "127.0.0.1:9001");
    assert_eq!(c["matcher"]["snapshot_every"], 5000);
    assert_eq!(c["matcher"]["markets"][0]["symbol"], "BTC-USD");
    assert_eq!(
        c["matcher"]["client_id_window"], 65_536,
        "defaults fill the gaps"
    );

    // The environment over the file (and the file named by the environment).
    let c = effective(
        &["matcher", "--print-config"],
        &[
            ("TRADEPLANE_CONFIG", file),
            ("TRADEPLANE_MATCHER__LISTEN", "127.0.0.1:9002"),
            ("TRADEPLANE_MATCHER__FSYNC", "false"),
        ],
    );
    assert_eq!(c["matcher"]["listen"], "127.0.0.1:9002");
    assert_eq!(c["matcher"]["fsync"], false);
    assert_eq!(c["matcher"]["keep_snapshots"], 3);

    // Flags over everything.
    let c = effective(
        &[
            "--config",
            file,
            "matcher",
            "--listen",
            "127.0.0.1:9003",
            "--market",
            "7:ETH-USD:5:10:5:5000:1000:10",
            "--print-config",
        ],
        &[("TRADEPLANE_MATCHER__LISTEN", "127.0.0.1:9002")],
    );
    assert_eq!(c["matcher"]["listen"], "127.0.0.1:9003");
    assert_eq!(c["matcher"]["markets"].as_array().unwrap().len(), 1);
    assert_eq!(c["matcher"]["markets"][0]["symbol"], "ETH-USD");
    assert_eq!(c["matcher"]["markets"][0]["tick_size"], 5);
}

#[test]
fn bad_configuration_fails_at_start_up_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    type Case = (String, Vec<(&'static str, &'static str)>, &'static str);
    let cases: Vec<Case> = vec![
        (
            "[matcher]\nlisten = \"127.0.0.1:9001\"\ntypo = 1\n".into(),
            vec![],
            "unknown field",
        ),
        (
            "[matcher]\nsnapshot_every = \"often\"\n".into(),
            vec![],
            "snapshot_every",
        ),
        ("".into(), vec![], "matcher.markets is empty"),
        (
            FILE.replace("tick_size = 1", "tick_size = 0"),
            vec![],
            "matcher.markets[0]: tick size and lot size must be positive",
        ),
        (
            FILE.to_owned(),
            vec![("TRADEPLANE_MATCHER__KEEP_SNAPSHOTS", "0")],
            "keep_snapshots must be at least 1",
        ),
    ];
    for (i, (text, env, expected)) in cases.into_iter().enumerate() {
        let file = dir.path().join(format!("bad-{i}.toml"));
        std::fs::write(&file, text).unwrap();
        // Serve (not print): validation runs before anything starts.
        let out = tradeplane(
            &[
                "--config",
                file.to_str().unwrap(),
                "matcher",
                "--data-dir",
                dir.path().join("data").to_str().unwrap(),
            ],
            &env,
        );
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "case {i} started");
        assert!(err.contains(expected), "case {i}: {err}");
    }
    let out = tradeplane(&["--config", "/nonexistent/x.toml", "matcher"], &[]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/x.toml not found"));
}
