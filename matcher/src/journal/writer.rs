//! Appending batches of records: write, then one `fdatasync` for the whole batch (group
//! commit), rolling to a preallocated spare segment when the current one is full.
//!
//! A background thread (`journal-spares`) keeps one spare ready, so a roll-over costs a
//! header write and a rename rather than writing a whole segment of zeros on the
//! matching path's critical durability step.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, Sender};
use std::thread::JoinHandle;
use std::time::{SystemTime, UNIX_EPOCH};

use super::record::{FRAME_HEADER, Frame, payload_command_seq, read_frame};
use super::scan::{JournalError, JournalScan};
use super::segment::{SEGMENT_HEADER, activate, create_spare};

/// Where and how the journal is written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JournalConfig {
    /// Directory of segments (and snapshots).
    pub dir: PathBuf,
    /// Bytes per segment, preallocated.
    pub segment_size: u64,
    /// `fdatasync` each batch. Off only for tests and benchmarks that say so.
    pub fsync: bool,
}

/// Appends record batches durably.
#[derive(Debug)]
pub struct JournalWriter {
    config: JournalConfig,
    file: File,
    path: PathBuf,
    /// Offset of the next record in `file`.
    pos: u64,
    /// Size of `file`.
    len: u64,
    ready: Vec<(PathBuf, u64)>,
    spare_requests: Option<Sender<()>>,
    spare_ready: Receiver<std::io::Result<PathBuf>>,
    preparer: Option<JoinHandle<()>>,
}

impl JournalWriter {
    /// Opens the journal for appending after the records `scan` found (which must come from
    /// a repairing scan of the same directory).
    ///
    /// # Errors
    /// I/O errors creating or opening segments.
    pub fn open(config: JournalConfig, scan: &JournalScan) -> Result<Self, JournalError> {
        let dir = config.dir.clone();
        let (req_tx, req_rx) = mpsc::channel::<()>();
        let (ready_tx, ready_rx) = mpsc::channel();
        let prep_dir = dir.clone();
        let size = config.segment_size;
        let preparer = std::thread::Builder::new()
            .name("journal-spares".into())
            .spawn(move || {
                crate::background::lower_current_thread_priority();
                for () in req_rx {
                    let name = format!(
                        "spare-{}",
                        SystemTime::now()
                            .duration_since(UNIX_EPOCH)
                            .map_or(0, |d| d.as_nanos())
                    );
                    if ready_tx
                        .send(create_spare(&prep_dir, &name, size, true))
                        .is_err()
                    {
                        return;
                    }
                }
            })
            .map_err(|e| JournalError::io(&dir, e))?;
        let mut ready = Vec::new();
        for p in &scan.spares {
            let len = std::fs::metadata(p)
                .map_err(|e| JournalError::io(p, e))?
                .len();
            ready.push((p.clone(), len));
        }
        let (file, path, pos, len) = match scan.segments.last() {
            Some(seg) => {
                let file = OpenOptions::new()
                    .read(true)
                    .write(true)
                    .open(&seg.path)
                    .map_err(|e| JournalError::io(&seg.path, e))?;
                let len = file
                    .metadata()
                    .map_err(|e| JournalError::io(&seg.path, e))?
                    .len();
                (file, seg.path.clone(), seg.end_offset, len)
            }
            None => {
                let spare = match ready.pop() {
                    Some((p, _)) => p,
                    None => create_spare(&dir, "spare-initial", config.segment_size, false)
                        .map_err(|e| JournalError::io(&dir, e))?,
                };
                let first = scan.last_command_seq + 1;
                let (file, path) =
                    activate(&dir, &spare, first).map_err(|e| JournalError::io(&spare, e))?;
                let len = file
                    .metadata()
                    .map_err(|e| JournalError::io(&path, e))?
                    .len();
                file.sync_data().map_err(|e| JournalError::io(&path, e))?;
                (file, path, SEGMENT_HEADER as u64, len)
            }
        };
        if ready.is_empty() {
            // The next segment is made now, before serving, rather than in the background
            // under the first load.
            let spare = create_spare(&dir, "spare-next", config.segment_size, false)
                .map_err(|e| JournalError::io(&dir, e))?;
            ready.push((spare, config.segment_size));
        }
        let writer = Self {
            config,
            file,
            path,
            pos,
            len,
            ready,
            spare_requests: Some(req_tx),
            spare_ready: ready_rx,
            preparer: Some(preparer),
        };
        Ok(writer)
    }

    fn request_spare(&self) {
        if let Some(tx) = &self.spare_requests {
            // The preparer only stops when this writer drops.
            let _ = tx.send(());
        }
    }

    /// The segment being written.
    #[must_use]
    pub fn current_segment(&self) -> &Path {
        &self.path
    }

    /// Writes `batch` (whole frames, in command order) and makes it durable with one
    /// `fdatasync` per segment touched.
    ///
    /// # Errors
    /// I/O errors. After an error the journal's state on disk is unknown past the last
    /// successful call: the caller must stop acknowledging and restart (recovery decides).
    pub fn append(&mut self, batch: &[u8]) -> Result<(), JournalError> {
        let mut rest = batch;
        while !rest.is_empty() {
            let room = self.len.saturating_sub(self.pos);
            let fit = whole_frames_within(rest, room);
            if fit > 0 {
                self.file
                    .write_all_at(&rest[..fit], self.pos)
                    .map_err(|e| JournalError::io(&self.path, e))?;
                self.pos += fit as u64;
                rest = &rest[fit..];
            }
            if !rest.is_empty() {
                self.sync()?;
                self.roll(rest)?;
            }
        }
        self.sync()
    }

    fn sync(&self) -> Result<(), JournalError> {
        if self.config.fsync {
            self.file
                .sync_data()
                .map_err(|e| JournalError::io(&self.path, e))?;
        }
        Ok(())
    }

    /// Starts a new segment for the frames at the start of `rest`.
    fn roll(&mut self, rest: &[u8]) -> Result<(), JournalError> {
        let (first_seq, first_len) = match read_frame(rest) {
            Frame::Valid { payload, len } => (payload_command_seq(payload).unwrap_or(0), len),
            _ => {
                return Err(JournalError::Corrupt {
                    path: self.path.clone(),
                    offset: self.pos,
                    reason: "batch handed to the writer is not whole frames".into(),
                });
            }
        };
        let need = (SEGMENT_HEADER + first_len) as u64;
        while let Ok(spare) = self.spare_ready.try_recv() {
            let spare = spare.map_err(|e| JournalError::io(&self.config.dir, e))?;
            self.ready.push((spare, self.config.segment_size));
        }
        let dir = self.config.dir.clone();
        let spare = match self.ready.iter().position(|(_, len)| *len >= need) {
            Some(i) => self.ready.swap_remove(i).0,
            None if need <= self.config.segment_size => {
                // None prepared yet: wait for the one being made.
                match self.spare_ready.recv() {
                    Ok(s) => s.map_err(|e| JournalError::io(&dir, e))?,
                    Err(_) => create_spare(&dir, "spare-sync", self.config.segment_size, false)
                        .map_err(|e| JournalError::io(&dir, e))?,
                }
            }
            None => {
                // A record larger than a segment gets a segment of its own size.
                create_spare(&dir, &format!("spare-oversize-{first_seq}"), need, false)
                    .map_err(|e| JournalError::io(&dir, e))?
            }
        };
        let (file, path) =
            activate(&dir, &spare, first_seq).map_err(|e| JournalError::io(&spare, e))?;
        self.len = file
            .metadata()
            .map_err(|e| JournalError::io(&path, e))?
            .len();
        self.file = file;
        self.path = path;
        self.pos = SEGMENT_HEADER as u64;
        self.request_spare();
        Ok(())
    }
}

impl Drop for JournalWriter {
    fn drop(&mut self) {
        self.spare_requests = None;
        if let Some(h) = self.preparer.take() {
            let _ = h.join();
        }
    }
}

/// Length of the longest prefix of `batch` made of whole frames and no longer than `room`.
fn whole_frames_within(batch: &[u8], room: u64) -> usize {
    let mut at = 0usize;
    while at + FRAME_HEADER <= batch.len() {
        let len = u32::from_le_bytes([batch[at], batch[at + 1], batch[at + 2], batch[at + 3]])
            as usize
            + FRAME_HEADER;
        if (at + len) as u64 > room || at + len > batch.len() {
            break;
        }
        at += len;
    }
    at
}
