//! The control plane's errors as problems: [`from_control_plane`].

use axum::http::StatusCode;

use super::Problem;

/// Seconds a client should wait when PostgreSQL or Redis is unreachable, overloaded or
/// contended: long enough for a pool to reconnect, short enough not to stall a retry loop.
pub const CONTROL_PLANE_RETRY_AFTER_SECS: u32 = 1;

/// Maps a control-plane error to the answer of a job route. `context` names the operation
/// in the log of a 5xx.
///
/// | error | status | code |
/// |---|---|---|
/// | no such job (or purged) | 404 | `job_not_found` |
/// | a transition from the wrong status (cancel a finished job, replay or purge a live one) | 409 | `invalid_transition`, with the job's `job_status` |
/// | replay while an unfinished job holds the dedup key | 409 | `dedup_conflict`, with the holder's `existing_job_id` |
/// | a bad queue, type, dedup key, attempt count or batch size | 422 | `invalid_job`, with `field` |
/// | a retryable failure ([`control_plane::Error::retryable`]: connection, pool timeout, contention) | 503 | `unavailable`, `Retry-After` |
/// | anything else (corrupt rows, bugs) | 500 | `internal`, details only in the log |
///
/// 409 rather than 422 for transitions: the request is valid and may succeed against another
/// state of the job (a replay once the dedup holder finishes), which is what 409 means.
/// Retryable failures are logged at warn level, and say nothing of the cause to the client.
#[must_use]
pub fn from_control_plane(error: &control_plane::Error, context: &str) -> Problem {
    use control_plane::Error as E;
    match error {
        E::NotFound(id) => Problem::not_found("job_not_found", format!("No job {id}.")),
        E::InvalidTransition { id, from, action } => Problem::conflict(
            "invalid_transition",
            format!("Cannot {action} job {id}: it is {from}."),
        )
        .with_extension("job_status", from.as_str()),
        E::DedupConflict { id, existing } => Problem::conflict(
            "dedup_conflict",
            format!("Job {id} shares its dedup key with unfinished job {existing}."),
        )
        .with_extension("existing_job_id", existing.to_string()),
        E::InvalidInput { field, reason } => Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_job",
            "Invalid job",
        )
        .with_field(*field)
        .with_detail(format!("Invalid {field}: {reason}.")),
        e if e.retryable() => {
            tracing::warn!(context, error = %e, "control plane unavailable");
            Problem::unavailable(CONTROL_PLANE_RETRY_AFTER_SECS)
        }
        e => Problem::internal(e, context),
    }
}

impl From<&control_plane::Error> for Problem {
    fn from(error: &control_plane::Error) -> Self {
        from_control_plane(error, "control plane")
    }
}

#[cfg(test)]
mod tests {
    use control_plane::{Error, JobId, JobStatus};

    use super::*;

    #[test]
    fn domain_refusals_have_stable_codes() {
        let id = JobId::generate();
        let other = JobId::generate();
        let cases = [
            (Error::NotFound(id), StatusCode::NOT_FOUND, "job_not_found"),
            (
                Error::InvalidTransition {
                    id,
                    from: JobStatus::Succeeded,
                    action: "cancel",
                },
                StatusCode::CONFLICT,
                "invalid_transition",
            ),
            (
                Error::DedupConflict {
                    id,
                    existing: other,
                },
                StatusCode::CONFLICT,
                "dedup_conflict",
            ),
            (
                Error::InvalidInput {
                    field: "queue",
                    reason: "bad".into(),
                },
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_job",
            ),
            (
                Error::Contended("enqueue"),
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
            ),
            (
                Error::Corrupt("secret row".into()),
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
            ),
        ];
        for (error, status, code) in cases {
            let problem = from_control_plane(&error, "test");
            assert_eq!(
                (problem.status(), problem.code()),
                (status, code),
                "{error}"
            );
        }
        let conflict = from_control_plane(
            &Error::DedupConflict {
                id,
                existing: other,
            },
            "test",
        );
        assert_eq!(
            conflict.to_json()["existing_job_id"],
            other.to_string().as_str()
        );
    }

    #[test]
    fn retryable_errors_ask_for_a_retry_and_internals_stay_hidden() {
        let busy = from_control_plane(&Error::Contended("enqueue"), "test");
        assert_eq!(busy.retry_after(), Some(CONTROL_PLANE_RETRY_AFTER_SECS));
        let corrupt = from_control_plane(&Error::Corrupt("secret row".into()), "test");
        assert!(!corrupt.to_json().to_string().contains("secret"));
        let field = from_control_plane(
            &Error::InvalidInput {
                field: "dedup_key",
                reason: "must be 1..=256 bytes".into(),
            },
            "test",
        );
        assert_eq!(field.field(), Some("dedup_key"));
    }
}
