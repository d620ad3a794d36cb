//! One client connection: a reader that decodes requests and hands them to the matching
//! thread, and a writer that sends answers as they become durable (or, once the client
//! subscribes, the event feed).

use std::sync::Arc;
use std::sync::atomic::Ordering;

use bytes::Bytes;
use futures_util::StreamExt;
use tokio::io::{AsyncWriteExt, BufWriter};
use tokio::net::TcpStream;
use tokio::net::tcp::OwnedWriteHalf;
use tokio::sync::{Semaphore, mpsc, oneshot};
use tokio_util::codec::{FramedRead, LengthDelimitedCodec};
use tokio_util::sync::CancellationToken;
use tracing::debug;

use super::config::ShardConfig;
use super::feed;
use super::shared::{Inbound, Shared};
use crate::protocol::{
    ErrorCode, FrameError, MAX_REQUEST_FRAME, Request, Response, decode_request, encode_response,
};

/// The length-delimited framing both ends use: a little-endian `u32` length, then that
/// many bytes.
#[must_use]
pub fn frame_codec(max: usize) -> LengthDelimitedCodec {
    LengthDelimitedCodec::builder()
        .little_endian()
        .length_field_type::<u32>()
        .max_frame_length(max)
        .new_codec()
}

fn response_frame(request_id: u64, response: &Response) -> Bytes {
    let mut out = Vec::new();
    encode_response(&mut out, request_id, response);
    Bytes::from(out)
}

fn error_frame(request_id: u64, code: ErrorCode, message: String) -> Bytes {
    response_frame(request_id, &Response::Error { code, message })
}

/// Serves one connection until the client leaves, sends garbage, or the shard stops.
pub(crate) async fn serve(
    stream: TcpStream,
    shared: Arc<Shared>,
    config: Arc<ShardConfig>,
    shutdown: CancellationToken,
) {
    let _ = stream.set_nodelay(true);
    let peer = stream.peer_addr().ok();
    let (rd, wr) = stream.into_split();
    let mut frames = FramedRead::new(rd, frame_codec(MAX_REQUEST_FRAME));
    let (tx, rx) = mpsc::unbounded_channel::<Bytes>();
    let tx = Arc::new(tx);
    let (feed_tx, feed_rx) = oneshot::channel::<(u64, u64)>();
    let writer = tokio::spawn(write_loop(
        wr,
        rx,
        feed_rx,
        Arc::clone(&shared),
        Arc::clone(&config),
        shutdown.clone(),
    ));
    let permits = Arc::new(Semaphore::new(config.max_in_flight));
    let mut feed_tx = Some(feed_tx);
    loop {
        let frame = tokio::select! {
            f = frames.next() => f,
            () = shutdown.cancelled() => break,
        };
        let bytes = match frame {
            None => break,
            Some(Ok(b)) => b,
            Some(Err(e)) => {
                let code = if e.kind() == std::io::ErrorKind::InvalidData {
                    ErrorCode::FrameTooLarge
                } else {
                    ErrorCode::Malformed
                };
                let _ = tx.send(error_frame(0, code, e.to_string()));
                debug!(?peer, error = %e, "closing connection: bad frame");
                break;
            }
        };
        let (request_id, request) = match decode_request(&bytes) {
            Ok(r) => r,
            Err(e) => {
                let code = match e {
                    FrameError::Version(_) => ErrorCode::UnsupportedVersion,
                    FrameError::Decode(_) => ErrorCode::Malformed,
                };
                // Echo the request id when the prefix got that far.
                let id = bytes
                    .get(2..10)
                    .and_then(|b| b.try_into().ok())
                    .map_or(0, u64::from_le_bytes);
                let _ = tx.send(error_frame(id, code, e.to_string()));
                debug!(?peer, error = %e, "closing connection: malformed request");
                break;
            }
        };
        if let Request::Subscribe(from) = request {
            if let Some(f) = feed_tx.take() {
                let _ = f.send((request_id, from));
            }
            continue;
        }
        if shared.stopping.load(Ordering::Acquire) {
            let _ = tx.send(error_frame(
                request_id,
                ErrorCode::ShuttingDown,
                "the shard is shutting down".into(),
            ));
            continue;
        }
        if shared.failed.load(Ordering::Acquire) {
            let _ = tx.send(error_frame(
                request_id,
                ErrorCode::Internal,
                "the shard's journal failed; it acknowledges nothing until restarted".into(),
            ));
            continue;
        }
        let Ok(permit) = Arc::clone(&permits).acquire_owned().await else {
            break;
        };
        let inbound = Inbound {
            conn: Arc::clone(&tx),
            request_id,
            request,
            permit: Some(permit),
        };
        match shared.ring.push(inbound) {
            Ok(()) => shared.wake_matcher(),
            Err(rejected) => {
                drop(rejected);
                let _ = tx.send(response_frame(request_id, &Response::Busy));
            }
        }
    }
    drop(feed_tx);
    drop(tx);
    let _ = writer.await;
}

async fn write_loop(
    wr: OwnedWriteHalf,
    mut rx: mpsc::UnboundedReceiver<Bytes>,
    mut feed_rx: oneshot::Receiver<(u64, u64)>,
    shared: Arc<Shared>,
    config: Arc<ShardConfig>,
    shutdown: CancellationToken,
) {
    let mut wr = BufWriter::with_capacity(64 * 1024, wr);
    let mut feed_open = true;
    loop {
        tokio::select! {
            biased;
            msg = rx.recv() => {
                let Some(first) = msg else { break };
                if wr.write_all(&first).await.is_err() {
                    return;
                }
                // Coalesce whatever else is ready into one flush.
                while let Ok(more) = rx.try_recv() {
                    if wr.write_all(&more).await.is_err() {
                        return;
                    }
                }
                if wr.flush().await.is_err() {
                    return;
                }
            }
            sub = &mut feed_rx, if feed_open => {
                feed_open = false;
                if let Ok((request_id, from)) = sub {
                    let _ = wr.flush().await;
                    let _ = feed::serve(&mut wr, request_id, from, &shared, &config, &shutdown).await;
                    let _ = wr.flush().await;
                    return;
                }
            }
        }
    }
    let _ = wr.flush().await;
    let _ = wr.into_inner().shutdown().await;
}
