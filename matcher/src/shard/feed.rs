//! The event feed: every event from a requested sequence number on, read from the journal
//! first and then taken live as batches become durable, with no gap and no duplicate at
//! the seam.
//!
//! The live subscription is opened before the journal is read, so nothing published
//! during the read is missed; events are sent only if their sequence number is the next
//! one expected, so nothing is sent twice. A subscriber too slow for the live channel
//! (it lags) or one that sees a gap goes back to the journal and catches up again: a slow
//! reader costs only itself.

use std::io;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use tokio::io::{AsyncWriteExt, BufWriter};
use tokio::net::tcp::OwnedWriteHalf;
use tokio::sync::{broadcast, mpsc};
use tokio_util::sync::CancellationToken;

use super::config::ShardConfig;
use super::shared::Shared;
use crate::event::Event;
use crate::journal::{
    Frame, decode_payload, first_record_seqs, read_frame, read_segment, segment_starts,
};
use crate::protocol::{ErrorCode, Response, encode_event_frame, encode_response};

/// Events read from the journal, or why they could not be.
type Chunk = Result<Vec<Event>, (ErrorCode, String)>;

pub(crate) async fn serve(
    wr: &mut BufWriter<OwnedWriteHalf>,
    request_id: u64,
    from: u64,
    shared: &Arc<Shared>,
    config: &Arc<ShardConfig>,
    shutdown: &CancellationToken,
) -> io::Result<()> {
    let mut live = shared.live.subscribe();
    let mut next = from.max(1);
    let mut frame = Vec::with_capacity(256);
    loop {
        // Catch up from the journal, up to what is durable now.
        let durable = shared.durable_command_seq.load(Ordering::Acquire);
        if shared.durable_event_seq.load(Ordering::Acquire) >= next {
            let (tx, mut rx) = mpsc::channel::<Chunk>(4);
            let dir = config.data_dir.clone();
            let start = next;
            let reader = tokio::task::spawn_blocking(move || {
                read_events(&dir, start, durable, &tx);
            });
            while let Some(chunk) = rx.recv().await {
                match chunk {
                    Ok(events) => {
                        for e in events {
                            if e.seq.0 == next {
                                frame.clear();
                                encode_event_frame(&mut frame, request_id, &e);
                                wr.write_all(&frame).await?;
                                next += 1;
                            }
                        }
                    }
                    Err((code, message)) => {
                        frame.clear();
                        encode_response(&mut frame, request_id, &Response::Error { code, message });
                        wr.write_all(&frame).await?;
                        wr.flush().await?;
                        return Ok(());
                    }
                }
            }
            let _ = reader.await;
            wr.flush().await?;
        }
        // Then live.
        loop {
            let batch = tokio::select! {
                b = live.recv() => b,
                () = shutdown.cancelled() => return Ok(()),
            };
            match batch {
                Ok(b) => {
                    if b.last_event_seq < b.first_event_seq || b.last_event_seq < next {
                        continue;
                    }
                    if b.first_event_seq > next {
                        // Missed something between the journal read and this batch.
                        break;
                    }
                    let mut pos = 0;
                    while let Frame::Valid { payload, len } = read_frame(&b.records[pos..]) {
                        pos += len;
                        let Ok(record) = decode_payload(payload) else {
                            break;
                        };
                        for e in record.events {
                            if e.seq.0 == next {
                                frame.clear();
                                encode_event_frame(&mut frame, request_id, &e);
                                wr.write_all(&frame).await?;
                                next += 1;
                            }
                        }
                    }
                    wr.flush().await?;
                }
                Err(broadcast::error::RecvError::Lagged(_)) => break,
                Err(broadcast::error::RecvError::Closed) => return Ok(()),
            }
        }
    }
}

/// Why a journal read for a subscriber stopped early.
enum Stop {
    /// The subscriber asked for events before the oldest retained one.
    NotRetained(u64),
    /// The subscriber went away.
    Gone,
    /// The journal could not be read.
    Journal(crate::journal::JournalError),
}

impl From<crate::journal::JournalError> for Stop {
    fn from(e: crate::journal::JournalError) -> Self {
        Stop::Journal(e)
    }
}

/// Reads events with sequence `>= start` from records up to command `durable`, in chunks.
///
/// Only the segments that can hold them are read: the starting segment is found from
/// each segment's first record alone, newest first.
fn read_events(dir: &std::path::Path, start: u64, durable: u64, tx: &mpsc::Sender<Chunk>) {
    let mut chunk = Vec::with_capacity(1024);
    let mut first = true;
    let result = (|| -> Result<(), Stop> {
        let segments = segment_starts(dir).map_err(|e| {
            Stop::Journal(crate::journal::JournalError::Io {
                path: dir.to_owned(),
                source: e,
            })
        })?;
        let mut begin = 0;
        for (i, (_, path)) in segments.iter().enumerate().rev() {
            if first_record_seqs(path)?.is_some_and(|(_, first_event)| first_event <= start) {
                begin = i;
                break;
            }
        }
        for (first_command, path) in &segments[begin..] {
            if *first_command > durable {
                break;
            }
            read_segment(path, |record| {
                if record.command_seq > durable {
                    return Ok(false);
                }
                if first {
                    first = false;
                    if record.first_event_seq > start {
                        return Err(Stop::NotRetained(record.first_event_seq));
                    }
                }
                chunk.extend(record.events.into_iter().filter(|e| e.seq.0 >= start));
                if chunk.len() >= 1024 {
                    let full = std::mem::replace(&mut chunk, Vec::with_capacity(1024));
                    tx.blocking_send(Ok(full)).map_err(|_| Stop::Gone)?;
                }
                Ok(true)
            })?;
        }
        Ok(())
    })();
    let last = match result {
        Ok(()) if chunk.is_empty() => return,
        Ok(()) => Ok(chunk),
        Err(Stop::Gone) => return,
        Err(Stop::NotRetained(oldest)) => Err((
            ErrorCode::NotRetained,
            format!("events before {oldest} are no longer retained"),
        )),
        Err(Stop::Journal(e)) => Err((ErrorCode::Internal, e.to_string())),
    };
    let _ = tx.blocking_send(last);
}
