//! The shipped policy against an explicit decision table, multi-role checks, reloads.

use std::path::{Path, PathBuf};

use super::*;

const ROLES: [&str; 4] = ["viewer", "trader", "operator", "admin"];
const OWNERSHIPS: [Ownership; 3] = [Ownership::Own, Ownership::Other, Ownership::NotApplicable];

/// The intended policy, written out by hand (not derived from `policy.csv`).
/// Per role, three characters for Own / Other / NotApplicable: `A` allow, `.` deny.
#[rustfmt::skip]
const MATRIX: &[(&str, &str, [&str; 4])] = &[
    //                                                  viewer trader operator admin
    ("GET",    "/v1/whoami",                        ["AAA", "AAA", "AAA", "AAA"]),
    ("GET",    "/v1/markets",                       ["AAA", "AAA", "AAA", "AAA"]),
    ("GET",    "/v1/markets/{symbol}/book",         ["AAA", "AAA", "AAA", "AAA"]),
    ("POST",   "/v1/orders",                        ["...", "A..", "...", "AAA"]),
    ("GET",    "/v1/orders",                        ["A..", "A..", "AAA", "AAA"]),
    ("GET",    "/v1/orders/{id}",                   ["A..", "A..", "AAA", "AAA"]),
    ("PATCH",  "/v1/orders/{id}",                   ["...", "A..", "...", "AAA"]),
    ("DELETE", "/v1/orders/{id}",                   ["...", "A..", "...", "AAA"]),
    ("DELETE", "/v1/orders",                        ["...", "A..", "...", "AAA"]),
    ("PUT",    "/v1/orders/{id}",                   ["...", "...", "...", "AAA"]),
    ("POST",   "/v1/admin/policies/reload",         ["...", "...", "...", "AAA"]),
    ("GET",    "/v1/admin/policies",                ["...", "...", "...", "AAA"]),
    ("GET",    "/v1/jobs",                          ["...", "...", "AAA", "AAA"]),
    ("GET",    "/v1/jobs/{id}",                     ["...", "...", "AAA", "AAA"]),
    ("GET",    "/v1/jobs/dead-letters",             ["...", "...", "AAA", "AAA"]),
    ("POST",   "/v1/jobs",                          ["...", "...", "AAA", "AAA"]),
    ("POST",   "/v1/jobs/{id}/retry",               ["...", "...", "...", "AAA"]),
    ("POST",   "/v1/jobs/{id}/cancel",              ["...", "...", "AAA", "AAA"]),
    ("DELETE", "/v1/jobs/{id}",                     ["...", "...", "...", "AAA"]),
    ("GET",    "/v1/dead-letters",                  ["...", "...", "AAA", "AAA"]),
    ("POST",   "/v1/dead-letters/{id}/replay",      ["...", "...", "AAA", "AAA"]),
    ("POST",   "/v1/dead-letters/replay",           ["...", "...", "AAA", "AAA"]),
    // Purge is irreversible: admin only.
    ("DELETE", "/v1/dead-letters/{id}",             ["...", "...", "...", "AAA"]),
    ("GET",    "/v1/jobsarchive",                   ["...", "...", "...", "AAA"]),
    ("GET",    "/healthz",                          ["...", "...", "...", "..."]),
    ("GET",    "/v2/markets",                       ["...", "...", "...", "..."]),
];

fn expected(cell: &str, ownership_index: usize) -> Decision {
    match cell.as_bytes()[ownership_index] {
        b'A' => Decision::Allow,
        b'.' => Decision::Deny,
        other => panic!("bad matrix cell {cell:?} ({})", char::from(other)),
    }
}

/// Asserts every role × route × ownership; returns the number of cases.
fn assert_matrix(authz: &Authorizer) -> usize {
    let mut failures = Vec::new();
    let mut cases = 0;
    for (method, route, cells) in MATRIX {
        for (role, cell) in ROLES.iter().zip(cells) {
            for (i, ownership) in OWNERSHIPS.iter().enumerate() {
                cases += 1;
                let got = authz.check(&[*role], method, route, *ownership);
                if got != expected(cell, i) {
                    failures.push(format!(
                        "{role} {method} {route} {ownership:?}: got {got:?}"
                    ));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
    cases
}

fn shipped(file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("policy")
        .join(file)
}

#[tokio::test]
async fn embedded_policy_matches_the_matrix_cold_and_cached() {
    let authz = Authorizer::embedded().await.unwrap();
    assert_eq!(authz.cached_decisions(), 0);
    let cases = assert_matrix(&authz);
    assert_eq!(cases, MATRIX.len() * 4 * 3);
    let cached = authz.cached_decisions();
    assert_eq!(
        cached, cases,
        "every (known role, method, route, ownership) is cached"
    );
    assert_matrix(&authz);
    assert_eq!(
        authz.cached_decisions(),
        cached,
        "the second pass hits the cache only"
    );
}

#[tokio::test]
async fn shipped_files_load_and_match_the_matrix() {
    let authz = Authorizer::load(shipped("model.conf"), shipped("policy.csv"))
        .await
        .unwrap();
    assert_matrix(&authz);
    assert_eq!(
        authz.summary(),
        Authorizer::embedded().await.unwrap().summary()
    );
}

#[tokio::test]
async fn any_role_allowing_is_enough() {
    let authz = Authorizer::embedded().await.unwrap();
    let other_order = ("GET", "/v1/orders/{id}", Ownership::Other);
    assert_eq!(
        authz.check(&["viewer"], other_order.0, other_order.1, other_order.2),
        Decision::Deny
    );
    assert_eq!(
        authz.check(
            &["viewer", "operator"],
            other_order.0,
            other_order.1,
            other_order.2
        ),
        Decision::Allow
    );
    assert_eq!(
        authz.check(
            &["operator", "viewer"],
            other_order.0,
            other_order.1,
            other_order.2
        ),
        Decision::Allow
    );
    // An operator who also trades may place its own orders, still not another account's.
    let roles = vec!["operator".to_owned(), "trader".to_owned()];
    assert_eq!(
        authz.check(&roles, "POST", "/v1/orders", Ownership::Own),
        Decision::Allow
    );
    assert_eq!(
        authz.check(&roles, "POST", "/v1/orders", Ownership::Other),
        Decision::Deny
    );
    assert_eq!(
        authz.check(&["ghost", "trader"], "POST", "/v1/orders", Ownership::Own),
        Decision::Allow
    );
}

#[tokio::test]
async fn unknown_roles_methods_and_no_roles_deny_without_caching() {
    let authz = Authorizer::embedded().await.unwrap();
    let none: [&str; 0] = [];
    assert_eq!(
        authz.check(&none, "GET", "/v1/markets", Ownership::NotApplicable),
        Decision::Deny
    );
    assert_eq!(
        authz.check(&["ghost"], "GET", "/v1/markets", Ownership::NotApplicable),
        Decision::Deny
    );
    assert_eq!(
        authz.check(&["Admin"], "GET", "/v1/markets", Ownership::NotApplicable),
        Decision::Deny
    );
    for method in ["get", "*", "BREW", ""] {
        assert_eq!(
            authz.check(&["admin"], method, "/v1/markets", Ownership::NotApplicable),
            Decision::Deny,
            "{method}"
        );
    }
    assert_eq!(authz.cached_decisions(), 0);
    assert!(
        authz
            .check(&["admin"], "GET", "/v1/markets", Ownership::NotApplicable)
            .is_allowed()
    );
}

#[test]
fn ownership_of_compares_accounts() {
    assert_eq!(Ownership::of("acct-1", "acct-1"), Ownership::Own);
    assert_eq!(Ownership::of("acct-1", "acct-2"), Ownership::Other);
}

/// A tempdir holding a copy of the shipped model and a policy under test.
struct Files {
    _dir: tempfile::TempDir,
    model: PathBuf,
    policy: PathBuf,
}

fn files(policy: &str) -> Files {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("model.conf");
    let policy_path = dir.path().join("policy.csv");
    std::fs::write(&model, DEFAULT_MODEL).unwrap();
    std::fs::write(&policy_path, policy).unwrap();
    Files {
        _dir: dir,
        model,
        policy: policy_path,
    }
}

#[tokio::test]
async fn reload_picks_up_a_changed_policy() {
    let f = files(DEFAULT_POLICY);
    let authz = Authorizer::load(&f.model, &f.policy).await.unwrap();
    let jobs = |a: &Authorizer| a.check(&["viewer"], "GET", "/v1/jobs", Ownership::NotApplicable);
    assert_eq!(jobs(&authz), Decision::Deny);
    assert!(authz.cached_decisions() > 0);

    std::fs::write(
        &f.policy,
        format!("{DEFAULT_POLICY}\np, viewer, /v1/jobs, GET, any\n"),
    )
    .unwrap();
    assert_eq!(
        jobs(&authz),
        Decision::Deny,
        "nothing changes before reload"
    );
    let summary = authz.reload().await.unwrap();
    assert_eq!(
        summary.policies,
        Authorizer::embedded().await.unwrap().summary().policies + 1
    );
    assert_eq!(
        authz.cached_decisions(),
        0,
        "a reload starts with an empty cache"
    );
    assert_eq!(jobs(&authz), Decision::Allow);

    // And back: revoking works too (the cached Allow must not survive).
    std::fs::write(&f.policy, DEFAULT_POLICY).unwrap();
    authz.reload().await.unwrap();
    assert_eq!(jobs(&authz), Decision::Deny);
}

#[tokio::test]
async fn broken_policy_on_reload_keeps_the_old_one() {
    let f = files(DEFAULT_POLICY);
    let authz = Authorizer::load(&f.model, &f.policy).await.unwrap();
    let before = authz.summary();
    let place = |a: &Authorizer| a.check(&["trader"], "POST", "/v1/orders", Ownership::Own);
    assert_eq!(place(&authz), Decision::Allow);

    for (broken, expect_line) in [
        (
            format!("{DEFAULT_POLICY}p, trader, /v1/orders, POST, onw\n"),
            true,
        ),
        (format!("{DEFAULT_POLICY}p, trader, /v1/orders\n"), true),
        ("# truncated\n".to_owned(), false),
    ] {
        std::fs::write(&f.policy, &broken).unwrap();
        let err = authz.reload().await.unwrap_err();
        assert!(
            matches!(err, RbacError::Policy { line, .. } if (line > 0) == expect_line),
            "{err}"
        );
        assert_eq!(authz.summary(), before);
        assert_eq!(place(&authz), Decision::Allow);
        assert_matrix(&authz);
    }

    std::fs::write(&f.policy, DEFAULT_POLICY).unwrap();
    std::fs::write(&f.model, "[request_definition]\nr = sub, obj\n").unwrap();
    let err = authz.reload().await.unwrap_err();
    assert!(matches!(err, RbacError::Model { .. }), "{err}");
    assert_matrix(&authz);

    std::fs::remove_file(&f.model).unwrap();
    let err = authz.reload().await.unwrap_err();
    assert!(
        matches!(&err, RbacError::Read { path, .. } if *path == f.model),
        "{err}"
    );
    assert_matrix(&authz);
}

#[tokio::test]
async fn model_that_cannot_evaluate_four_values_is_rejected_at_load() {
    // Three request values: every real check would fail, so the load must.
    let model = DEFAULT_MODEL
        .replace("r = sub, obj, act, own", "r = sub, obj, act")
        .replace(
            "(p.scope == \"any\" || (p.scope == \"own\" && r.own == \"own\"))",
            "true",
        );
    let f = files(DEFAULT_POLICY);
    std::fs::write(&f.model, model).unwrap();
    let err = Authorizer::load(&f.model, &f.policy).await.unwrap_err();
    assert!(matches!(err, RbacError::Model { .. }), "{err}");
}

#[tokio::test]
async fn load_reports_a_missing_file() {
    let err = Authorizer::load("/nonexistent/model.conf", shipped("policy.csv"))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("/nonexistent/model.conf"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checks_run_concurrently_with_reloads() {
    let f = files(DEFAULT_POLICY);
    let authz = Arc::new(Authorizer::load(&f.model, &f.policy).await.unwrap());
    let checkers: Vec<_> = (0..4)
        .map(|_| {
            let authz = Arc::clone(&authz);
            std::thread::spawn(move || {
                for _ in 0..2_000 {
                    assert!(
                        authz
                            .check(&["trader"], "GET", "/v1/markets", Ownership::NotApplicable)
                            .is_allowed()
                    );
                    assert!(
                        !authz
                            .check(&["trader"], "POST", "/v1/orders", Ownership::Other)
                            .is_allowed()
                    );
                }
            })
        })
        .collect();
    for _ in 0..20 {
        authz.reload().await.unwrap();
    }
    for checker in checkers {
        checker.join().unwrap();
    }
}
