//! Fixture keys, token builders, a manual clock and an in-memory fetcher for the auth tests.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

use super::jwks::{FetchFuture, JwksError, JwksFetcher};

pub(crate) const JWKS_JSON: &str = include_str!("../../tests/fixtures/jwks.json");
pub(crate) const RSA_PRIVATE_PEM: &[u8] = include_bytes!("../../tests/fixtures/rsa_private.pem");
pub(crate) const RSA_PUBLIC_PEM: &[u8] = include_bytes!("../../tests/fixtures/rsa_public.pem");
pub(crate) const EC_PRIVATE_PEM: &[u8] = include_bytes!("../../tests/fixtures/ec_private.pem");
pub(crate) const ED_PRIVATE_PEM: &[u8] = include_bytes!("../../tests/fixtures/ed25519_private.pem");

pub(crate) const SECRET: &[u8] = b"test-secret-0123456789abcdef-0123456789";
pub(crate) const ISSUER: &str = "https://auth.tradeplane.test";
pub(crate) const AUDIENCE: &str = "tradeplane-gateway";

pub(crate) fn jwks_path() -> std::path::PathBuf {
    concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/jwks.json").into()
}

pub(crate) fn unix_now() -> i64 {
    i64::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs(),
    )
    .unwrap()
}

/// A valid claim set around the real current time (jsonwebtoken reads the system clock).
pub(crate) fn claims() -> Value {
    let now = unix_now();
    json!({
        "sub": "alice",
        "account": 42,
        "roles": ["trader", "viewer"],
        "iss": ISSUER,
        "aud": AUDIENCE,
        "iat": now,
        "nbf": now,
        "exp": now + 300,
    })
}

pub(crate) fn claims_with(field: &str, value: Value) -> Value {
    let mut c = claims();
    if value.is_null() {
        c.as_object_mut().unwrap().remove(field);
    } else {
        c[field] = value;
    }
    c
}

pub(crate) fn sign(alg: Algorithm, kid: Option<&str>, key: &EncodingKey, claims: &Value) -> String {
    let mut header = Header::new(alg);
    header.kid = kid.map(str::to_owned);
    jsonwebtoken::encode(&header, claims, key).unwrap()
}

pub(crate) fn hs256(claims: &Value) -> String {
    sign(
        Algorithm::HS256,
        None,
        &EncodingKey::from_secret(SECRET),
        claims,
    )
}

pub(crate) fn rs256(kid: &str, claims: &Value) -> String {
    let key = EncodingKey::from_rsa_pem(RSA_PRIVATE_PEM).unwrap();
    sign(Algorithm::RS256, Some(kid), &key, claims)
}

pub(crate) fn es256(kid: &str, claims: &Value) -> String {
    let key = EncodingKey::from_ec_pem(EC_PRIVATE_PEM).unwrap();
    sign(Algorithm::ES256, Some(kid), &key, claims)
}

pub(crate) fn eddsa(kid: &str, claims: &Value) -> String {
    let key = EncodingKey::from_ed_pem(ED_PRIVATE_PEM).unwrap();
    sign(Algorithm::EdDSA, Some(kid), &key, claims)
}

pub(crate) fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// A clock tests move by hand.
#[derive(Clone)]
pub(crate) struct ManualClock(Arc<Mutex<Instant>>);

impl ManualClock {
    pub(crate) fn new() -> Self {
        Self(Arc::new(Mutex::new(Instant::now())))
    }

    pub(crate) fn advance(&self, by: Duration) {
        *self.0.lock().unwrap() += by;
    }

    pub(crate) fn as_clock(&self) -> Arc<dyn super::Clock> {
        let inner = Arc::clone(&self.0);
        Arc::new(move || *inner.lock().unwrap())
    }
}

/// Serves a replaceable JWKS document (or an error) and counts fetches.
#[derive(Default)]
pub(crate) struct MemoryFetcher {
    doc: Mutex<Option<String>>,
    fetches: AtomicUsize,
}

impl MemoryFetcher {
    pub(crate) fn serving(doc: &str) -> Arc<Self> {
        let this = Arc::new(Self::default());
        this.set(Some(doc));
        this
    }

    /// `None` makes fetches fail.
    pub(crate) fn set(&self, doc: Option<&str>) {
        *self.doc.lock().unwrap() = doc.map(str::to_owned);
    }

    pub(crate) fn fetches(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }
}

impl JwksFetcher for MemoryFetcher {
    fn fetch(&self) -> FetchFuture<'_> {
        Box::pin(async move {
            self.fetches.fetch_add(1, Ordering::SeqCst);
            let doc = self.doc.lock().unwrap().clone();
            doc.map(String::into_bytes)
                .ok_or_else(|| JwksError::Fetch("fetch failed".into()))
        })
    }
}

/// The fixture JWKS restricted to the given kids.
pub(crate) fn jwks_subset(kids: &[&str]) -> String {
    let mut set: Value = serde_json::from_str(JWKS_JSON).unwrap();
    set["keys"]
        .as_array_mut()
        .unwrap()
        .retain(|k| kids.contains(&k["kid"].as_str().unwrap()));
    set.to_string()
}
