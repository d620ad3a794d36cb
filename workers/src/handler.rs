//! The handler trait, what a handler is told about its job, and the registry by job type.
//!
//! # The idempotency contract
//!
//! Delivery is **at least once** (DESIGN decision 5). A handler may run more than once for
//! the same job, including concurrently with a previous run that is still going:
//!
//! - its worker died after the handler's side effect but before the outcome was recorded,
//!   and the job was reclaimed after the visibility timeout;
//! - its worker stopped gracefully past the shutdown deadline: the handler future was
//!   *dropped* at an `.await` and the job handed back to run elsewhere;
//! - the attempt failed (error, timeout, panic) and is retried.
//!
//! So a handler must make repeated runs harmless: use [`JobContext::idempotency_key`] (the
//! job id, stable across attempts) as the dedup key of whatever it changes downstream
//! (`ON CONFLICT DO NOTHING`, an `Idempotency-Key` header, a `webhook-id`), and be cancel
//! safe: being dropped at any `.await` must leave nothing half-done that a rerun could not
//! repair. Handlers that spawn their own work should stop it when [`JobContext::cancelled`]
//! fires.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use control_plane::JobId;
use serde::de::DeserializeOwned;
use tokio_util::sync::CancellationToken;

/// Why an attempt failed. The text, with its causes, becomes `last_error`. A
/// [permanent](HandlerError::is_permanent) failure dead-letters the job at once; every
/// other is retried with backoff and dead-lettered after the last attempt.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HandlerError {
    /// The payload does not decode into the handler's payload type.
    #[error("payload does not match the handler: {0}")]
    Payload(#[source] serde_json::Error),
    /// No handler is registered for the job's type in this worker.
    #[error("no handler for job type `{0}` in this worker")]
    UnknownType(String),
    /// The handler ran longer than the pool's job timeout.
    #[error("handler timed out after {0:?}")]
    TimedOut(Duration),
    /// The handler panicked.
    #[error("handler panicked: {0}")]
    Panicked(String),
    /// The handler reported failure.
    #[error(transparent)]
    Failed(Box<dyn std::error::Error + Send + Sync>),
    /// The handler reported a failure no retry can cure (the downstream refuses the
    /// request for good): the job is dead-lettered without spending its other attempts.
    #[error("permanent failure: {0}")]
    Permanent(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl HandlerError {
    /// A failure described by a message.
    #[must_use]
    pub fn failed(message: impl Into<String>) -> Self {
        HandlerError::Failed(message.into().into())
    }

    /// A failure no retry can cure, described by a message.
    #[must_use]
    pub fn permanent(message: impl Into<String>) -> Self {
        HandlerError::Permanent(message.into().into())
    }

    /// Whether retrying is pointless: the payload can never decode (it does not change
    /// between attempts), or the handler said so. An unknown type is *not* permanent: in a
    /// rolling deploy another worker may know it.
    #[must_use]
    pub fn is_permanent(&self) -> bool {
        matches!(self, HandlerError::Payload(_) | HandlerError::Permanent(_))
    }

    /// The error and its causes on one line: what the store keeps as `last_error`.
    #[must_use]
    pub fn chain(&self) -> String {
        let mut text = self.to_string();
        let mut source = std::error::Error::source(self);
        while let Some(cause) = source {
            let cause = cause.to_string();
            if !text.contains(&cause) {
                text.push_str(": ");
                text.push_str(&cause);
            }
            source = cause_of(source);
        }
        text
    }
}

fn cause_of<'a>(
    e: Option<&'a (dyn std::error::Error + 'static)>,
) -> Option<&'a (dyn std::error::Error + 'static)> {
    e.and_then(std::error::Error::source)
}

/// What a handler knows about the attempt it runs.
#[derive(Debug, Clone)]
pub struct JobContext {
    /// The job.
    pub job_id: JobId,
    /// Its type (the registry key that chose this handler).
    pub job_type: String,
    /// Its queue.
    pub queue: String,
    /// This attempt (1-based). Not a fence for side effects: a released attempt runs again
    /// under the same number.
    pub attempt: u32,
    /// Attempts allowed before the job is dead-lettered.
    pub max_attempts: u32,
    /// The worker running it (unique per process start).
    pub worker_id: String,
    pub(crate) cancel: CancellationToken,
}

impl JobContext {
    /// The key downstream systems should deduplicate this job's effects by: the job id,
    /// the same on every attempt and every worker.
    #[must_use]
    pub fn idempotency_key(&self) -> String {
        self.job_id.to_string()
    }

    /// Resolves when the worker gives up on this attempt (shutdown deadline passed); the
    /// handler future is dropped right after, so this is for work it spawned elsewhere.
    pub async fn cancelled(&self) {
        self.cancel.cancelled().await;
    }
}

/// Runs one job type. See the module docs for the idempotency contract every implementation
/// must keep.
pub trait Handler: Send + Sync + 'static {
    /// The job's payload, decoded from its JSON. A payload that does not decode fails the
    /// attempt with [`HandlerError::Payload`].
    type Payload: DeserializeOwned + Send + 'static;

    /// Runs one attempt.
    ///
    /// # Errors
    /// Any [`HandlerError`]: the attempt is recorded as failed and retried with backoff.
    fn handle(
        &self,
        ctx: &JobContext,
        payload: Self::Payload,
    ) -> impl Future<Output = Result<(), HandlerError>> + Send;
}

/// A boxed attempt future (what the registry stores handlers as).
pub(crate) type Attempt<'a> = Pin<Box<dyn Future<Output = Result<(), HandlerError>> + Send + 'a>>;

/// [`Handler`] with its payload type erased, so handlers of different types share a map.
trait Erased: Send + Sync {
    fn call<'a>(&'a self, ctx: &'a JobContext, payload: serde_json::Value) -> Attempt<'a>;
}

impl<H: Handler> Erased for H {
    fn call<'a>(&'a self, ctx: &'a JobContext, payload: serde_json::Value) -> Attempt<'a> {
        Box::pin(async move {
            let payload: H::Payload =
                serde_json::from_value(payload).map_err(HandlerError::Payload)?;
            self.handle(ctx, payload).await
        })
    }
}

/// Handlers by job type. Cheap to clone.
#[derive(Clone, Default)]
pub struct Registry {
    handlers: HashMap<String, Arc<dyn Erased>>,
}

impl fmt::Debug for Registry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut types: Vec<&str> = self.handlers.keys().map(String::as_str).collect();
        types.sort_unstable();
        f.debug_struct("Registry").field("types", &types).finish()
    }
}

impl Registry {
    /// An empty registry.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers `handler` for `job_type`, replacing any earlier one.
    pub fn register(&mut self, job_type: impl Into<String>, handler: impl Handler) -> &mut Self {
        self.handlers.insert(job_type.into(), Arc::new(handler));
        self
    }

    /// Whether a handler is registered for `job_type`.
    #[must_use]
    pub fn handles(&self, job_type: &str) -> bool {
        self.handlers.contains_key(job_type)
    }

    /// Starts an attempt of a job of `ctx.job_type`.
    pub(crate) fn attempt<'a>(
        &'a self,
        ctx: &'a JobContext,
        payload: serde_json::Value,
    ) -> Attempt<'a> {
        match self.handlers.get(&ctx.job_type) {
            Some(handler) => handler.call(ctx, payload),
            None => {
                let job_type = ctx.job_type.clone();
                Box::pin(async move { Err(HandlerError::UnknownType(job_type)) })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("outer")]
    struct Outer(#[source] std::io::Error);

    #[test]
    fn chain_names_every_cause_once() {
        let e = HandlerError::Failed(Box::new(Outer(std::io::Error::other("inner"))));
        assert_eq!(e.chain(), "outer: inner");
        assert_eq!(HandlerError::failed("boom").chain(), "boom");
    }
}
