//! Job domain types: ids, statuses, rows, audit entries, requests and filters. No SQL and no
//! HTTP here; the store maps rows to these, the gateway maps these to its API types.

use std::fmt;
use std::str::FromStr;
use std::time::SystemTime;

use uuid::Uuid;

use crate::error::Error;

/// A job id, shown as `job_` + 32 lowercase hex digits of a UUIDv7. The UUID is time-ordered,
/// so ids sort by creation time (within one process strictly, across processes to the
/// millisecond), which is what keyset pagination relies on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct JobId(Uuid);

impl JobId {
    const PREFIX: &'static str = "job_";

    /// A new, time-ordered id.
    #[must_use]
    pub fn generate() -> Self {
        JobId(Uuid::now_v7())
    }

    /// The UUID stored in PostgreSQL.
    #[must_use]
    pub fn as_uuid(&self) -> Uuid {
        self.0
    }

    pub(crate) fn from_uuid(id: Uuid) -> Self {
        JobId(id)
    }
}

impl fmt::Display for JobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", Self::PREFIX, self.0.simple())
    }
}

impl FromStr for JobId {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        let hex = s
            .strip_prefix(Self::PREFIX)
            .ok_or_else(|| Error::invalid("job id", "must start with `job_`"))?;
        // Exactly the simple form we print: one spelling per id.
        if hex.len() != 32 || !hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            return Err(Error::invalid(
                "job id",
                "expected `job_` + 32 lowercase hex digits",
            ));
        }
        Uuid::try_parse(hex)
            .map(JobId)
            .map_err(|e| Error::invalid("job id", e.to_string()))
    }
}

macro_rules! text_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $text:literal,)+ }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vmeta])* $variant,)+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant,)+];

            /// The stable spelling used in the database and the API.
            #[must_use]
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)+
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = Error;

            fn from_str(s: &str) -> Result<Self, Error> {
                match s {
                    $($text => Ok($name::$variant),)+
                    other => Err(Error::invalid(stringify!($name), format!("unknown value `{other}`"))),
                }
            }
        }
    };
}

text_enum! {
    /// Where a job is in its life.
    JobStatus {
        /// Due now, waiting for a worker.
        Queued = "queued",
        /// Waiting for its `run_at` (delayed, or a retry after a failure).
        Scheduled = "scheduled",
        /// A worker holds the current attempt.
        Running = "running",
        /// Finished successfully.
        Succeeded = "succeeded",
        /// Every attempt failed: a dead letter, kept for inspection, replay or purge.
        Dead = "dead",
        /// Cancelled before it ran.
        Cancelled = "cancelled",
    }
}

impl JobStatus {
    /// Whether the job can still run (and so still holds its dedup key).
    #[must_use]
    pub fn is_unfinished(self) -> bool {
        matches!(
            self,
            JobStatus::Queued | JobStatus::Scheduled | JobStatus::Running
        )
    }
}

text_enum! {
    /// The kind of an audit entry.
    AuditKind {
        /// The job was created.
        Enqueued = "enqueued",
        /// A worker started an attempt.
        Started = "started",
        /// The attempt succeeded.
        Succeeded = "succeeded",
        /// The attempt failed.
        Failed = "failed",
        /// A retry was scheduled.
        RetryScheduled = "retry_scheduled",
        /// The last attempt failed: the job is a dead letter.
        DeadLettered = "dead_lettered",
        /// An operator replayed the dead letter.
        Replayed = "replayed",
        /// The job was cancelled.
        Cancelled = "cancelled",
        /// An operator purged the dead letter (the job row is gone; the trail stays).
        Purged = "purged",
        /// The attempt's worker gave no outcome within the visibility timeout (it died or
        /// hung): the job went back to `queued` (or dead, if that was its last attempt).
        Reclaimed = "reclaimed",
        /// The attempt's worker stopped gracefully before the attempt finished and handed
        /// the job back to `queued`; the attempt was not spent.
        Released = "released",
    }
}

/// A job as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    /// Its id.
    pub id: JobId,
    /// The queue (one Redis stream per queue later).
    pub queue: String,
    /// The handler that runs it, e.g. `http.request`.
    pub job_type: String,
    /// Handler input.
    pub payload: serde_json::Value,
    /// Current status.
    pub status: JobStatus,
    /// Attempts started so far.
    pub attempt: u32,
    /// Attempts allowed before dead-lettering.
    pub max_attempts: u32,
    /// When it is (or was) due.
    pub run_at: SystemTime,
    /// Dedup key, unique per queue while the job is unfinished.
    pub dedup_key: Option<String>,
    /// The last failure's message.
    pub last_error: Option<String>,
    /// The worker of the current or last attempt.
    pub worker_id: Option<String>,
    /// Creation time.
    pub created_at: SystemTime,
    /// Last change.
    pub updated_at: SystemTime,
    /// When the current or last attempt started.
    pub started_at: Option<SystemTime>,
    /// When it succeeded, died or was cancelled.
    pub finished_at: Option<SystemTime>,
}

/// One row of a job's history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    /// Global, increasing sequence number (the order of the trail).
    pub seq: i64,
    /// When it happened.
    pub at: SystemTime,
    /// What happened.
    pub kind: AuditKind,
    /// The job's attempt number at that point.
    pub attempt: u32,
    /// The worker, for `started`, `succeeded` and `failed`.
    pub worker_id: Option<String>,
    /// The error, for `failed`.
    pub error: Option<String>,
    /// The retry time, for `retry_scheduled`.
    pub retry_at: Option<SystemTime>,
}

/// A job with its full history, oldest entry first.
#[derive(Debug, Clone, PartialEq)]
pub struct JobDetail {
    /// The job.
    pub job: Job,
    /// Its audit trail.
    pub audit: Vec<AuditEntry>,
}

/// A job to enqueue.
#[derive(Debug, Clone, PartialEq)]
pub struct NewJob {
    /// Target queue (`[A-Za-z0-9_.:-]{1,128}`).
    pub queue: String,
    /// Handler name (`[A-Za-z0-9_.:-]{1,128}`).
    pub job_type: String,
    /// Handler input.
    pub payload: serde_json::Value,
    /// Run no earlier than this; `None` means now.
    pub run_at: Option<SystemTime>,
    /// Attempts allowed; `None` takes the configured default. Capped by configuration.
    pub max_attempts: Option<u32>,
    /// While a job with this key is unfinished in the queue, enqueueing returns it instead.
    pub dedup_key: Option<String>,
}

impl NewJob {
    /// A job due now, with default attempts and no dedup key.
    #[must_use]
    pub fn new(
        queue: impl Into<String>,
        job_type: impl Into<String>,
        payload: serde_json::Value,
    ) -> Self {
        NewJob {
            queue: queue.into(),
            job_type: job_type.into(),
            payload,
            run_at: None,
            max_attempts: None,
            dedup_key: None,
        }
    }

    /// Sets the dedup key.
    #[must_use]
    pub fn dedup_key(mut self, key: impl Into<String>) -> Self {
        self.dedup_key = Some(key.into());
        self
    }

    /// Sets the due time.
    #[must_use]
    pub fn run_at(mut self, at: SystemTime) -> Self {
        self.run_at = Some(at);
        self
    }

    /// Sets the attempt limit.
    #[must_use]
    pub fn max_attempts(mut self, n: u32) -> Self {
        self.max_attempts = Some(n);
        self
    }
}

/// What enqueueing did.
#[derive(Debug, Clone, PartialEq)]
pub struct Enqueued {
    /// The new job, or the unfinished one holding the same dedup key.
    pub job: Job,
    /// `false` when an existing job was returned (dedup).
    pub created: bool,
}

/// The right to record the outcome of one attempt, handed out by `mark_started`. Success and
/// failure are only recorded while the job is still running this very attempt for this
/// worker: a worker whose job was reclaimed cannot overwrite the newer attempt's outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    /// The job.
    pub job_id: JobId,
    /// The worker (a unique id per process start).
    pub worker_id: String,
    /// The attempt this lease covers (1-based).
    pub attempt: u32,
}

/// Filters for listing jobs (all optional, combined with AND).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JobFilter {
    /// Only this status.
    pub status: Option<JobStatus>,
    /// Only this handler.
    pub job_type: Option<String>,
    /// Only this queue.
    pub queue: Option<String>,
}

/// Keyset pagination, newest first: a page holds jobs older than `before`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    /// The last id of the previous page (`JobPage::next`), or `None` for the first page.
    pub before: Option<JobId>,
    /// Page size, clamped to `1..=500`.
    pub limit: u32,
}

impl Default for PageRequest {
    fn default() -> Self {
        PageRequest {
            before: None,
            limit: 50,
        }
    }
}

/// One page of jobs, newest first.
#[derive(Debug, Clone, PartialEq)]
pub struct JobPage {
    /// The jobs.
    pub jobs: Vec<Job>,
    /// Cursor of the next page; `None` on the last page.
    pub next: Option<JobId>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_ids_round_trip_and_sort_by_creation() {
        let a = JobId::generate();
        let b = JobId::generate();
        assert!(a < b, "UUIDv7 ids from one process are increasing");
        let shown = a.to_string();
        assert!(shown.starts_with("job_") && shown.len() == 36, "{shown}");
        assert_eq!(shown.parse::<JobId>().expect("parse"), a);
        assert!(a.to_string() < b.to_string(), "text order matches id order");
    }

    #[test]
    fn malformed_job_ids_are_refused() {
        let good = JobId::generate().to_string();
        for bad in [
            "",
            "job_",
            &good[4..],
            &good.replace("job_", "ord_"),
            &good.to_uppercase(),
            &format!("{good}0"),
            "job_0190b4c4-1234-7abc-8def-0123456789ab",
        ] {
            assert!(bad.parse::<JobId>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn statuses_and_audit_kinds_round_trip_through_their_text() {
        for s in JobStatus::ALL {
            assert_eq!(s.as_str().parse::<JobStatus>().expect("status"), *s);
        }
        for k in AuditKind::ALL {
            assert_eq!(k.as_str().parse::<AuditKind>().expect("kind"), *k);
        }
        assert!("paused".parse::<JobStatus>().is_err());
        let unfinished: Vec<_> = JobStatus::ALL
            .iter()
            .filter(|s| s.is_unfinished())
            .collect();
        assert_eq!(
            unfinished,
            [
                &JobStatus::Queued,
                &JobStatus::Scheduled,
                &JobStatus::Running
            ]
        );
    }
}

/// A paused job type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TypePause {
    /// The type.
    pub job_type: String,
    /// When it was first paused.
    pub paused_at: SystemTime,
    /// Why, as the operator (or breaker) said.
    pub reason: Option<String>,
}

/// One queue's jobs by status, from the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueCounts {
    /// The queue.
    pub queue: String,
    /// Due and waiting for a worker (including parked jobs of paused types).
    pub queued: u64,
    /// Waiting for their run time (delayed jobs and retries).
    pub scheduled: u64,
    /// In flight.
    pub running: u64,
    /// Dead letters.
    pub dead: u64,
}

/// Whether `name` is a valid queue or job type name (`[A-Za-z0-9_.:-]{1,128}`): short, and
/// safe in Redis keys and metric labels. The schema checks the same.
#[must_use]
pub fn is_valid_name(name: &str) -> bool {
    (1..=128).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b':' | b'-'))
}
