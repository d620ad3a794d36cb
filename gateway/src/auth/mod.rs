//! Bearer-token authentication: a JWT in, a [`Principal`] out.
//!
//! Design decisions, each a known way JWT verification goes wrong:
//!
//! - **The key pins the algorithm, never the token.** The configured HS256 secret accepts only
//!   HS256; a JWKS key accepts only the one algorithm its `kty`/`crv`/`alg` allow (RS256, ES256
//!   or EdDSA). A header `alg` that differs is refused before any signature check, so an HS256
//!   token "signed" with an RSA public key's bytes cannot pass, and `none` is never accepted.
//! - **`kid` selects a JWKS key; no `kid` selects the HS256 secret.** Keys embedded in the
//!   header (`jwk`, `jku`, `x5u`) are ignored: keys come only from configuration.
//! - **`exp`, `nbf`, `iss`, `aud`, `sub` and `iat` are required**, and `exp`/`nbf` are checked
//!   with a small leeway (jsonwebtoken does not check `nbf` unless asked; we ask).
//! - **An unknown `kid` refreshes the JWKS at most once per `refresh_min_interval`**, measured
//!   on an injected [`Clock`], so a flood of forged `kid`s cannot turn into a flood of fetches.
//!   Refreshes are single-flight, and a failed or empty refresh keeps the previous key set.
//! - **A JWKS URL is fetched once at start-up and then on demand, bounded** ([`HttpFetcher`]):
//!   [`crate::app::run`] loads the keys before serving but starts even if the identity
//!   provider is down; a fetch has connect and total timeouts and a body limit.
//! - **Errors leak nothing**: [`AuthError`] carries no detail, only a stable code and a fixed
//!   message; the detail goes to `tracing` at the point of failure.

mod authenticator;
mod claims;
mod clock;
mod config;
mod error;
mod http_fetcher;
mod jwks;
mod mint;
mod principal;
#[cfg(test)]
mod test_support;

pub use authenticator::Authenticator;
pub(crate) use authenticator::error_chain;
pub use clock::{Clock, SystemClock};
pub use config::{AuthConfig, ConfigError, Hs256Secret, JwksConfig, JwksSource};
pub use error::AuthError;
pub use http_fetcher::{HttpFetchError, HttpFetcher, HttpFetcherLimits};
pub use jwks::{FetchFuture, FileFetcher, JwksError, JwksFetcher};
pub use mint::{MintError, mint_hs256};
pub use principal::{Principal, Role};
