//! `[jobs]`: how jobs are retried and bounded. Producers (the gateway's job API) and
//! workers both read it: the gateway applies the attempt defaults and cap at enqueue, the
//! workers the backoff when they record a failure, so every role of one deployment must
//! agree on it.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::ConfigError;

/// Retry and attempt limits. Times in milliseconds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct JobsSection {
    /// Attempts of a job that does not ask for a number.
    pub default_max_attempts: u32,
    /// The most attempts any job may have; larger requests are lowered to it.
    pub max_attempts_cap: u32,
    /// Ceiling of the first retry's delay (exponential backoff with full jitter).
    pub retry_base_ms: u64,
    /// Largest retry delay.
    pub retry_cap_ms: u64,
}

impl Default for JobsSection {
    fn default() -> Self {
        let store = control_plane::StoreConfig::default();
        Self {
            default_max_attempts: store.default_max_attempts,
            max_attempts_cap: store.max_attempts_cap,
            retry_base_ms: millis(store.retry.base),
            retry_cap_ms: millis(store.retry.cap),
        }
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

impl JobsSection {
    /// The store's configuration, checked.
    ///
    /// # Errors
    /// [`ConfigError::Invalid`] naming the section for values that do not fit together.
    pub fn store_config(&self) -> Result<control_plane::StoreConfig, ConfigError> {
        let store = control_plane::StoreConfig {
            default_max_attempts: self.default_max_attempts,
            max_attempts_cap: self.max_attempts_cap,
            retry: control_plane::RetryPolicy {
                base: Duration::from_millis(self.retry_base_ms),
                cap: Duration::from_millis(self.retry_cap_ms),
            },
        };
        store
            .validate()
            .map_err(|e| ConfigError::Invalid(format!("jobs: {e}")))?;
        Ok(store)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_stores_and_bad_values_name_the_section() {
        assert_eq!(
            JobsSection::default().store_config().unwrap(),
            control_plane::StoreConfig::default()
        );
        let bad = JobsSection {
            retry_base_ms: 10_000,
            retry_cap_ms: 1_000,
            ..JobsSection::default()
        };
        let err = bad.store_config().unwrap_err().to_string();
        assert!(err.contains("jobs:") && err.contains("base"), "{err}");
        let above = JobsSection {
            default_max_attempts: 30,
            ..JobsSection::default()
        };
        assert!(above.store_config().is_err());
    }
}
