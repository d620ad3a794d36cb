//! The run's figures and the one line a benchmark prints last.

use std::time::Duration;

use hdrhistogram::Histogram;

use super::workload::Endpoint;

/// Latencies are recorded in nanoseconds, from 1 ns to a minute, 3 significant digits.
pub(crate) fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60_000_000_000, 3).expect("constant, valid bounds")
}

/// The `q` quantile of a nanosecond histogram, in whole microseconds (0 when empty).
pub(crate) fn quantile_us(latency: &Histogram<u64>, q: f64) -> u64 {
    if latency.is_empty() {
        return 0;
    }
    (latency.value_at_quantile(q) + 500) / 1_000
}

/// `count` per second over `over`, rounded to a whole number for a report line (0 over no
/// time).
pub(crate) fn per_second(count: u64, over: Duration) -> u64 {
    let secs = over.as_secs_f64();
    if secs <= 0.0 {
        return 0;
    }
    // A rate well inside u64.
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss
    )]
    let rate = (count as f64 / secs).round() as u64;
    rate
}

/// What one run measured.
#[derive(Debug)]
pub struct Report {
    pub(crate) endpoint: Endpoint,
    /// Offered requests per second; `None` for as fast as possible.
    pub(crate) rate: Option<u64>,
    /// Answered requests inside the measured window (errors included).
    pub(crate) requests: u64,
    /// Requests without a success answer (status, transport error or timeout).
    pub(crate) errors: u64,
    /// The measured window (warm-up excluded).
    pub(crate) measured: Duration,
    /// Latency of every answered request in the window, in nanoseconds.
    pub(crate) latency: Histogram<u64>,
    /// The `bench=ws` line, when WebSocket subscribers ran.
    pub(crate) ws_line: Option<String>,
}

impl Report {
    /// Successful requests per second over the measured window.
    #[must_use]
    pub fn requests_per_second(&self) -> u64 {
        per_second(self.requests.saturating_sub(self.errors), self.measured)
    }

    fn quantile_us(&self, q: f64) -> u64 {
        quantile_us(&self.latency, q)
    }

    /// The `bench=ws` line of a run with WebSocket subscribers.
    #[must_use]
    pub fn ws_line(&self) -> Option<&str> {
        self.ws_line.as_deref()
    }

    /// Errors in the window.
    #[must_use]
    pub fn errors(&self) -> u64 {
        self.errors
    }

    /// The report line (the benchmark's last line of output).
    #[must_use]
    pub fn line(&self) -> String {
        let rate = self
            .rate
            .map_or_else(|| "max".to_owned(), |r| r.to_string());
        format!(
            "bench=rest endpoint={} rate={rate} orders_per_s={} p50_us={} p99_us={} p999_us={} errors={}",
            self.endpoint.as_str(),
            self.requests_per_second(),
            self.quantile_us(0.50),
            self.quantile_us(0.99),
            self.quantile_us(0.999),
            self.errors,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_line_has_the_documented_shape() {
        let mut latency = histogram();
        for us in 1..=1_000_u64 {
            latency.record(us * 1_000).unwrap();
        }
        let report = Report {
            endpoint: Endpoint::Orders,
            rate: Some(10_000),
            requests: 20_003,
            errors: 3,
            measured: Duration::from_secs(2),
            latency,
            ws_line: None,
        };
        assert_eq!(
            report.line(),
            "bench=rest endpoint=orders rate=10000 orders_per_s=10000 p50_us=500 p99_us=990 \
             p999_us=999 errors=3"
        );
    }

    #[test]
    fn an_empty_run_reports_zeros_and_max() {
        let report = Report {
            endpoint: Endpoint::Whoami,
            rate: None,
            requests: 0,
            errors: 0,
            measured: Duration::ZERO,
            latency: histogram(),
            ws_line: None,
        };
        assert_eq!(
            report.line(),
            "bench=rest endpoint=whoami rate=max orders_per_s=0 p50_us=0 p99_us=0 p999_us=0 errors=0"
        );
    }
}
