//! Why a bearer token was refused, in terms safe to show the caller.

/// A refused bearer token.
///
/// Variants carry no detail on purpose: the reason is logged where it is found, and what the
/// caller sees (`code()`, the `Display` message, [`AuthError::www_authenticate`]) is fixed
/// text that reveals nothing about keys or configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// No bearer token was presented.
    #[error("bearer token missing")]
    Missing,
    /// The token is not a well-formed JWT.
    #[error("token is malformed")]
    Malformed,
    /// The signature does not verify with the selected key.
    #[error("token signature is invalid")]
    BadSignature,
    /// `exp` is in the past (beyond the leeway).
    #[error("token has expired")]
    Expired,
    /// `nbf` is in the future (beyond the leeway).
    #[error("token is not yet valid")]
    NotYetValid,
    /// `iss` is not the configured issuer.
    #[error("token issuer is not accepted")]
    WrongIssuer,
    /// `aud` does not name this gateway.
    #[error("token audience is not accepted")]
    WrongAudience,
    /// No configured key matches the token (its `kid` is unknown, or it has none and no HS256
    /// secret is configured).
    #[error("token signing key is unknown")]
    UnknownKey,
    /// The header's `alg` is not the algorithm pinned to the selected key (or is `none`).
    #[error("token algorithm is not allowed")]
    AlgorithmNotAllowed,
    /// A required claim is missing or has the wrong type or value.
    #[error("token claims are invalid")]
    BadClaims,
    /// The signing keys could not be fetched; retrying later may succeed.
    #[error("signing keys are unavailable")]
    JwksUnavailable,
}

impl AuthError {
    /// A stable machine-readable code, for problem+json bodies and metrics labels.
    #[must_use]
    pub const fn code(self) -> &'static str {
        match self {
            Self::Missing => "token_missing",
            Self::Malformed => "token_malformed",
            Self::BadSignature => "token_bad_signature",
            Self::Expired => "token_expired",
            Self::NotYetValid => "token_not_yet_valid",
            Self::WrongIssuer => "token_wrong_issuer",
            Self::WrongAudience => "token_wrong_audience",
            Self::UnknownKey => "token_unknown_key",
            Self::AlgorithmNotAllowed => "token_algorithm_not_allowed",
            Self::BadClaims => "token_bad_claims",
            Self::JwksUnavailable => "jwks_unavailable",
        }
    }

    /// Whether the same token may succeed later: only when the key set could not be fetched.
    #[must_use]
    pub const fn retryable(self) -> bool {
        matches!(self, Self::JwksUnavailable)
    }

    /// The `WWW-Authenticate` header value for the 401 response (RFC 6750 §3).
    ///
    /// A request without a token gets a bare challenge, as §3.1 asks; every other failure is
    /// `invalid_token` with the fixed message as its description.
    #[must_use]
    pub fn www_authenticate(self) -> String {
        match self {
            Self::Missing => "Bearer".to_owned(),
            // The messages are fixed ASCII without quotes or backslashes (tested below), so
            // they need no quoted-string escaping.
            other => format!("Bearer error=\"invalid_token\", error_description=\"{other}\""),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [AuthError; 11] = [
        AuthError::Missing,
        AuthError::Malformed,
        AuthError::BadSignature,
        AuthError::Expired,
        AuthError::NotYetValid,
        AuthError::WrongIssuer,
        AuthError::WrongAudience,
        AuthError::UnknownKey,
        AuthError::AlgorithmNotAllowed,
        AuthError::BadClaims,
        AuthError::JwksUnavailable,
    ];

    #[test]
    fn codes_are_unique_snake_case() {
        let mut codes: Vec<_> = ALL.iter().map(|e| e.code()).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), ALL.len());
        for code in codes {
            assert!(
                code.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
                "{code}"
            );
        }
    }

    #[test]
    fn messages_are_safe_in_a_quoted_string() {
        for error in ALL {
            let message = error.to_string();
            assert!(
                message.is_ascii() && !message.contains(['"', '\\']),
                "{message}"
            );
        }
    }

    #[test]
    fn www_authenticate_values() {
        assert_eq!(AuthError::Missing.www_authenticate(), "Bearer");
        assert_eq!(
            AuthError::Expired.www_authenticate(),
            r#"Bearer error="invalid_token", error_description="token has expired""#
        );
    }
}
