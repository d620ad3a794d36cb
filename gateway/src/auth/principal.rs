//! Who a verified token speaks for.

use matcher::AccountId;
use serde::{Deserialize, Serialize};

/// A coarse role carried in the token's `roles` claim; RBAC policies refine what each may do.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Reads market data and its own account.
    Viewer,
    /// Places and cancels orders for its account.
    Trader,
    /// Runs the venue: halts markets, inspects any account.
    Operator,
    /// Manages users, keys and configuration.
    Admin,
}

impl Role {
    /// The name used in tokens and RBAC policies.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Viewer => "viewer",
            Self::Trader => "trader",
            Self::Operator => "operator",
            Self::Admin => "admin",
        }
    }
}

/// The authenticated caller: built only from a token whose signature and claims were checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Principal {
    /// The token's `sub`: the user or service identity, for audit logs and rate-limit keys.
    pub subject: String,
    /// The trading account the token acts for.
    pub account: AccountId,
    /// Roles granted by the issuer (may be empty: RBAC then denies everything).
    pub roles: Vec<Role>,
}

impl Principal {
    /// Whether the principal holds `role`.
    #[must_use]
    pub fn has_role(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_serialize_lowercase_and_match_as_str() {
        for role in [Role::Viewer, Role::Trader, Role::Operator, Role::Admin] {
            let json = serde_json::to_string(&role).unwrap();
            assert_eq!(json, format!("\"{}\"", role.as_str()));
            assert_eq!(serde_json::from_str::<Role>(&json).unwrap(), role);
        }
        assert!(serde_json::from_str::<Role>("\"Admin\"").is_err());
    }
}
