//! The JWT payload tradeplane issues and accepts.
//!
//! `exp`, `nbf`, `iss` and `aud` are validated by jsonwebtoken (see [`super::Authenticator`])
//! and so are not fields of [`VerifiedClaims`]; serde ignores them, which keeps decoding to the
//! three fields a [`super::Principal`] needs plus `iat`, whose presence is required.

use serde::{Deserialize, Serialize};

use super::principal::{Principal, Role};

/// The claims read after the signature and the registered claims have been checked.
#[derive(Deserialize)]
pub(crate) struct VerifiedClaims {
    sub: String,
    account: u64,
    roles: Vec<Role>,
    // Required (a token without it is refused) but not otherwise used: `nbf` bounds validity.
    #[serde(rename = "iat")]
    _iat: u64,
}

impl VerifiedClaims {
    /// The principal, or `None` when a claim is present but unusable (an empty `sub`).
    pub(crate) fn into_principal(self) -> Option<Principal> {
        if self.sub.is_empty() {
            return None;
        }
        Some(Principal {
            subject: self.sub,
            account: matcher::AccountId(self.account),
            roles: self.roles,
        })
    }
}

/// The full claim set, as minted by [`super::mint_hs256`].
#[derive(Serialize)]
pub(crate) struct IssuedClaims<'a> {
    pub(crate) sub: &'a str,
    pub(crate) account: u64,
    pub(crate) roles: &'a [Role],
    pub(crate) iss: &'a str,
    pub(crate) aud: &'a str,
    pub(crate) iat: u64,
    pub(crate) nbf: u64,
    pub(crate) exp: u64,
}
