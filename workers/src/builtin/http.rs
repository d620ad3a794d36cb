//! `http.request`: one HTTP call per attempt; a 2xx answer is success, anything else a
//! failed attempt with the status in the error.
//!
//! Choices, and why:
//! - **Redirects are not followed** (a 3xx is a failure): a redirect could point a worker at
//!   an internal address the job's author could not name directly (SSRF; Hook0 and the
//!   Standard Webhooks guidance do the same).
//! - **Timeouts on connect and on the whole exchange.** The total is capped by
//!   [`HttpConfig::timeout`] whatever the payload asks, and must stay below the pool's job
//!   timeout (itself below the visibility timeout), so a slow endpoint fails the attempt
//!   rather than getting the job reclaimed while it still runs.
//! - **`Idempotency-Key: <job id>`** is sent unless the payload sets it: the receiver's
//!   dedup key, the same on every attempt (the handler contract is at-least-once).
//! - The error keeps the status and the first bytes of the body (what an operator needs to
//!   see in `last_error`), and the URL without its query string (which may hold secrets).

use std::collections::BTreeMap;
use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use reqwest::{Method, StatusCode, Url};
use serde::Deserialize;

use crate::handler::{Handler, HandlerError, JobContext};

/// Client settings shared by every `http.request` job of a worker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpConfig {
    /// Limit on establishing a connection (5 s).
    pub connect_timeout: Duration,
    /// Limit on the whole exchange, and the most a payload's `timeout_ms` may ask (25 s,
    /// under the default 30 s job timeout).
    pub timeout: Duration,
    /// Bytes of an error answer's body kept in the error (512).
    pub error_body_bytes: usize,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            connect_timeout: Duration::from_secs(5),
            timeout: Duration::from_secs(25),
            error_body_bytes: 512,
        }
    }
}

/// Payload of `http.request`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpRequest {
    /// `http://` or `https://` URL.
    pub url: String,
    /// Method (default `POST`).
    #[serde(default = "post")]
    pub method: String,
    /// Extra request headers.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// A JSON body (sent with `content-type: application/json`).
    #[serde(default)]
    pub body: Option<serde_json::Value>,
    /// A tighter total timeout for this request, in milliseconds.
    #[serde(default)]
    pub timeout_ms: Option<u64>,
}

fn post() -> String {
    "POST".to_owned()
}

/// Why an HTTP attempt failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HttpError {
    /// The HTTP client could not be built.
    #[error("cannot build the HTTP client: {0}")]
    Client(#[source] reqwest::Error),
    /// The payload names an unusable request.
    #[error("invalid http.request: {0}")]
    Invalid(String),
    /// The endpoint answered with a status other than 2xx.
    #[error("HTTP {status} from {url}: {body}")]
    Status {
        /// The status.
        status: StatusCode,
        /// The URL, without query.
        url: String,
        /// The start of the answer's body.
        body: String,
    },
    /// No answer: connection refused, TLS failure, timeout.
    #[error("request to {url} failed")]
    Transport {
        /// The URL, without query.
        url: String,
        /// What went wrong.
        #[source]
        source: reqwest::Error,
    },
}

/// The `http.request` handler.
#[derive(Debug, Clone)]
pub struct HttpRequestHandler {
    client: reqwest::Client,
    config: HttpConfig,
}

impl HttpRequestHandler {
    /// A handler with its own client (connection pool).
    ///
    /// # Errors
    /// [`HttpError::Client`] if the client cannot be built.
    pub fn new(config: &HttpConfig) -> Result<Self, HttpError> {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(config.connect_timeout)
            .timeout(config.timeout)
            .build()
            .map_err(HttpError::Client)?;
        Ok(HttpRequestHandler {
            client,
            config: *config,
        })
    }

    async fn call(&self, ctx: &JobContext, req: HttpRequest) -> Result<(), HttpError> {
        let url = Url::parse(&req.url).map_err(|e| HttpError::Invalid(format!("url: {e}")))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(HttpError::Invalid("url must be http or https".into()));
        }
        let shown = shown_url(&url);
        let method = Method::from_bytes(req.method.as_bytes())
            .map_err(|_| HttpError::Invalid(format!("method {:?}", req.method)))?;
        let mut headers = HeaderMap::new();
        for (name, value) in &req.headers {
            let name = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| HttpError::Invalid(format!("header name {name:?}")))?;
            let value = HeaderValue::from_str(value)
                .map_err(|_| HttpError::Invalid(format!("value of header {name}")))?;
            headers.insert(name, value);
        }
        let key = HeaderName::from_static("idempotency-key");
        if !headers.contains_key(&key) {
            let value = HeaderValue::from_str(&ctx.idempotency_key())
                .map_err(|_| HttpError::Invalid("job id as header".into()))?;
            headers.insert(key, value);
        }
        let timeout = req
            .timeout_ms
            .map_or(self.config.timeout, Duration::from_millis)
            .min(self.config.timeout);
        let mut request = self
            .client
            .request(method, url)
            .headers(headers)
            .timeout(timeout);
        if let Some(body) = &req.body {
            request = request.json(body);
        }
        let transport = |source: reqwest::Error| HttpError::Transport {
            url: shown.clone(),
            source: source.without_url(),
        };
        let mut response = request.send().await.map_err(transport)?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        let mut body = Vec::new();
        while body.len() < self.config.error_body_bytes {
            match response.chunk().await {
                Ok(Some(chunk)) => body.extend_from_slice(&chunk),
                // The status is what matters; a body cut short is still worth showing.
                Ok(None) | Err(_) => break,
            }
        }
        body.truncate(self.config.error_body_bytes);
        Err(HttpError::Status {
            status,
            url: shown,
            body: String::from_utf8_lossy(&body).into_owned(),
        })
    }
}

impl Handler for HttpRequestHandler {
    type Payload = HttpRequest;

    async fn handle(&self, ctx: &JobContext, payload: HttpRequest) -> Result<(), HandlerError> {
        self.call(ctx, payload)
            .await
            .map_err(|e| HandlerError::Failed(Box::new(e)))
    }
}

/// The URL as errors show it: no query, no fragment, no credentials.
fn shown_url(url: &Url) -> String {
    let mut shown = url.clone();
    shown.set_query(None);
    shown.set_fragment(None);
    let _ = shown.set_password(None);
    let _ = shown.set_username("");
    shown.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_never_show_query_or_credentials() {
        let url = Url::parse("https://user:pw@example.com/hook?token=secret#x").expect("url");
        assert_eq!(shown_url(&url), "https://example.com/hook");
    }

    #[test]
    fn payload_defaults_to_post_and_refuses_unknown_fields() {
        let req: HttpRequest =
            serde_json::from_value(serde_json::json!({"url": "http://x/"})).expect("decode");
        assert_eq!((req.method.as_str(), req.body), ("POST", None));
        assert!(
            serde_json::from_value::<HttpRequest>(serde_json::json!({"url": "x", "bogus": 1}))
                .is_err()
        );
    }
}
