//! `POST /v1/admin/policies/reload`: re-reads the RBAC model and policy files and swaps the
//! new policy in, without a restart (SIGHUP does the same: [`crate::policy_reload`]).
//!
//! Design decisions:
//! - **Who may reload is itself policy**: the route sits behind the same RBAC check as every
//!   other (`POST /v1/admin/policies/reload`, no ownership), and the shipped policy grants it
//!   to `admin` only. A reloaded policy that takes the right away locks the HTTP route, not
//!   the gateway: SIGHUP still reloads.
//! - **All or nothing**: an invalid file is a 422 (`policy_invalid`, `policy_unreadable`,
//!   see [`crate::problem::from_rbac`]) naming the file and line, and the previous policy
//!   stays in force; there is no partially applied policy.
//! - **The embedded policy reloads as itself**: with no files configured the answer is a 200
//!   with `source: "embedded"` and the compiled-in rule counts (the decision cache is
//!   emptied, nothing else changes). Refusing would make the route's behaviour depend on
//!   configuration an admin may not see; `source` says plainly that no file was read.
//! - **Audited**: who asked and the outcome are logged.

use axum::extract::State;
use serde::Serialize;
use tracing::Instrument as _;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app::AppState;
use crate::middleware::Caller;
use crate::openapi::Problem as ProblemSchema;
use crate::problem::{ApiJson, Problem, from_rbac};

/// Where the policy in force was read from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PolicySource {
    /// The configured `gateway.rbac_model` and `gateway.rbac_policy` files, just re-read.
    Files,
    /// The policy compiled into the binary (no files configured); re-installed as is.
    Embedded,
}

/// The answer of `POST /v1/admin/policies/reload`: the policy now in force.
#[derive(Debug, Serialize, ToSchema)]
pub struct PolicyReloaded {
    /// Permission rules (`p` lines).
    pub policies: usize,
    /// Role inheritance rules (`g` lines).
    pub groupings: usize,
    /// Where the policy was read from.
    pub source: PolicySource,
}

/// `POST /v1/admin/policies/reload`.
///
/// # Errors
/// 422 `policy_invalid` or `policy_unreadable` when the files cannot be applied (the
/// previous policy stays in force).
#[utoipa::path(
    post,
    path = "/v1/admin/policies/reload",
    operation_id = "reload_policies",
    tag = "admin",
    summary = "Reload the RBAC policy",
    description = "Re-reads the configured RBAC model and policy files and applies them to every request that starts afterwards. All or nothing: if the files are invalid, the previous policy stays in force. With no files configured the compiled-in policy is re-installed (`source: embedded`). Sending the gateway SIGHUP does the same.",
    security(("bearer" = [])),
    params(
        ("Idempotency-Key" = Option<String>, Header, nullable = false, description = "Makes the request safe to retry: 1 to 255 printable ASCII characters, kept 24 hours per caller. The same key and request replay the stored response (without reloading again); a different request with the key is a 422; while the first is in flight, a 409."),
    ),
    responses(
        (status = 200, description = "The new policy is in force; its rule counts and where it was read from.", body = PolicyReloaded,
            headers(("Idempotent-Replayed" = String, description = "`true` when this is the stored response of an earlier request with the same `Idempotency-Key`."))),
        (status = 400, description = "An invalid `Idempotency-Key` (`invalid_idempotency_key`).",
            content_type = "application/problem+json", body = ProblemSchema),
        (status = 401, description = "Missing, malformed, expired or otherwise invalid bearer token (`unauthorized`); see `WWW-Authenticate`.",
            content_type = "application/problem+json", body = ProblemSchema,
            headers(("WWW-Authenticate" = String, description = "The bearer challenge, with the reason as `error`."))),
        (status = 403, description = "The caller's roles do not allow this request (`forbidden`); the shipped policy allows it to `admin` only.",
            content_type = "application/problem+json", body = ProblemSchema),
        (status = 409, description = "A request with the same `Idempotency-Key` is still being processed (`idempotency_in_flight`); retry later.",
            content_type = "application/problem+json", body = ProblemSchema),
        (status = 413, description = "The request body exceeds the configured limit (`payload_too_large`).",
            content_type = "application/problem+json", body = ProblemSchema),
        (status = 422, description = "The files cannot be applied and the previous policy stays in force: a malformed policy line, a policy without rules or a model casbin refuses (`policy_invalid`, with the 1-based `line` when one is at fault), or a file that cannot be read (`policy_unreadable`); `detail` names the file. Or the `Idempotency-Key` was used for a different request (`idempotency_key_reused`).",
            content_type = "application/problem+json", body = ProblemSchema),
        (status = 429, description = "The caller's rate limit is exhausted (`rate_limited`).",
            content_type = "application/problem+json", body = ProblemSchema,
            headers(("Retry-After" = u32, description = "Seconds to wait before retrying."))),
        (status = 500, description = "Internal error (`internal`); no details are shown.",
            content_type = "application/problem+json", body = ProblemSchema),
        (status = 503, description = "The reload did not finish within the request timeout (`unavailable`; the previous policy then stays in force), the idempotency store is unreachable or not configured while an `Idempotency-Key` was sent (`idempotency_unavailable`), or the signing keys could not be fetched.",
            content_type = "application/problem+json", body = ProblemSchema,
            headers(("Retry-After" = u32, description = "Seconds to wait before retrying."))),
    )
)]
pub async fn reload(
    State(state): State<AppState>,
    Caller(principal): Caller,
) -> Result<ApiJson<PolicyReloaded>, Problem> {
    let authorizer = state.authorizer();
    let source = if authorizer.is_embedded() {
        PolicySource::Embedded
    } else {
        PolicySource::Files
    };
    let span = tracing::info_span!(
        "policy_reload",
        trigger = "api",
        subject = principal.subject.as_str(),
        account = principal.account.0,
        embedded = authorizer.is_embedded(),
    );
    async {
        tracing::info!("rbac: policy reload requested");
        // `reload` logs the outcome (rule counts, or the error) inside this span.
        let summary = authorizer.reload().await.map_err(|e| from_rbac(&e))?;
        Ok(ApiJson(PolicyReloaded {
            policies: summary.policies,
            groupings: summary.groupings,
            source,
        }))
    }
    .instrument(span)
    .await
}

/// The resource's routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(reload))
}
