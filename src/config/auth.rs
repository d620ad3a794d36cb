//! `[auth]`: token issuing and checking.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::ConfigError;

/// Token issuing and checking, shared by the gateway and `tradeplane token`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthSection {
    /// The `iss` tokens carry and the gateway requires.
    pub issuer: String,
    /// The `aud` tokens carry and the gateway requires.
    pub audience: String,
    /// The HS256 secret (at least 32 bytes). Keep it out of files: prefer
    /// `TRADEPLANE_AUTH__HS256_SECRET`.
    pub hs256_secret: Option<String>,
    /// A JWKS file with RS256 / ES256 / EdDSA public keys (re-read on an unknown `kid`).
    pub jwks_file: Option<PathBuf>,
    /// Or a JWKS URL (`https://`; plain `http://` is for loopback and logged as a warning
    /// elsewhere): fetched at start-up, where a failure is logged but does not stop the
    /// gateway (the identity provider may be down), and fetched again on an unknown `kid`
    /// (key rotation).
    pub jwks_url: Option<String>,
    /// Least time between two JWKS refreshes triggered by unknown `kid`s, in seconds: how
    /// often forged `kid`s can make the gateway re-read the file or call the URL, and how long
    /// a newly rotated key may wait to be picked up.
    pub jwks_refresh_interval_secs: u64,
}

impl Default for AuthSection {
    fn default() -> Self {
        Self {
            issuer: "tradeplane".into(),
            audience: "tradeplane-api".into(),
            hs256_secret: None,
            jwks_file: None,
            jwks_url: None,
            jwks_refresh_interval_secs: gateway::auth::JwksConfig::DEFAULT_REFRESH_MIN_INTERVAL
                .as_secs(),
        }
    }
}

impl AuthSection {
    /// The gateway's token verification settings; needs a secret or a JWKS.
    ///
    /// # Errors
    /// [`ConfigError::Invalid`] naming the setting (and its environment variable).
    pub fn verifier(&self) -> Result<gateway::auth::AuthConfig, ConfigError> {
        let mut auth = gateway::auth::AuthConfig::new(&self.issuer, &self.audience);
        if let Some(secret) = &self.hs256_secret {
            auth.hs256_secret = Some(
                gateway::auth::Hs256Secret::new(secret.as_bytes().to_vec()).map_err(|e| {
                    ConfigError::Invalid(format!(
                        "auth.hs256_secret (TRADEPLANE_AUTH__HS256_SECRET): {e}"
                    ))
                })?,
            );
        }
        let source = match (&self.jwks_file, &self.jwks_url) {
            (Some(_), Some(_)) => {
                return Err(ConfigError::Invalid(
                    "auth.jwks_file (TRADEPLANE_AUTH__JWKS_FILE) and auth.jwks_url \
                     (TRADEPLANE_AUTH__JWKS_URL) are mutually exclusive: set one"
                        .into(),
                ));
            }
            (Some(file), None) => Some(gateway::auth::JwksSource::File(file.clone())),
            (None, Some(url)) => Some(gateway::auth::JwksSource::Url(url.clone())),
            (None, None) => None,
        };
        if let Some(source) = source {
            // Zero would let every forged `kid` cause a fetch.
            if self.jwks_refresh_interval_secs == 0 {
                return Err(ConfigError::Invalid(
                    "auth.jwks_refresh_interval_secs must be greater than zero".into(),
                ));
            }
            auth.jwks = Some(gateway::auth::JwksConfig {
                source,
                refresh_min_interval: std::time::Duration::from_secs(
                    self.jwks_refresh_interval_secs,
                ),
            });
        }
        if auth.hs256_secret.is_none() && auth.jwks.is_none() {
            return Err(ConfigError::Invalid(
                "auth: no key to verify tokens with: set auth.hs256_secret \
                 (TRADEPLANE_AUTH__HS256_SECRET), auth.jwks_file (TRADEPLANE_AUTH__JWKS_FILE) \
                 or auth.jwks_url (TRADEPLANE_AUTH__JWKS_URL)"
                    .into(),
            ));
        }
        auth.validate().map_err(|e| match e {
            gateway::auth::ConfigError::InvalidJwksUrl { reason } => ConfigError::Invalid(format!(
                "auth.jwks_url (TRADEPLANE_AUTH__JWKS_URL): {reason}"
            )),
            e => ConfigError::Invalid(format!("auth: {e}")),
        })?;
        Ok(auth)
    }
}

/// Never prints the secret.
impl std::fmt::Debug for AuthSection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthSection")
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .field(
                "hs256_secret",
                &self.hs256_secret.as_ref().map(|_| "<redacted>"),
            )
            .field("jwks_file", &self.jwks_file)
            .field("jwks_url", &self.jwks_url)
            .field(
                "jwks_refresh_interval_secs",
                &self.jwks_refresh_interval_secs,
            )
            .finish()
    }
}

#[cfg(test)]
mod auth_section_tests {
    use figment::Figment;
    use figment::providers::{Format, Serialized, Toml};

    use super::*;
    use crate::config::Config;

    fn from_toml(toml: &str) -> AuthSection {
        Figment::from(Serialized::defaults(Config::default()))
            .merge(Toml::string(toml))
            .extract::<Config>()
            .unwrap()
            .auth
    }

    fn invalid(section: &AuthSection) -> String {
        match section.verifier() {
            Err(ConfigError::Invalid(message)) => message,
            other => panic!("expected Invalid, got {other:?}"),
        }
    }

    #[test]
    fn a_jwks_url_becomes_a_url_source_with_the_refresh_interval() {
        let section = from_toml(
            "[auth]\njwks_url = \"https://idp.example/.well-known/jwks.json\"\n\
             jwks_refresh_interval_secs = 300\n",
        );
        let jwks = section.verifier().unwrap().jwks.unwrap();
        assert_eq!(
            jwks.source,
            gateway::auth::JwksSource::Url("https://idp.example/.well-known/jwks.json".into())
        );
        assert_eq!(jwks.refresh_min_interval.as_secs(), 300);
        // The default interval is the gateway's.
        let section = from_toml("[auth]\njwks_file = \"/etc/jwks.json\"\n");
        assert_eq!(
            section
                .verifier()
                .unwrap()
                .jwks
                .unwrap()
                .refresh_min_interval,
            gateway::auth::JwksConfig::DEFAULT_REFRESH_MIN_INTERVAL
        );
    }

    #[test]
    fn jwks_settings_are_validated_and_errors_name_the_setting() {
        let url = |url: &str| AuthSection {
            jwks_url: Some(url.into()),
            ..AuthSection::default()
        };
        let both = AuthSection {
            jwks_file: Some("/etc/jwks.json".into()),
            ..url("https://idp.example/jwks.json")
        };
        assert!(invalid(&both).contains("mutually exclusive"));
        for bad in ["ftp://idp.example/jwks.json", "idp.example/jwks.json", ""] {
            let message = invalid(&url(bad));
            assert!(
                message.starts_with("auth.jwks_url (TRADEPLANE_AUTH__JWKS_URL): "),
                "{bad:?}: {message}"
            );
        }
        let zero = AuthSection {
            jwks_refresh_interval_secs: 0,
            ..url("https://idp.example/jwks.json")
        };
        assert!(invalid(&zero).contains("auth.jwks_refresh_interval_secs"));
        assert!(invalid(&AuthSection::default()).contains("auth.jwks_url"));
        assert!(url("http://127.0.0.1:9/jwks.json").verifier().is_ok());
    }
}
