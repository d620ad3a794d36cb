//! The snapshot thread: waits until a finished image's command is durable, encodes and
//! writes it, answers whoever asked, and retires journal segments it makes unnecessary.

use std::sync::Arc;
use std::sync::mpsc::Receiver;
use std::time::Instant;

use bytes::Bytes;
use tracing::{error, info};

use super::config::ShardConfig;
use super::sequencer::SnapshotJob;
use super::shared::Shared;
use super::snapshot_files::{retain, write_snapshot};
use crate::protocol::{ErrorCode, Response, encode_response};

pub(crate) fn run(jobs: Receiver<SnapshotJob>, shared: Arc<Shared>, config: ShardConfig) {
    crate::background::lower_current_thread_priority();
    for job in jobs {
        let answer = |response: &Response| {
            for (conn, request_id) in &job.waiters {
                let mut frame = Vec::new();
                encode_response(&mut frame, *request_id, response);
                let _ = conn.send(Bytes::from(frame));
            }
        };
        if !shared.wait_durable(job.command_seq) {
            answer(&Response::Error {
                code: ErrorCode::Internal,
                message: "snapshot abandoned: its commands never became durable".into(),
            });
            continue;
        }
        let started = Instant::now();
        let bytes = job.image.encode(job.command_seq);
        match write_snapshot(&config.data_dir, job.command_seq, &bytes) {
            Ok(path) => {
                info!(
                    path = %path.display(),
                    command_seq = job.command_seq,
                    bytes = bytes.len(),
                    took_ms = started.elapsed().as_millis(),
                    "snapshot written"
                );
                match retain(
                    &config.data_dir,
                    config.keep_snapshots,
                    config.archive_dir.as_deref(),
                ) {
                    Ok(retired) if !retired.is_empty() => {
                        info!(segments = retired.len(), "journal segments retired");
                    }
                    Ok(_) => {}
                    Err(e) => error!(error = %e, "journal retention failed"),
                }
                answer(&Response::SnapshotTaken {
                    command_seq: job.command_seq,
                });
            }
            Err(e) => {
                error!(error = %e, "snapshot write failed");
                answer(&Response::Error {
                    code: ErrorCode::Internal,
                    message: format!("snapshot write failed: {e}"),
                });
            }
        }
    }
}
