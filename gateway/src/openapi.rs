//! The gateway's OpenAPI 3.1 document, served at `GET /openapi.json`.
//!
//! [`document`] is the single source: it is built from the same `utoipa-axum` routers
//! [`crate::app::router`] serves, so a route registered through them cannot be left out.
//! The committed copy at `openapi/openapi.json` is checked against it by a test;
//! `tradeplane openapi` prints it.
//!
//! Conventions applied to every operation here rather than repeated in each annotation:
//! the optional `X-Request-Id` request header, and the `X-Request-Id` response header on
//! every response (the gateway always sets it).

use std::sync::OnceLock;

use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use serde::Serialize;
use utoipa::openapi::path::{Parameter, ParameterBuilder, ParameterIn};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{HeaderBuilder, ObjectBuilder, RefOr, Required, Type};
use utoipa::{Modify, OpenApi, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app::AppState;

/// Name of the bearer security scheme in the document.
pub const BEARER: &str = "bearer";

/// Content type of every error answer.
pub const PROBLEM_CONTENT_TYPE: &str = "application/problem+json";

/// The shape of every error answer (RFC 9457 problem details): `code` is stable and is what
/// clients should match on.
// For the document only: the gateway builds these bodies with `crate::problem::Problem`
// (a plain comment, so the internal path stays out of the published document).
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    /// A URI naming the problem type; ends with `code`.
    #[schema(example = "https://tradeplane.dev/problems/order_not_found")]
    pub r#type: String,
    /// A short, human-readable summary of the problem type.
    #[schema(example = "Not Found")]
    pub title: String,
    /// The HTTP status code.
    #[schema(example = 404)]
    pub status: u16,
    /// A stable, machine-readable code, e.g. `malformed_json`, `unauthorized`,
    /// `order_not_found`, `duplicate_client_order_id`, `rate_limited`, `unavailable`.
    #[schema(example = "order_not_found")]
    pub code: String,
    /// A human-readable explanation of this occurrence. A 5xx never shows internals.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// The request member at fault (`price`, `quantity`, `depth`, …), when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// Seconds to wait before retrying (429 and 503), as in the `Retry-After` header.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<u32>,
    /// The 1-based line of a policy file at fault (`policy_invalid`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
    /// The job's status when a transition was refused (`invalid_transition`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub job_status: Option<String>,
    /// The unfinished job holding the dedup key (`dedup_conflict`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub existing_job_id: Option<String>,
    /// How many shards did not answer (`not_ready` from `/readyz`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unreachable_shards: Option<u32>,
}

/// The document's fixed parts; paths come from the routers.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "tradeplane gateway",
        description = "The tradeplane REST API: orders, market data and control-plane jobs behind JWT bearer \
            authentication and RBAC. Prices and quantities are decimal strings in each \
            market's precision. Every error is `application/problem+json` with a stable \
            `code`. Mutating requests accept an `Idempotency-Key` header.",
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
    ),
    components(schemas(
        Problem,
        crate::feed::messages::ServerMessage,
        crate::feed::messages::ClientMessage
    )),
    modifiers(&Conventions),
    tags(
        (name = "orders", description = "Place, read, amend and cancel the caller's orders."),
        (name = "markets", description = "Markets and their order books."),
        (name = "stream", description = "Market data and order updates over a WebSocket."),
        (name = "identity", description = "The caller as the gateway sees it."),
        (name = "jobs", description = "Control-plane background jobs and dead letters (operator and admin)."),
        (name = "admin", description = "Operating the gateway itself (admin only in the shipped policy)."),
        (name = "health", description = "Liveness and readiness (unauthenticated)."),
        (name = "meta", description = "This document (unauthenticated)."),
    )
)]
struct ApiDoc;

/// Adds the bearer scheme and the `X-Request-Id` conventions.
struct Conventions;

impl Modify for Conventions {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            BEARER,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some(
                        "A JWT with the claims `sub`, `account` and `roles` (viewer, trader, \
                         operator, admin).",
                    ))
                    .build(),
            ),
        );
    }
}

/// Adds the `X-Request-Id` header to every operation and response. Runs after the paths
/// are merged in (a [`Modify`] on [`ApiDoc`] would see no paths yet).
fn add_request_id(openapi: &mut utoipa::openapi::OpenApi) {
    let string = || ObjectBuilder::new().schema_type(Type::String).build();
    for item in openapi.paths.paths.values_mut() {
        for operation in [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.options,
            &mut item.head,
            &mut item.patch,
            &mut item.trace,
        ]
        .into_iter()
        .flatten()
        {
            let parameter: Parameter = ParameterBuilder::new()
                .name("X-Request-Id")
                .parameter_in(ParameterIn::Header)
                .required(Required::False)
                .description(Some(
                    "Correlates logs with this request (1 to 128 visible ASCII characters); \
                     generated when absent or invalid.",
                ))
                .schema(Some(string()))
                .build();
            operation
                .parameters
                .get_or_insert_with(Vec::new)
                .push(RefOr::T(parameter));
            for response in operation.responses.responses.values_mut() {
                if let RefOr::T(response) = response {
                    response.headers.insert(
                        "X-Request-Id".to_owned(),
                        RefOr::T(
                            HeaderBuilder::new()
                                .schema(Some(string()))
                                .description(Some(
                                    "The request's id: the client's `X-Request-Id` if valid, \
                                 else a generated one.",
                                ))
                                .build(),
                        ),
                    );
                }
            }
        }
    }
}

/// `GET /openapi.json`: this document.
#[utoipa::path(
    get,
    path = "/openapi.json",
    operation_id = "openapi",
    tag = "meta",
    summary = "OpenAPI document",
    description = "This document.",
    responses(
        (status = 200, description = "The OpenAPI 3.1 document of this API.",
            content_type = "application/json", body = Object),
        (status = 500, description = "Internal error (`internal`); no details are shown.",
            content_type = "application/problem+json", body = Problem),
    )
)]
pub async fn openapi_json() -> impl IntoResponse {
    ([(CONTENT_TYPE, "application/json")], document_json())
}

/// The document's own route (unauthenticated).
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(openapi_json))
}

/// The gateway's OpenAPI document: the single source of `/openapi.json`,
/// `openapi/openapi.json` and `tradeplane openapi`.
#[must_use]
pub fn document() -> utoipa::openapi::OpenApi {
    let routes = crate::app::documented_routes();
    let mut openapi = OpenApiRouter::<AppState>::with_openapi(ApiDoc::openapi())
        .merge(routes.public)
        .merge(routes.owned)
        .merge(routes.unauthenticated)
        .merge(routes.self_authenticated)
        .into_openapi();
    add_request_id(&mut openapi);
    openapi
}

/// [`document`] as pretty-printed JSON with a trailing newline (the committed file's form).
#[must_use]
pub fn document_json() -> &'static str {
    static JSON: OnceLock<String> = OnceLock::new();
    JSON.get_or_init(|| {
        // Serialising a tree of strings, maps and numbers cannot fail.
        let mut json = serde_json::to_string_pretty(&document()).unwrap_or_default();
        json.push('\n');
        json
    })
}
