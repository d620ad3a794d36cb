//! `GET /v1/whoami`: the caller's identity as the gateway understood its token. Cheap and
//! authenticated, so it doubles as the load generator's baseline endpoint.

use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app::AppState;
use crate::auth::Role;
use crate::middleware::Caller;
use crate::openapi::Problem;
use crate::problem::ApiJson;

/// The answer of `GET /v1/whoami`.
#[derive(Debug, Serialize, ToSchema)]
pub struct WhoAmI {
    /// The token's subject.
    pub subject: String,
    /// The account the token acts for.
    pub account: u64,
    /// The token's roles.
    pub roles: Vec<Role>,
}

/// `GET /v1/whoami`.
#[utoipa::path(
    get,
    path = "/v1/whoami",
    operation_id = "whoami",
    tag = "identity",
    summary = "Who am I",
    description = "The caller's identity as the gateway understood its token.",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The caller's subject, account and roles.", body = WhoAmI),
        (status = 401, description = "Missing, malformed, expired or otherwise invalid bearer token (`unauthorized`); see `WWW-Authenticate`.",
            content_type = "application/problem+json", body = Problem,
            headers(("WWW-Authenticate" = String, description = "The bearer challenge, with the reason as `error`."))),
        (status = 403, description = "The caller's roles do not allow this request (`forbidden`).",
            content_type = "application/problem+json", body = Problem),
        (status = 429, description = "The caller's rate limit is exhausted (`rate_limited`).",
            content_type = "application/problem+json", body = Problem,
            headers(("Retry-After" = u32, description = "Seconds to wait before retrying."))),
        (status = 500, description = "Internal error (`internal`); no details are shown.",
            content_type = "application/problem+json", body = Problem),
        (status = 503, description = "The signing keys could not be fetched, or the request ran out of time (`unavailable`).",
            content_type = "application/problem+json", body = Problem,
            headers(("Retry-After" = u32, description = "Seconds to wait before retrying."))),
    )
)]
pub async fn whoami(Caller(principal): Caller) -> ApiJson<WhoAmI> {
    ApiJson(WhoAmI {
        subject: principal.subject,
        account: principal.account.0,
        roles: principal.roles,
    })
}

/// The resource's routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(whoami))
}
