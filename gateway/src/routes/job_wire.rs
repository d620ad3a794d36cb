//! The API's view of control-plane jobs: request and answer bodies of `/v1/jobs` and
//! `/v1/dead-letters`, and their mapping from the domain types.
//!
//! Kept apart from the store's types on purpose: the store may add columns or statuses, and
//! the API only changes when these do. Times are Unix milliseconds (`*_ms`), like the rest
//! of the API's integer timestamps: no time-zone or format parsing in any client.

use std::str::FromStr;
use std::time::{Duration, SystemTime};

use control_plane::{AuditEntry, AuditKind, Job, JobId, JobStatus, NewJob};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;

use crate::problem::Problem;

/// Jobs in one page when the caller does not say.
pub const DEFAULT_PAGE: u32 = 50;
/// Most jobs in one page.
pub const MAX_PAGE: u32 = 500;

/// Where a job is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ApiJobStatus {
    /// Due now, waiting for a worker.
    Queued,
    /// Waiting for its run time (delayed, or a retry after a failure).
    Scheduled,
    /// A worker holds the current attempt.
    Running,
    /// Finished successfully.
    Succeeded,
    /// Every attempt failed: a dead letter (see `/v1/dead-letters`).
    Dead,
    /// Cancelled before it ran.
    Cancelled,
}

impl From<JobStatus> for ApiJobStatus {
    fn from(status: JobStatus) -> Self {
        match status {
            JobStatus::Queued => Self::Queued,
            JobStatus::Scheduled => Self::Scheduled,
            JobStatus::Running => Self::Running,
            JobStatus::Succeeded => Self::Succeeded,
            JobStatus::Dead => Self::Dead,
            JobStatus::Cancelled => Self::Cancelled,
        }
    }
}

impl From<ApiJobStatus> for JobStatus {
    fn from(status: ApiJobStatus) -> Self {
        match status {
            ApiJobStatus::Queued => Self::Queued,
            ApiJobStatus::Scheduled => Self::Scheduled,
            ApiJobStatus::Running => Self::Running,
            ApiJobStatus::Succeeded => Self::Succeeded,
            ApiJobStatus::Dead => Self::Dead,
            ApiJobStatus::Cancelled => Self::Cancelled,
        }
    }
}

/// What happened to a job, as recorded in its audit trail.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ApiAuditEvent {
    /// The job was created.
    Enqueued,
    /// A worker started an attempt.
    Started,
    /// The attempt succeeded.
    Succeeded,
    /// The attempt failed.
    Failed,
    /// A retry was scheduled (`retry_at_ms`).
    RetryScheduled,
    /// The last attempt failed: the job became a dead letter.
    DeadLettered,
    /// An operator replayed the dead letter.
    Replayed,
    /// The job was cancelled.
    Cancelled,
    /// An operator purged the dead letter.
    Purged,
    /// The attempt's worker went silent; the job was queued again.
    Reclaimed,
    /// The attempt's worker stopped gracefully and handed the job back.
    Released,
}

impl From<AuditKind> for ApiAuditEvent {
    fn from(kind: AuditKind) -> Self {
        match kind {
            AuditKind::Enqueued => Self::Enqueued,
            AuditKind::Started => Self::Started,
            AuditKind::Succeeded => Self::Succeeded,
            AuditKind::Failed => Self::Failed,
            AuditKind::RetryScheduled => Self::RetryScheduled,
            AuditKind::DeadLettered => Self::DeadLettered,
            AuditKind::Replayed => Self::Replayed,
            AuditKind::Cancelled => Self::Cancelled,
            AuditKind::Purged => Self::Purged,
            AuditKind::Reclaimed => Self::Reclaimed,
            AuditKind::Released => Self::Released,
        }
    }
}

/// One job to enqueue.
#[derive(Clone, Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewJobBody {
    /// The queue (`[A-Za-z0-9_.:-]{1,128}`).
    #[schema(example = "webhooks")]
    pub queue: String,
    /// The handler that runs it (`[A-Za-z0-9_.:-]{1,128}`).
    #[serde(rename = "type")]
    #[schema(example = "http.request")]
    pub job_type: String,
    /// The handler's input (an empty object when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub payload: Option<Map<String, Value>>,
    /// Run no earlier than this (Unix ms); absent: now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_at_ms: Option<u64>,
    /// Attempts before the job becomes a dead letter; absent: the configured default (5).
    /// Larger values are lowered to the configured cap (25).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 1)]
    pub max_attempts: Option<u32>,
    /// While an unfinished job of the queue holds this key (1 to 256 bytes), enqueueing
    /// answers that job instead of creating another.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dedup_key: Option<String>,
}

impl NewJobBody {
    /// The domain request.
    #[must_use]
    pub fn into_new_job(self) -> NewJob {
        NewJob {
            queue: self.queue,
            job_type: self.job_type,
            payload: Value::Object(self.payload.unwrap_or_default()),
            run_at: self
                .run_at_ms
                .map(|ms| SystemTime::UNIX_EPOCH + Duration::from_millis(ms)),
            max_attempts: self.max_attempts,
            dedup_key: self.dedup_key,
        }
    }
}

/// The body of `POST /v1/jobs`: one job is a batch of one.
#[derive(Clone, Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EnqueueJobs {
    /// 1 to 1000 jobs, enqueued in one transaction: all or none.
    pub jobs: Vec<NewJobBody>,
}

/// A job as stored.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct JobBody {
    /// `job_` + 32 hex digits; ids sort by creation time.
    #[schema(example = "job_0190b4c4a1b27abc8def0123456789ab")]
    pub id: String,
    /// The queue.
    pub queue: String,
    /// The handler.
    #[serde(rename = "type")]
    pub job_type: String,
    /// The handler's input.
    #[schema(value_type = Object)]
    pub payload: Value,
    /// Current status.
    pub status: ApiJobStatus,
    /// Attempts started so far.
    pub attempt: u32,
    /// Attempts allowed before dead-lettering.
    pub max_attempts: u32,
    /// When it is (or was) due (Unix ms).
    pub run_at_ms: u64,
    /// Its dedup key, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dedup_key: Option<String>,
    /// The last failure's message.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// The worker of the current or last attempt.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub worker_id: Option<String>,
    /// Creation time (Unix ms).
    pub created_at_ms: u64,
    /// Last change (Unix ms).
    pub updated_at_ms: u64,
    /// When the current or last attempt started (Unix ms).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub started_at_ms: Option<u64>,
    /// When it succeeded, died or was cancelled (Unix ms).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finished_at_ms: Option<u64>,
}

impl From<&Job> for JobBody {
    fn from(job: &Job) -> Self {
        Self {
            id: job.id.to_string(),
            queue: job.queue.clone(),
            job_type: job.job_type.clone(),
            payload: job.payload.clone(),
            status: job.status.into(),
            attempt: job.attempt,
            max_attempts: job.max_attempts,
            run_at_ms: unix_ms(job.run_at),
            dedup_key: job.dedup_key.clone(),
            last_error: job.last_error.clone(),
            worker_id: job.worker_id.clone(),
            created_at_ms: unix_ms(job.created_at),
            updated_at_ms: unix_ms(job.updated_at),
            started_at_ms: job.started_at.map(unix_ms),
            finished_at_ms: job.finished_at.map(unix_ms),
        }
    }
}

/// What enqueueing one job did.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct EnqueuedJob {
    /// `false` when an unfinished job of the queue already held the dedup key: `job` is
    /// that job, and nothing new was created.
    pub created: bool,
    /// The new job, or the existing one.
    pub job: JobBody,
}

/// The answer of `POST /v1/jobs`, in request order.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct EnqueuedJobs {
    /// One entry per requested job.
    pub jobs: Vec<EnqueuedJob>,
}

/// One entry of a job's history.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct AuditEntryBody {
    /// Increasing sequence number: the order of the trail.
    pub seq: i64,
    /// When it happened (Unix ms).
    pub at_ms: u64,
    /// What happened.
    pub event: ApiAuditEvent,
    /// The job's attempt number at that point.
    pub attempt: u32,
    /// The worker (`started`, `succeeded`, `failed`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub worker_id: Option<String>,
    /// The error (`failed`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The retry time (`retry_scheduled`, Unix ms).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_at_ms: Option<u64>,
}

impl From<&AuditEntry> for AuditEntryBody {
    fn from(entry: &AuditEntry) -> Self {
        Self {
            seq: entry.seq,
            at_ms: unix_ms(entry.at),
            event: entry.kind.into(),
            attempt: entry.attempt,
            worker_id: entry.worker_id.clone(),
            error: entry.error.clone(),
            retry_at_ms: entry.retry_at.map(unix_ms),
        }
    }
}

/// The answer of `GET /v1/jobs/{id}`.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct JobDetailBody {
    /// The job.
    pub job: JobBody,
    /// Its history, oldest first.
    pub audit: Vec<AuditEntryBody>,
}

/// A page of jobs, newest first.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct JobList {
    /// The jobs.
    pub jobs: Vec<JobBody>,
    /// Pass as `cursor` for the next (older) page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

impl From<&control_plane::JobPage> for JobList {
    fn from(page: &control_plane::JobPage) -> Self {
        Self {
            jobs: page.jobs.iter().map(JobBody::from).collect(),
            next_cursor: page.next.map(|id| id.to_string()),
        }
    }
}

/// Parses a job id from the path: 400 `invalid_path` when it cannot be one.
///
/// # Errors
/// That 400.
pub fn path_job_id(id: &str) -> Result<JobId, Problem> {
    JobId::from_str(id).map_err(|_| {
        Problem::bad_request(
            "invalid_path",
            "A job id is `job_` followed by 32 lowercase hex digits.",
        )
        .with_field("id")
    })
}

/// The keyset page a `cursor` and `limit` ask for: 400 `invalid_query` for a malformed
/// cursor or a limit outside `1..=500`.
///
/// # Errors
/// That 400.
pub fn page(
    cursor: Option<&str>,
    limit: Option<u32>,
) -> Result<control_plane::PageRequest, Problem> {
    let before = cursor.map(JobId::from_str).transpose().map_err(|_| {
        Problem::bad_request("invalid_query", "`cursor` is not a cursor this API gave.")
            .with_field("cursor")
    })?;
    let limit = limit.unwrap_or(DEFAULT_PAGE);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(Problem::bad_request(
            "invalid_query",
            format!("`limit` must be 1 to {MAX_PAGE}."),
        )
        .with_field("limit"));
    }
    Ok(control_plane::PageRequest { before, limit })
}

/// Milliseconds since the Unix epoch (0 before it).
pub(crate) fn unix_ms(at: SystemTime) -> u64 {
    at.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_map_both_ways() {
        for status in JobStatus::ALL {
            assert_eq!(JobStatus::from(ApiJobStatus::from(*status)), *status);
            let text = serde_json::to_value(ApiJobStatus::from(*status)).unwrap_or_default();
            assert_eq!(text, status.as_str());
        }
        for kind in AuditKind::ALL {
            let text = serde_json::to_value(ApiAuditEvent::from(*kind)).unwrap_or_default();
            assert_eq!(text, kind.as_str());
        }
    }

    #[test]
    fn pages_are_checked() {
        assert!(page(None, None).is_ok_and(|p| p.limit == DEFAULT_PAGE && p.before.is_none()));
        for limit in [0, MAX_PAGE + 1] {
            let err = page(None, Some(limit))
                .err()
                .map(|p| p.field().map(str::to_owned));
            assert_eq!(err, Some(Some("limit".to_owned())));
        }
        let err = page(Some("ord_1"), None).err().map(|p| p.code());
        assert_eq!(err, Some("invalid_query"));
        let id = JobId::generate();
        assert!(page(Some(&id.to_string()), Some(1)).is_ok_and(|p| p.before == Some(id)));
    }
}
