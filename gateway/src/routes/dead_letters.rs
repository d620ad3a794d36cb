//! `/v1/dead-letters`: jobs whose every attempt failed, kept for inspection, replay or purge.
//!
//! Design decisions:
//! - **A dead letter is a job**: listing answers the same `JobBody` as `/v1/jobs`, and
//!   `GET /v1/jobs/{id}` shows a dead letter's whole history; only what is specific to dead
//!   letters lives here.
//! - **Replay resets the attempts** and keeps the history; it is refused (409
//!   `dedup_conflict`) while an unfinished job holds the dead letter's dedup key, so a
//!   replay never creates the duplicate dedup keys exist to prevent.
//! - **Bulk replay is bounded** (`limit`, 1 to 500, oldest first), each job in its own
//!   transaction: one conflict does not undo the rest, and no request holds long locks.
//!   Call again while `replayed` is non-empty to drain a backlog.
//! - **Purge is admin-only** in the shipped policy: it is the one irreversible operation
//!   (the payload is deleted; the audit trail stays, ending in `purged`).
//! - Replayed jobs are published to Redis after the commit, as enqueued ones are.

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::job_wire::{JobBody, JobList, MAX_PAGE, page, path_job_id};
use crate::app::AppState;
use crate::openapi::Problem as ProblemSchema;
use crate::problem::{ApiJson, ApiPath, ApiQuery, Problem, from_control_plane};

/// Dead letters one bulk replay takes when the caller does not say.
pub const DEFAULT_REPLAY_LIMIT: u32 = 100;

/// Query of `GET /v1/dead-letters`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeadLettersQuery {
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

/// The body of `POST /v1/dead-letters/replay`: which dead letters to replay.
#[derive(Clone, Debug, Default, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplayFilter {
    /// Only this handler.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub job_type: Option<String>,
    /// Only this queue.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue: Option<String>,
    /// Most dead letters replayed by this request, 1 to 500 (100), oldest first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
}

/// What a bulk replay did.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct ReplayReportBody {
    /// Jobs queued again, oldest first.
    pub replayed: Vec<String>,
    /// Dead letters left dead: an unfinished job holds their dedup key, or another request
    /// replayed or purged them meanwhile.
    pub skipped: Vec<String>,
}

/// `GET /v1/dead-letters`.
///
/// # Errors
/// 400 `invalid_query`; 503 as for every job route.
#[utoipa::path(
    get,
    path = "/v1/dead-letters",
    operation_id = "list_dead_letters",
    tag = "jobs",
    summary = "List dead letters",
    description = "Jobs whose every attempt failed (status `dead`), newest first, one page at a time. `GET /v1/jobs/{id}` shows one with its history.",
    security(("bearer" = [])),
    params(
        ("type" = Option<String>, Query, nullable = false, description = "Only dead letters of this handler.", example = "http.request"),
        ("queue" = Option<String>, Query, nullable = false, description = "Only dead letters of this queue.", example = "webhooks"),
        ("cursor" = Option<String>, Query, nullable = false, description = "`next_cursor` of the previous page."),
        ("limit" = Option<u32>, Query, nullable = false, minimum = 1, maximum = 500, description = "Page size (default 50)."),
    ),
    responses(
        (status = 200, description = "A page of dead letters, newest first.", body = JobList),
        (status = 400, description = "Invalid query string: an unknown parameter, a malformed `cursor`, or a `limit` outside 1 to 500 (`invalid_query`, with `field`).",
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
    ApiQuery(query): ApiQuery<DeadLettersQuery>,
) -> Result<ApiJson<JobList>, Problem> {
    let control = state.require_control_plane()?;
    let page = page(query.cursor.as_deref(), query.limit)?;
    let filter = control_plane::DeadLetterFilter {
        job_type: query.job_type,
        queue: query.queue,
    };
    let jobs = control
        .store()
        .list_dead_letters(&filter, page)
        .await
        .map_err(|e| from_control_plane(&e, "list dead letters"))?;
    Ok(ApiJson(JobList::from(&jobs)))
}

/// `POST /v1/dead-letters/{id}/replay`.
///
/// # Errors
/// 404 `job_not_found`; 409 `invalid_transition` (not dead) or `dedup_conflict`.
#[utoipa::path(
    post,
    path = "/v1/dead-letters/{id}/replay",
    operation_id = "replay_dead_letter",
    tag = "jobs",
    summary = "Replay a dead letter",
    description = "Queues a dead letter again, due now, with its attempts reset; its history is kept and gains `replayed`.",
    security(("bearer" = [])),
    params(
        ("Idempotency-Key" = Option<String>, Header, nullable = false, description = "Makes the request safe to retry: 1 to 255 printable ASCII characters, kept 24 hours per caller. The same key and request replay the stored response; a different request with the key is a 422; while the first is in flight, a 409."),
        ("id" = String, Path, description = "The dead letter's job id.", example = "job_0190b4c4a1b27abc8def0123456789ab"),
    ),
    responses(
        (status = 200, description = "The job, queued again.", body = JobBody),
        (status = 400, description = "The id is not a job id (`invalid_path`), or an invalid `Idempotency-Key` (`invalid_idempotency_key`).",
            content_type = "application/problem+json", body = ProblemSchema),
        (status = 401, description = "Missing, malformed, expired or otherwise invalid bearer token (`unauthorized`); see `WWW-Authenticate`.",
            content_type = "application/problem+json", body = ProblemSchema,
            headers(("WWW-Authenticate" = String, description = "The bearer challenge, with the reason as `error`."))),
        (status = 403, description = "The caller's roles do not allow this request (`forbidden`); the shipped policy allows `operator` and `admin`.",
            content_type = "application/problem+json", body = ProblemSchema),
        (status = 404, description = "No job with that id (`job_not_found`).",
            content_type = "application/problem+json", body = ProblemSchema),
        (status = 409, description = "The job is not a dead letter (`invalid_transition`, with `job_status`), an unfinished job holds its dedup key (`dedup_conflict`, with `existing_job_id`), or a request with the same `Idempotency-Key` is in flight (`idempotency_in_flight`).",
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
pub async fn replay_one(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> Result<ApiJson<JobBody>, Problem> {
    let control = state.require_control_plane()?;
    let id = path_job_id(&id)?;
    let job = control
        .store()
        .replay(id)
        .await
        .map_err(|e| from_control_plane(&e, "replay dead letter"))?;
    control.publish(std::slice::from_ref(&job)).await;
    Ok(ApiJson(JobBody::from(&job)))
}

/// `POST /v1/dead-letters/replay`.
///
/// # Errors
/// 422 for a bad body or limit; 503 as for every job route.
#[utoipa::path(
    post,
    path = "/v1/dead-letters/replay",
    operation_id = "replay_dead_letters",
    tag = "jobs",
    summary = "Replay dead letters by filter",
    description = "Replays up to `limit` dead letters matching the filter, oldest first, each in its own transaction. Dead letters whose dedup key an unfinished job holds stay dead and are listed in `skipped`. Call again while `replayed` is non-empty to drain a backlog.",
    security(("bearer" = [])),
    params(
        ("Idempotency-Key" = Option<String>, Header, nullable = false, description = "Makes the request safe to retry: 1 to 255 printable ASCII characters, kept 24 hours per caller. The same key and request replay the stored response; a different request with the key is a 422; while the first is in flight, a 409."),
    ),
    request_body = ReplayFilter,
    responses(
        (status = 200, description = "What was replayed and what was left dead.", body = ReplayReportBody),
        (status = 400, description = "Malformed JSON (`malformed_json`) or an invalid `Idempotency-Key` (`invalid_idempotency_key`).",
            content_type = "application/problem+json", body = ProblemSchema),
        (status = 401, description = "Missing, malformed, expired or otherwise invalid bearer token (`unauthorized`); see `WWW-Authenticate`.",
            content_type = "application/problem+json", body = ProblemSchema,
            headers(("WWW-Authenticate" = String, description = "The bearer challenge, with the reason as `error`."))),
        (status = 403, description = "The caller's roles do not allow this request (`forbidden`); the shipped policy allows `operator` and `admin`.",
            content_type = "application/problem+json", body = ProblemSchema),
        (status = 409, description = "A request with the same `Idempotency-Key` is still being processed (`idempotency_in_flight`).",
            content_type = "application/problem+json", body = ProblemSchema),
        (status = 415, description = "The body is not `application/json` (`unsupported_media_type`).",
            content_type = "application/problem+json", body = ProblemSchema),
        (status = 422, description = "The body has the wrong shape (`invalid_body`) or `limit` is outside 1 to 500 (`invalid_job`, with `field`), or the `Idempotency-Key` was used for a different request (`idempotency_key_reused`).",
            content_type = "application/problem+json", body = ProblemSchema),
        (status = 413, description = "The request body exceeds the configured limit (`payload_too_large`).",
            content_type = "application/problem+json", body = ProblemSchema),
        (status = 429, description = "The caller's rate limit is exhausted (`rate_limited`).",
            content_type = "application/problem+json", body = ProblemSchema,
            headers(("Retry-After" = u32, description = "Seconds to wait before retrying."))),
        (status = 500, description = "Internal error (`internal`); no details are shown.",
            content_type = "application/problem+json", body = ProblemSchema),
        (status = 503, description = "No control plane is configured (`control_plane_unavailable`), the job store is unreachable (`unavailable`, with `Retry-After`; jobs replayed before the failure stay replayed), or the request ran out of time.",
            content_type = "application/problem+json", body = ProblemSchema,
            headers(("Retry-After" = u32, description = "Seconds to wait before retrying."))),
    )
)]
pub async fn replay_matching(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<ReplayFilter>,
) -> Result<ApiJson<ReplayReportBody>, Problem> {
    let control = state.require_control_plane()?;
    let limit = body.limit.unwrap_or(DEFAULT_REPLAY_LIMIT);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(Problem::unprocessable(
            "invalid_job",
            "limit",
            format!("`limit` must be 1 to {MAX_PAGE}."),
        ));
    }
    let filter = control_plane::DeadLetterFilter {
        job_type: body.job_type,
        queue: body.queue,
    };
    let report = control
        .store()
        .replay_matching(&filter, limit)
        .await
        .map_err(|e| from_control_plane(&e, "replay dead letters"))?;
    // The report names jobs, publishing needs their rows; a job that changed since (a
    // worker already started it) is skipped by `publish` or by the read failing, and the
    // reconciler covers anything missed.
    let mut replayed = Vec::with_capacity(report.replayed.len());
    for id in &report.replayed {
        match control.store().get(*id).await {
            Ok(detail) => replayed.push(detail.job),
            Err(error) => tracing::warn!(%error, job = %id, "replayed job not re-read for publish"),
        }
    }
    control.publish(&replayed).await;
    Ok(ApiJson(ReplayReportBody {
        replayed: report.replayed.iter().map(ToString::to_string).collect(),
        skipped: report.skipped.iter().map(ToString::to_string).collect(),
    }))
}

/// `DELETE /v1/dead-letters/{id}`.
///
/// # Errors
/// 404 `job_not_found`; 409 `invalid_transition` for a job that is not dead.
#[utoipa::path(
    delete,
    path = "/v1/dead-letters/{id}",
    operation_id = "purge_dead_letter",
    tag = "jobs",
    summary = "Purge a dead letter",
    description = "Deletes a dead letter with its payload. Irreversible: the shipped policy allows it to `admin` only. The audit trail is kept and ends with `purged`.",
    security(("bearer" = [])),
    params(
        ("Idempotency-Key" = Option<String>, Header, nullable = false, description = "Makes the request safe to retry: 1 to 255 printable ASCII characters, kept 24 hours per caller. The same key and request replay the stored response; a different request with the key is a 422; while the first is in flight, a 409."),
        ("id" = String, Path, description = "The dead letter's job id.", example = "job_0190b4c4a1b27abc8def0123456789ab"),
    ),
    responses(
        (status = 204, description = "The dead letter is deleted."),
        (status = 400, description = "The id is not a job id (`invalid_path`), or an invalid `Idempotency-Key` (`invalid_idempotency_key`).",
            content_type = "application/problem+json", body = ProblemSchema),
        (status = 401, description = "Missing, malformed, expired or otherwise invalid bearer token (`unauthorized`); see `WWW-Authenticate`.",
            content_type = "application/problem+json", body = ProblemSchema,
            headers(("WWW-Authenticate" = String, description = "The bearer challenge, with the reason as `error`."))),
        (status = 403, description = "The caller's roles do not allow this request (`forbidden`); the shipped policy allows `admin` only.",
            content_type = "application/problem+json", body = ProblemSchema),
        (status = 404, description = "No job with that id, or it was purged already (`job_not_found`).",
            content_type = "application/problem+json", body = ProblemSchema),
        (status = 409, description = "The job is not a dead letter (`invalid_transition`, with `job_status`), or a request with the same `Idempotency-Key` is in flight (`idempotency_in_flight`).",
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
pub async fn purge(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> Result<StatusCode, Problem> {
    let control = state.require_control_plane()?;
    let id = path_job_id(&id)?;
    control
        .store()
        .purge(id)
        .await
        .map_err(|e| from_control_plane(&e, "purge dead letter"))?;
    Ok(StatusCode::NO_CONTENT)
}

/// The resource's routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(replay_matching))
        .routes(routes!(replay_one))
        .routes(routes!(purge))
}
