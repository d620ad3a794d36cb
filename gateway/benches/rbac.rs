//! Cost of `Authorizer::check` with a warm decision cache, at the shipped policy (~20 rules)
//! and with 1,000 extra synthetic rules; plus casbin's own uncached `enforce` for contrast.
//!
//! `cargo bench -p gateway --bench rbac`

use std::hint::black_box;
use std::time::Duration;

use casbin::{CoreApi, DefaultModel, Enforcer, StringAdapter};
use criterion::{Criterion, criterion_group, criterion_main};
use gateway::rbac::{Authorizer, DEFAULT_MODEL, DEFAULT_POLICY, Ownership};
use tokio::runtime::Runtime;

const EXTRA_RULES: usize = 1_000;
const SYNTHETIC_ROLES: usize = 50;

/// The shipped policy plus 1,000 rules for 50 synthetic roles on 1,000 synthetic routes.
fn big_policy() -> String {
    let mut policy = DEFAULT_POLICY.to_owned();
    for i in 0..EXTRA_RULES {
        let method = ["GET", "POST", "PATCH", "DELETE"][i % 4];
        let scope = if i % 2 == 0 { "any" } else { "own" };
        policy.push_str(&format!(
            "p, synth{}, /v1/synth/{i}/{{id}}, {method}, {scope}\n",
            i % SYNTHETIC_ROLES
        ));
    }
    for r in 0..SYNTHETIC_ROLES {
        policy.push_str(&format!("g, synth{r}, viewer\n"));
    }
    policy
}

fn load(rt: &Runtime, policy: &str) -> (tempfile::TempDir, Authorizer) {
    let dir = tempfile::tempdir().expect("tempdir");
    let (model_path, policy_path) = (dir.path().join("model.conf"), dir.path().join("policy.csv"));
    std::fs::write(&model_path, DEFAULT_MODEL).expect("write model");
    std::fs::write(&policy_path, policy).expect("write policy");
    let authz = rt
        .block_on(Authorizer::load(&model_path, &policy_path))
        .expect("load policy");
    (dir, authz)
}

fn bench(c: &mut Criterion) {
    let rt = Runtime::new().expect("tokio runtime");
    let big = big_policy();

    for (label, policy) in [
        ("20_policies", DEFAULT_POLICY.to_owned()),
        ("1000_policies", big.clone()),
    ] {
        let (_dir, authz) = load(&rt, &policy);
        let mut group = c.benchmark_group(format!("check/{label}"));
        group
            .measurement_time(Duration::from_secs(3))
            .warm_up_time(Duration::from_secs(1));

        let check = |roles: &[&str], method, route, own| authz.check(roles, method, route, own);
        // Warm the cache.
        let _ = check(&["trader"], "GET", "/v1/orders/{id}", Ownership::Own);
        let _ = check(
            &["viewer", "operator"],
            "GET",
            "/v1/orders/{id}",
            Ownership::Other,
        );
        group.bench_function("one_role_hit", |b| {
            b.iter(|| {
                check(
                    black_box(&["trader"]),
                    black_box("GET"),
                    black_box("/v1/orders/{id}"),
                    black_box(Ownership::Own),
                )
            });
        });
        group.bench_function("two_roles_second_allows", |b| {
            b.iter(|| {
                check(
                    black_box(&["viewer", "operator"]),
                    black_box("GET"),
                    black_box("/v1/orders/{id}"),
                    black_box(Ownership::Other),
                )
            });
        });
        if label == "1000_policies" {
            // 1,000 distinct (role, route) keys in rotation: the cache holds them all.
            let keys: Vec<(String, String)> = (0..EXTRA_RULES)
                .map(|i| {
                    (
                        format!("synth{}", i % SYNTHETIC_ROLES),
                        format!("/v1/synth/{i}/{{id}}"),
                    )
                })
                .collect();
            for (role, route) in &keys {
                let _ = authz.check(&[role.as_str()], "GET", route, Ownership::Own);
            }
            let mut i = 0;
            group.bench_function("1000_distinct_keys_rotating", |b| {
                b.iter(|| {
                    let (role, route) = &keys[i % keys.len()];
                    i += 1;
                    authz.check(&[role.as_str()], "GET", route, Ownership::Own)
                });
            });
        }
        group.finish();
    }

    // What the cache saves: casbin's plain enforce, every rule through rhai.
    let mut group = c.benchmark_group("casbin_enforce_uncached");
    group
        .measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_secs(1))
        .sample_size(20);
    for (label, policy) in [
        ("20_policies", DEFAULT_POLICY),
        ("1000_policies", big.as_str()),
    ] {
        let enforcer = rt.block_on(async {
            let model = DefaultModel::from_str(DEFAULT_MODEL).await.expect("model");
            let lines: String = policy
                .lines()
                .filter(|l| !l.trim_start().starts_with('#'))
                .map(|l| format!("{l}\n"))
                .collect();
            Enforcer::new(model, StringAdapter::new(lines))
                .await
                .expect("enforcer")
        });
        // An allow stops at the first matching rule; a deny evaluates every rule.
        for (case, own, expect) in [("allow", "own", true), ("deny", "other", false)] {
            let request = ("trader", "/v1/orders/{id}", "GET", own);
            assert_eq!(enforcer.enforce(request).expect("enforce"), expect);
            group.bench_function(format!("{label}/{case}"), |b| {
                b.iter(|| enforcer.enforce(black_box(request)));
            });
        }
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
