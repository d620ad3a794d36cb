//! The writing half of a connection: drains the outbox to the socket, as many messages as
//! are waiting (up to [`WRITE_BATCH`]) in one write.

use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, WebSocket};
use futures_util::SinkExt;
use futures_util::stream::SplitSink;
use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;

use super::outbox::Outbox;
use super::{CLOSE_GRACE, CLOSE_SLOW, close_frame};
use crate::metrics::Metrics;

/// Most messages written per flush.
const WRITE_BATCH: usize = 64;

/// What the writer needs besides the socket.
pub(super) struct Writer<'a> {
    pub(super) outbox: &'a Outbox,
    /// A close frame the session asks for (dropped unsent: end without one).
    pub(super) close: oneshot::Receiver<CloseFrame>,
    pub(super) stop: &'a CancellationToken,
    /// Cancelled when the writer ends, so the session ends too.
    pub(super) done: &'a CancellationToken,
    pub(super) metrics: &'a Metrics,
    /// Longest one batch may take to reach the socket before the client counts as stalled.
    pub(super) stall: Duration,
}

/// How a batch of writes ended.
enum Flushed {
    /// Written (`true`) or failed (`false`).
    Done(bool),
    /// The connection is closing: whether the batch finished, and the close frame.
    Closing(bool, Option<CloseFrame>),
}

impl Writer<'_> {
    /// Sends queued messages until the session asks for a close or ends, the socket fails,
    /// the client stalls or the gateway stops.
    pub(super) async fn run(mut self, mut sink: SplitSink<WebSocket, Message>) {
        let mut batch = Vec::with_capacity(WRITE_BATCH);
        let stopped = self.stop.cancelled();
        tokio::pin!(stopped);
        loop {
            if self.outbox.take(&mut batch, WRITE_BATCH) == 0 {
                tokio::select! {
                    biased;
                    frame = &mut self.close => {
                        if let Ok(frame) = frame {
                            self.count(&frame);
                            let close = sink.send(Message::Close(Some(frame)));
                            let _ = tokio::time::timeout(CLOSE_GRACE, close).await;
                        }
                        break;
                    }
                    () = self.outbox.ready() => continue,
                }
            }
            let count = batch.len() as u64;
            let outcome = {
                let send = async {
                    for message in batch.drain(..) {
                        sink.feed(message).await?;
                    }
                    sink.flush().await
                };
                tokio::pin!(send);
                // The send comes first, and usually finishes at once: the stall timer is
                // then never registered.
                tokio::select! {
                    biased;
                    r = &mut send => Flushed::Done(r.is_ok()),
                    () = &mut stopped => Flushed::Done(false),
                    frame = &mut self.close => {
                        // Too slow or shutting down: finish the frames in flight, then close.
                        let frame = frame.ok();
                        if let Some(frame) = &frame {
                            self.count(frame);
                        }
                        Flushed::Closing(finish(&mut send).await, frame)
                    }
                    () = tokio::time::sleep(self.stall) => {
                        // The client has not taken a batch off its socket for that long.
                        let frame = close_frame(CLOSE_SLOW, "too slow: not reading");
                        self.count(&frame);
                        Flushed::Closing(finish(&mut send).await, Some(frame))
                    }
                }
            };
            batch.clear();
            match outcome {
                Flushed::Done(true) => {
                    self.metrics.stream_messages_out.inc_by(count);
                }
                Flushed::Done(false) => break,
                Flushed::Closing(finished, frame) => {
                    if finished {
                        self.metrics.stream_messages_out.inc_by(count);
                        if let Some(frame) = frame {
                            let close = sink.send(Message::Close(Some(frame)));
                            let _ = tokio::time::timeout(CLOSE_GRACE, close).await;
                        }
                    }
                    break;
                }
            }
        }
        self.done.cancel();
    }

    fn count(&self, frame: &CloseFrame) {
        if frame.code == CLOSE_SLOW {
            self.metrics.stream_dropped.inc();
        }
    }
}

/// Gives a batch in flight [`CLOSE_GRACE`] to finish; whether it did.
async fn finish<E>(send: impl Future<Output = Result<(), E>>) -> bool {
    tokio::time::timeout(CLOSE_GRACE, send)
        .await
        .is_ok_and(|r| r.is_ok())
}
