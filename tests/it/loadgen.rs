//! `tradeplane loadgen` against a real `tradeplane dev`: it exits zero, its last line of
//! output is the documented report line, the offered rate is what was asked for, and the
//! orders it leaves resting are cancelled. Bad flags fail before any load, saying why.
//!
//! Each run is short (0.5 s warm-up, 1 s or 0.5 s measured); the tests start their own
//! platforms and run in parallel.

use std::process::{Command, Output, Stdio};
use std::time::Duration;

use crate::dev::Dev;

/// How long one loadgen run may take, set-up and clean-up included, before it is killed.
const RUN_WITHIN: Duration = Duration::from_secs(60);

/// The figures of the report line.
#[derive(Debug, PartialEq, Eq)]
struct Figures {
    orders_per_s: u64,
    p50_us: u64,
    p99_us: u64,
    p999_us: u64,
    errors: u64,
}

/// Parses `line` as exactly `bench=rest endpoint=ENDPOINT rate=RATE orders_per_s=N
/// p50_us=N p99_us=N p999_us=N errors=N`: these keys in this order, one space between
/// fields, nothing before or after, and each N plain decimal digits.
fn figures(line: &str, endpoint: &str, rate: &str) -> Result<Figures, String> {
    let prefix = format!("bench=rest endpoint={endpoint} rate={rate} ");
    let rest = line
        .strip_prefix(&prefix)
        .ok_or_else(|| format!("{line:?} does not start with {prefix:?}"))?;
    let keys = ["orders_per_s", "p50_us", "p99_us", "p999_us", "errors"];
    let fields: Vec<&str> = rest.split(' ').collect();
    if fields.len() != keys.len() {
        return Err(format!("{line:?}: expected {keys:?} after {prefix:?}"));
    }
    let mut values = [0_u64; 5];
    for ((key, field), value) in keys.iter().zip(fields).zip(&mut values) {
        let digits = field
            .strip_prefix(key)
            .and_then(|f| f.strip_prefix('='))
            .ok_or_else(|| format!("{line:?}: {field:?} is not {key}=N"))?;
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!("{line:?}: {key}={digits:?} is not an integer"));
        }
        *value = digits
            .parse()
            .map_err(|e| format!("{line:?}: {key}: {e}"))?;
    }
    let [orders_per_s, p50_us, p99_us, p999_us, errors] = values;
    Ok(Figures {
        orders_per_s,
        p50_us,
        p99_us,
        p999_us,
        errors,
    })
}

/// Runs `tradeplane loadgen ARGS` to the end, with no `TRADEPLANE_*` variable inherited;
/// killed (by its own pid) past [`RUN_WITHIN`].
async fn loadgen(args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tradeplane"));
    for (k, _) in std::env::vars() {
        if k.starts_with("TRADEPLANE_") {
            cmd.env_remove(k);
        }
    }
    let child = cmd
        .arg("loadgen")
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id().to_string();
    let waited = tokio::time::timeout(
        RUN_WITHIN,
        tokio::task::spawn_blocking(move || child.wait_with_output().unwrap()),
    )
    .await;
    if let Ok(output) = waited {
        return output.unwrap();
    }
    let _ = Command::new("kill").args(["-KILL", &pid]).status();
    panic!("tradeplane loadgen {args:?} did not finish within {RUN_WITHIN:?}");
}

/// Runs loadgen against `dev` with tokens minted from its secret, and checks what every
/// successful run must show: exit 0, the report line last, no error, ordered quantiles.
async fn run(dev: &Dev, endpoint: &str, rate: &str, duration: &str) -> Figures {
    let secret = dev.data_dir().join("dev-secret");
    let args = [
        "--url",
        &dev.gateway,
        "--secret-file",
        secret.to_str().unwrap(),
        "--rate",
        rate,
        "--duration",
        duration,
        "--warmup",
        "0.5",
        "--connections",
        "4",
        "--endpoint",
        endpoint,
    ];
    let out = loadgen(&args).await;
    let stdout = String::from_utf8(out.stdout).unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "loadgen {args:?}: {}\nstdout:\n{stdout}\nstderr:\n{stderr}",
        out.status
    );
    let last = stdout.lines().last().unwrap_or_default();
    let figures = figures(last, endpoint, rate).unwrap_or_else(|e| panic!("{e}\n{stderr}"));
    assert_eq!(figures.errors, 0, "{last}\n{stderr}");
    assert!(figures.orders_per_s > 0, "{last}");
    assert!(
        figures.p50_us <= figures.p99_us && figures.p99_us <= figures.p999_us,
        "{last}"
    );
    figures
}

/// Asserts that no market of `dev` has a resting order.
async fn assert_every_book_is_empty(dev: &Dev) {
    let http = reqwest::Client::new();
    let get = |path: String| {
        http.get(format!("{}{path}", dev.gateway))
            .bearer_auth(&dev.trader)
            .send()
    };
    let markets: serde_json::Value = get("/v1/markets".into())
        .await
        .unwrap()
        .error_for_status()
        .unwrap()
        .json()
        .await
        .unwrap();
    let markets = markets["markets"].as_array().unwrap();
    assert!(!markets.is_empty());
    for market in markets {
        let symbol = market["symbol"].as_str().unwrap();
        let book: serde_json::Value = get(format!("/v1/markets/{symbol}/book?depth=1000"))
            .await
            .unwrap()
            .error_for_status()
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(book["bids"], serde_json::json!([]), "{symbol}: {book}");
        assert_eq!(book["asks"], serde_json::json!([]), "{symbol}: {book}");
    }
}

#[tokio::test]
async fn loadgen_orders_at_200_per_second_reports_the_rate_and_leaves_every_book_empty() {
    let dev = Dev::start().await;
    let figures = run(&dev, "orders", "200", "1").await;
    // Open loop: every slot due in the window is sent and counted, however slow the
    // machine; the band only absorbs the window's edges and a shared CPU.
    assert!((100..=260).contains(&figures.orders_per_s), "{figures:?}");
    assert_every_book_is_empty(&dev).await;
}

#[tokio::test]
async fn loadgen_whoami_at_200_per_second_reports_the_rate() {
    let dev = Dev::start().await;
    let figures = run(&dev, "whoami", "200", "1").await;
    assert!((100..=260).contains(&figures.orders_per_s), "{figures:?}");
}

#[tokio::test]
async fn loadgen_orders_at_max_rate_reports_a_throughput_and_leaves_every_book_empty() {
    let dev = Dev::start().await;
    run(&dev, "orders", "max", "0.5").await;
    assert_every_book_is_empty(&dev).await;
}

#[tokio::test]
async fn loadgen_refuses_a_non_http_url_and_a_zero_rate_before_sending_anything() {
    // A token is given so that the URL is the first thing found wrong; nothing listens on
    // port 1, and nothing is dialled either way.
    let https = loadgen(&["--url", "https://127.0.0.1:1", "--token", "t"]).await;
    let zero = loadgen(&["--url", "http://127.0.0.1:1", "--token", "t", "--rate", "0"]).await;
    for (out, needles) in [
        (
            &https,
            &["--url \"https://127.0.0.1:1\"", "only http:// is supported"][..],
        ),
        (
            &zero,
            &["--rate", "neither a positive integer nor `max`"][..],
        ),
    ] {
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{stderr}");
        assert!(out.stdout.is_empty(), "no report line expected");
        for needle in needles {
            assert!(stderr.contains(needle), "{needle:?} not in:\n{stderr}");
        }
    }
}

#[test]
fn the_report_line_parser_is_strict() {
    let good = "bench=rest endpoint=orders rate=200 orders_per_s=199 p50_us=1 p99_us=2 \
                p999_us=3 errors=0";
    assert_eq!(
        figures(good, "orders", "200"),
        Ok(Figures {
            orders_per_s: 199,
            p50_us: 1,
            p99_us: 2,
            p999_us: 3,
            errors: 0,
        })
    );
    assert!(figures(good, "whoami", "200").is_err());
    assert!(figures(good, "orders", "max").is_err());
    for bad in [
        format!("{good} "),
        format!(" {good}"),
        format!("{good} extra=1"),
        good.replace("errors=0", "errors=+0"),
        good.replace("errors=0", "errors="),
        good.replace("p99_us=2 ", "p99_us=2  "),
        good.replace("p99_us=2 ", ""),
        good.replace("p50_us", "p5_us"),
        good.replace("orders_per_s=199", "orders_per_s=199.5"),
    ] {
        assert!(figures(&bad, "orders", "200").is_err(), "{bad:?}");
    }
}
