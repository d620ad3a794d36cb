//! The JWT attack set over real HTTP: the gateway in-process with `auth.jwks` set to a URL,
//! the key set served by a loopback axum server that counts its fetches, every token sent
//! through the whole router to `GET /v1/whoami`.
//!
//! The authenticator's unit tests pin each check; these show that the checks hold behind
//! the real middleware, that each refusal is a 401 problem with the right challenge, and that
//! the JWKS is really fetched over HTTP: lazily, again on an unknown `kid`, and never more
//! than once per refresh interval.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::extract::State;
use axum::http::header::{CONTENT_TYPE, WWW_AUTHENTICATE};
use base64::Engine as _;
use gateway::auth::{AuthError, JwksConfig, JwksSource};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::header::HeaderMap;
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::task::{JoinHandle, JoinSet};
use tokio_util::sync::CancellationToken;
use tradeplane_sdk::types::{Problem, Role, WhoAmI};
use tradeplane_sdk::{Error, ResponseValue};

use crate::harness::{AUDIENCE, ISSUER, SECRET, Stack, problem};

const JWKS_JSON: &str = include_str!("../fixtures/jwks.json");
/// The `rsa-2` key, served only once a test "rotates" it in.
const JWKS_RSA_2: &str = include_str!("../fixtures/jwks_rsa_2.json");
const RSA_PRIVATE_PEM: &[u8] = include_bytes!("../fixtures/rsa_private.pem");
const RSA_PUBLIC_PEM: &[u8] = include_bytes!("../fixtures/rsa_public.pem");
const RSA_2_PRIVATE_PEM: &[u8] = include_bytes!("../fixtures/rsa_2_private.pem");
const EC_PRIVATE_PEM: &[u8] = include_bytes!("../fixtures/ec_private.pem");
const ED_PRIVATE_PEM: &[u8] = include_bytes!("../fixtures/ed25519_private.pem");

/// Long enough that no refresh falls due by itself while a test runs.
const NEVER: Duration = Duration::from_secs(3600);

// --- The JWKS endpoint -------------------------------------------------------------------

/// A loopback HTTP server answering `GET /jwks.json` with a replaceable document.
struct JwksServer {
    url: String,
    served: Arc<Served>,
    stop: CancellationToken,
    task: JoinHandle<()>,
}

struct Served {
    doc: Mutex<String>,
    fetches: AtomicUsize,
}

impl JwksServer {
    async fn start(doc: &str) -> Self {
        async fn jwks(State(served): State<Arc<Served>>) -> impl axum::response::IntoResponse {
            served.fetches.fetch_add(1, Ordering::SeqCst);
            let doc = served.doc.lock().unwrap().clone();
            ([(CONTENT_TYPE, "application/jwk-set+json")], doc)
        }
        let served = Arc::new(Served {
            doc: Mutex::new(doc.to_owned()),
            fetches: AtomicUsize::new(0),
        });
        let app = axum::Router::new()
            .route("/jwks.json", axum::routing::get(jwks))
            .with_state(Arc::clone(&served));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/jwks.json", listener.local_addr().unwrap());
        let stop = CancellationToken::new();
        let shutdown = stop.clone().cancelled_owned();
        let task = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(shutdown)
                .await
                .unwrap();
        });
        Self {
            url,
            served,
            stop,
            task,
        }
    }

    fn serve(&self, doc: &str) {
        doc.clone_into(&mut self.served.doc.lock().unwrap());
    }

    fn fetches(&self) -> usize {
        self.served.fetches.load(Ordering::SeqCst)
    }

    async fn stop(self) {
        self.stop.cancel();
        self.task.await.unwrap();
    }
}

/// The gateway (HS256 secret from the harness, plus the JWKS at `jwks`'s URL) and the server.
async fn start(refresh_min_interval: Duration) -> (Stack, JwksServer) {
    let jwks = JwksServer::start(JWKS_JSON).await;
    let url = jwks.url.clone();
    let stack = Stack::start_configured(|c| {
        c.auth.jwks = Some(JwksConfig {
            source: JwksSource::Url(url),
            refresh_min_interval,
        });
    })
    .await;
    (stack, jwks)
}

async fn stop(stack: Stack, jwks: JwksServer) {
    stack.stop().await;
    jwks.stop().await;
}

/// Both fixture sets in one document: the key set after `rsa-2` is rotated in.
fn jwks_with_rsa_2() -> String {
    let mut set: Value = serde_json::from_str(JWKS_JSON).unwrap();
    let extra: Value = serde_json::from_str(JWKS_RSA_2).unwrap();
    let keys = set["keys"].as_array_mut().unwrap();
    keys.extend(extra["keys"].as_array().unwrap().iter().cloned());
    set.to_string()
}

// --- Tokens ------------------------------------------------------------------------------

fn unix_now() -> i64 {
    let since = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    i64::try_from(since.as_secs()).unwrap()
}

fn claims() -> Value {
    let now = unix_now();
    json!({
        "sub": "alice", "account": 42, "roles": ["trader", "viewer"],
        "iss": ISSUER, "aud": AUDIENCE, "iat": now, "nbf": now, "exp": now + 300,
    })
}

/// The valid claims with `field` replaced, or removed when `value` is null.
fn claims_with(field: &str, value: Value) -> Value {
    let mut c = claims();
    if value.is_null() {
        c.as_object_mut().unwrap().remove(field);
    } else {
        c[field] = value;
    }
    c
}

fn sign(alg: Algorithm, kid: Option<&str>, key: &EncodingKey, claims: &Value) -> String {
    let mut header = Header::new(alg);
    header.kid = kid.map(str::to_owned);
    jsonwebtoken::encode(&header, claims, key).unwrap()
}

fn rs256(kid: &str, claims: &Value) -> String {
    let key = EncodingKey::from_rsa_pem(RSA_PRIVATE_PEM).unwrap();
    sign(Algorithm::RS256, Some(kid), &key, claims)
}

fn rs256_key_2(kid: &str, claims: &Value) -> String {
    let key = EncodingKey::from_rsa_pem(RSA_2_PRIVATE_PEM).unwrap();
    sign(Algorithm::RS256, Some(kid), &key, claims)
}

fn es256(kid: &str, claims: &Value) -> String {
    let key = EncodingKey::from_ec_pem(EC_PRIVATE_PEM).unwrap();
    sign(Algorithm::ES256, Some(kid), &key, claims)
}

fn eddsa(kid: &str, claims: &Value) -> String {
    let key = EncodingKey::from_ed_pem(ED_PRIVATE_PEM).unwrap();
    sign(Algorithm::EdDSA, Some(kid), &key, claims)
}

/// A token with the given header and no signature.
fn unsigned(header: &Value) -> String {
    let b64 = |v: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    format!("{}.{}.", b64(header), b64(&claims()))
}

// --- Calls and assertions ----------------------------------------------------------------

/// What `GET /v1/whoami` answered through the SDK.
type WhoAmIResult = Result<ResponseValue<WhoAmI>, Error<Problem>>;

/// `GET /v1/whoami` through an SDK client that sends `token`.
async fn whoami(stack: &Stack, token: &str) -> WhoAmIResult {
    stack.sdk(token).whoami().send().await
}

/// Asserts the 401 problem for `expected`: status, `application/problem+json`, the stable
/// `unauthorized` code, and the RFC 6750 challenge naming the reason.
fn assert_refused(result: WhoAmIResult, expected: AuthError, case: &str) {
    let problem = match result {
        Err(Error::ErrorResponse(problem)) => problem,
        other => panic!("{case}: expected a 401 problem, got {other:?}"),
    };
    assert_refusal(problem.status(), problem.headers(), case);
    assert_challenge(problem.headers(), expected, case);
    assert_eq!(problem.code, "unauthorized", "{case}: {problem:?}");
    assert_eq!(problem.status, 401, "{case}: {problem:?}");
}

/// [`assert_refused`] for a raw answer.
async fn assert_refused_raw(res: Response, expected: AuthError, case: &str) {
    assert_refusal(res.status(), res.headers(), case);
    assert_challenge(res.headers(), expected, case);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["code"], "unauthorized", "{case}: {body}");
    assert_eq!(body["status"], 401, "{case}: {body}");
}

fn assert_refusal(status: StatusCode, headers: &HeaderMap, case: &str) {
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{case}");
    assert_eq!(headers[CONTENT_TYPE], "application/problem+json", "{case}");
}

fn assert_challenge(headers: &HeaderMap, expected: AuthError, case: &str) {
    let challenge = headers.get(WWW_AUTHENTICATE).map(|v| v.to_str().unwrap());
    assert_eq!(
        challenge,
        Some(expected.www_authenticate().as_str()),
        "{case}"
    );
}

fn assert_alice(result: WhoAmIResult, case: &str) {
    let me = result.unwrap_or_else(|e| panic!("{case}: {e:?}"));
    assert_eq!(me.status(), StatusCode::OK, "{case}");
    assert_eq!(me.subject, "alice", "{case}");
    assert_eq!(me.account, 42, "{case}");
    assert_eq!(me.roles, [Role::Trader, Role::Viewer], "{case}");
}

// --- Accepted ----------------------------------------------------------------------------

#[tokio::test]
async fn rs256_es256_and_eddsa_tokens_from_the_jwks_url_are_accepted() {
    let (stack, jwks) = start(NEVER).await;
    // The gateway serves only once its start-up is done: an HS256 answer proves it.
    let hs256 = sign(
        Algorithm::HS256,
        None,
        &EncodingKey::from_secret(SECRET),
        &claims(),
    );
    assert_alice(whoami(&stack, &hs256).await, "HS256");
    assert_eq!(jwks.fetches(), 1, "the JWKS is loaded at start-up");
    for (case, token) in [
        ("RS256", rs256("rsa-1", &claims())),
        ("ES256", es256("ec-1", &claims())),
        ("EdDSA", eddsa("ed-1", &claims())),
    ] {
        assert_alice(whoami(&stack, &token).await, case);
    }
    assert_eq!(
        jwks.fetches(),
        1,
        "the start-up fetch serves every known kid"
    );
    stop(stack, jwks).await;
}

#[tokio::test]
async fn a_key_rotated_into_the_served_jwks_is_accepted_after_the_refresh() {
    // A zero interval: every unknown kid may refetch, so the test needs no clock.
    let (stack, jwks) = start(Duration::ZERO).await;
    assert_alice(whoami(&stack, &rs256("rsa-1", &claims())).await, "rsa-1");
    assert_eq!(jwks.fetches(), 1);

    let rotated = rs256_key_2("rsa-2", &claims());
    let res = whoami(&stack, &rotated).await;
    assert_refused(res, AuthError::UnknownKey, "rsa-2 before rotation");
    assert_eq!(jwks.fetches(), 2, "an unknown kid fetches the JWKS again");

    jwks.serve(&jwks_with_rsa_2());
    assert_alice(whoami(&stack, &rotated).await, "rsa-2 rotated in");
    assert_eq!(jwks.fetches(), 3);
    // Known kids are served from the cache.
    for token in [rotated, es256("ec-1", &claims())] {
        assert_alice(whoami(&stack, &token).await, "cached");
    }
    assert_eq!(jwks.fetches(), 3);
    stop(stack, jwks).await;
}

// --- The JWKS refresh under attack ---------------------------------------------------------

#[tokio::test]
async fn a_burst_of_unknown_kids_fetches_the_jwks_at_most_once_per_interval() {
    const BURST: usize = 32;
    let (stack, jwks) = start(NEVER).await;
    let mut burst = JoinSet::new();
    for i in 0..BURST {
        let client = stack.sdk(&rs256(&format!("forged-{i}"), &claims()));
        burst.spawn(async move { client.whoami().send().await });
    }
    while let Some(res) = burst.join_next().await {
        assert_refused(res.unwrap(), AuthError::UnknownKey, "forged kid");
    }
    assert_eq!(
        jwks.fetches(),
        1,
        "within the interval only the start-up fetch happened: a burst of forged kids \
         cannot make the gateway hammer the identity provider"
    );
    let res = whoami(&stack, &rs256("forged-again", &claims())).await;
    assert_refused(res, AuthError::UnknownKey, "after the burst");
    assert_eq!(jwks.fetches(), 1, "no refetch within the interval");
    // The one fetch did load the set.
    assert_alice(whoami(&stack, &rs256("rsa-1", &claims())).await, "rsa-1");
    assert_eq!(jwks.fetches(), 1);
    stop(stack, jwks).await;
}

#[tokio::test]
async fn an_unreachable_jwks_url_does_not_stop_the_gateway() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let stack = Stack::start_configured(|c| {
        c.auth.jwks = Some(JwksConfig {
            source: JwksSource::Url(format!("http://{closed}/jwks.json")),
            refresh_min_interval: NEVER,
        });
    })
    .await;
    // HS256 tokens (no kid) do not need the JWKS.
    let hs256 = sign(
        Algorithm::HS256,
        None,
        &EncodingKey::from_secret(SECRET),
        &claims(),
    );
    assert_alice(whoami(&stack, &hs256).await, "HS256");
    // A kid token cannot be checked: the server's problem, so 503 with Retry-After, not 401.
    let res = whoami(&stack, &rs256("rsa-1", &claims())).await;
    let p = problem(res, StatusCode::SERVICE_UNAVAILABLE, "unavailable");
    assert!(p.headers().contains_key("retry-after"));
    stack.stop().await;
}

// --- Refused -----------------------------------------------------------------------------

#[tokio::test]
async fn unsigned_and_forged_signatures_are_refused() {
    let (stack, jwks) = start(NEVER).await;
    let forged_hs = EncodingKey::from_secret(b"not-the-gateway-secret-0123456789abcdef");
    let public_pem_as_secret = EncodingKey::from_secret(RSA_PUBLIC_PEM);
    let cases = [
        (
            "alg none",
            unsigned(&json!({"alg": "none", "typ": "JWT"})),
            AuthError::AlgorithmNotAllowed,
        ),
        (
            "alg none naming a JWKS key",
            unsigned(&json!({"alg": "none", "kid": "rsa-1"})),
            AuthError::AlgorithmNotAllowed,
        ),
        (
            "HS256 with the wrong secret",
            sign(Algorithm::HS256, None, &forged_hs, &claims()),
            AuthError::BadSignature,
        ),
        (
            // HS/RS confusion: HMAC keyed with the RSA public key's PEM, naming the RSA key.
            "HS256 keyed with the RSA public key, rsa-1's kid",
            sign(
                Algorithm::HS256,
                Some("rsa-1"),
                &public_pem_as_secret,
                &claims(),
            ),
            AuthError::AlgorithmNotAllowed,
        ),
        (
            "HS256 keyed with the RSA public key, no kid",
            sign(Algorithm::HS256, None, &public_pem_as_secret, &claims()),
            AuthError::BadSignature,
        ),
        (
            "RS256 by an unknown private key with a known kid",
            rs256_key_2("rsa-1", &claims()),
            AuthError::BadSignature,
        ),
    ];
    for (case, token, expected) in cases {
        assert_refused(whoami(&stack, &token).await, expected, case);
    }
    stop(stack, jwks).await;
}

#[tokio::test]
async fn expired_and_not_yet_valid_tokens_are_refused() {
    let (stack, jwks) = start(NEVER).await;
    // Beyond the default 30 s leeway, with margin.
    let now = unix_now();
    let cases = [
        ("expired", json!({"exp": now - 120}), AuthError::Expired),
        (
            "nbf in the future",
            json!({"nbf": now + 120}),
            AuthError::NotYetValid,
        ),
    ];
    for (case, change, expected) in cases {
        let mut c = claims();
        for (field, value) in change.as_object().unwrap() {
            c[field] = value.clone();
        }
        for token in [rs256("rsa-1", &c), eddsa("ed-1", &c)] {
            assert_refused(whoami(&stack, &token).await, expected, case);
        }
    }
    stop(stack, jwks).await;
}

#[tokio::test]
async fn wrong_audience_and_issuer_are_refused() {
    let (stack, jwks) = start(NEVER).await;
    let cases = [
        (
            "audience of another service",
            claims_with("aud", json!("some-other-service")),
            AuthError::WrongAudience,
        ),
        (
            "audiences without ours",
            claims_with("aud", json!(["a", "b"])),
            AuthError::WrongAudience,
        ),
        (
            "another issuer",
            claims_with("iss", json!("https://evil.test")),
            AuthError::WrongIssuer,
        ),
    ];
    for (case, c, expected) in cases {
        let token = es256("ec-1", &c);
        assert_refused(whoami(&stack, &token).await, expected, case);
    }
    stop(stack, jwks).await;
}

#[tokio::test]
async fn tokens_missing_required_claims_are_refused() {
    let (stack, jwks) = start(NEVER).await;
    for claim in ["account", "roles", "exp"] {
        let token = rs256("rsa-1", &claims_with(claim, Value::Null));
        let res = whoami(&stack, &token).await;
        assert_refused(res, AuthError::BadClaims, &format!("without {claim}"));
    }
    stop(stack, jwks).await;
}

#[tokio::test]
async fn missing_foreign_and_garbage_credentials_are_refused() {
    let (stack, jwks) = start(NEVER).await;
    let no_header = stack.anonymous().whoami().send().await;
    assert_refused(no_header, AuthError::Missing, "no Authorization header");
    // Bearer tokens that are not JWTs: what an SDK client with a bad token sends.
    for (case, token) in [
        ("garbage", "garbage"),
        ("three garbage segments", "a.b.c"),
        ("empty JSON segments", "e30.e30."),
    ] {
        assert_refused(whoami(&stack, token).await, AuthError::Malformed, case);
    }
    // Raw: the SDK sends `Bearer <token>` or nothing, never another scheme or a bare
    // `Bearer`.
    for (case, value, expected) in [
        ("Basic scheme", "Basic YWxpY2U6c2VjcmV0", AuthError::Missing),
        ("Bearer without a token", "Bearer", AuthError::Malformed),
    ] {
        let res = stack
            .http
            .get(stack.url("/v1/whoami"))
            .header("authorization", value)
            .send()
            .await
            .unwrap();
        assert_refused_raw(res, expected, case).await;
    }
    assert_eq!(
        jwks.fetches(),
        1,
        "nothing here names a kid: only the start-up fetch"
    );
    stop(stack, jwks).await;
}
