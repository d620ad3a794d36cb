//! Every error the gateway sends: RFC 9457 problem details (`application/problem+json`).
//!
//! A [`Problem`] has a stable snake_case `code` that clients switch on; `title` is fixed
//! per code, `detail` is a human explanation of this occurrence, and `field` names the
//! offending body member, query parameter or path parameter when there is one.
//!
//! # The `type` member
//!
//! `type` is `https://docs.tradeplane.dev/problems/{code}`, not `about:blank`. RFC 9457
//! reserves `about:blank` for problems that mean no more than their HTTP status, and asks
//! that `title` then be the status phrase; ours carry more (a `code` that distinguishes,
//! say, `order_not_found` from `market_not_found` under one 404), so each code gets its
//! own type URI, which is also where its documentation lives. `code` repeats the URI's last
//! segment so that clients need not parse URIs.
//!
//! # No plain-text rejection escapes
//!
//! axum's own extractors answer with `text/plain` bodies. Handlers use [`ApiJson`],
//! [`ApiQuery`] and [`ApiPath`] instead, which reject with a [`Problem`]; routers install
//! [`not_found_fallback`] and [`method_not_allowed_fallback`]. Rejection mapping:
//!
//! | rejection | status | code |
//! |---|---|---|
//! | JSON syntax error | 400 | `malformed_json` |
//! | missing or non-JSON `Content-Type` | 415 | `unsupported_media_type` |
//! | JSON of the wrong shape | 422 | `invalid_body` (with `field` when known) |
//! | body over the size limit | 413 | `payload_too_large` |
//! | body could not be read | 400 | `unreadable_body` |
//! | query string does not deserialize | 400 | `invalid_query` (with `field` when known) |
//! | path parameter does not parse | 400 | `invalid_path` (with `field` when known) |
//! | extractor misuse (a programming error) | 500 | `internal` |
//!
//! Query and path errors are 400 rather than 422 or 404: they are faults in the request
//! target, which the client built, and a 404 would claim that a resource was looked for.
//! 422 is kept for well-formed bodies whose content is wrong.
//!
//! # 5xx
//!
//! [`Problem::internal`] logs the cause with `tracing` at error level and answers with a
//! fixed detail: nothing of the cause reaches the client.
//!
//! # Domain errors
//!
//! Error types that know nothing of HTTP become problems in one submodule each, named after
//! what it maps and holding that type's table of stable codes: the engine's reject reasons
//! ([`from_reject`], `reject`), RBAC policy load failures ([`from_rbac`], `rbac`) and the
//! control plane's job-store and queue errors ([`from_control_plane`], `control_plane`). Shard
//! client errors are mapped beside the shard router (`crate::shards::shard_problem`).

use std::error::Error as StdError;
use std::fmt;

use axum::http::header::{CONTENT_TYPE, RETRY_AFTER, WWW_AUTHENTICATE};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value};

mod control_plane;
mod rbac;
mod reject;
#[cfg(test)]
mod tests;

pub use self::control_plane::{CONTROL_PLANE_RETRY_AFTER_SECS, from_control_plane};
pub use rbac::from_rbac;
pub use reject::from_reject;

pub use crate::extract::{
    ApiJson, ApiPath, ApiQuery, method_not_allowed_fallback, not_found_fallback,
};

/// The media type of every error body.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// Where each code's documentation lives; a problem's `type` is this followed by its code.
pub const PROBLEM_TYPE_BASE: &str = "https://docs.tradeplane.dev/problems/";

/// The detail every 500 answers with, whatever the cause.
pub const INTERNAL_DETAIL: &str =
    "The server failed to handle the request. The failure has been logged.";

/// Members a [`Problem::with_extension`] cannot override.
const RESERVED_MEMBERS: [&str; 7] = [
    "type",
    "title",
    "status",
    "code",
    "detail",
    "field",
    "retry_after",
];

/// An RFC 9457 problem: the error type of every handler and extractor.
///
/// Small (rare parts are boxed) so that `Result<T, Problem>` stays cheap to return.
#[derive(Clone, Debug, PartialEq)]
pub struct Problem {
    status: StatusCode,
    /// Retry-After in seconds (429, 503); also the `retry_after` member.
    retry_after: Option<u32>,
    code: &'static str,
    title: &'static str,
    detail: Option<Box<str>>,
    field: Option<Box<str>>,
    www_authenticate: Option<Box<HeaderValue>>,
    extensions: Option<Box<Map<String, Value>>>,
}

impl Problem {
    /// A problem with a status, a stable snake_case code and the title fixed for that code.
    #[must_use]
    pub const fn new(status: StatusCode, code: &'static str, title: &'static str) -> Self {
        Self {
            status,
            retry_after: None,
            code,
            title,
            detail: None,
            field: None,
            www_authenticate: None,
            extensions: None,
        }
    }

    /// Explains this occurrence. Never put internals (errors from storage, peers, panics)
    /// here: use [`Problem::internal`] for those.
    #[must_use]
    pub fn with_detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into().into_boxed_str());
        self
    }

    /// Names the offending body member, query parameter or path parameter
    /// (dotted for nested members: `legs[0].price`).
    #[must_use]
    pub fn with_field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into().into_boxed_str());
        self
    }

    /// Sets `Retry-After` (seconds), sent as a header and as the `retry_after` member.
    #[must_use]
    pub const fn with_retry_after(mut self, seconds: u32) -> Self {
        self.retry_after = Some(seconds);
        self
    }

    /// Sets the `WWW-Authenticate` challenge sent with the response.
    #[must_use]
    pub fn with_www_authenticate(mut self, challenge: HeaderValue) -> Self {
        self.www_authenticate = Some(Box::new(challenge));
        self
    }

    /// Adds an extension member (for example the `order_id` that already holds a client
    /// order id). The standard members (`type`, `title`, `status`, `code`, `detail`,
    /// `field`, `retry_after`) always win: an extension by one of those names is dropped.
    #[must_use]
    pub fn with_extension(mut self, name: &str, value: impl Into<Value>) -> Self {
        if !RESERVED_MEMBERS.contains(&name) {
            self.extensions
                .get_or_insert_with(Default::default)
                .insert(name.to_owned(), value.into());
        }
        self
    }

    /// The HTTP status.
    #[must_use]
    pub const fn status(&self) -> StatusCode {
        self.status
    }

    /// The stable snake_case code.
    #[must_use]
    pub const fn code(&self) -> &'static str {
        self.code
    }

    /// The title, fixed per code.
    #[must_use]
    pub const fn title(&self) -> &'static str {
        self.title
    }

    /// This occurrence's explanation, if any.
    #[must_use]
    pub fn detail(&self) -> Option<&str> {
        self.detail.as_deref()
    }

    /// The offending field or parameter, if any.
    #[must_use]
    pub fn field(&self) -> Option<&str> {
        self.field.as_deref()
    }

    /// Seconds after which a retry may succeed, if given.
    #[must_use]
    pub const fn retry_after(&self) -> Option<u32> {
        self.retry_after
    }

    /// The `WWW-Authenticate` challenge, if any.
    #[must_use]
    pub fn www_authenticate(&self) -> Option<&HeaderValue> {
        self.www_authenticate.as_deref()
    }

    /// The `type` member: [`PROBLEM_TYPE_BASE`] followed by the code.
    #[must_use]
    pub fn type_uri(&self) -> String {
        format!("{PROBLEM_TYPE_BASE}{}", self.code)
    }

    /// The body, as sent.
    #[must_use]
    pub fn to_json(&self) -> Value {
        let mut body = self.extensions.as_deref().cloned().unwrap_or_default();
        body.insert("type".to_owned(), Value::String(self.type_uri()));
        body.insert("title".to_owned(), Value::from(self.title));
        body.insert("status".to_owned(), Value::from(self.status.as_u16()));
        body.insert("code".to_owned(), Value::from(self.code));
        if let Some(detail) = &self.detail {
            body.insert("detail".to_owned(), Value::from(&**detail));
        }
        if let Some(field) = &self.field {
            body.insert("field".to_owned(), Value::from(&**field));
        }
        if let Some(seconds) = self.retry_after {
            body.insert("retry_after".to_owned(), Value::from(seconds));
        }
        Value::Object(body)
    }

    // --- The constructors the API uses. ---

    /// 400: the request is malformed in a way no other code describes.
    #[must_use]
    pub fn bad_request(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, "Bad Request").with_detail(detail)
    }

    /// 401 `unauthorized`, with the `WWW-Authenticate` challenge to send (for example
    /// `Bearer realm="tradeplane", error="invalid_token"`).
    #[must_use]
    pub fn unauthorized(challenge: HeaderValue) -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "Authentication required",
        )
        .with_detail("A valid bearer token is required.")
        .with_www_authenticate(challenge)
    }

    /// 403 `forbidden`: authenticated, but the policy does not allow this.
    #[must_use]
    pub fn forbidden(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", "Forbidden").with_detail(detail)
    }

    /// 404 with a resource-specific code (`order_not_found`, `market_not_found`, …).
    #[must_use]
    pub fn not_found(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, code, "Not Found").with_detail(detail)
    }

    /// 405 `method_not_allowed`.
    #[must_use]
    pub fn method_not_allowed() -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            "Method Not Allowed",
        )
        .with_detail("This resource does not support the request's method.")
    }

    /// 409 with a specific code (for example `idempotency_key_in_use` while a request with
    /// the same idempotency key is still in flight).
    #[must_use]
    pub fn conflict(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, code, "Conflict").with_detail(detail)
    }

    /// 413 `payload_too_large`.
    #[must_use]
    pub fn payload_too_large() -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            "Payload Too Large",
        )
        .with_detail("The request body exceeds the size limit.")
    }

    /// 415 `unsupported_media_type`.
    #[must_use]
    pub fn unsupported_media_type(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "Unsupported Media Type",
        )
        .with_detail(detail)
    }

    /// 422 with a specific code, naming the offending field.
    #[must_use]
    pub fn unprocessable(
        code: &'static str,
        field: impl Into<String>,
        detail: impl Into<String>,
    ) -> Self {
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            code,
            "Unprocessable Content",
        )
        .with_field(field)
        .with_detail(detail)
    }

    /// 429 `rate_limited`, retry after `retry_after` seconds.
    #[must_use]
    pub fn rate_limited(retry_after: u32) -> Self {
        Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            "Too Many Requests",
        )
        .with_detail("Too many requests; retry later.")
        .with_retry_after(retry_after)
    }

    /// 503 `unavailable`, retry after `retry_after` seconds.
    #[must_use]
    pub fn unavailable(retry_after: u32) -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "Service Unavailable",
        )
        .with_detail("The service is temporarily unavailable; retry later.")
        .with_retry_after(retry_after)
    }

    /// 500 `internal`. Logs `cause` (with its source chain) and `context` at error level;
    /// the body carries only [`INTERNAL_DETAIL`].
    #[must_use]
    pub fn internal(cause: &(dyn StdError + 'static), context: &str) -> Self {
        let mut chain = cause.to_string();
        let mut source = cause.source();
        while let Some(err) = source {
            chain.push_str(": ");
            chain.push_str(&err.to_string());
            source = err.source();
        }
        tracing::error!(context, error = %chain, "internal error");
        Self::internal_without_cause()
    }

    /// The 500 `internal` problem with nothing logged, for callers that logged already.
    #[must_use]
    pub const fn internal_without_cause() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "Internal Server Error",
        )
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.status.as_u16(), self.code)?;
        if let Some(field) = &self.field {
            write!(f, " ({field})")?;
        }
        if let Some(detail) = &self.detail {
            write!(f, ": {detail}")?;
        }
        Ok(())
    }
}

impl StdError for Problem {}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let mut body = self.to_json();
        if self.status == StatusCode::INTERNAL_SERVER_ERROR
            && let Value::Object(members) = &mut body
        {
            // Belt and braces: a 500 built with `new` and a detail still says nothing.
            members.insert("detail".to_owned(), Value::from(INTERNAL_DETAIL));
        }
        // A `Value` of strings and numbers always serializes.
        let bytes = serde_json::to_vec(&body).unwrap_or_default();
        let mut response = (self.status, bytes).into_response();
        let headers = response.headers_mut();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        if let Some(seconds) = self.retry_after {
            headers.insert(RETRY_AFTER, HeaderValue::from(seconds));
        }
        if let Some(challenge) = self.www_authenticate {
            headers.insert(WWW_AUTHENTICATE, *challenge);
        }
        response
    }
}
