//! Built-in handlers: `noop` and `sleep` for tests and benchmarks, `http.request` for
//! calling HTTP endpoints.

mod http;

use std::time::Duration;

use serde::Deserialize;

pub use http::{HttpConfig, HttpError, HttpRequest, HttpRequestHandler};

use crate::handler::{Handler, HandlerError, JobContext, Registry};

/// `noop`: succeeds at once, whatever the payload. The benchmark's job: it measures the
/// queue and the store, nothing else.
#[derive(Debug, Clone, Copy, Default)]
pub struct Noop;

impl Handler for Noop {
    type Payload = serde::de::IgnoredAny;

    async fn handle(&self, _ctx: &JobContext, _payload: Self::Payload) -> Result<(), HandlerError> {
        Ok(())
    }
}

/// Payload of `sleep`.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SleepPayload {
    /// How long to sleep, in milliseconds.
    pub ms: u64,
}

/// `sleep`: waits `ms` milliseconds, then succeeds. A stand-in for slow work in crash and
/// shutdown tests; the pool's job timeout bounds it like any handler.
#[derive(Debug, Clone, Copy, Default)]
pub struct Sleep;

impl Handler for Sleep {
    type Payload = SleepPayload;

    async fn handle(&self, _ctx: &JobContext, payload: SleepPayload) -> Result<(), HandlerError> {
        tokio::time::sleep(Duration::from_millis(payload.ms)).await;
        Ok(())
    }
}

impl Registry {
    /// A registry holding the built-in handlers: `noop`, `sleep` and `http.request`.
    ///
    /// # Errors
    /// [`HttpError::Client`] if the HTTP client cannot be built (no TLS roots).
    pub fn builtins(http: &HttpConfig) -> Result<Registry, HttpError> {
        let mut registry = Registry::new();
        registry
            .register("noop", Noop)
            .register("sleep", Sleep)
            .register("http.request", HttpRequestHandler::new(http)?);
        Ok(registry)
    }
}
