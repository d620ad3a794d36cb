//! `auth.jwks_url`: fetching the JWKS over HTTP(S), bounded in time and size.
//!
//! The JWKS comes from the identity provider, so this client treats it like any other
//! remote input: it may be slow, down, wrong or hostile.
//!
//! - **Both a connect and a total timeout.** A refresh runs inside the request whose unknown
//!   `kid` triggered it, and the gateway's deadline (2 s by default) cancels that request.
//!   The defaults ([`HttpFetcherLimits::DEFAULT_TIMEOUT`]) are below it, so a slow provider
//!   yields a clean failure (logged, previous keys kept) rather than a cancelled fetch.
//! - **Only a 2xx body is a key set.** Redirects are not followed (a JWKS URL is a final
//!   address, and a redirect could downgrade HTTPS to HTTP); a 3xx is an error like a 5xx.
//! - **The body is bounded** ([`HttpFetcherLimits::DEFAULT_MAX_BODY`]): an announced
//!   `Content-Length` over the limit is refused before reading, and a chunked body is cut off
//!   as soon as it passes it. Real key sets are a few KiB.
//! - **TLS is rustls on the aws-lc-rs provider** (the crypto jsonwebtoken already uses),
//!   trusting the system's roots. `http://` is accepted for loopback and tests, with a
//!   warning for any other host: whoever can alter the key set can mint tokens.
//! - The standard `HTTPS_PROXY`/`HTTP_PROXY`/`NO_PROXY` variables are honoured, as egress
//!   through a proxy is common where an identity provider lives outside.

use std::net::IpAddr;
use std::time::Duration;

use reqwest::header::{ACCEPT, HeaderValue};
use reqwest::{StatusCode, Url, redirect};

use super::jwks::{FetchFuture, JwksError, JwksFetcher};

/// Time and size bounds of one JWKS fetch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HttpFetcherLimits {
    /// Longest the TCP connect (and TLS handshake) may take.
    pub connect_timeout: Duration,
    /// Longest the whole fetch may take, from connecting to the last body byte.
    pub timeout: Duration,
    /// Largest accepted body, in bytes.
    pub max_body: usize,
}

impl HttpFetcherLimits {
    /// Default connect timeout.
    pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
    /// Default total timeout: below the gateway's default request timeout (see the module
    /// docs).
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_millis(1500);
    /// Default body limit: 1 MiB, hundreds of times a real key set.
    pub const DEFAULT_MAX_BODY: usize = 1024 * 1024;
}

impl Default for HttpFetcherLimits {
    fn default() -> Self {
        Self {
            connect_timeout: Self::DEFAULT_CONNECT_TIMEOUT,
            timeout: Self::DEFAULT_TIMEOUT,
            max_body: Self::DEFAULT_MAX_BODY,
        }
    }
}

/// Why a JWKS could not be fetched over HTTP; the source of [`JwksError::Fetch`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HttpFetchError {
    /// The URL is not an absolute `http`/`https` URL with a host.
    #[error("invalid JWKS URL: {0}")]
    InvalidUrl(&'static str),
    /// The HTTP client could not be built (the TLS backend did not initialise).
    #[error("building the JWKS HTTP client")]
    Client(#[source] reqwest::Error),
    /// Connecting or the whole fetch took longer than its timeout.
    #[error("the JWKS request timed out")]
    Timeout(#[source] reqwest::Error),
    /// Connecting, TLS, or reading the response failed.
    #[error("requesting the JWKS")]
    Request(#[source] reqwest::Error),
    /// The endpoint answered with a status other than 2xx.
    #[error("the JWKS endpoint answered {0}")]
    Status(StatusCode),
    /// The body is larger than [`HttpFetcherLimits::max_body`].
    #[error("the JWKS response exceeds {limit} bytes")]
    TooLarge {
        /// The limit that was exceeded.
        limit: usize,
    },
}

/// Fetches the JWKS document from a URL; the [`JwksFetcher`] behind
/// [`super::JwksSource::Url`].
#[derive(Clone, Debug)]
pub struct HttpFetcher {
    client: reqwest::Client,
    url: Url,
    max_body: usize,
}

/// What the fetcher asks for: RFC 7517's media type, then plain JSON (what most providers
/// send).
const ACCEPT_JWKS: HeaderValue =
    HeaderValue::from_static("application/jwk-set+json, application/json;q=0.9");

impl HttpFetcher {
    /// A fetcher for `url` with the given limits. Nothing is fetched yet.
    ///
    /// # Errors
    ///
    /// [`HttpFetchError::InvalidUrl`] for anything but an absolute `http`/`https` URL with a
    /// host; [`HttpFetchError::Client`] if the TLS backend cannot be initialised.
    pub fn new(url: &str, limits: HttpFetcherLimits) -> Result<Self, HttpFetchError> {
        let url = parse_jwks_url(url).map_err(HttpFetchError::InvalidUrl)?;
        if url.scheme() == "http" && !is_loopback(&url) {
            tracing::warn!(
                %url,
                "the JWKS URL is plain http: anyone on the path can replace the signing keys"
            );
        }
        let client = reqwest::Client::builder()
            .connect_timeout(limits.connect_timeout)
            .timeout(limits.timeout)
            .redirect(redirect::Policy::none())
            .user_agent(concat!("tradeplane-gateway/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(HttpFetchError::Client)?;
        Ok(Self {
            client,
            url,
            max_body: limits.max_body,
        })
    }

    /// The URL fetched.
    #[must_use]
    pub fn url(&self) -> &Url {
        &self.url
    }

    /// GETs the URL and returns the body of a 2xx answer, within the limits.
    async fn fetch_body(&self) -> Result<Vec<u8>, HttpFetchError> {
        let mut response = self
            .client
            .get(self.url.clone())
            .header(ACCEPT, ACCEPT_JWKS)
            .send()
            .await
            .map_err(transport)?;
        let status = response.status();
        if !status.is_success() {
            return Err(HttpFetchError::Status(status));
        }
        let too_large = HttpFetchError::TooLarge {
            limit: self.max_body,
        };
        let announced = response
            .content_length()
            .map_or(0, |len| usize::try_from(len).unwrap_or(usize::MAX));
        if announced > self.max_body {
            return Err(too_large);
        }
        // At most the limit: an announced length cannot make this allocation large.
        let mut body = Vec::with_capacity(announced);
        while let Some(chunk) = response.chunk().await.map_err(transport)? {
            if chunk.len() > self.max_body - body.len() {
                return Err(too_large);
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }
}

impl JwksFetcher for HttpFetcher {
    fn fetch(&self) -> FetchFuture<'_> {
        Box::pin(async move {
            self.fetch_body()
                .await
                .map_err(|error| JwksError::Fetch(Box::new(error)))
        })
    }
}

/// Sorts a reqwest failure into a timeout or another transport error.
fn transport(error: reqwest::Error) -> HttpFetchError {
    if error.is_timeout() {
        HttpFetchError::Timeout(error)
    } else {
        HttpFetchError::Request(error)
    }
}

/// Parses a JWKS URL: absolute, `http` or `https`, with a host. The reason is fixed text
/// (the URL itself is the operator's to print).
pub(crate) fn parse_jwks_url(url: &str) -> Result<Url, &'static str> {
    let url = Url::parse(url).map_err(|_| "not an absolute URL")?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err("the scheme must be http or https");
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err("no host");
    }
    Ok(url)
}

/// Whether the URL names this machine (where plain http cannot be intercepted).
fn is_loopback(url: &Url) -> bool {
    let host = url.host_str().unwrap_or_default();
    host.eq_ignore_ascii_case("localhost")
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests;
