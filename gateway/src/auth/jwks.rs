//! JSON Web Key Sets: parsing, per-key algorithm pinning, and the fetcher seam.

use std::collections::HashMap;
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey};

/// Why a key set could not be loaded; for logs and start-up errors, never for callers.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum JwksError {
    /// Reading the JWKS file failed.
    #[error("reading JWKS file {path}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The fetcher failed (network, status, timeout: the fetcher decides).
    #[error("fetching the JWKS")]
    Fetch(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The document is not a JWK set.
    #[error("parsing the JWKS")]
    Json(#[source] serde_json::Error),
    /// The set parsed but holds no key this gateway may use, so installing it would lock
    /// everyone out.
    #[error("the JWKS has no usable signing key (RS256, ES256 P-256 or EdDSA Ed25519 with a kid)")]
    NoUsableKeys,
    /// No JWKS is configured, or it was built by
    /// [`super::Authenticator::with_parts`] without a fetcher.
    #[error("no JWKS fetcher is configured")]
    NoFetcher,
}

/// The future returned by [`JwksFetcher::fetch`].
pub type FetchFuture<'a> = Pin<Box<dyn Future<Output = Result<Vec<u8>, JwksError>> + Send + 'a>>;

/// Fetches the raw JWKS document.
///
/// [`FileFetcher`] reads [`super::JwksSource::File`] and [`super::HttpFetcher`] fetches
/// [`super::JwksSource::Url`]; tests pass their own through
/// [`super::Authenticator::with_parts`]. The authenticator calls it single-flight and at most
/// once per refresh interval, so an implementation needs no rate limit of its own, only a
/// bound on how long one call may take.
pub trait JwksFetcher: Send + Sync {
    /// Returns the JWKS JSON bytes.
    fn fetch(&self) -> FetchFuture<'_>;
}

/// Reads the JWKS from a file (on the blocking pool).
#[derive(Clone, Debug)]
pub struct FileFetcher {
    path: PathBuf,
}

impl FileFetcher {
    /// A fetcher for `path`.
    #[must_use]
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into() }
    }

    /// Reads the file now, blocking: for start-up.
    pub(crate) fn read_blocking(&self) -> Result<Vec<u8>, JwksError> {
        std::fs::read(&self.path).map_err(|source| JwksError::Io {
            path: self.path.clone(),
            source,
        })
    }
}

impl JwksFetcher for FileFetcher {
    fn fetch(&self) -> FetchFuture<'_> {
        Box::pin(async move {
            let this = self.clone();
            tokio::task::spawn_blocking(move || this.read_blocking())
                .await
                .map_err(|join| JwksError::Fetch(Box::new(join)))?
        })
    }
}

/// A verification key with the one algorithm it may verify.
pub(crate) struct PinnedKey {
    pub(crate) alg: Algorithm,
    pub(crate) key: DecodingKey,
}

/// The usable keys of one JWKS document, by `kid`.
#[derive(Default)]
pub(crate) struct KeySet {
    keys: HashMap<String, PinnedKey>,
}

impl KeySet {
    /// Parses a JWKS document, keeping only keys this gateway may use.
    ///
    /// Each key is parsed on its own, so one exotic or broken key does not discard the set;
    /// skipped keys are logged.
    pub(crate) fn from_json(bytes: &[u8]) -> Result<Self, JwksError> {
        #[derive(serde::Deserialize)]
        struct RawSet {
            keys: Vec<serde_json::Value>,
        }
        let raw: RawSet = serde_json::from_slice(bytes).map_err(JwksError::Json)?;
        let mut keys = HashMap::with_capacity(raw.keys.len());
        for (index, value) in raw.keys.into_iter().enumerate() {
            let jwk: Jwk = match serde_json::from_value(value) {
                Ok(jwk) => jwk,
                Err(error) => {
                    tracing::warn!(index, %error, "JWKS: skipping unparseable key");
                    continue;
                }
            };
            match pin(&jwk) {
                Ok((kid, pinned)) => {
                    if keys.insert(kid.to_owned(), pinned).is_some() {
                        tracing::warn!(index, kid, "JWKS: duplicate kid, the later key wins");
                    }
                }
                Err(reason) => tracing::warn!(index, reason, "JWKS: skipping key"),
            }
        }
        if keys.is_empty() {
            return Err(JwksError::NoUsableKeys);
        }
        Ok(Self { keys })
    }

    pub(crate) fn get(&self, kid: &str) -> Option<&PinnedKey> {
        self.keys.get(kid)
    }

    pub(crate) fn len(&self) -> usize {
        self.keys.len()
    }
}

/// Pins a JWK to its single allowed algorithm, or says why it is unusable.
///
/// The algorithm follows from the key material (`kty`, and `crv` for curves); a declared
/// `alg` must agree with it. A key without `alg` gets the one algorithm its type allows.
fn pin(jwk: &Jwk) -> Result<(&str, PinnedKey), &'static str> {
    let kid = jwk.common.key_id.as_deref().ok_or("no kid")?;
    if kid.is_empty() {
        return Err("empty kid");
    }
    if matches!(&jwk.common.public_key_use, Some(use_) if *use_ != PublicKeyUse::Signature) {
        return Err("use is not sig");
    }
    let (alg, key_alg) = match &jwk.algorithm {
        AlgorithmParameters::RSA(_) => (Algorithm::RS256, KeyAlgorithm::RS256),
        AlgorithmParameters::EllipticCurve(p) if p.curve == EllipticCurve::P256 => {
            (Algorithm::ES256, KeyAlgorithm::ES256)
        }
        AlgorithmParameters::OctetKeyPair(p) if p.curve == EllipticCurve::Ed25519 => {
            (Algorithm::EdDSA, KeyAlgorithm::EdDSA)
        }
        AlgorithmParameters::OctetKey(_) => return Err("symmetric keys are not accepted"),
        _ => return Err("unsupported key type or curve"),
    };
    if matches!(jwk.common.key_algorithm, Some(declared) if declared != key_alg) {
        return Err("alg does not match the key type");
    }
    let key = DecodingKey::from_jwk(jwk).map_err(|_| "invalid key material")?;
    Ok((kid, PinnedKey { alg, key }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::test_support::JWKS_JSON;

    #[test]
    fn fixture_set_pins_each_key() {
        let set = KeySet::from_json(JWKS_JSON.as_bytes()).unwrap();
        assert_eq!(set.len(), 3);
        assert_eq!(set.get("rsa-1").unwrap().alg, Algorithm::RS256);
        assert_eq!(set.get("ec-1").unwrap().alg, Algorithm::ES256);
        assert_eq!(set.get("ed-1").unwrap().alg, Algorithm::EdDSA);
    }

    fn fixture_key(kid: &str) -> serde_json::Value {
        let set: serde_json::Value = serde_json::from_str(JWKS_JSON).unwrap();
        set["keys"]
            .as_array()
            .unwrap()
            .iter()
            .find(|k| k["kid"] == kid)
            .unwrap()
            .clone()
    }

    fn with(
        mut key: serde_json::Value,
        field: &str,
        value: serde_json::Value,
    ) -> serde_json::Value {
        if value.is_null() {
            key.as_object_mut().unwrap().remove(field);
        } else {
            key[field] = value;
        }
        key
    }

    #[test]
    fn unusable_keys_are_skipped_and_usable_ones_kept() {
        use serde_json::json;
        let rsa = fixture_key("rsa-1");
        let ec = fixture_key("ec-1");
        let keys = vec![
            // Kept: alg omitted, pinned from kty.
            with(
                with(rsa.clone(), "alg", json!(null)),
                "kid",
                json!("rsa-noalg"),
            ),
            // Skipped: RSA declared for PS256, EC declared RS256, encryption use, no kid,
            // symmetric, P-384, unparseable.
            with(
                with(rsa.clone(), "alg", json!("PS256")),
                "kid",
                json!("rsa-ps"),
            ),
            with(
                with(ec.clone(), "alg", json!("RS256")),
                "kid",
                json!("ec-rs"),
            ),
            with(
                with(rsa.clone(), "use", json!("enc")),
                "kid",
                json!("rsa-enc"),
            ),
            with(rsa, "kid", json!(null)),
            json!({"kty": "oct", "kid": "hs", "alg": "HS256", "k": "c2VjcmV0"}),
            with(with(ec, "crv", json!("P-384")), "kid", json!("ec-384")),
            json!({"kty": "RSA", "kid": "broken"}),
        ];
        let doc = serde_json::to_vec(&json!({ "keys": keys })).unwrap();
        let set = KeySet::from_json(&doc).unwrap();
        assert_eq!(set.len(), 1);
        assert_eq!(set.get("rsa-noalg").unwrap().alg, Algorithm::RS256);
    }

    #[test]
    fn a_set_without_usable_keys_is_an_error() {
        let doc = br#"{"keys":[{"kty":"oct","kid":"hs","k":"c2VjcmV0"}]}"#;
        assert!(matches!(
            KeySet::from_json(doc),
            Err(JwksError::NoUsableKeys)
        ));
        assert!(matches!(KeySet::from_json(b"[]"), Err(JwksError::Json(_))));
    }
}
