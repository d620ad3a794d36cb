//! Token verification: key selection, algorithm pinning, claim checks, JWKS refresh.

use std::borrow::Cow;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant};

use base64::Engine as _;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};

use super::claims::VerifiedClaims;
use super::clock::{Clock, SystemClock};
use super::config::{AuthConfig, ConfigError, JwksSource};
use super::error::AuthError;
use super::http_fetcher::{HttpFetcher, HttpFetcherLimits};
use super::jwks::{FileFetcher, JwksError, JwksFetcher, KeySet};
use super::principal::Principal;

/// Longer tokens are refused unparsed: ours are a few hundred bytes.
const MAX_TOKEN_LEN: usize = 8 * 1024;

/// Verifies bearer tokens; build once at start-up and share (`Arc`) across requests.
pub struct Authenticator {
    hs256: Option<DecodingKey>,
    validations: Validations,
    jwks: Option<JwksState>,
}

/// One prebuilt [`Validation`] per accepted algorithm, each allowing only that algorithm.
struct Validations {
    hs256: Validation,
    rs256: Validation,
    es256: Validation,
    eddsa: Validation,
}

impl Validations {
    fn new(config: &AuthConfig) -> Self {
        let build = |alg| {
            let mut v = Validation::new(alg);
            v.leeway = config.leeway.as_secs();
            v.validate_exp = true;
            v.validate_nbf = true;
            v.validate_aud = true;
            v.set_issuer(&[&config.issuer]);
            v.set_audience(&[&config.audience]);
            // `iat` is required by `VerifiedClaims` (jsonwebtoken does not check it).
            v.set_required_spec_claims(&["exp", "nbf", "iss", "aud", "sub"]);
            v
        };
        Self {
            hs256: build(Algorithm::HS256),
            rs256: build(Algorithm::RS256),
            es256: build(Algorithm::ES256),
            eddsa: build(Algorithm::EdDSA),
        }
    }

    fn for_alg(&self, alg: Algorithm) -> Option<&Validation> {
        match alg {
            Algorithm::HS256 => Some(&self.hs256),
            Algorithm::RS256 => Some(&self.rs256),
            Algorithm::ES256 => Some(&self.es256),
            Algorithm::EdDSA => Some(&self.eddsa),
            _ => None,
        }
    }
}

struct JwksState {
    keys: RwLock<Arc<KeySet>>,
    fetcher: Option<Arc<dyn JwksFetcher>>,
    /// When the last refresh was attempted and whether it succeeded; the lock also makes
    /// refreshes single-flight.
    last_refresh: tokio::sync::Mutex<Option<Attempt>>,
    min_interval: Duration,
    clock: Arc<dyn Clock>,
}

impl JwksState {
    fn current(&self) -> Arc<KeySet> {
        Arc::clone(&self.keys.read().unwrap_or_else(PoisonError::into_inner))
    }

    fn install(&self, set: KeySet) {
        *self.keys.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(set);
    }

    async fn fetch_and_install(&self) -> Result<usize, JwksError> {
        let fetcher = self.fetcher.as_ref().ok_or(JwksError::NoFetcher)?;
        let set = KeySet::from_json(&fetcher.fetch().await?)?;
        let len = set.len();
        self.install(set);
        Ok(len)
    }
}

/// A JWKS fetch attempt.
#[derive(Clone, Copy)]
struct Attempt {
    at: Instant,
    succeeded: bool,
}

/// Why the synchronous path stopped.
enum Failure {
    Auth(AuthError),
    /// The `kid` is not in the cached key set: a refresh may help.
    UnknownKid,
}

impl From<AuthError> for Failure {
    fn from(error: AuthError) -> Self {
        Self::Auth(error)
    }
}

impl Authenticator {
    /// Builds an authenticator on the system clock, with the fetcher the JWKS source needs.
    ///
    /// - [`JwksSource::File`] is read now, and a missing or unusable file fails start-up: it
    ///   is local configuration, so an error is the operator's to fix before serving.
    /// - [`JwksSource::Url`] gets an [`HttpFetcher`] with the default limits and is **not**
    ///   fetched here: the first token naming a `kid` fetches it, single-flight. So an identity
    ///   provider that is down (or starting alongside the gateway) does not stop the gateway,
    ///   which still serves HS256 tokens and its health endpoints; while the keys cannot be
    ///   fetched, `kid` tokens get [`AuthError::JwksUnavailable`] (a 503), a failed fetch is
    ///   logged, and it is retried on a later unknown `kid` once the refresh interval has
    ///   passed; until then `kid` tokens it cannot check stay 503. (Fetching here would also
    ///   block: this constructor is synchronous and runs on the runtime.)
    ///   [`crate::app::run`] calls [`Authenticator::refresh_jwks`] after building, to load the
    ///   keys eagerly and surface a misconfigured URL in the start-up log.
    ///
    /// # Errors
    ///
    /// [`ConfigError`] if the config is invalid, the JWKS file cannot be loaded, or the HTTP
    /// client cannot be built.
    pub fn new(config: AuthConfig) -> Result<Self, ConfigError> {
        config.validate()?;
        let (fetcher, initial): (Option<Arc<dyn JwksFetcher>>, _) =
            match config.jwks.as_ref().map(|jwks| &jwks.source) {
                Some(JwksSource::File(path)) => {
                    let file = FileFetcher::new(path.clone());
                    let set = file
                        .read_blocking()
                        .and_then(|bytes| KeySet::from_json(&bytes))
                        .map_err(ConfigError::Jwks)?;
                    (Some(Arc::new(file)), Some(set))
                }
                Some(JwksSource::Url(url)) => {
                    let http = HttpFetcher::new(url, HttpFetcherLimits::default())
                        .map_err(ConfigError::JwksClient)?;
                    tracing::info!(url = %http.url(), "JWKS: to be fetched by the first kid token");
                    (Some(Arc::new(http)), None)
                }
                None => (None, None),
            };
        let this = Self::with_parts(config, fetcher, Arc::new(SystemClock))?;
        if let (Some(jwks), Some(set)) = (&this.jwks, initial) {
            jwks.install(set);
        }
        Ok(this)
    }

    /// Builds an authenticator with an explicit JWKS fetcher (used instead of the config's
    /// source) and clock. The key set starts empty: call [`Authenticator::refresh_jwks`] at
    /// start-up to fail fast, or let the first token with a `kid` trigger the fetch.
    ///
    /// # Errors
    ///
    /// [`ConfigError`] if the config is invalid.
    pub fn with_parts(
        config: AuthConfig,
        fetcher: Option<Arc<dyn JwksFetcher>>,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, ConfigError> {
        config.validate()?;
        let jwks = config.jwks.as_ref().map(|jwks| JwksState {
            keys: RwLock::new(Arc::new(KeySet::default())),
            fetcher,
            last_refresh: tokio::sync::Mutex::new(None),
            min_interval: jwks.refresh_min_interval,
            clock,
        });
        Ok(Self {
            hs256: config
                .hs256_secret
                .as_ref()
                .map(|s| DecodingKey::from_secret(s.expose())),
            validations: Validations::new(&config),
            jwks,
        })
    }

    /// Fetches the JWKS now, regardless of the refresh interval (which it restarts), and
    /// returns how many usable keys it holds. On failure the previous key set stays.
    ///
    /// # Errors
    ///
    /// [`JwksError`] if no JWKS is configured ([`JwksError::NoFetcher`]) or fetching or
    /// parsing fails.
    pub async fn refresh_jwks(&self) -> Result<usize, JwksError> {
        let jwks = self.jwks.as_ref().ok_or(JwksError::NoFetcher)?;
        let mut last = jwks.last_refresh.lock().await;
        let at = jwks.clock.now();
        let result = jwks.fetch_and_install().await;
        *last = Some(Attempt {
            at,
            succeeded: result.is_ok(),
        });
        result
    }

    /// Verifies a bearer token (the part after `Bearer `) against the cached keys, never
    /// fetching: an unknown `kid` is [`AuthError::UnknownKey`].
    ///
    /// # Errors
    ///
    /// The [`AuthError`] describing the first check that failed.
    pub fn verify_cached(&self, bearer_token: &str) -> Result<Principal, AuthError> {
        match self.try_verify(bearer_token) {
            Ok(principal) => Ok(principal),
            Err(Failure::Auth(error)) => Err(error),
            Err(Failure::UnknownKid) => Err(AuthError::UnknownKey),
        }
    }

    /// Verifies a bearer token. Awaits only when its `kid` is unknown: then the JWKS is
    /// refreshed if the last refresh is older than the configured interval, and the token is
    /// checked once more.
    ///
    /// # Errors
    ///
    /// The [`AuthError`] describing the first check that failed;
    /// [`AuthError::JwksUnavailable`] if a due refresh failed.
    pub async fn verify(&self, bearer_token: &str) -> Result<Principal, AuthError> {
        match self.try_verify(bearer_token) {
            Ok(principal) => return Ok(principal),
            Err(Failure::Auth(error)) => return Err(error),
            Err(Failure::UnknownKid) => {}
        }
        if let Some(jwks) = &self.jwks {
            self.refresh_if_due(jwks).await?;
        }
        self.verify_cached(bearer_token)
    }

    async fn refresh_if_due(&self, jwks: &JwksState) -> Result<(), AuthError> {
        // Waiting here while another task refreshes is the single-flight: afterwards the
        // interval has restarted and the retry sees the new set.
        let mut last = jwks.last_refresh.lock().await;
        let now = jwks.clock.now();
        if let Some(attempt) = *last
            && now.saturating_duration_since(attempt.at) < jwks.min_interval
        {
            // Too soon to fetch again. If the last fetch failed, the kid may well be in the
            // set we could not fetch: the server cannot decide (503), not the token is bad.
            return if attempt.succeeded {
                Ok(())
            } else {
                Err(AuthError::JwksUnavailable)
            };
        }
        let result = jwks.fetch_and_install().await;
        *last = Some(Attempt {
            at: now,
            succeeded: result.is_ok(),
        });
        match result {
            Ok(keys) => {
                tracing::info!(keys, "JWKS refreshed after an unknown kid");
                Ok(())
            }
            Err(error) => {
                tracing::warn!(
                    error = %error_chain(&error),
                    "JWKS refresh failed; keeping the previous keys"
                );
                Err(AuthError::JwksUnavailable)
            }
        }
    }

    fn try_verify(&self, token: &str) -> Result<Principal, Failure> {
        if token.trim().is_empty() {
            return Err(AuthError::Missing.into());
        }
        if token.len() > MAX_TOKEN_LEN {
            return Err(AuthError::Malformed.into());
        }
        let header = jsonwebtoken::decode_header(token).map_err(|_| header_error(token))?;

        // Select the key, which pins the algorithm; the header's `alg` must equal it.
        let keys; // Keeps the JWKS snapshot alive while its key is borrowed.
        let (pinned_alg, key) = match header.kid.as_deref() {
            Some(kid) => {
                let jwks = self.jwks.as_ref().ok_or(AuthError::UnknownKey)?;
                keys = jwks.current();
                let pinned = keys.get(kid).ok_or(Failure::UnknownKid)?;
                (pinned.alg, &pinned.key)
            }
            None => (
                Algorithm::HS256,
                self.hs256.as_ref().ok_or(AuthError::UnknownKey)?,
            ),
        };
        if header.alg != pinned_alg {
            return Err(AuthError::AlgorithmNotAllowed.into());
        }
        let validation = self
            .validations
            .for_alg(pinned_alg)
            .ok_or(AuthError::AlgorithmNotAllowed)?;
        let data = jsonwebtoken::decode::<VerifiedClaims>(token, key, validation)
            .map_err(|e| map_decode_error(e.kind()))?;
        Ok(data.claims.into_principal().ok_or(AuthError::BadClaims)?)
    }
}

/// `error: source: source ...`, so the log names the cause (a status, a timeout, a path).
/// Runs only on the failure path.
pub(crate) fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut chain = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        chain.push_str(": ");
        chain.push_str(&cause.to_string());
        source = cause.source();
    }
    chain
}

/// The header did not parse: an `alg` jsonwebtoken does not know (`none`, `ES512`, ...) is
/// [`AuthError::AlgorithmNotAllowed`]; anything else is [`AuthError::Malformed`]. Runs only on
/// the failure path.
fn header_error(token: &str) -> AuthError {
    #[derive(serde::Deserialize)]
    struct AlgOnly<'a> {
        #[serde(borrow)]
        alg: Option<Cow<'a, str>>,
    }
    let Some((encoded, _)) = token.split_once('.') else {
        return AuthError::Malformed;
    };
    let Ok(json) = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(encoded) else {
        return AuthError::Malformed;
    };
    match serde_json::from_slice::<AlgOnly<'_>>(&json) {
        Ok(AlgOnly { alg: Some(alg) }) if alg.parse::<Algorithm>().is_err() => {
            AuthError::AlgorithmNotAllowed
        }
        _ => AuthError::Malformed,
    }
}

/// Maps jsonwebtoken's failure after the header parsed and the key was selected.
fn map_decode_error(kind: &ErrorKind) -> AuthError {
    match kind {
        ErrorKind::InvalidSignature
        | ErrorKind::InvalidEcdsaKey
        | ErrorKind::InvalidEddsaKey
        | ErrorKind::InvalidRsaKey(_)
        | ErrorKind::InvalidKeyFormat
        | ErrorKind::Provider(_) => AuthError::BadSignature,
        ErrorKind::ExpiredSignature => AuthError::Expired,
        ErrorKind::ImmatureSignature => AuthError::NotYetValid,
        ErrorKind::InvalidIssuer => AuthError::WrongIssuer,
        ErrorKind::InvalidAudience => AuthError::WrongAudience,
        ErrorKind::InvalidAlgorithm
        | ErrorKind::MissingAlgorithm
        | ErrorKind::UnsupportedAlgorithm
        | ErrorKind::InvalidAlgorithmName => AuthError::AlgorithmNotAllowed,
        // The header parsed and the signature verified before claims are deserialized, so a
        // JSON error here is about the claims.
        ErrorKind::MissingRequiredClaim(_)
        | ErrorKind::InvalidClaimFormat(_)
        | ErrorKind::InvalidSubject
        | ErrorKind::Json(_) => AuthError::BadClaims,
        // Base64/UTF-8 in payload or signature, a wrong segment count, and future variants.
        _ => AuthError::Malformed,
    }
}

#[cfg(test)]
mod tests;
