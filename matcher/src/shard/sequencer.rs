//! The matching thread: the one owner of the engine.
//!
//! It drains the ring, stamps and sequences each command, runs it, appends its journal
//! record to the open batch, and queues its answer behind that record. When the journal
//! thread is free it takes the whole open batch, so one `fdatasync` covers everything
//! that arrived while the previous one ran: group commit falls out of the hand-off, and
//! matching runs ahead of the disk while acknowledgements wait for it.

use std::ops::Range;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, Sender};
use std::time::Duration;

use tokio::sync::OwnedSemaphorePermit;
use tracing::{info, warn};

use super::config::{Clock, ShardConfig, WaitStrategy};
use super::shared::{ConnTx, Inbound, Shared};
use crate::command::Command;
use crate::engine::Engine;
use crate::journal::encode_record;
use crate::protocol::{Request, Response, encode_ack, encode_response};
use crate::snapshot::SnapshotImage;
use crate::types::Timestamp;

/// An answer waiting for its batch to become durable.
#[derive(Debug)]
pub(crate) struct PendingAck {
    pub(crate) conn: Arc<ConnTx>,
    pub(crate) frame: Range<usize>,
    pub(crate) permit: Option<OwnedSemaphorePermit>,
}

/// Records and answers handed to the journal thread together.
#[derive(Debug, Default)]
pub(crate) struct Batch {
    pub(crate) records: Vec<u8>,
    pub(crate) frames: Vec<u8>,
    pub(crate) acks: Vec<PendingAck>,
    pub(crate) last_command_seq: u64,
    pub(crate) first_event_seq: u64,
    pub(crate) last_event_seq: u64,
}

impl Batch {
    fn is_empty(&self) -> bool {
        self.acks.is_empty() && self.records.is_empty()
    }
}

/// A finished snapshot image, to be written once its command is durable.
#[derive(Debug)]
pub(crate) struct SnapshotJob {
    pub(crate) image: SnapshotImage,
    pub(crate) command_seq: u64,
    pub(crate) waiters: Vec<(Arc<ConnTx>, u64)>,
}

/// The matching thread's state.
pub(crate) struct Sequencer {
    pub(crate) engine: Engine,
    pub(crate) shared: Arc<Shared>,
    pub(crate) batches: Sender<Batch>,
    pub(crate) recycled: Receiver<Batch>,
    pub(crate) snapshots: Sender<SnapshotJob>,
    pub(crate) config: ShardConfig,
    pub(crate) command_seq: u64,
}

impl Sequencer {
    /// Runs until the shard stops and the ring is drained.
    pub(crate) fn run(mut self) {
        self.shared.register_matcher();
        if let Some(core) = self.config.core {
            let pinned = core_affinity::get_core_ids()
                .and_then(|ids| ids.into_iter().find(|c| c.id == core))
                .is_some_and(core_affinity::set_for_current);
            if pinned {
                info!(core, "matching thread pinned");
            } else {
                warn!(core, "could not pin the matching thread; running unpinned");
            }
        }
        let clock = Arc::clone(&self.config.clock);
        let mut last_ts = 0u64;
        let mut batch = Batch::default();
        let mut since_snapshot = 0u64;
        let mut snapshot_at: Option<u64> = None;
        let mut snapshot_waiters: Vec<(Arc<ConnTx>, u64)> = Vec::new();
        let mut idle_spins = 0u32;
        loop {
            let mut did = 0usize;
            while batch.records.len() < self.config.max_batch_bytes {
                let Some(inbound) = self.shared.ring.pop() else {
                    break;
                };
                did += 1;
                self.handle(
                    inbound,
                    &mut batch,
                    &*clock,
                    &mut last_ts,
                    &mut since_snapshot,
                    &mut snapshot_at,
                    &mut snapshot_waiters,
                );
                if did >= 4096 {
                    break;
                }
            }
            if !batch.is_empty() && !self.shared.journal_busy.load(Ordering::Acquire) {
                self.shared.journal_busy.store(true, Ordering::Release);
                let next = self.recycled.try_recv().unwrap_or_default();
                let full = std::mem::replace(&mut batch, next);
                if self.batches.send(full).is_err() {
                    // The journal thread is gone (it failed): nothing can be acknowledged.
                    self.shared.failed.store(true, Ordering::Release);
                }
            }
            if let Some(seq) = snapshot_at
                && let Some(image) = self
                    .engine
                    .continue_snapshot(self.config.snapshot_chunks_per_turn)
            {
                snapshot_at = None;
                let job = SnapshotJob {
                    image,
                    command_seq: seq,
                    waiters: std::mem::take(&mut snapshot_waiters),
                };
                let _ = self.snapshots.send(job);
            }
            if did == 0 {
                let stopping = self.shared.stopping.load(Ordering::Acquire);
                if stopping
                    && self.shared.ring.is_empty()
                    && batch.is_empty()
                    && snapshot_at.is_none()
                {
                    break;
                }
                idle_spins += 1;
                match self.config.wait {
                    WaitStrategy::BusySpin => std::hint::spin_loop(),
                    WaitStrategy::SpinThenPark if idle_spins < 200 => std::hint::spin_loop(),
                    WaitStrategy::SpinThenPark => {
                        let shared = &self.shared;
                        let pending = !batch.is_empty();
                        shared.park_matcher(
                            || {
                                !shared.ring.is_empty()
                                    || (pending && !shared.journal_busy.load(Ordering::Acquire))
                                    || shared.stopping.load(Ordering::Acquire)
                            },
                            Duration::from_millis(if snapshot_at.is_some() { 1 } else { 50 }),
                        );
                    }
                }
            } else {
                idle_spins = 0;
            }
        }
        info!(command_seq = self.command_seq, "matching thread stopped");
    }

    #[allow(clippy::too_many_arguments)]
    fn handle(
        &mut self,
        inbound: Inbound,
        batch: &mut Batch,
        clock: &dyn Clock,
        last_ts: &mut u64,
        since_snapshot: &mut u64,
        snapshot_at: &mut Option<u64>,
        snapshot_waiters: &mut Vec<(Arc<ConnTx>, u64)>,
    ) {
        let Inbound {
            conn,
            request_id,
            request,
            permit,
        } = inbound;
        let start = batch.frames.len();
        match request {
            Request::Command(kind) => {
                // Timestamps never go backwards, whatever the wall clock does.
                *last_ts = clock.now_nanos().max(*last_ts);
                self.command_seq += 1;
                let first_event_seq = self.engine.last_seq().0 + 1;
                let command = Command {
                    timestamp: Timestamp(*last_ts),
                    kind,
                };
                let events = self.engine.process(&command);
                encode_record(
                    &mut batch.records,
                    self.command_seq,
                    first_event_seq,
                    &command,
                    events,
                );
                encode_ack(&mut batch.frames, request_id, self.command_seq, events);
                if batch.last_command_seq == 0 {
                    batch.first_event_seq = first_event_seq;
                }
                batch.last_command_seq = self.command_seq;
                batch.last_event_seq = self.engine.last_seq().0;
                *since_snapshot += 1;
                if self.config.snapshot_every > 0
                    && *since_snapshot >= self.config.snapshot_every
                    && snapshot_at.is_none()
                    && self.engine.begin_snapshot()
                {
                    *since_snapshot = 0;
                    *snapshot_at = Some(self.command_seq);
                }
            }
            Request::Order(id) => {
                encode_response(
                    &mut batch.frames,
                    request_id,
                    &Response::Order(self.engine.order(id)),
                );
            }
            Request::OrderByClientId(account, cid) => {
                let o = self.engine.order_by_client_id(account, cid);
                encode_response(&mut batch.frames, request_id, &Response::Order(o));
            }
            Request::OpenOrders(account, market) => {
                let orders = self.engine.open_orders(account, market);
                encode_response(&mut batch.frames, request_id, &Response::Orders(orders));
            }
            Request::Depth(market, levels) => {
                let depth = self.engine.depth(market, levels as usize).ok();
                encode_response(&mut batch.frames, request_id, &Response::Depth(depth));
            }
            Request::Ping => {
                encode_response(
                    &mut batch.frames,
                    request_id,
                    &Response::Pong {
                        command_seq: self.command_seq,
                        event_seq: self.engine.last_seq().0,
                    },
                );
            }
            Request::Snapshot => {
                if snapshot_at.is_none() && self.engine.begin_snapshot() {
                    *since_snapshot = 0;
                    *snapshot_at = Some(self.command_seq);
                }
                // Answered by the snapshot thread once the file is written.
                snapshot_waiters.push((conn, request_id));
                drop(permit);
                return;
            }
            Request::Subscribe(_) => {
                // Connections serve subscriptions themselves; never queued here.
                return;
            }
        }
        batch.acks.push(PendingAck {
            conn,
            frame: start..batch.frames.len(),
            permit,
        });
    }
}
