//! `--ws-subscribers N`: N WebSocket clients on one book while the orders workload runs.
//!
//! Each subscriber opens `GET /v1/stream` with a bearer token, subscribes to
//! `book:{symbol}` and reads until the run ends. Fan-out latency is the receipt time minus
//! the delta's `timestamp_ns`, the shard's clock at the newest event it includes (shard,
//! gateway and generator share this machine's clock). A subscriber the gateway closes for
//! falling behind (close code 4008) counts as dropped.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use futures_util::{SinkExt as _, StreamExt as _};
use hdrhistogram::Histogram;
use serde::Deserialize;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{Message, http::HeaderValue};
use tokio_util::sync::CancellationToken;

use super::report;

/// The close code the gateway sends a subscriber whose buffer filled.
const SLOW_CONSUMER: u16 = 4008;

/// Read buffer of a subscriber. tungstenite zero-fills the free part of its read buffer
/// before every read attempt (two per message: the one that reads it and the one that
/// finds nothing more); with its default 128 KiB, 1,000 subscribers spent about half of
/// the generator's CPU zeroing memory instead of reading. A delta is a few hundred bytes.
const READ_BUFFER: usize = 4 * 1024;

/// How long connecting and subscribing may take.
const SETUP_TIMEOUT: Duration = Duration::from_secs(30);

/// Fan-out latencies of every subscriber, in nanoseconds: one histogram, so that it stays
/// in cache (1,000 of them did not, and recording cost more than reading).
pub(crate) type Latency = Arc<Mutex<Histogram<u64>>>;

/// What one subscriber saw.
#[derive(Debug)]
pub(crate) struct Seen {
    /// Messages received inside the measured window.
    pub(crate) messages: u64,
    /// Closed by the gateway for falling behind.
    pub(crate) dropped: bool,
}

/// Why a subscriber could not start.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SubscribeError {
    #[error("connect: {0}")]
    Connect(#[from] std::io::Error),
    #[error("websocket: {0}")]
    Ws(#[from] tokio_tungstenite::tungstenite::Error),
    #[error("no subscription confirmed in {SETUP_TIMEOUT:?}")]
    Timeout,
    #[error("the gateway refused the subscription: {0}")]
    Refused(String),
}

#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
    #[serde(default)]
    timestamp_ns: Option<u64>,
}

type Socket = tokio_tungstenite::WebSocketStream<TcpStream>;

/// Connects, authenticates by header, subscribes to `book:{symbol}`, and waits for the
/// snapshot, so the load starts only once every subscriber is in place.
pub(crate) async fn connect(
    addr: SocketAddr,
    host: &str,
    token: &str,
    symbol: &str,
) -> Result<Socket, SubscribeError> {
    let setup = async {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        let mut request = format!("ws://{host}/v1/stream").into_client_request()?;
        let bearer = HeaderValue::from_str(&format!("Bearer {token}"))
            .map_err(|e| SubscribeError::Refused(e.to_string()))?;
        request.headers_mut().insert("authorization", bearer);
        let config = WebSocketConfig::default().read_buffer_size(READ_BUFFER);
        let (mut socket, _) =
            tokio_tungstenite::client_async_with_config(request, stream, Some(config)).await?;
        let subscribe = format!(r#"{{"type":"subscribe","channel":"book:{symbol}"}}"#);
        socket.send(Message::text(subscribe)).await?;
        while let Some(message) = socket.next().await {
            if let Message::Text(text) = message? {
                let envelope: Envelope<'_> = serde_json::from_str(&text)
                    .map_err(|e| SubscribeError::Refused(format!("{e}: {text}")))?;
                match envelope.kind {
                    "book_snapshot" => return Ok(socket),
                    "error" => return Err(SubscribeError::Refused(text.to_string())),
                    _ => {}
                }
            }
        }
        Err(SubscribeError::Refused(
            "the gateway closed the stream".into(),
        ))
    };
    tokio::time::timeout(SETUP_TIMEOUT, setup)
        .await
        .map_err(|_| SubscribeError::Timeout)?
}

/// Reads until `stop`, recording deltas received from `measure_from` on.
pub(crate) async fn read(
    mut socket: Socket,
    measure_from: Instant,
    stop: CancellationToken,
    latency: Latency,
) -> Seen {
    let mut seen = Seen {
        messages: 0,
        dropped: false,
    };
    let stopped = stop.cancelled();
    tokio::pin!(stopped);
    loop {
        let message = tokio::select! {
            biased;
            () = &mut stopped => break,
            message = socket.next() => message,
        };
        match message {
            Some(Ok(Message::Text(text))) => {
                let now_ns = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
                if Instant::now() < measure_from {
                    continue;
                }
                seen.messages += 1;
                if let Some(ts) = delta_timestamp(&text) {
                    let mut latency = latency.lock().unwrap_or_else(PoisonError::into_inner);
                    let _ = latency.record(now_ns.saturating_sub(ts).max(1));
                }
            }
            Some(Ok(Message::Close(frame))) => {
                seen.dropped = frame.is_some_and(|f| f.code == CloseCode::from(SLOW_CONSUMER));
                break;
            }
            Some(Ok(_)) => {}
            Some(Err(_)) | None => {
                // Closed without a close frame: the gateway gave up on this reader.
                seen.dropped = true;
                break;
            }
        }
    }
    let _ = socket.close(None).await;
    seen
}

/// The `timestamp_ns` of a `book_delta`, found without parsing the whole message: 1,000
/// subscribers share the generator's CPU with the gateway, and a full JSON parse of every
/// delta was a tenth of the generator's time. The gateway writes `type` first and
/// `timestamp_ns` last (serde keeps declaration order); anything else is parsed in full.
fn delta_timestamp(text: &str) -> Option<u64> {
    const TYPE: &str = r#"{"type":"book_delta","#;
    const FIELD: &str = r#","timestamp_ns":"#;
    if !text.starts_with(TYPE) {
        return None;
    }
    let fast = text
        .strip_suffix('}')
        .and_then(|t| t.rsplit_once(FIELD))
        .and_then(|(_, digits)| digits.parse().ok());
    fast.or_else(|| match serde_json::from_str::<Envelope<'_>>(text) {
        Ok(Envelope {
            kind: "book_delta",
            timestamp_ns,
        }) => timestamp_ns,
        _ => None,
    })
}

/// Fan-out latency quantiles (microseconds), for standard error: the bench line has only
/// the 99th percentile.
pub(crate) fn distribution(latency: &Histogram<u64>) -> String {
    let q = |q| report::quantile_us(latency, q);
    format!(
        "ws fanout_us p50={} p90={} p99={} p999={} max={} deltas={}",
        q(0.5),
        q(0.9),
        q(0.99),
        q(0.999),
        q(1.0),
        latency.len()
    )
}

/// The `bench=ws` line.
pub(crate) fn line(
    subscribers: usize,
    seen: &[Seen],
    latency: &Histogram<u64>,
    measured: Duration,
) -> String {
    let messages: u64 = seen.iter().map(|s| s.messages).sum();
    let dropped = seen.iter().filter(|s| s.dropped).count();
    let per_second = report::per_second(messages, measured);
    let p99_us = report::quantile_us(latency, 0.99);
    format!(
        "bench=ws subscribers={subscribers} events_per_s_out={per_second} fanout_p99_us={p99_us} \
         dropped_clients={dropped}"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_delta_timestamp_is_read_without_a_full_parse_and_others_are_ignored() {
        let delta = r#"{"type":"book_delta","symbol":"A","seq":4,"prev_seq":2,"changes":[{"side":"buy","price":"1.00","quantity":"0.5","orders":1}],"timestamp_ns":1795600000000000123}"#;
        assert_eq!(delta_timestamp(delta), Some(1_795_600_000_000_000_123));
        // Another member order still parses (the slow way).
        let reordered = r#"{"type":"book_delta","timestamp_ns":7,"symbol":"A","seq":4,"prev_seq":2,"changes":[]}"#;
        assert_eq!(delta_timestamp(reordered), Some(7));
        let trade = r#"{"type":"trade","seq":3,"timestamp_ns":5}"#;
        assert_eq!(delta_timestamp(trade), None);
        assert_eq!(delta_timestamp("{\"type\":\"book_delta\","), None);
    }

    #[test]
    fn the_ws_line_has_the_documented_shape() {
        let mut latency = report::histogram();
        for us in 1..=100_u64 {
            latency.record(us * 1_000).unwrap();
        }
        let seen = vec![
            Seen {
                messages: 600,
                dropped: false,
            },
            Seen {
                messages: 400,
                dropped: true,
            },
        ];
        assert_eq!(
            line(2, &seen, &latency, Duration::from_secs(2)),
            "bench=ws subscribers=2 events_per_s_out=500 fanout_p99_us=99 dropped_clients=1"
        );
    }
}
