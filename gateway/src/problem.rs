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

use std::error::Error as StdError;
use std::fmt;

use axum::http::header::{CONTENT_TYPE, RETRY_AFTER, WWW_AUTHENTICATE};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use matcher::RejectReason;
use serde_json::{Map, Value};

use crate::rbac::RbacError;

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

// --- The engine's reject reasons. ---

/// Maps an engine rejection to the problem the API answers with. Every variant is covered
/// (the match is exhaustive, so a new variant fails to compile here); codes are stable.
///
/// Codes equal the engine's [`RejectReason::code`] except where the API names the
/// resource: `unknown_market` → `market_not_found`, `unknown_order` → `order_not_found`,
/// `duplicate` → `duplicate_client_order_id`. The decimal checks in
/// [`crate::decimal`] use the same codes for the same conditions, so a client sees one
/// code whichever layer caught the mistake.
///
/// `book_full` is 503 with `Retry-After: 1`, not 429: 429 tells a client that *it* sent
/// too much, and a client that respects a rate limit cannot cause or clear a full book. A
/// full book is a market-wide capacity limit that clears as orders fill or are cancelled,
/// which is what 503 with Retry-After says. (The gateway sends nothing to Nginx that makes
/// it retry: POSTs are not idempotent, so `proxy_next_upstream` leaves them alone.)
///
/// `post_only_would_cross` is 409: the request is well-formed, but conflicts with the
/// book's current state and may succeed later.
#[must_use]
pub fn from_reject(reason: RejectReason) -> Problem {
    use RejectReason as R;
    use StatusCode as S;
    let unprocessable = S::UNPROCESSABLE_ENTITY;
    let (status, code, title, field, detail): (_, _, _, Option<&str>, &str) = match reason {
        R::UnknownMarket => (
            S::NOT_FOUND,
            "market_not_found",
            "Market not found",
            Some("market"),
            "No market by that id or symbol.",
        ),
        R::PriceNotOnTick => (
            unprocessable,
            "price_not_on_tick",
            "Price not on tick",
            Some("price"),
            "The price is not a multiple of the market's tick size.",
        ),
        R::PriceOutOfBand => (
            unprocessable,
            "price_out_of_band",
            "Price out of band",
            Some("price"),
            "The price is outside the market's price band.",
        ),
        R::ZeroQuantity => (
            unprocessable,
            "zero_quantity",
            "Zero quantity",
            Some("quantity"),
            "The quantity must be greater than zero.",
        ),
        R::QuantityNotOnLot => (
            unprocessable,
            "quantity_not_on_lot",
            "Quantity not on lot",
            Some("quantity"),
            "The quantity is not a multiple of the market's lot size.",
        ),
        R::QuantityTooLarge => (
            unprocessable,
            "quantity_too_large",
            "Quantity too large",
            Some("quantity"),
            "The quantity exceeds the market's maximum order quantity.",
        ),
        R::Duplicate => (
            S::CONFLICT,
            "duplicate_client_order_id",
            "Duplicate client order id",
            Some("client_order_id"),
            "This account already used the client order id on a live or recent order.",
        ),
        R::BookFull => (
            S::SERVICE_UNAVAILABLE,
            "book_full",
            "Book full",
            None,
            "The market holds its maximum number of resting orders; retry later.",
        ),
        R::UnknownOrder => (
            S::NOT_FOUND,
            "order_not_found",
            "Order not found",
            None,
            "No live order of this account by that id.",
        ),
        R::InvalidOrderType => (
            unprocessable,
            "invalid_order_type",
            "Invalid order type",
            None,
            "This combination of order type, time in force and post-only is not allowed \
             (a market order must be IOC or FOK; a post-only order must be a GTC limit order).",
        ),
        R::NothingToAmend => (
            unprocessable,
            "nothing_to_amend",
            "Nothing to amend",
            None,
            "The amend changes neither price nor quantity.",
        ),
        R::QuantityBelowFilled => (
            unprocessable,
            "quantity_below_filled",
            "Quantity below filled",
            Some("quantity"),
            "The amended quantity is at or below what has already filled.",
        ),
        R::PostOnlyWouldCross => (
            S::CONFLICT,
            "post_only_would_cross",
            "Post-only order would cross",
            Some("price"),
            "At the amended price the post-only order would take liquidity; it is unchanged.",
        ),
    };
    let mut problem = Problem::new(status, code, title).with_detail(detail);
    if let Some(field) = field {
        problem = problem.with_field(field);
    }
    if reason == R::BookFull {
        problem = problem.with_retry_after(1);
    }
    problem
}

impl From<RejectReason> for Problem {
    fn from(reason: RejectReason) -> Self {
        from_reject(reason)
    }
}

// --- RBAC policy reloads. ---

/// Maps a policy that could not be (re)loaded to the answer of
/// `POST /v1/admin/policies/reload`; the previous policy stays in force.
///
/// | error | status | code |
/// |---|---|---|
/// | a malformed policy line, an empty policy, or a model casbin refuses | 422 | `policy_invalid` |
/// | a model or policy file that cannot be read | 422 | `policy_unreadable` |
///
/// 422 rather than 500: the gateway is healthy and still enforcing the previous policy; it
/// is the content of the files the caller asked it to apply that cannot be processed, and
/// the caller fixes them and asks again. 400 would blame the request, which has no body.
///
/// Unlike other 4xx details, `detail` here names the file, the line and the reason: only an
/// admin reaches this route, and they need exactly that to fix the file. A `Policy` error
/// also carries its 1-based `line` as an extension member (absent for whole-file faults).
#[must_use]
pub fn from_rbac(error: &RbacError) -> Problem {
    let (code, title) = match error {
        RbacError::Policy { .. } | RbacError::Model { .. } => ("policy_invalid", "Invalid policy"),
        RbacError::Read { .. } => ("policy_unreadable", "Policy unreadable"),
    };
    let problem = Problem::new(StatusCode::UNPROCESSABLE_ENTITY, code, title)
        .with_detail(format!("{error}. The previous policy stays in force."));
    match error {
        RbacError::Policy { line, .. } if *line > 0 => problem.with_extension("line", *line),
        _ => problem,
    }
}

impl From<&RbacError> for Problem {
    fn from(error: &RbacError) -> Self {
        from_rbac(error)
    }
}

pub use crate::extract::{
    ApiJson, ApiPath, ApiQuery, method_not_allowed_fallback, not_found_fallback,
};

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::{Body, to_bytes};

    fn is_problem_json(response: &Response) -> bool {
        response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            == Some(PROBLEM_JSON)
    }

    async fn body_of(response: Response) -> Value {
        let bytes = to_bytes(response.into_body(), 1 << 20).await.unwrap();
        serde_json::from_slice(&bytes).unwrap()
    }

    /// Sends `problem` through `IntoResponse` and checks the envelope every problem shares.
    async fn render(problem: Problem) -> (Response, Value) {
        let status = problem.status();
        let code = problem.code();
        let title = problem.title();
        let response = problem.into_response();
        assert_eq!(response.status(), status);
        assert!(is_problem_json(&response), "{:?}", response.headers());
        let headers = response.headers().clone();
        let body = body_of(response).await;
        assert_eq!(body["type"], format!("{PROBLEM_TYPE_BASE}{code}"));
        assert_eq!(body["title"], title);
        assert_eq!(body["status"], status.as_u16());
        assert_eq!(body["code"], code);
        let mut rebuilt = Response::new(Body::empty());
        *rebuilt.headers_mut() = headers;
        (rebuilt, body)
    }

    #[tokio::test]
    async fn every_constructor_renders_status_code_and_members() {
        let challenge = HeaderValue::from_static(r#"Bearer realm="tradeplane""#);
        let cases: Vec<(Problem, u16, &str)> = vec![
            (Problem::bad_request("bad_thing", "why"), 400, "bad_thing"),
            (
                Problem::unauthorized(challenge.clone()),
                401,
                "unauthorized",
            ),
            (Problem::forbidden("no"), 403, "forbidden"),
            (
                Problem::not_found("order_not_found", "gone"),
                404,
                "order_not_found",
            ),
            (Problem::method_not_allowed(), 405, "method_not_allowed"),
            (
                Problem::conflict("idempotency_key_in_use", "busy"),
                409,
                "idempotency_key_in_use",
            ),
            (Problem::payload_too_large(), 413, "payload_too_large"),
            (
                Problem::unsupported_media_type("json"),
                415,
                "unsupported_media_type",
            ),
            (
                Problem::unprocessable("bad_price", "price", "no"),
                422,
                "bad_price",
            ),
            (Problem::rate_limited(7), 429, "rate_limited"),
            (Problem::internal_without_cause(), 500, "internal"),
            (Problem::unavailable(3), 503, "unavailable"),
        ];
        for (problem, status, code) in cases {
            assert_eq!(problem.status().as_u16(), status);
            assert_eq!(problem.code(), code);
            let (response, body) = render(problem).await;
            assert!(body["detail"].is_string(), "{code}: detail missing");
            let retry = response.headers().get(RETRY_AFTER);
            match status {
                429 => {
                    assert_eq!(retry.unwrap(), "7");
                    assert_eq!(body["retry_after"], 7);
                }
                503 => assert_eq!(retry.unwrap(), "3"),
                _ => {
                    assert!(retry.is_none(), "{code}");
                    assert!(body.get("retry_after").is_none(), "{code}");
                }
            }
            let auth = response.headers().get(WWW_AUTHENTICATE);
            assert_eq!(auth, (status == 401).then_some(&challenge), "{code}");
            if status == 422 {
                assert_eq!(body["field"], "price");
            } else {
                assert!(body.get("field").is_none(), "{code}");
            }
        }
    }

    #[tokio::test]
    async fn a_problem_without_detail_or_field_omits_the_members() {
        let problem = Problem::new(StatusCode::GONE, "gone", "Gone");
        let (_, body) = render(problem).await;
        assert!(body.get("detail").is_none());
        assert!(body.get("field").is_none());
    }

    #[derive(Debug)]
    struct Secret;
    impl fmt::Display for Secret {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("password=hunter2 at db.internal:5432")
        }
    }
    impl StdError for Secret {}

    #[tokio::test]
    async fn internal_body_says_nothing_of_the_cause() {
        let problem = Problem::internal(&Secret, "loading the order");
        let response = problem.into_response();
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let bytes = to_bytes(response.into_body(), 1 << 20).await.unwrap();
        let text = String::from_utf8(bytes.to_vec()).unwrap();
        assert!(
            !text.contains("hunter2") && !text.contains("db.internal"),
            "{text}"
        );
        let body: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(body["detail"], INTERNAL_DETAIL);
        assert_eq!(body["code"], "internal");
    }

    #[tokio::test]
    async fn a_500_built_by_hand_still_hides_its_detail() {
        let problem = Problem::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "x")
            .with_detail("connection refused to 10.0.0.7");
        let (_, body) = render(problem).await;
        assert_eq!(body["detail"], INTERNAL_DETAIL);
    }

    #[test]
    fn extensions_never_override_standard_members() {
        let problem = Problem::conflict("duplicate_client_order_id", "dup")
            .with_extension("order_id", "ord_1")
            .with_extension("code", "evil")
            .with_extension("status", 200);
        let body = problem.to_json();
        assert_eq!(body["order_id"], "ord_1");
        assert_eq!(body["code"], "duplicate_client_order_id");
        assert_eq!(body["status"], 409);
    }

    #[test]
    fn problem_stays_small() {
        assert!(size_of::<Problem>() <= 128, "{}", size_of::<Problem>());
    }

    #[test]
    fn display_is_status_code_field_detail() {
        let problem = Problem::unprocessable("price_not_on_tick", "price", "off tick");
        assert_eq!(
            problem.to_string(),
            "422 price_not_on_tick (price): off tick"
        );
    }

    #[test]
    fn every_rbac_error_has_a_stable_problem() {
        let policy = RbacError::Policy {
            origin: "/etc/tp/policy.csv".into(),
            line: 12,
            reason: "scope `onw` is neither `any` nor `own`".into(),
        };
        let empty = RbacError::Policy {
            origin: "/etc/tp/policy.csv".into(),
            line: 0,
            reason: "no `p` rules".into(),
        };
        let model = RbacError::Model {
            origin: "/etc/tp/model.conf".into(),
            source: "bad matcher".into(),
        };
        let read = RbacError::Read {
            path: "/etc/tp/policy.csv".into(),
            source: std::io::Error::from(std::io::ErrorKind::NotFound),
        };
        for (error, code, line) in [
            (&policy, "policy_invalid", Some(12)),
            (&empty, "policy_invalid", None),
            (&model, "policy_invalid", None),
            (&read, "policy_unreadable", None),
        ] {
            let problem = Problem::from(error);
            assert_eq!(
                problem.status(),
                StatusCode::UNPROCESSABLE_ENTITY,
                "{error}"
            );
            assert_eq!(problem.code(), code, "{error}");
            let detail = problem.detail().unwrap();
            assert!(detail.contains("/etc/tp/"), "{detail}");
            assert!(
                detail.ends_with("The previous policy stays in force."),
                "{detail}"
            );
            let body = problem.to_json();
            assert_eq!(body.get("line").and_then(Value::as_u64), line, "{error}");
        }
    }

    #[test]
    fn every_reject_reason_has_a_stable_problem() {
        use RejectReason as R;
        let expected = [
            (R::UnknownMarket, 404, "market_not_found", Some("market")),
            (R::PriceNotOnTick, 422, "price_not_on_tick", Some("price")),
            (R::PriceOutOfBand, 422, "price_out_of_band", Some("price")),
            (R::ZeroQuantity, 422, "zero_quantity", Some("quantity")),
            (
                R::QuantityNotOnLot,
                422,
                "quantity_not_on_lot",
                Some("quantity"),
            ),
            (
                R::QuantityTooLarge,
                422,
                "quantity_too_large",
                Some("quantity"),
            ),
            (
                R::Duplicate,
                409,
                "duplicate_client_order_id",
                Some("client_order_id"),
            ),
            (R::BookFull, 503, "book_full", None),
            (R::UnknownOrder, 404, "order_not_found", None),
            (R::InvalidOrderType, 422, "invalid_order_type", None),
            (R::NothingToAmend, 422, "nothing_to_amend", None),
            (
                R::QuantityBelowFilled,
                422,
                "quantity_below_filled",
                Some("quantity"),
            ),
            (
                R::PostOnlyWouldCross,
                409,
                "post_only_would_cross",
                Some("price"),
            ),
        ];
        // The reasons are `repr(u8)` from 1: this catches a table that misses a variant
        // added without a new row (the exhaustive match in `from_reject` catches the rest).
        assert_eq!(expected.len(), R::PostOnlyWouldCross as usize);
        for (reason, status, code, field) in expected {
            let problem = from_reject(reason);
            assert_eq!(problem.status().as_u16(), status, "{reason:?}");
            assert_eq!(problem.code(), code, "{reason:?}");
            assert_eq!(problem.field(), field, "{reason:?}");
            assert!(problem.detail().is_some(), "{reason:?}");
            assert_eq!(problem.retry_after(), (reason == R::BookFull).then_some(1));
        }
    }
}
