//! What the authenticator trusts: issuer, audience, leeway and keys.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use super::http_fetcher::{HttpFetchError, parse_jwks_url};
use super::jwks::JwksError;

/// Authentication settings; build with [`AuthConfig::new`] and set the keys.
#[derive(Clone, Debug)]
pub struct AuthConfig {
    /// The only accepted `iss`.
    pub issuer: String,
    /// The `aud` that must be among the token's audiences.
    pub audience: String,
    /// Clock-skew allowance for `exp` and `nbf`, in whole seconds; at most
    /// [`AuthConfig::MAX_LEEWAY`].
    pub leeway: Duration,
    /// Accept HS256 tokens without a `kid`, signed with this secret.
    pub hs256_secret: Option<Hs256Secret>,
    /// Accept RS256/ES256/EdDSA tokens whose `kid` is in this key set.
    pub jwks: Option<JwksConfig>,
}

impl AuthConfig {
    /// The default leeway: enough for NTP-synced hosts, short enough not to matter.
    pub const DEFAULT_LEEWAY: Duration = Duration::from_secs(30);
    /// Leeway beyond this is a misconfiguration that silently extends every token's life.
    pub const MAX_LEEWAY: Duration = Duration::from_secs(300);

    /// A config with the default leeway and no keys yet.
    #[must_use]
    pub fn new(issuer: impl Into<String>, audience: impl Into<String>) -> Self {
        Self {
            issuer: issuer.into(),
            audience: audience.into(),
            leeway: Self::DEFAULT_LEEWAY,
            hs256_secret: None,
            jwks: None,
        }
    }

    /// Checks the settings that can be checked without I/O.
    ///
    /// # Errors
    ///
    /// [`ConfigError`] naming the first problem found.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.issuer.is_empty() {
            return Err(ConfigError::EmptyIssuer);
        }
        if self.audience.is_empty() {
            return Err(ConfigError::EmptyAudience);
        }
        if self.leeway > Self::MAX_LEEWAY {
            return Err(ConfigError::LeewayTooLarge);
        }
        if self.hs256_secret.is_none() && self.jwks.is_none() {
            return Err(ConfigError::NoKeys);
        }
        if let Some(JwksConfig {
            source: JwksSource::Url(url),
            ..
        }) = &self.jwks
        {
            parse_jwks_url(url).map_err(|reason| ConfigError::InvalidJwksUrl { reason })?;
        }
        Ok(())
    }
}

/// An HS256 secret: at least [`Hs256Secret::MIN_LEN`] bytes, never printed.
#[derive(Clone)]
pub struct Hs256Secret(Vec<u8>);

impl Hs256Secret {
    /// RFC 7518 §3.2: an HS256 key must be at least as long as the hash output.
    pub const MIN_LEN: usize = 32;

    /// Wraps secret bytes.
    ///
    /// # Errors
    ///
    /// [`ConfigError::WeakSecret`] if shorter than [`Hs256Secret::MIN_LEN`] bytes.
    pub fn new(bytes: impl Into<Vec<u8>>) -> Result<Self, ConfigError> {
        let bytes = bytes.into();
        if bytes.len() < Self::MIN_LEN {
            return Err(ConfigError::WeakSecret);
        }
        Ok(Self(bytes))
    }

    /// The secret bytes, for minting.
    #[must_use]
    pub fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for Hs256Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Hs256Secret(<redacted>)")
    }
}

/// Where the JWKS comes from and how often an unknown `kid` may trigger a refetch.
#[derive(Clone, Debug)]
pub struct JwksConfig {
    /// The key set's location.
    pub source: JwksSource,
    /// Minimum time between two refreshes triggered by unknown `kid`s.
    pub refresh_min_interval: Duration,
}

impl JwksConfig {
    /// The default minimum refresh interval.
    pub const DEFAULT_REFRESH_MIN_INTERVAL: Duration = Duration::from_secs(60);

    /// A config with the default refresh interval.
    #[must_use]
    pub fn new(source: JwksSource) -> Self {
        Self {
            source,
            refresh_min_interval: Self::DEFAULT_REFRESH_MIN_INTERVAL,
        }
    }
}

/// A JWKS location.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum JwksSource {
    /// A JSON file, read at start-up and re-read on refresh (rotation by replacing the file).
    File(PathBuf),
    /// An `https` (or, for loopback and tests, `http`) endpoint, fetched with
    /// [`super::HttpFetcher`] by [`super::Authenticator::new`]. It is fetched lazily, by the
    /// first token that names a `kid`, and again on an unknown `kid` (see [`JwksConfig`]); an
    /// unreachable endpoint does not stop start-up (see [`super::Authenticator::new`]).
    Url(String),
}

/// An [`AuthConfig`] that cannot work; for operators, so it names the problem.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// `issuer` is empty.
    #[error("auth issuer is empty")]
    EmptyIssuer,
    /// `audience` is empty.
    #[error("auth audience is empty")]
    EmptyAudience,
    /// `leeway` exceeds [`AuthConfig::MAX_LEEWAY`].
    #[error("auth leeway exceeds {} s", AuthConfig::MAX_LEEWAY.as_secs())]
    LeewayTooLarge,
    /// Neither an HS256 secret nor a JWKS is configured: no token could ever verify.
    #[error("auth has no keys: configure an HS256 secret, a JWKS, or both")]
    NoKeys,
    /// The HS256 secret is too short.
    #[error("HS256 secret must be at least {} bytes", Hs256Secret::MIN_LEN)]
    WeakSecret,
    /// The JWKS could not be loaded at start-up.
    #[error("loading the JWKS")]
    Jwks(#[source] JwksError),
    /// The JWKS URL is not an absolute `http`/`https` URL with a host.
    #[error("auth JWKS URL is invalid: {reason}")]
    InvalidJwksUrl {
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The HTTP client for the JWKS URL could not be built.
    #[error("building the JWKS HTTP client")]
    JwksClient(#[source] HttpFetchError),
}
