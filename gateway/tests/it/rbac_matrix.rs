//! The RBAC matrix over HTTP: every caller kind × every authenticated route of the router,
//! with own-account and other-account orders and fresh control-plane jobs, under the
//! shipped policy.
//!
//! The expectation is one table ([`MATRIX`]); every cell is a real request, made through the
//! SDK as a client would, whose exact status is asserted. Denials must be problem+json with a
//! stable code, and must leave nothing behind: another account's order survives a refused
//! amend or cancel, and the 404 for it is the very problem of an order that never existed.
//! The table is checked against the OpenAPI document (built from the same routers the
//! gateway serves), so a new route without a row fails
//! [`matrix_covers_every_documented_route`].
//!
//! The in-process unit matrix (`gateway/src/rbac/tests.rs`) checks the policy's decisions;
//! this one checks what clients see once the middleware, the handlers' ownership re-check
//! and the error mapping are in the way.

use std::collections::BTreeSet;

use control_plane::{JobStore, NewJob};
use gateway::auth::Role;
use reqwest::{Method, Response, StatusCode};
use serde::Serialize;
use serde_json::Value;
use tradeplane_sdk::types::{
    AmendOrder, ApiSide, EnqueueJobs, NewJobBody, OrderBody, PauseRequest, PlaceOrder, Problem,
    ReplayFilter,
};
use tradeplane_sdk::{Client, Error, ResponseValue};

use crate::harness::{Stack, limit, token, trader};
use crate::job_support::TestControlPlane;

/// Whose order a row's request is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Target {
    /// No order (market data, identity, admin).
    None,
    /// The caller's own account: an order of it exists (lists and bulk cancels see it).
    Own,
    /// Another account's order (`/v1/orders/{id}` only).
    Other,
    /// A fresh queued control-plane job (`/v1/jobs/{id}`, `/v1/dead-letters/{id}`).
    Job,
}

/// The callers, in the table's column order.
const CALLERS: [Caller; 6] = [
    Caller::role("viewer", Role::Viewer, 11),
    Caller::role("trader", Role::Trader, 12),
    Caller::role("operator", Role::Operator, 13),
    Caller::role("admin", Role::Admin, 14),
    // A valid token that grants nothing: the policy knows no role of it.
    Caller {
        name: "no role",
        role: None,
        account: 15,
        authenticated: true,
    },
    // No `Authorization` header at all.
    Caller {
        name: "anonymous",
        role: None,
        account: 16,
        authenticated: false,
    },
];

/// The account whose orders play "another account's order".
const OTHER_ACCOUNT: u64 = 99;

struct Caller {
    name: &'static str,
    role: Option<Role>,
    account: u64,
    authenticated: bool,
}

impl Caller {
    const fn role(name: &'static str, role: Role, account: u64) -> Self {
        Self {
            name,
            role: Some(role),
            account,
            authenticated: true,
        }
    }

    fn token(&self) -> Option<String> {
        let roles: Vec<Role> = self.role.into_iter().collect();
        self.authenticated
            .then(|| token(self.name, self.account, &roles))
    }

    /// An SDK client sending the caller's token, if it has one.
    fn client(&self, stack: &Stack) -> Client {
        match self.token() {
            Some(token) => stack.sdk(&token),
            None => stack.anonymous(),
        }
    }
}

/// The expected status of each cell, under the shipped policy.
#[rustfmt::skip]
const MATRIX: &[(&str, &str, Target, [u16; 6])] = &[
    //                                                     viewer trader operator admin no-role anonymous
    ("GET",    "/v1/whoami",                 Target::None,  [200,   200,   200,     200,  403,    401]),
    ("GET",    "/v1/markets",                Target::None,  [200,   200,   200,     200,  403,    401]),
    ("GET",    "/v1/markets/{symbol}/book",  Target::None,  [200,   200,   200,     200,  403,    401]),
    ("GET",    "/v1/markets/{symbol}/trades",Target::None,  [200,   200,   200,     200,  403,    401]),
    ("POST",   "/v1/orders",                 Target::Own,   [403,   201,   403,     201,  403,    401]),
    // Lists and bulk cancels are always about the caller's own account, whatever the role.
    ("GET",    "/v1/orders",                 Target::Own,   [200,   200,   200,     200,  403,    401]),
    ("DELETE", "/v1/orders",                 Target::Own,   [403,   200,   403,     200,  403,    401]),
    ("GET",    "/v1/orders/{id}",            Target::Own,   [200,   200,   200,     200,  403,    401]),
    // Another account's order: a 404 like a missing one, unless the role reads any account.
    ("GET",    "/v1/orders/{id}",            Target::Other, [404,   404,   200,     200,  403,    401]),
    ("PATCH",  "/v1/orders/{id}",            Target::Own,   [403,   200,   403,     200,  403,    401]),
    // A viewer or operator may not amend even its own orders: refused (403) before the
    // order is looked up, so the answer says nothing about the order either.
    ("PATCH",  "/v1/orders/{id}",            Target::Other, [403,   404,   403,     200,  403,    401]),
    ("DELETE", "/v1/orders/{id}",            Target::Own,   [403,   200,   403,     200,  403,    401]),
    ("DELETE", "/v1/orders/{id}",            Target::Other, [403,   404,   403,     200,  403,    401]),
    // A plain GET is not a WebSocket upgrade: authenticated and allowed, it is refused 426.
    ("GET",    "/v1/stream",                 Target::None,  [426,   426,   426,     426,  403,    401]),
    ("POST",   "/v1/admin/policies/reload",  Target::None,  [403,   403,   403,     200,  403,    401]),
    // Control-plane jobs: operator and admin.
    ("POST",   "/v1/jobs",                   Target::None,  [403,   403,   201,     201,  403,    401]),
    ("GET",    "/v1/jobs",                   Target::None,  [403,   403,   200,     200,  403,    401]),
    ("GET",    "/v1/jobs/{id}",              Target::Job,   [403,   403,   200,     200,  403,    401]),
    ("POST",   "/v1/jobs/{id}/cancel",       Target::Job,   [403,   403,   200,     200,  403,    401]),
    ("GET",    "/v1/dead-letters",           Target::None,  [403,   403,   200,     200,  403,    401]),
    ("POST",   "/v1/dead-letters/replay",    Target::None,  [403,   403,   200,     200,  403,    401]),
    // A queued job is no dead letter: 409 shows the request got past the policy.
    ("POST",   "/v1/dead-letters/{id}/replay", Target::Job, [403,   403,   409,     409,  403,    401]),
    // Purging is irreversible: admin only.
    ("DELETE", "/v1/dead-letters/{id}",      Target::Job,   [403,   403,   403,     409,  403,    401]),
    ("GET",    "/v1/queues",                 Target::None,  [403,   403,   200,     200,  403,    401]),
    ("POST",   "/v1/job-types/{job_type}/pause",  Target::None, [403, 403,   200,     200,  403,    401]),
    ("POST",   "/v1/job-types/{job_type}/resume", Target::None, [403, 403,   200,     200,  403,    401]),
];

/// The stable code of each denial status.
fn denial_code(status: u16) -> &'static str {
    match status {
        401 => "unauthorized",
        403 => "forbidden",
        404 => "order_not_found",
        409 => "invalid_transition",
        426 => "upgrade_required",
        other => panic!("no denial code for {other}"),
    }
}

/// What a cell's request answered: the status, the content type, and the body as JSON
/// (the SDK's typed answer serialized again, so that every row compares alike).
struct Answer {
    status: u16,
    content_type: Option<String>,
    body: Value,
}

impl Answer {
    /// The answer of an SDK call: a documented success or problem, or an undocumented
    /// status (reported as a mismatch, not a panic, like any other wrong status).
    async fn of<T: Serialize + std::fmt::Debug>(
        result: Result<ResponseValue<T>, Error<Problem>>,
    ) -> Self {
        let (status, headers, body) = match result {
            Ok(value) => (
                value.status(),
                value.headers().clone(),
                serde_json::to_value(value.into_inner()),
            ),
            Err(Error::ErrorResponse(problem)) => (
                problem.status(),
                problem.headers().clone(),
                serde_json::to_value(problem.into_inner()),
            ),
            Err(Error::UnexpectedResponse(res)) => return Self::raw(res).await,
            Err(other) => panic!("no answer: {other:?}"),
        };
        Self {
            status: status.as_u16(),
            content_type: content_type(&headers),
            body: body.unwrap(),
        }
    }

    async fn raw(res: Response) -> Self {
        Self {
            status: res.status().as_u16(),
            content_type: content_type(res.headers()),
            body: res.json().await.unwrap_or(Value::Null),
        }
    }
}

fn content_type(headers: &reqwest::header::HeaderMap) -> Option<String> {
    headers
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
}

/// Sends a row's request as `caller`, through the SDK, on the order `id` for the
/// `/v1/orders/{id}` routes (lists and bulk cancels are on AAA-USD).
async fn request(
    stack: &Stack,
    caller: &Caller,
    (method, template): (&str, &str),
    id: Option<&str>,
) -> Answer {
    let client = caller.client(stack);
    let id = || id.expect("an order id");
    match (method, template) {
        ("GET", "/v1/whoami") => Answer::of(client.whoami().send().await).await,
        ("GET", "/v1/markets") => Answer::of(client.list_markets().send().await).await,
        ("GET", "/v1/markets/{symbol}/book") => {
            Answer::of(client.get_book().symbol("AAA-USD").send().await).await
        }
        ("GET", "/v1/markets/{symbol}/trades") => {
            Answer::of(client.get_trades().symbol("AAA-USD").send().await).await
        }
        ("POST", "/v1/orders") => {
            Answer::of(client.place_order().body(order_body()).send().await).await
        }
        ("GET", "/v1/orders") => Answer::of(client.list_orders().send().await).await,
        ("DELETE", "/v1/orders") => {
            Answer::of(client.cancel_all_orders().symbol("AAA-USD").send().await).await
        }
        ("GET", "/v1/orders/{id}") => Answer::of(client.get_order().id(id()).send().await).await,
        ("PATCH", "/v1/orders/{id}") => {
            let body = AmendOrder {
                price: Some("10.05".to_owned()),
                quantity: None,
            };
            Answer::of(client.amend_order().id(id()).body(body).send().await).await
        }
        ("DELETE", "/v1/orders/{id}") => {
            Answer::of(client.cancel_order().id(id()).send().await).await
        }
        ("POST", "/v1/admin/policies/reload") => {
            Answer::of(client.reload_policies().send().await).await
        }
        ("POST", "/v1/jobs") => {
            let body = EnqueueJobs {
                jobs: vec![new_job()],
            };
            Answer::of(client.enqueue_jobs().body(body).send().await).await
        }
        ("GET", "/v1/jobs") => Answer::of(client.list_jobs().send().await).await,
        ("GET", "/v1/jobs/{id}") => Answer::of(client.get_job().id(id()).send().await).await,
        ("POST", "/v1/jobs/{id}/cancel") => {
            Answer::of(client.cancel_job().id(id()).send().await).await
        }
        ("GET", "/v1/dead-letters") => Answer::of(client.list_dead_letters().send().await).await,
        ("POST", "/v1/dead-letters/replay") => {
            let body = ReplayFilter::default();
            Answer::of(client.replay_dead_letters().body(body).send().await).await
        }
        ("POST", "/v1/dead-letters/{id}/replay") => {
            Answer::of(client.replay_dead_letter().id(id()).send().await).await
        }
        ("DELETE", "/v1/dead-letters/{id}") => {
            Answer::of(client.purge_dead_letter().id(id()).send().await).await
        }
        ("GET", "/v1/queues") => Answer::of(client.list_queues().send().await).await,
        ("POST", "/v1/job-types/{job_type}/pause") => {
            let body = PauseRequest { reason: None };
            Answer::of(
                client
                    .pause_job_type()
                    .job_type("rbac.check")
                    .body(body)
                    .send()
                    .await,
            )
            .await
        }
        ("POST", "/v1/job-types/{job_type}/resume") => {
            Answer::of(client.resume_job_type().job_type("rbac.check").send().await).await
        }
        ("GET", "/v1/stream") => {
            // Raw: the WebSocket route has no SDK call (and this plain GET is no upgrade).
            let token = caller.token();
            let res = stack
                .send(Method::GET, template, token.as_deref(), None)
                .await;
            Answer::raw(res).await
        }
        other => panic!("no request for {other:?}: add one with the row"),
    }
}

fn new_job() -> NewJobBody {
    NewJobBody {
        queue: "rbac".to_owned(),
        type_: "noop".to_owned(),
        payload: None,
        run_at_ms: None,
        max_attempts: None,
        dedup_key: None,
    }
}

fn order_body() -> PlaceOrder {
    limit(ApiSide::Buy, "10.00")
}

/// Places a resting buy for `account` (through a trader token of that account: the owner of
/// an order is the account of the token that placed it). Buys never cross each other.
async fn place_for(stack: &Stack, account: u64) -> String {
    stack
        .place_limit(&trader(account), ApiSide::Buy, "10.00")
        .await
}

/// `(METHOD, path)` of every documented operation that requires a bearer token.
fn documented_authenticated_routes() -> BTreeSet<(String, String)> {
    let doc: Value = serde_json::from_str(gateway::openapi::document_json()).unwrap();
    let mut routes = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            if operation.get("security").is_some() {
                routes.insert((method.to_uppercase(), path.clone()));
            }
        }
    }
    routes
}

#[test]
fn matrix_covers_every_documented_route() {
    let documented = documented_authenticated_routes();
    let in_matrix: BTreeSet<(String, String)> = MATRIX
        .iter()
        .map(|(method, template, _, _)| ((*method).to_owned(), (*template).to_owned()))
        .collect();
    let missing: Vec<_> = documented.difference(&in_matrix).collect();
    let stale: Vec<_> = in_matrix.difference(&documented).collect();
    assert!(
        missing.is_empty() && stale.is_empty(),
        "the RBAC matrix and the router disagree: routes without a row {missing:?}; rows \
         without a route {stale:?}"
    );
    // Every order-by-id route is tried on both an own and another account's order.
    for (method, template) in &documented {
        if template.starts_with("/v1/orders/") && template.contains("{id}") {
            for target in [Target::Own, Target::Other] {
                assert!(
                    MATRIX
                        .iter()
                        .any(|(m, t, g, _)| m == method && t == template && *g == target),
                    "{method} {template}: no {target:?} row"
                );
            }
        }
    }
}

/// The live order `id` as its owner sees it; `None` if it is gone.
async fn owner_view(stack: &Stack, owner: u64, id: &str) -> Option<OrderBody> {
    match stack.sdk(&trader(owner)).get_order().id(id).send().await {
        Ok(order) => Some(order.into_inner()),
        Err(Error::ErrorResponse(p)) if p.status() == StatusCode::NOT_FOUND => None,
        other => panic!("owner read of {id}: {other:?}"),
    }
}

/// One cell: prepares the orders it needs, sends the request, and returns the mismatches.
async fn cell(
    stack: &Stack,
    jobs: &JobStore,
    (method, template, target): (&str, &str, Target),
    caller: &Caller,
    expected: u16,
) -> Vec<String> {
    let mut failures = Vec::new();
    let at = format!("{} {method} {template} ({target:?})", caller.name);
    // Fresh orders per cell, so that no cell depends on what an earlier one cancelled.
    let own = match target {
        Target::Own => Some(place_for(stack, caller.account).await),
        _ => None,
    };
    let other = place_for(stack, OTHER_ACCOUNT).await;
    let job = match target {
        Target::Job => Some(
            jobs.enqueue(NewJob::new(
                "rbac",
                "noop",
                Value::Object(Default::default()),
            ))
            .await
            .unwrap()
            .job
            .id
            .to_string(),
        ),
        _ => None,
    };
    let id = match target {
        Target::Other => Some(other.as_str()),
        Target::Job => job.as_deref(),
        _ => own.as_deref(),
    };
    let Answer {
        status,
        content_type,
        body: answer,
    } = request(stack, caller, (method, template), id).await;
    if status != expected {
        failures.push(format!("{at}: expected {expected}, got {status}: {answer}"));
        return failures;
    }

    if status >= 400 {
        let code = denial_code(status);
        if content_type.as_deref() != Some("application/problem+json") || answer["code"] != code {
            failures.push(format!(
                "{at}: expected a {code} problem, got {content_type:?} {answer}"
            ));
        }
        if status == 404 && template.starts_with("/v1/orders/") {
            // Indistinguishable from an order that never existed.
            let missing = request(stack, caller, (method, template), Some("ord_0_999999"))
                .await
                .body;
            if missing != answer {
                failures.push(format!(
                    "{at}: {answer} differs from a missing order's {missing}"
                ));
            }
        }
    }

    // The other account's order is untouched unless the caller was allowed to act on it.
    let other_acted_on = target == Target::Other && status < 400 && method != "GET";
    let view = owner_view(stack, OTHER_ACCOUNT, &other).await;
    match (other_acted_on, &view) {
        (false, Some(v))
            if v.price.as_deref() == Some("10.00") && v.remaining_quantity == "1.500" => {}
        (false, v) => failures.push(format!("{at}: another account's order changed: {v:?}")),
        (true, _) => {}
    }

    // Lists and bulk cancels reach the caller's own orders only.
    if status == 200 && template == "/v1/orders" {
        let own = own.as_deref().unwrap();
        let key = if method == "GET" {
            "orders"
        } else {
            "cancelled"
        };
        let ids: Vec<&str> = answer[key]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o.get("id").unwrap_or(o).as_str().unwrap())
            .collect();
        if !ids.contains(&own) || ids.contains(&other.as_str()) {
            failures.push(format!(
                "{at}: {key} {ids:?} should hold {own} and not {other}"
            ));
        }
    }
    failures
}

#[tokio::test]
async fn every_caller_on_every_route_gets_the_expected_status() {
    let control_plane = TestControlPlane::new().await;
    let stack = Stack::start_with_control_plane(&control_plane).await;
    let mut failures = Vec::new();
    let mut cells = 0;
    for (method, template, target, expected) in MATRIX {
        for (caller, expected) in CALLERS.iter().zip(expected) {
            cells += 1;
            failures.extend(
                cell(
                    &stack,
                    control_plane.store(),
                    (method, template, *target),
                    caller,
                    *expected,
                )
                .await,
            );
        }
    }
    assert_eq!(cells, MATRIX.len() * CALLERS.len());
    assert!(
        failures.is_empty(),
        "{} of {cells} cells failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    stack.stop().await;
}
