//! The journal thread: writes each batch, syncs it once, and only then releases the
//! batch's answers to their connections and its records to the live feed.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, Sender};

use bytes::Bytes;
use tracing::error;

use super::sequencer::Batch;
use super::shared::{LiveBatch, Shared};
use crate::journal::JournalWriter;
use crate::protocol::{ErrorCode, Response, encode_response};

/// Runs until the matching thread drops its sender.
pub(crate) fn run(
    mut writer: JournalWriter,
    batches: Receiver<Batch>,
    recycle: Sender<Batch>,
    shared: Arc<Shared>,
) {
    for mut batch in batches {
        let ok = !shared.failed.load(Ordering::Acquire)
            && match writer.append(&batch.records) {
                Ok(()) => true,
                Err(e) => {
                    error!(error = %e, "journal write failed; the shard stops acknowledging");
                    shared.failed.store(true, Ordering::Release);
                    shared.notify_waiters();
                    false
                }
            };
        if ok {
            if batch.last_command_seq > 0 {
                shared.set_durable(batch.last_command_seq, batch.last_event_seq);
            }
            let frames = Bytes::from(std::mem::take(&mut batch.frames));
            for ack in batch.acks.drain(..) {
                // A closed connection just misses its answer.
                let _ = ack.conn.send(frames.slice(ack.frame));
                // The connection may now send another request.
                drop(ack.permit);
            }
            if !batch.records.is_empty() {
                let live = LiveBatch {
                    records: Bytes::from(std::mem::take(&mut batch.records)),
                    first_event_seq: batch.first_event_seq,
                    last_event_seq: batch.last_event_seq,
                };
                // No subscribers is fine.
                let _ = shared.live.send(Arc::new(live));
            }
        } else {
            let mut frame = Vec::new();
            for ack in batch.acks.drain(..) {
                frame.clear();
                let request_id = u64::from_le_bytes(
                    batch.frames[ack.frame.start + 6..ack.frame.start + 14]
                        .try_into()
                        .unwrap_or([0; 8]),
                );
                encode_response(
                    &mut frame,
                    request_id,
                    &Response::Error {
                        code: ErrorCode::Internal,
                        message: "journal failure: not durable, not acknowledged".into(),
                    },
                );
                let _ = ack.conn.send(Bytes::copy_from_slice(&frame));
            }
        }
        batch.records.clear();
        batch.frames.clear();
        batch.last_command_seq = 0;
        batch.first_event_seq = 0;
        batch.last_event_seq = 0;
        shared.journal_busy.store(false, Ordering::Release);
        shared.wake_matcher();
        let _ = recycle.send(batch);
    }
}
