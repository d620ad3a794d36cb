//! Issuing HS256 tokens, for `tradeplane token` and tests.

use std::time::{Duration, SystemTime};

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use matcher::AccountId;

use super::claims::IssuedClaims;
use super::principal::Role;

/// Why a token could not be minted.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MintError {
    /// `now` is before the Unix epoch or `now + lifetime` overflows.
    #[error("token times are out of range")]
    TimeOutOfRange,
    /// Encoding or signing failed.
    #[error("signing the token")]
    Sign(#[source] jsonwebtoken::errors::Error),
}

/// Mints an HS256 token (no `kid`) valid from `now` for `lifetime`, which
/// [`super::Authenticator`] accepts when configured with the same secret, issuer and audience.
///
/// # Errors
///
/// [`MintError::TimeOutOfRange`] for a `now` before 1970 or an overflowing lifetime;
/// [`MintError::Sign`] if signing fails.
#[allow(clippy::too_many_arguments)] // Mirrors the claim set one to one; a builder adds nothing.
pub fn mint_hs256(
    secret: &[u8],
    issuer: &str,
    audience: &str,
    subject: &str,
    account: AccountId,
    roles: &[Role],
    lifetime: Duration,
    now: SystemTime,
) -> Result<String, MintError> {
    let iat = now
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_err(|_| MintError::TimeOutOfRange)?
        .as_secs();
    let exp = iat
        .checked_add(lifetime.as_secs())
        .ok_or(MintError::TimeOutOfRange)?;
    let claims = IssuedClaims {
        sub: subject,
        account: account.0,
        roles,
        iss: issuer,
        aud: audience,
        iat,
        nbf: iat,
        exp,
    };
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(secret),
    )
    .map_err(MintError::Sign)
}
