//! `/v1/jobs`: enqueueing, reading, listing and cancelling control-plane jobs.
//!
//! Design decisions:
//! - **One body shape for one job or many**: `POST /v1/jobs` takes `{"jobs": [...]}`; a
//!   single job is a batch of one. One schema keeps generated clients simple (no untagged
//!   union to guess between), and a batch is one transaction, all or none.
//! - **Commit, then publish**: the answer is sent once the jobs are committed to PostgreSQL;
//!   publishing to Redis follows within a short budget and a failure there is logged only
//!   (see [`crate::control`]).
//! - **Dedup is not an error**: a job whose dedup key an unfinished job of its queue holds
//!   answers that job with `created: false`, so a client retrying an enqueue gets the same
//!   job back.
//! - **Keyset pages**: `cursor` is the last id of the previous page; pages stay stable while
//!   jobs are enqueued.
//! - Without a configured control plane every route answers 503 `control_plane_unavailable`.

use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::job_wire::{
    ApiJobStatus, EnqueueJobs, EnqueuedJob, EnqueuedJobs, JobBody, JobDetailBody, JobList, page,
    path_job_id,
};
use crate::app::AppState;
use crate::openapi::Problem as ProblemSchema;
use crate::problem::{ApiJson, ApiPath, ApiQuery, Problem, from_control_plane};

/// Query of `GET /v1/jobs`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobsQuery {
    /// Only this status.
    pub status: Option<ApiJobStatus>,
    /// Only this handler.
    #[serde(rename = "type")]
    pub job_type: Option<String>,
    /// Only this queue.
    pub queue: Option<String>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Page size, 1 to 500 (50).
    pub limit: Option<u32>,
}

/// `POST /v1/jobs`.
///
/// # Errors
/// 422 `invalid_job` for a bad job or batch size; 503 without a control plane or when it is
/// unreachable.
#[utoipa::path(
    post,
    path = "/v1/jobs",
    operation_id = "enqueue_jobs",
    tag = "jobs",
    summary = "Enqueue jobs",
    description = "Enqueues 1 to 1000 jobs in one transaction (all or none); one job is a batch of one. A job whose `dedup_key` an unfinished job of the same queue holds is not created: its entry is that job, with `created: false`. The answer follows the commit; the jobs are then handed to the workers' queue.",
    security(("bearer" = [])),
    params(
        ("Idempotency-Key" = Option<String>, Header, nullable = false, description = "Makes the request safe to retry: 1 to 255 printable ASCII characters, kept 24 hours per caller. The same key and request replay the stored response; a different request with the key is a 422; while the first is in flight, a 409."),
    ),
    request_body = EnqueueJobs,
    responses(
        (status = 201, description = "The batch is committed; one entry per requested job, in request order.", body = EnqueuedJobs,
            headers(("Idempotent-Replayed" = String, description = "`true` when this is the stored response of an earlier request with the same `Idempotency-Key`."))),
        (status = 400, description = "Malformed JSON (`malformed_json`), an unreadable body, or an invalid `Idempotency-Key` (`invalid_idempotency_key`).",
            content_type = "application/problem+json", body = ProblemSchema),
        (status = 401, description = "Missing, malformed, expired or otherwise invalid bearer token (`unauthorized`); see `WWW-Authenticate`.",
            content_type = "application/problem+json", body = ProblemSchema,
            headers(("WWW-Authenticate" = String, description = "The bearer challenge, with the reason as `error`."))),
        (status = 403, description = "The caller's roles do not allow this request (`forbidden`); the shipped policy allows `operator` and `admin`.",
            content_type = "application/problem+json", body = ProblemSchema),
        (status = 409, description = "A request with the same `Idempotency-Key` is still being processed (`idempotency_in_flight`); retry later.",
            content_type = "application/problem+json", body = ProblemSchema),
        (status = 413, description = "The request body exceeds the configured limit (`payload_too_large`).",
            content_type = "application/problem+json", body = ProblemSchema),
        (status = 415, description = "The body is not `application/json` (`unsupported_media_type`).",
            content_type = "application/problem+json", body = ProblemSchema),
        (status = 422, description = "The body has the wrong shape (`invalid_body`), a job is invalid or the batch is empty or over 1000 jobs (`invalid_job`, with `field`: `queue`, `job_type`, `dedup_key`, `max_attempts`, `jobs`); nothing was enqueued. Or the `Idempotency-Key` was used for a different request (`idempotency_key_reused`).",
            content_type = "application/problem+json", body = ProblemSchema),
        (status = 429, description = "The caller's rate limit is exhausted (`rate_limited`).",
            content_type = "application/problem+json", body = ProblemSchema,
            headers(("Retry-After" = u32, description = "Seconds to wait before retrying."))),
        (status = 500, description = "Internal error (`internal`); no details are shown.",
            content_type = "application/problem+json", body = ProblemSchema),
        (status = 503, description = "No control plane is configured (`control_plane_unavailable`), the job store is unreachable or contended (`unavailable`, with `Retry-After`; nothing was enqueued), the idempotency store is unavailable, or the request ran out of time.",
            content_type = "application/problem+json", body = ProblemSchema,
            headers(("Retry-After" = u32, description = "Seconds to wait before retrying."))),
    )
)]
pub async fn enqueue(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<EnqueueJobs>,
) -> Result<(StatusCode, ApiJson<EnqueuedJobs>), Problem> {
    let control = state.require_control_plane()?;
    let jobs = body.jobs.into_iter().map(|j| j.into_new_job()).collect();
    let enqueued = control
        .store()
        .enqueue_batch(jobs)
        .await
        .map_err(|e| from_control_plane(&e, "enqueue jobs"))?;
    let created: Vec<_> = enqueued
        .iter()
        .filter(|e| e.created)
        .map(|e| e.job.clone())
        .collect();
    control.publish(&created).await;
    let jobs = enqueued
        .iter()
        .map(|e| EnqueuedJob {
            created: e.created,
            job: JobBody::from(&e.job),
        })
        .collect();
    Ok((StatusCode::CREATED, ApiJson(EnqueuedJobs { jobs })))
}

/// `GET /v1/jobs/{id}`.
///
/// # Errors
/// 400 for a malformed id, 404 `job_not_found`, 503 as for every job route.
#[utoipa::path(
    get,
    path = "/v1/jobs/{id}",
    operation_id = "get_job",
    tag = "jobs",
    summary = "Get a job with its audit trail",
    description = "The job and its whole history (enqueued, every attempt's start and outcome, retries, dead-lettering, replays, cancellation), oldest first, read from one snapshot.",
    security(("bearer" = [])),
    params(
        ("id" = String, Path, description = "The job id.", example = "job_0190b4c4a1b27abc8def0123456789ab"),
    ),
    responses(
        (status = 200, description = "The job and its audit trail.", body = JobDetailBody),
        (status = 400, description = "The id is not a job id (`invalid_path`).",
            content_type = "application/problem+json", body = ProblemSchema),
        (status = 401, description = "Missing, malformed, expired or otherwise invalid bearer token (`unauthorized`); see `WWW-Authenticate`.",
            content_type = "application/problem+json", body = ProblemSchema,
            headers(("WWW-Authenticate" = String, description = "The bearer challenge, with the reason as `error`."))),
        (status = 403, description = "The caller's roles do not allow this request (`forbidden`).",
            content_type = "application/problem+json", body = ProblemSchema),
        (status = 404, description = "No job with that id (`job_not_found`); a purged dead letter is gone too.",
            content_type = "application/problem+json", body = ProblemSchema),
        (status = 429, description = "The caller's rate limit is exhausted (`rate_limited`).",
            content_type = "application/problem+json", body = ProblemSchema,
            headers(("Retry-After" = u32, description = "Seconds to wait before retrying."))),
        (status = 500, description = "Internal error (`internal`); no details are shown.",
            content_type = "application/problem+json", body = ProblemSchema),
        (status = 503, description = "No control plane is configured (`control_plane_unavailable`), the job store is unreachable (`unavailable`, with `Retry-After`), or the request ran out of time.",
            content_type = "application/problem+json", body = ProblemSchema,
            headers(("Retry-After" = u32, description = "Seconds to wait before retrying."))),
    )
)]
pub async fn get_one(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> Result<ApiJson<JobDetailBody>, Problem> {
    let control = state.require_control_plane()?;
    let id = path_job_id(&id)?;
    let detail = control
        .store()
        .get(id)
        .await
        .map_err(|e| from_control_plane(&e, "get job"))?;
    Ok(ApiJson(JobDetailBody {
        job: JobBody::from(&detail.job),
        audit: detail.audit.iter().map(Into::into).collect(),
    }))
}

/// `GET /v1/jobs`.
///
/// # Errors
/// 400 `invalid_query`; 503 as for every job route.
#[utoipa::path(
    get,
    path = "/v1/jobs",
    operation_id = "list_jobs",
    tag = "jobs",
    summary = "List jobs",
    description = "Jobs matching every given filter, newest first, one page at a time. Pass `next_cursor` as `cursor` for the next page; pages stay stable while jobs are enqueued.",
    security(("bearer" = [])),
    params(
        ("status" = Option<ApiJobStatus>, Query, nullable = false, description = "Only jobs in this status."),
        ("type" = Option<String>, Query, nullable = false, description = "Only jobs of this handler.", example = "http.request"),
        ("queue" = Option<String>, Query, nullable = false, description = "Only jobs of this queue.", example = "webhooks"),
        ("cursor" = Option<String>, Query, nullable = false, description = "`next_cursor` of the previous page."),
        ("limit" = Option<u32>, Query, nullable = false, minimum = 1, maximum = 500, description = "Page size (default 50)."),
    ),
    responses(
        (status = 200, description = "A page of jobs, newest first.", body = JobList),
        (status = 400, description = "Invalid query string: an unknown parameter or status, a malformed `cursor`, or a `limit` outside 1 to 500 (`invalid_query`, with `field`).",
            content_type = "application/problem+json", body = ProblemSchema),
        (status = 401, description = "Missing, malformed, expired or otherwise invalid bearer token (`unauthorized`); see `WWW-Authenticate`.",
            content_type = "application/problem+json", body = ProblemSchema,
            headers(("WWW-Authenticate" = String, description = "The bearer challenge, with the reason as `error`."))),
        (status = 403, description = "The caller's roles do not allow this request (`forbidden`).",
            content_type = "application/problem+json", body = ProblemSchema),
        (status = 429, description = "The caller's rate limit is exhausted (`rate_limited`).",
            content_type = "application/problem+json", body = ProblemSchema,
            headers(("Retry-After" = u32, description = "Seconds to wait before retrying."))),
        (status = 500, description = "Internal error (`internal`); no details are shown.",
            content_type = "application/problem+json", body = ProblemSchema),
        (status = 503, description = "No control plane is configured (`control_plane_unavailable`), the job store is unreachable (`unavailable`, with `Retry-After`), or the request ran out of time.",
            content_type = "application/problem+json", body = ProblemSchema,
            headers(("Retry-After" = u32, description = "Seconds to wait before retrying."))),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<JobsQuery>,
) -> Result<ApiJson<JobList>, Problem> {
    let control = state.require_control_plane()?;
    let page = page(query.cursor.as_deref(), query.limit)?;
    let filter = control_plane::JobFilter {
        status: query.status.map(Into::into),
        job_type: query.job_type,
        queue: query.queue,
    };
    let jobs = control
        .store()
        .list(&filter, page)
        .await
        .map_err(|e| from_control_plane(&e, "list jobs"))?;
    Ok(ApiJson(JobList::from(&jobs)))
}

/// `POST /v1/jobs/{id}/cancel`.
///
/// # Errors
/// 404 `job_not_found`; 409 `invalid_transition` once the job runs or has finished.
#[utoipa::path(
    post,
    path = "/v1/jobs/{id}/cancel",
    operation_id = "cancel_job",
    tag = "jobs",
    summary = "Cancel a job",
    description = "Cancels a job that has not started (`queued` or `scheduled`). A running or finished job cannot be cancelled (409 `invalid_transition`, with its `job_status`).",
    security(("bearer" = [])),
    params(
        ("Idempotency-Key" = Option<String>, Header, nullable = false, description = "Makes the request safe to retry: 1 to 255 printable ASCII characters, kept 24 hours per caller. The same key and request replay the stored response; a different request with the key is a 422; while the first is in flight, a 409."),
        ("id" = String, Path, description = "The job id.", example = "job_0190b4c4a1b27abc8def0123456789ab"),
    ),
    responses(
        (status = 200, description = "The cancelled job.", body = JobBody),
        (status = 400, description = "The id is not a job id (`invalid_path`), or an invalid `Idempotency-Key` (`invalid_idempotency_key`).",
            content_type = "application/problem+json", body = ProblemSchema),
        (status = 401, description = "Missing, malformed, expired or otherwise invalid bearer token (`unauthorized`); see `WWW-Authenticate`.",
            content_type = "application/problem+json", body = ProblemSchema,
            headers(("WWW-Authenticate" = String, description = "The bearer challenge, with the reason as `error`."))),
        (status = 403, description = "The caller's roles do not allow this request (`forbidden`); the shipped policy allows `operator` and `admin`.",
            content_type = "application/problem+json", body = ProblemSchema),
        (status = 404, description = "No job with that id (`job_not_found`).",
            content_type = "application/problem+json", body = ProblemSchema),
        (status = 409, description = "The job is running or finished (`invalid_transition`, with `job_status`), or a request with the same `Idempotency-Key` is in flight (`idempotency_in_flight`).",
            content_type = "application/problem+json", body = ProblemSchema),
        (status = 413, description = "The request body exceeds the configured limit (`payload_too_large`).",
            content_type = "application/problem+json", body = ProblemSchema),
        (status = 422, description = "The `Idempotency-Key` was used for a different request (`idempotency_key_reused`).",
            content_type = "application/problem+json", body = ProblemSchema),
        (status = 429, description = "The caller's rate limit is exhausted (`rate_limited`).",
            content_type = "application/problem+json", body = ProblemSchema,
            headers(("Retry-After" = u32, description = "Seconds to wait before retrying."))),
        (status = 500, description = "Internal error (`internal`); no details are shown.",
            content_type = "application/problem+json", body = ProblemSchema),
        (status = 503, description = "No control plane is configured (`control_plane_unavailable`), the job store is unreachable (`unavailable`, with `Retry-After`), or the request ran out of time.",
            content_type = "application/problem+json", body = ProblemSchema,
            headers(("Retry-After" = u32, description = "Seconds to wait before retrying."))),
    )
)]
pub async fn cancel(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> Result<ApiJson<JobBody>, Problem> {
    let control = state.require_control_plane()?;
    let id = path_job_id(&id)?;
    let job = control
        .store()
        .cancel(id)
        .await
        .map_err(|e| from_control_plane(&e, "cancel job"))?;
    Ok(ApiJson(JobBody::from(&job)))
}

/// The resource's routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(enqueue, list))
        .routes(routes!(get_one))
        .routes(routes!(cancel))
}
