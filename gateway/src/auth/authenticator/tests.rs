//! Authenticator tests: the happy paths per algorithm and the attack set.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use jsonwebtoken::{Algorithm, EncodingKey};
use matcher::AccountId;
use serde_json::json;

use crate::auth::test_support::*;
use crate::auth::{
    AuthConfig, AuthError, Authenticator, ConfigError, Hs256Secret, JwksConfig, JwksSource,
    Principal, Role, mint_hs256,
};

fn hs_config() -> AuthConfig {
    let mut config = AuthConfig::new(ISSUER, AUDIENCE);
    config.hs256_secret = Some(Hs256Secret::new(SECRET).unwrap());
    config
}

fn hs_auth() -> Authenticator {
    Authenticator::new(hs_config()).unwrap()
}

/// HS256 secret plus the fixture JWKS file.
fn full_auth() -> Authenticator {
    let mut config = hs_config();
    config.jwks = Some(JwksConfig::new(JwksSource::File(jwks_path())));
    Authenticator::new(config).unwrap()
}

fn alice() -> Principal {
    Principal {
        subject: "alice".to_owned(),
        account: AccountId(42),
        roles: vec![Role::Trader, Role::Viewer],
    }
}

#[test]
fn authenticator_and_verify_future_are_send_and_sync() {
    // axum shares the authenticator across tasks and requires `Send` handler futures.
    fn assert_send_sync<T: Send + Sync>(_: &T) {}
    fn assert_send<T: Send>(_: &T) {}
    let auth = hs_auth();
    assert_send_sync(&auth);
    assert_send(&auth.verify("token"));
}

#[test]
fn valid_hs256_token_yields_the_principal() {
    let principal = hs_auth().verify_cached(&hs256(&claims())).unwrap();
    assert_eq!(principal, alice());
    assert!(principal.has_role(Role::Trader) && !principal.has_role(Role::Admin));
}

#[test]
fn minted_token_verifies() {
    let token = mint_hs256(
        SECRET,
        ISSUER,
        AUDIENCE,
        "ops-bot",
        AccountId(7),
        &[Role::Operator, Role::Admin],
        Duration::from_secs(60),
        SystemTime::now(),
    )
    .unwrap();
    let principal = full_auth().verify_cached(&token).unwrap();
    assert_eq!(principal.subject, "ops-bot");
    assert_eq!(principal.account, AccountId(7));
    assert_eq!(principal.roles, [Role::Operator, Role::Admin]);
}

#[test]
fn rs256_es256_eddsa_tokens_verify_via_the_jwks_file() {
    let auth = full_auth();
    for token in [
        rs256("rsa-1", &claims()),
        es256("ec-1", &claims()),
        eddsa("ed-1", &claims()),
    ] {
        assert_eq!(auth.verify_cached(&token).unwrap(), alice());
    }
}

#[test]
fn missing_token() {
    assert_eq!(hs_auth().verify_cached(""), Err(AuthError::Missing));
    assert_eq!(hs_auth().verify_cached("  "), Err(AuthError::Missing));
}

#[test]
fn malformed_tokens() {
    let auth = hs_auth();
    let oversized = "a".repeat(9000);
    for token in ["abc", "a.b", "a.b.c", "!!!.e30.e30", oversized.as_str()] {
        assert_eq!(
            auth.verify_cached(token),
            Err(AuthError::Malformed),
            "{token}"
        );
    }
}

#[test]
fn alg_none_is_refused() {
    let header = b64(br#"{"alg":"none","typ":"JWT"}"#);
    let payload = b64(claims().to_string().as_bytes());
    for token in [
        format!("{header}.{payload}."),
        format!("{header}.{payload}"),
    ] {
        assert_eq!(
            full_auth().verify_cached(&token),
            Err(AuthError::AlgorithmNotAllowed)
        );
    }
}

#[test]
fn wrong_hs256_key_is_a_bad_signature() {
    let other = EncodingKey::from_secret(b"another-secret-0123456789abcdef-012345");
    let token = sign(Algorithm::HS256, None, &other, &claims());
    assert_eq!(
        hs_auth().verify_cached(&token),
        Err(AuthError::BadSignature)
    );
}

#[test]
fn hs256_signed_with_the_rsa_public_key_is_refused() {
    // The classic confusion: the attacker "signs" HS256 with the public key's PEM bytes and
    // names the RSA key, hoping the verifier feeds those bytes to HMAC.
    let forged_key = EncodingKey::from_secret(RSA_PUBLIC_PEM);
    let auth = full_auth();
    let with_kid = sign(Algorithm::HS256, Some("rsa-1"), &forged_key, &claims());
    assert_eq!(
        auth.verify_cached(&with_kid),
        Err(AuthError::AlgorithmNotAllowed)
    );
    // Without a kid it goes to the configured HS256 secret and fails there.
    let without_kid = sign(Algorithm::HS256, None, &forged_key, &claims());
    assert_eq!(
        auth.verify_cached(&without_kid),
        Err(AuthError::BadSignature)
    );
}

#[test]
fn header_alg_must_match_the_keys_pinned_alg() {
    let auth = full_auth();
    let rsa = EncodingKey::from_rsa_pem(RSA_PRIVATE_PEM).unwrap();
    // A genuine RSA signature, but with an algorithm the key is not pinned to.
    for alg in [Algorithm::RS384, Algorithm::RS512, Algorithm::PS256] {
        let token = sign(alg, Some("rsa-1"), &rsa, &claims());
        assert_eq!(
            auth.verify_cached(&token),
            Err(AuthError::AlgorithmNotAllowed),
            "{alg:?}"
        );
    }
    // The EC key's token naming the Ed25519 key, and an RS256 token without a kid.
    assert_eq!(
        auth.verify_cached(&es256("ed-1", &claims())),
        Err(AuthError::AlgorithmNotAllowed)
    );
    let no_kid = sign(Algorithm::RS256, None, &rsa, &claims());
    assert_eq!(
        auth.verify_cached(&no_kid),
        Err(AuthError::AlgorithmNotAllowed)
    );
    // HS384 with the right secret is still not HS256.
    let hs384 = sign(
        Algorithm::HS384,
        None,
        &EncodingKey::from_secret(SECRET),
        &claims(),
    );
    assert_eq!(
        auth.verify_cached(&hs384),
        Err(AuthError::AlgorithmNotAllowed)
    );
}

#[test]
fn no_kid_and_no_hs256_secret_is_an_unknown_key() {
    let mut config = AuthConfig::new(ISSUER, AUDIENCE);
    config.jwks = Some(JwksConfig::new(JwksSource::File(jwks_path())));
    let auth = Authenticator::new(config).unwrap();
    assert_eq!(
        auth.verify_cached(&hs256(&claims())),
        Err(AuthError::UnknownKey)
    );
    assert_eq!(auth.verify_cached(&rs256("rsa-1", &claims())), Ok(alice()));
}

#[test]
fn expired_and_not_yet_valid() {
    let auth = hs_auth();
    let now = unix_now();
    let expired = claims_with("exp", json!(now - 120));
    assert_eq!(
        auth.verify_cached(&hs256(&expired)),
        Err(AuthError::Expired)
    );
    let future = claims_with("nbf", json!(now + 120));
    assert_eq!(
        auth.verify_cached(&hs256(&future)),
        Err(AuthError::NotYetValid)
    );
}

#[test]
fn leeway_boundary() {
    // Default leeway 30 s; margins of 3 s keep this independent of a second ticking over.
    let auth = hs_auth();
    let now = unix_now();
    let within = [("exp", now - 27), ("nbf", now + 27)];
    for (claim, at) in within {
        let token = hs256(&claims_with(claim, json!(at)));
        assert!(auth.verify_cached(&token).is_ok(), "{claim} within leeway");
    }
    let beyond = [
        ("exp", now - 33, AuthError::Expired),
        ("nbf", now + 33, AuthError::NotYetValid),
    ];
    for (claim, at, error) in beyond {
        let token = hs256(&claims_with(claim, json!(at)));
        assert_eq!(
            auth.verify_cached(&token),
            Err(error),
            "{claim} beyond leeway"
        );
    }
    // A zero leeway refuses what the default accepts.
    let mut strict = hs_config();
    strict.leeway = Duration::ZERO;
    let strict = Authenticator::new(strict).unwrap();
    let token = hs256(&claims_with("exp", json!(now - 27)));
    assert_eq!(strict.verify_cached(&token), Err(AuthError::Expired));
}

#[test]
fn wrong_issuer_and_audience() {
    let auth = full_auth();
    let iss = claims_with("iss", json!("https://evil.test"));
    assert_eq!(
        auth.verify_cached(&hs256(&iss)),
        Err(AuthError::WrongIssuer)
    );
    let aud = claims_with("aud", json!("some-other-service"));
    assert_eq!(
        auth.verify_cached(&rs256("rsa-1", &aud)),
        Err(AuthError::WrongAudience)
    );
    // An audience array containing ours is accepted.
    let many = claims_with("aud", json!(["other", AUDIENCE]));
    assert_eq!(auth.verify_cached(&hs256(&many)), Ok(alice()));
}

#[test]
fn tampered_payload_is_a_bad_signature() {
    let auth = full_auth();
    let forged = b64(claims_with("roles", json!(["admin"]))
        .to_string()
        .as_bytes());
    for token in [
        hs256(&claims()),
        rs256("rsa-1", &claims()),
        eddsa("ed-1", &claims()),
    ] {
        let mut parts: Vec<&str> = token.split('.').collect();
        parts[1] = &forged;
        assert_eq!(
            auth.verify_cached(&parts.join(".")),
            Err(AuthError::BadSignature)
        );
    }
}

#[test]
fn missing_claims_are_refused() {
    let auth = hs_auth();
    for claim in ["sub", "account", "roles", "iss", "aud", "iat", "nbf", "exp"] {
        let token = hs256(&claims_with(claim, json!(null)));
        let result = auth.verify_cached(&token);
        assert_eq!(result, Err(AuthError::BadClaims), "without {claim}");
    }
}

#[test]
fn bad_claim_values_are_refused() {
    let auth = hs_auth();
    let cases = [
        ("roles", json!(["trader", "superuser"])),
        ("roles", json!(["Admin"])),
        ("roles", json!("admin")),
        ("account", json!(-1)),
        ("account", json!("42")),
        ("sub", json!("")),
        ("sub", json!(7)),
        ("exp", json!("tomorrow")),
    ];
    for (claim, value) in cases {
        let token = hs256(&claims_with(claim, value.clone()));
        assert_eq!(
            auth.verify_cached(&token),
            Err(AuthError::BadClaims),
            "{claim}={value}"
        );
    }
}

#[test]
fn empty_roles_verify_to_a_principal_without_roles() {
    let token = hs256(&claims_with("roles", json!([])));
    assert!(hs_auth().verify_cached(&token).unwrap().roles.is_empty());
}

#[test]
fn header_embedded_keys_are_ignored() {
    // An attacker-supplied `jwk` in the header must not be trusted: the kid is still unknown.
    let mut header = jsonwebtoken::Header::new(Algorithm::RS256);
    header.kid = Some("attacker".to_owned());
    header.jku = Some("https://evil.test/jwks.json".to_owned());
    let key = EncodingKey::from_rsa_pem(RSA_PRIVATE_PEM).unwrap();
    let token = jsonwebtoken::encode(&header, &claims(), &key).unwrap();
    assert_eq!(
        full_auth().verify_cached(&token),
        Err(AuthError::UnknownKey)
    );
}

#[test]
fn config_is_validated() {
    let no_keys = AuthConfig::new(ISSUER, AUDIENCE);
    assert!(matches!(
        Authenticator::new(no_keys),
        Err(ConfigError::NoKeys)
    ));
    let mut big_leeway = hs_config();
    big_leeway.leeway = Duration::from_secs(3600);
    assert!(matches!(
        Authenticator::new(big_leeway),
        Err(ConfigError::LeewayTooLarge)
    ));
    assert!(matches!(
        Hs256Secret::new(&b"short"[..]),
        Err(ConfigError::WeakSecret)
    ));
    let mut missing_file = hs_config();
    missing_file.jwks = Some(JwksConfig::new(JwksSource::File(
        "/nonexistent/jwks.json".into(),
    )));
    assert!(matches!(
        Authenticator::new(missing_file),
        Err(ConfigError::Jwks(_))
    ));
    for url in ["ftp://idp.test/jwks.json", "jwks.json", "https://"] {
        let mut bad_url = hs_config();
        bad_url.jwks = Some(JwksConfig::new(JwksSource::Url(url.to_owned())));
        assert!(
            matches!(
                Authenticator::new(bad_url),
                Err(ConfigError::InvalidJwksUrl { .. })
            ),
            "{url}"
        );
    }
    assert_eq!(
        format!("{:?}", Hs256Secret::new(SECRET).unwrap()),
        "Hs256Secret(<redacted>)"
    );
}

// --- JWKS refresh -------------------------------------------------------------------------

const INTERVAL: Duration = Duration::from_secs(60);

fn url_config() -> AuthConfig {
    let mut config = AuthConfig::new(ISSUER, AUDIENCE);
    config.jwks = Some(JwksConfig {
        source: JwksSource::Url("https://auth.tradeplane.test/jwks.json".to_owned()),
        refresh_min_interval: INTERVAL,
    });
    config
}

fn fetching_auth(fetcher: &Arc<MemoryFetcher>, clock: &ManualClock) -> Authenticator {
    let fetcher: Arc<dyn crate::auth::JwksFetcher> = fetcher.clone();
    Authenticator::with_parts(url_config(), Some(fetcher), clock.as_clock()).unwrap()
}

#[tokio::test]
async fn unknown_kid_refreshes_at_most_once_per_interval() {
    let fetcher = MemoryFetcher::serving(JWKS_JSON);
    let clock = ManualClock::new();
    let auth = fetching_auth(&fetcher, &clock);
    let unknown = rs256("rotated-away", &claims());

    assert_eq!(auth.verify(&unknown).await, Err(AuthError::UnknownKey));
    assert_eq!(fetcher.fetches(), 1);
    clock.advance(INTERVAL - Duration::from_secs(1));
    assert_eq!(auth.verify(&unknown).await, Err(AuthError::UnknownKey));
    assert_eq!(
        fetcher.fetches(),
        1,
        "second unknown kid within the interval must not fetch"
    );
    // The first fetch did load the keys: known kids verify without fetching.
    assert_eq!(auth.verify(&es256("ec-1", &claims())).await, Ok(alice()));
    assert_eq!(fetcher.fetches(), 1);

    clock.advance(Duration::from_secs(1));
    assert_eq!(auth.verify(&unknown).await, Err(AuthError::UnknownKey));
    assert_eq!(
        fetcher.fetches(),
        2,
        "due again once the interval has passed"
    );
}

#[tokio::test]
async fn rotated_key_is_picked_up_after_the_interval() {
    let fetcher = MemoryFetcher::serving(&jwks_subset(&["ec-1"]));
    let clock = ManualClock::new();
    let auth = fetching_auth(&fetcher, &clock);
    assert_eq!(auth.refresh_jwks().await.unwrap(), 1);

    fetcher.set(Some(&jwks_subset(&["ec-1", "rsa-1"])));
    let token = rs256("rsa-1", &claims());
    // Refreshed at start-up just now: not due yet.
    assert_eq!(auth.verify(&token).await, Err(AuthError::UnknownKey));
    assert_eq!(fetcher.fetches(), 1);
    clock.advance(INTERVAL);
    assert_eq!(auth.verify(&token).await, Ok(alice()));
    assert_eq!(fetcher.fetches(), 2);
    // The synchronous path never fetches.
    assert_eq!(
        auth.verify_cached(&eddsa("ed-1", &claims())),
        Err(AuthError::UnknownKey)
    );
    assert_eq!(fetcher.fetches(), 2);
}

#[tokio::test]
async fn failed_refresh_keeps_the_previous_keys() {
    let fetcher = MemoryFetcher::serving(JWKS_JSON);
    let clock = ManualClock::new();
    let auth = fetching_auth(&fetcher, &clock);
    auth.refresh_jwks().await.unwrap();

    fetcher.set(None);
    clock.advance(INTERVAL);
    let unknown = rs256("new-key", &claims());
    assert_eq!(auth.verify(&unknown).await, Err(AuthError::JwksUnavailable));
    assert!(AuthError::JwksUnavailable.retryable());
    assert_eq!(auth.verify(&rs256("rsa-1", &claims())).await, Ok(alice()));

    // A set without usable keys is refused the same way.
    fetcher.set(Some(r#"{"keys":[]}"#));
    clock.advance(INTERVAL);
    assert_eq!(auth.verify(&unknown).await, Err(AuthError::JwksUnavailable));
    assert_eq!(auth.verify(&eddsa("ed-1", &claims())).await, Ok(alice()));
    assert_eq!(fetcher.fetches(), 3);
}

#[tokio::test]
async fn url_source_without_a_fetcher_is_unavailable() {
    let auth =
        Authenticator::with_parts(url_config(), None, ManualClock::new().as_clock()).unwrap();
    assert_eq!(
        auth.verify(&rs256("rsa-1", &claims())).await,
        Err(AuthError::JwksUnavailable)
    );
    assert!(auth.refresh_jwks().await.is_err());
}

#[tokio::test]
async fn file_source_refreshes_from_disk() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("jwks.json");
    std::fs::write(&path, jwks_subset(&["ec-1"])).unwrap();
    let mut config = AuthConfig::new(ISSUER, AUDIENCE);
    config.jwks = Some(JwksConfig {
        source: JwksSource::File(path.clone()),
        refresh_min_interval: Duration::ZERO,
    });
    let auth = Authenticator::new(config).unwrap();
    let token = eddsa("ed-1", &claims());
    assert_eq!(auth.verify_cached(&token), Err(AuthError::UnknownKey));
    std::fs::write(&path, JWKS_JSON).unwrap();
    assert_eq!(auth.verify(&token).await, Ok(alice()));
}
