//! The shard's journal: every command and the events it produced, appended to
//! preallocated, checksummed segment files and made durable in batches before anything is
//! acknowledged. The journal is also the shard's event log: the feed serves events from it.

mod reader;
mod record;
mod scan;
mod segment;
mod writer;

pub use reader::{first_record_seqs, for_each_record, read_segment, try_for_each_record};
pub use record::{
    FRAME_HEADER, Frame, MAX_RECORD, RECORD_VERSION, Record, decode_payload, encode_record,
    read_frame,
};
pub use scan::{JournalError, JournalScan, SegmentScan, SegmentState, scan};
pub use segment::{SEGMENT_HEADER, SEGMENT_VERSION, segment_path, segment_starts};
pub use writer::{JournalConfig, JournalWriter};
