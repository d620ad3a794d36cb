//! `POST /v1/admin/policies/reload` against a gateway whose policy lives in files: a changed
//! policy applies to the next request, a broken one is refused with the old one still in
//! force, and only an admin may ask. (SIGHUP is tested on the real binary, in the root
//! package's `tests/it/policy_reload.rs`.)

use std::path::PathBuf;

use gateway::auth::Role;
use gateway::config::PolicyFiles;
use gateway::rbac::{Authorizer, DEFAULT_MODEL, DEFAULT_POLICY, PolicySummary};
use reqwest::{Method, Response, StatusCode};
use tradeplane_sdk::types::{ApiSide, PlaceOrder, PolicyReloaded, PolicySource};

use crate::harness::{Stack, limit, problem, raw_problem, status, token, trader};

/// The shipped model and policy copied to a temporary directory the test rewrites.
struct PolicyDir {
    _dir: tempfile::TempDir,
    files: PolicyFiles,
}

impl PolicyDir {
    fn shipped() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let files = PolicyFiles {
            model: dir.path().join("model.conf"),
            policy: dir.path().join("policy.csv"),
        };
        std::fs::write(&files.model, DEFAULT_MODEL).unwrap();
        std::fs::write(&files.policy, DEFAULT_POLICY).unwrap();
        Self { _dir: dir, files }
    }

    fn write(&self, policy: &str) {
        std::fs::write(&self.files.policy, policy).unwrap();
    }

    fn policy_path(&self) -> PathBuf {
        self.files.policy.clone()
    }

    /// Starts a gateway on these files and waits until it serves: the policy is read when
    /// the gateway starts, so a test may rewrite the file only after that.
    async fn start(&self) -> Stack {
        let files = self.files.clone();
        let stack = Stack::start_configured(move |c| c.policy_files = Some(files)).await;
        let health = stack.anonymous().healthz().send().await.unwrap();
        assert_eq!(health.status(), StatusCode::OK);
        stack
    }
}

const TRADER_PLACES: &str = "p, trader, /v1/orders, POST, own\n";
const VIEWER_PLACES: &str = "p, viewer, /v1/orders, POST, own\n";

async fn shipped_summary() -> PolicySummary {
    Authorizer::embedded().await.unwrap().summary()
}

fn order() -> PlaceOrder {
    limit(ApiSide::Buy, "10.00")
}

/// The status of placing an order as `role` (each on its own account).
async fn places(stack: &Stack, role: Role, account: u64) -> StatusCode {
    let t = token(role.as_str(), account, &[role]);
    status(&stack.sdk(&t).place_order().body(order()).send().await)
}

fn admin() -> String {
    token("root", 1, &[Role::Admin])
}

/// `(policies, groupings, source)` of a reload answer.
fn summary(reloaded: &PolicyReloaded) -> (u64, u64, PolicySource) {
    (reloaded.policies, reloaded.groupings, reloaded.source)
}

/// `(policies, groupings, source)` as a reload answers them.
fn expected(policies: usize, groupings: usize, source: PolicySource) -> (u64, u64, PolicySource) {
    let count = |n: usize| u64::try_from(n).unwrap();
    (count(policies), count(groupings), source)
}

/// A 200 reload answer (as an admin), typed.
async fn reloaded(stack: &Stack) -> PolicyReloaded {
    let res = stack.sdk(&admin()).reload_policies().send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    res.into_inner()
}

/// A reload as an admin without the SDK: a refused reload's problem carries the `line`
/// extension, which the SDK's typed `Problem` drops.
async fn raw_reload(stack: &Stack) -> Response {
    stack
        .send(
            Method::POST,
            "/v1/admin/policies/reload",
            Some(&admin()),
            None,
        )
        .await
}

#[tokio::test]
async fn an_admin_reload_applies_grants_and_revocations_to_the_next_request() {
    let dir = PolicyDir::shipped();
    let stack = dir.start().await;
    let shipped = shipped_summary().await;
    assert_eq!(places(&stack, Role::Viewer, 2).await, StatusCode::FORBIDDEN);
    assert_eq!(places(&stack, Role::Trader, 3).await, StatusCode::CREATED);

    // Grant: viewers may place their own orders.
    dir.write(&format!("{DEFAULT_POLICY}{VIEWER_PLACES}"));
    assert_eq!(
        places(&stack, Role::Viewer, 2).await,
        StatusCode::FORBIDDEN,
        "nothing changes before the reload"
    );
    let body = reloaded(&stack).await;
    assert_eq!(
        summary(&body),
        expected(shipped.policies + 1, shipped.groupings, PolicySource::Files)
    );
    assert_eq!(places(&stack, Role::Viewer, 2).await, StatusCode::CREATED);

    // Revoke: nobody but admin places orders (the cached allow must not survive).
    dir.write(&DEFAULT_POLICY.replace(TRADER_PLACES, ""));
    let body = reloaded(&stack).await;
    assert_eq!(
        summary(&body),
        expected(shipped.policies - 1, shipped.groupings, PolicySource::Files)
    );
    assert_eq!(places(&stack, Role::Viewer, 2).await, StatusCode::FORBIDDEN);
    problem(
        stack
            .sdk(&trader(3))
            .place_order()
            .body(order())
            .send()
            .await,
        StatusCode::FORBIDDEN,
        "forbidden",
    );
    assert_eq!(places(&stack, Role::Admin, 4).await, StatusCode::CREATED);
    stack.stop().await;
}

#[tokio::test]
async fn a_broken_policy_is_refused_and_the_previous_one_stays_in_force() {
    let dir = PolicyDir::shipped();
    let stack = dir.start().await;
    // In force: the shipped policy plus the viewer grant.
    dir.write(&format!("{DEFAULT_POLICY}{VIEWER_PLACES}"));
    let in_force = summary(&reloaded(&stack).await);

    let typo = format!("{DEFAULT_POLICY}{}", TRADER_PLACES.replace("own", "onw"));
    let typo_line = typo.lines().count();
    let cases: [(&str, String, &str, Option<usize>); 3] = [
        ("a typo", typo, "policy_invalid", Some(typo_line)),
        (
            "a truncated file",
            "# nothing left\n".to_owned(),
            "policy_invalid",
            None,
        ),
        (
            "a missing column",
            format!("{DEFAULT_POLICY}p, trader, /v1/orders\n"),
            "policy_invalid",
            Some(DEFAULT_POLICY.lines().count() + 1),
        ),
    ];
    for (what, text, code, line) in cases {
        dir.write(&text);
        let body = raw_problem(
            raw_reload(&stack).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            code,
        )
        .await;
        assert_eq!(
            body["line"].as_u64(),
            line.map(|l| u64::try_from(l).unwrap()),
            "{what}: {body}"
        );
        let detail = body["detail"].as_str().unwrap();
        assert!(
            detail.contains(dir.policy_path().to_str().unwrap())
                && detail.ends_with("The previous policy stays in force."),
            "{what}: {detail}"
        );
        // Still the previous policy: the viewer grant holds, traders still place.
        assert_eq!(
            places(&stack, Role::Viewer, 2).await,
            StatusCode::CREATED,
            "{what}"
        );
        assert_eq!(
            places(&stack, Role::Trader, 3).await,
            StatusCode::CREATED,
            "{what}"
        );
    }

    std::fs::remove_file(dir.policy_path()).unwrap();
    let body = raw_problem(
        raw_reload(&stack).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "policy_unreadable",
    )
    .await;
    assert!(body.get("line").is_none(), "{body}");
    assert_eq!(places(&stack, Role::Viewer, 2).await, StatusCode::CREATED);

    // Fixed: the reload goes through again, to the same policy as before.
    dir.write(&format!("{DEFAULT_POLICY}{VIEWER_PLACES}"));
    assert_eq!(summary(&reloaded(&stack).await), in_force);
    stack.stop().await;
}

#[tokio::test]
async fn only_an_admin_may_reload() {
    let dir = PolicyDir::shipped();
    let stack = dir.start().await;
    dir.write(&format!("{DEFAULT_POLICY}{VIEWER_PLACES}"));
    for role in [Role::Viewer, Role::Trader, Role::Operator] {
        problem(
            stack
                .sdk(&token("x", 5, &[role]))
                .reload_policies()
                .send()
                .await,
            StatusCode::FORBIDDEN,
            "forbidden",
        );
    }
    // Every non-admin role at once is still not an admin.
    let all_but_admin = token("x", 5, &[Role::Viewer, Role::Trader, Role::Operator]);
    problem(
        stack.sdk(&all_but_admin).reload_policies().send().await,
        StatusCode::FORBIDDEN,
        "forbidden",
    );
    problem(
        stack
            .sdk(&token("x", 5, &[]))
            .reload_policies()
            .send()
            .await,
        StatusCode::FORBIDDEN,
        "forbidden",
    );
    problem(
        stack.anonymous().reload_policies().send().await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    );
    assert_eq!(
        places(&stack, Role::Viewer, 2).await,
        StatusCode::FORBIDDEN,
        "no refused request reloaded the policy"
    );
    reloaded(&stack).await;
    assert_eq!(places(&stack, Role::Viewer, 2).await, StatusCode::CREATED);
    stack.stop().await;
}

#[tokio::test]
async fn without_files_a_reload_reinstalls_the_embedded_policy() {
    let stack = Stack::start().await;
    let shipped = shipped_summary().await;
    assert_eq!(
        summary(&reloaded(&stack).await),
        expected(shipped.policies, shipped.groupings, PolicySource::Embedded)
    );
    assert_eq!(places(&stack, Role::Trader, 3).await, StatusCode::CREATED);
    assert_eq!(places(&stack, Role::Viewer, 2).await, StatusCode::FORBIDDEN);
    stack.stop().await;
}

#[tokio::test]
async fn a_gateway_does_not_start_on_a_broken_policy_file() {
    let dir = PolicyDir::shipped();
    dir.write("p, viewer, /v1/markets, GET, anywhere\n");
    let mut config = crate::harness::config();
    config.policy_files = Some(dir.files.clone());
    let error = gateway::app::AppState::new(&config).await.unwrap_err();
    let message = error.to_string();
    assert!(
        matches!(error, gateway::app::StartError::Rbac(_))
            && message.contains(dir.policy_path().to_str().unwrap())
            && message.contains(":1:"),
        "{message}"
    );
}
