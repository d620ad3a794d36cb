//! `tradeplane token` mints a token the gateway's authenticator accepts.

use std::process::Command;

use gateway::auth::{AuthConfig, Authenticator, Hs256Secret, Role};

const SECRET: &str = "0123456789abcdef0123456789abcdef-test-only";

fn mint(args: &[&str], secret: Option<&str>) -> std::process::Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_tradeplane"));
    c.arg("token").args(args);
    for (k, _) in std::env::vars() {
        if k.starts_with("TRADEPLANE_") {
            c.env_remove(k);
        }
    }
    if let Some(s) = secret {
        c.env("TRADEPLANE_AUTH__HS256_SECRET", s);
    }
    c.output().unwrap()
}

#[test]
fn minted_tokens_verify_with_the_configured_secret() {
    let out = mint(
        &[
            "--subject",
            "alice",
            "--account",
            "42",
            "--role",
            "trader",
            "--role",
            "viewer",
        ],
        Some(SECRET),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let token = String::from_utf8(out.stdout).unwrap();
    let mut config = AuthConfig::new("tradeplane", "tradeplane-api");
    config.hs256_secret = Some(Hs256Secret::new(SECRET.as_bytes().to_vec()).unwrap());
    let auth = Authenticator::new(config).unwrap();
    let principal = auth.verify_cached(token.trim()).unwrap();
    assert_eq!(principal.subject, "alice");
    assert_eq!(principal.account, matcher::AccountId(42));
    assert!(principal.has_role(Role::Trader) && principal.has_role(Role::Viewer));
    assert!(!principal.has_role(Role::Admin));
}

#[test]
fn minting_without_a_usable_secret_says_how_to_set_one() {
    let out = mint(
        &["--subject", "a", "--account", "1", "--role", "admin"],
        None,
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("TRADEPLANE_AUTH__HS256_SECRET"));
    let out = mint(
        &["--subject", "a", "--account", "1", "--role", "admin"],
        Some("short"),
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot mint a token"));
}
