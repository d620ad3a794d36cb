//! `GET /v1/whoami`: the caller's identity as the gateway understood its token. Cheap and
//! authenticated, so it doubles as the load generator's baseline endpoint.

use axum::Router;
use axum::routing::get;
use serde::Serialize;

use crate::app::AppState;
use crate::auth::Role;
use crate::middleware::Caller;
use crate::problem::ApiJson;

/// The answer of `GET /v1/whoami`.
#[derive(Debug, Serialize)]
pub struct WhoAmI {
    /// The token's subject.
    pub subject: String,
    /// The account the token acts for.
    pub account: u64,
    /// The token's roles.
    pub roles: Vec<Role>,
}

/// `GET /v1/whoami`.
pub async fn whoami(Caller(principal): Caller) -> ApiJson<WhoAmI> {
    ApiJson(WhoAmI {
        subject: principal.subject,
        account: principal.account.0,
        roles: principal.roles,
    })
}

/// The resource's routes.
pub fn router() -> Router<AppState> {
    Router::new().route("/v1/whoami", get(whoami))
}
