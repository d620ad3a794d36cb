//! `/v1/queues` and `/v1/job-types/{job_type}/pause|resume`: what operators watch and the
//! backpressure they apply.
//!
//! Design decisions:
//! - **Counts come from PostgreSQL, the fast path's state from Redis.** The store says how
//!   much work exists (queued, scheduled, running, dead); Redis says what the workers can
//!   see (stream, pending, delayed) and how fast outcomes were recorded over the last
//!   minute. When Redis is away the store's counts are still answered, with `redis` and
//!   `rates` null: the page operators open during an incident must not fail with it.
//! - **Pausing is per job type** (a webhook endpoint, a downstream), not per queue: a
//!   queue carries many types and one bad downstream must not stop the others. Jobs of a
//!   paused type stay `queued` and spend no attempt; resuming publishes them at once.

use axum::extract::State;
use control_plane::{QueueCounts, TypePause};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::job_wire::unix_ms;
use crate::app::AppState;
use crate::openapi::Problem as ProblemSchema;
use crate::problem::{ApiJson, ApiPath, Problem, from_control_plane};

/// One queue's state.
#[derive(Debug, Serialize, ToSchema)]
pub struct QueueStats {
    /// The queue.
    #[schema(example = "webhooks")]
    pub queue: String,
    /// Due jobs waiting for a worker (jobs of paused types included).
    pub queued: u64,
    /// Jobs waiting for their run time: delayed ones and retries.
    pub scheduled: u64,
    /// Jobs in flight.
    pub running: u64,
    /// Dead letters.
    pub dead: u64,
    /// The workers' view in Redis; null when Redis could not be read.
    pub redis: Option<RedisDepth>,
    /// Outcomes over the last whole minute; null when Redis could not be read.
    pub rates: Option<QueueRates>,
    /// The worker processes consuming the queue, from its consumer group; null when Redis
    /// could not be read.
    pub workers: Option<Vec<QueueWorker>>,
}

/// A worker process consuming a queue. A live worker reads or reclaims at least every
/// few seconds (`reclaim_every_ms`, 5 s by default): an `idle_ms` far beyond that is a
/// worker that is gone (its deliveries are reclaimed after the visibility timeout, and it
/// is removed from the list after ten of them).
#[derive(Debug, Serialize, ToSchema)]
pub struct QueueWorker {
    /// The worker id (`<name>-<uuidv7>`, unique per process start), as in audit trails.
    pub worker: String,
    /// Deliveries it holds unacknowledged (jobs in flight there).
    pub pending: u64,
    /// Milliseconds since it last read or claimed.
    pub idle_ms: u64,
}

/// A queue in Redis.
#[derive(Debug, Serialize, ToSchema)]
pub struct RedisDepth {
    /// Messages on the stream (delivered or not; acknowledged ones are deleted).
    pub stream: u64,
    /// Messages delivered to a worker and not yet acknowledged.
    pub pending: u64,
    /// Messages waiting in the delayed set for their run time.
    pub delayed: u64,
}

/// Recorded outcomes per minute.
#[derive(Debug, Serialize, ToSchema)]
pub struct QueueRates {
    /// Successes recorded in the minute that ended at the last 10-second boundary.
    pub succeeded_per_minute: u64,
    /// Failed attempts (retried or dead-lettered) recorded in that minute.
    pub failed_per_minute: u64,
}

/// A paused job type.
#[derive(Debug, Serialize, ToSchema)]
pub struct PausedType {
    /// The type.
    #[schema(example = "webhook.deliver")]
    pub job_type: String,
    /// When it was paused (Unix milliseconds).
    pub paused_at_ms: u64,
    /// Why.
    pub reason: Option<String>,
}

impl From<&TypePause> for PausedType {
    fn from(p: &TypePause) -> Self {
        PausedType {
            job_type: p.job_type.clone(),
            paused_at_ms: unix_ms(p.paused_at),
            reason: p.reason.clone(),
        }
    }
}

/// Answer of `GET /v1/queues`.
#[derive(Debug, Serialize, ToSchema)]
pub struct QueueList {
    /// Every queue that has held a job, by name.
    pub queues: Vec<QueueStats>,
    /// Paused job types, by name.
    pub paused_types: Vec<PausedType>,
}

/// Body of `POST /v1/job-types/{job_type}/pause`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PauseRequest {
    /// Why (shown in `GET /v1/queues`), at most 1024 bytes.
    #[schema(example = "endpoint returns 503; vendor incident #4411")]
    pub reason: Option<String>,
}

/// Answer of `POST /v1/job-types/{job_type}/resume`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Resumed {
    /// The type.
    pub job_type: String,
    /// Whether it was paused (resuming a running type changes nothing).
    pub was_paused: bool,
    /// Waiting jobs of the type published to the workers now.
    pub republished: u64,
}

/// `GET /v1/queues`.
///
/// # Errors
/// 503 as for every job route.
#[utoipa::path(
    get,
    path = "/v1/queues",
    operation_id = "list_queues",
    tag = "jobs",
    summary = "Queue depths, rates and paused job types",
    description = "Every queue that has held a job: jobs queued, scheduled, running and dead (from the job store), the workers' view in Redis (stream, pending, delayed), outcomes per minute, and the worker processes consuming it with their idle time (their heartbeat). `redis`, `rates` and `workers` are null when Redis cannot be read; the counts are still answered.",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Queues by name, and the paused job types.", body = QueueList),
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
pub async fn list(State(state): State<AppState>) -> Result<ApiJson<QueueList>, Problem> {
    let control = state.require_control_plane()?;
    let store = control.store();
    let counts = store
        .queue_counts()
        .await
        .map_err(|e| from_control_plane(&e, "queue counts"))?;
    let paused = store
        .paused_types()
        .await
        .map_err(|e| from_control_plane(&e, "paused types"))?;
    // Redis's view under one budget for the whole page: a hung Redis costs it once, not
    // once per queue, and leaves those fields null.
    let deadline = tokio::time::Instant::now() + REDIS_BUDGET;
    let mut queues = Vec::with_capacity(counts.len());
    let mut redis_up = true;
    for c in &counts {
        let view = if redis_up {
            let view = tokio::time::timeout_at(deadline, redis_view(control, &c.queue)).await;
            if view.is_err() {
                tracing::warn!("queue stats: Redis did not answer in time");
                redis_up = false;
            }
            view.ok().flatten()
        } else {
            None
        };
        queues.push(stats(c, view));
    }
    Ok(ApiJson(QueueList {
        queues,
        paused_types: paused.iter().map(Into::into).collect(),
    }))
}

/// Longest `GET /v1/queues` waits for Redis, over all queues.
const REDIS_BUDGET: std::time::Duration = std::time::Duration::from_millis(500);

/// What Redis knows of a queue.
struct RedisView {
    depth: control_plane::QueueDepth,
    rates: control_plane::Rates,
    workers: Vec<control_plane::ConsumerInfo>,
}

/// A queue's depth, rates and consumers, if Redis answers.
async fn redis_view(control: &crate::control::ControlPlane, queue: &str) -> Option<RedisView> {
    let redis = control.queue();
    let view = async {
        Ok::<_, control_plane::Error>(RedisView {
            depth: redis.depth(queue).await?,
            rates: redis.rates(queue).await?,
            workers: redis.consumer_list(queue).await?,
        })
    };
    match view.await {
        Ok(view) => Some(view),
        Err(e) => {
            tracing::warn!(queue, error = %e, "queue stats without Redis");
            None
        }
    }
}

/// A queue's counts with its Redis view, if any.
fn stats(c: &QueueCounts, view: Option<RedisView>) -> QueueStats {
    QueueStats {
        queue: c.queue.clone(),
        queued: c.queued,
        scheduled: c.scheduled,
        running: c.running,
        dead: c.dead,
        redis: view.as_ref().map(|v| RedisDepth {
            stream: v.depth.stream,
            pending: v.depth.pending,
            delayed: v.depth.delayed,
        }),
        rates: view.as_ref().map(|v| QueueRates {
            succeeded_per_minute: v.rates.succeeded_per_minute,
            failed_per_minute: v.rates.failed_per_minute,
        }),
        workers: view.map(|v| {
            v.workers
                .into_iter()
                .map(|w| QueueWorker {
                    worker: w.name,
                    pending: w.pending,
                    idle_ms: u64::try_from(w.idle.as_millis()).unwrap_or(u64::MAX),
                })
                .collect()
        }),
    }
}

/// A job type named in a path: 400 `invalid_path` unless it is a valid type name.
fn path_job_type(job_type: &str) -> Result<&str, Problem> {
    if control_plane::job::is_valid_name(job_type) {
        Ok(job_type)
    } else {
        Err(
            Problem::bad_request("invalid_path", "A job type matches [A-Za-z0-9_.:-]{1,128}.")
                .with_field("job_type"),
        )
    }
}

/// `POST /v1/job-types/{job_type}/pause`.
///
/// # Errors
/// 400 for a malformed type, 422 for a reason over 1024 bytes, 503 as for every job route.
#[utoipa::path(
    post,
    path = "/v1/job-types/{job_type}/pause",
    operation_id = "pause_job_type",
    tag = "jobs",
    summary = "Pause a job type",
    description = "Workers stop starting jobs of this type: they stay `queued`, spend no attempt and are not lost, until the type is resumed. Jobs already running finish. Pausing a paused type keeps its first pause time and replaces the reason.",
    security(("bearer" = [])),
    params(
        ("Idempotency-Key" = Option<String>, Header, nullable = false, description = "Makes the request safe to retry: 1 to 255 printable ASCII characters, kept 24 hours per caller. The same key and request replay the stored response; a different request with the key is a 422; while the first is in flight, a 409."),
        ("job_type" = String, Path, description = "The job type.", example = "webhook.deliver"),
    ),
    request_body(content = PauseRequest, description = "`{}` pauses without a reason."),
    responses(
        (status = 200, description = "The type is paused.", body = PausedType),
        (status = 400, description = "The type is not a job type name (`invalid_path`), malformed JSON (`malformed_json`), or an invalid `Idempotency-Key` (`invalid_idempotency_key`).",
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
        (status = 422, description = "The body has the wrong shape (`invalid_body`), the reason is over 1024 bytes (`invalid_job`, with `field`: `reason`), or the `Idempotency-Key` was used for a different request (`idempotency_key_reused`).",
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
pub async fn pause(
    State(state): State<AppState>,
    ApiPath(job_type): ApiPath<String>,
    ApiJson(body): ApiJson<PauseRequest>,
) -> Result<ApiJson<PausedType>, Problem> {
    let control = state.require_control_plane()?;
    let job_type = path_job_type(&job_type)?;
    let reason = body.reason;
    let pause = control
        .store()
        .pause_type(job_type, reason.as_deref())
        .await
        .map_err(|e| from_control_plane(&e, "pause job type"))?;
    tracing::info!(job_type, reason = ?pause.reason, "job type paused");
    Ok(ApiJson(PausedType::from(&pause)))
}

/// `POST /v1/job-types/{job_type}/resume`.
///
/// # Errors
/// 400 for a malformed type, 503 as for every job route.
#[utoipa::path(
    post,
    path = "/v1/job-types/{job_type}/resume",
    operation_id = "resume_job_type",
    tag = "jobs",
    summary = "Resume a job type",
    description = "Workers start jobs of this type again; its waiting jobs are published to them at once (`republished`; whatever cannot be published now, the reconciler publishes on its next pass). Resuming a type that is not paused changes nothing (`was_paused: false`).",
    security(("bearer" = [])),
    params(
        ("Idempotency-Key" = Option<String>, Header, nullable = false, description = "Makes the request safe to retry: 1 to 255 printable ASCII characters, kept 24 hours per caller. The same key and request replay the stored response; a different request with the key is a 422; while the first is in flight, a 409."),
        ("job_type" = String, Path, description = "The job type.", example = "webhook.deliver"),
    ),
    responses(
        (status = 200, description = "The type runs again.", body = Resumed),
        (status = 400, description = "The type is not a job type name (`invalid_path`), or an invalid `Idempotency-Key` (`invalid_idempotency_key`).",
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
pub async fn resume(
    State(state): State<AppState>,
    ApiPath(job_type): ApiPath<String>,
) -> Result<ApiJson<Resumed>, Problem> {
    let control = state.require_control_plane()?;
    let job_type = path_job_type(&job_type)?;
    let was_paused = control
        .store()
        .resume_type(job_type)
        .await
        .map_err(|e| from_control_plane(&e, "resume job type"))?;
    let republished = control.redrive_type(job_type).await;
    tracing::info!(job_type, was_paused, republished, "job type resumed");
    Ok(ApiJson(Resumed {
        job_type: job_type.to_owned(),
        was_paused,
        republished,
    }))
}

/// The resource's routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(pause))
        .routes(routes!(resume))
}
