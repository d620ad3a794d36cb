//! A typed Rust client for the tradeplane REST API.
//!
//! The client is generated from the committed OpenAPI document, `openapi/openapi.json`, by
//! progenitor (see `openapi/sdk-gen` for how and why). The generated source is committed
//! in `src/generated.rs` so that it can be read and reviewed; do not edit it. After the
//! document changes, regenerate with one command from the workspace root:
//!
//! ```sh
//! cargo run -q -p tradeplane-sdk-gen
//! ```
//!
//! A test in `tradeplane-sdk-gen` fails while the committed file differs from a fresh
//! generation, and the document itself is drift-checked against the gateway's routes.
//!
//! # Use
//!
//! ```no_run
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! use tradeplane_sdk::{Client, types};
//!
//! let client = Client::with_bearer_token("https://api.example", "<JWT>")?;
//! let order = client
//!     .place_order()
//!     .idempotency_key("order-7f1c2a") // retry-safe: same key and body, same answer
//!     .body_map(|b| {
//!         b.symbol("BTC-USD")
//!             .side(types::ApiSide::Buy)
//!             .type_(types::ApiOrderType::Limit)
//!             .price(Some("50000.00".to_owned()))
//!             .quantity("0.0100")
//!     })
//!     .send()
//!     .await?
//!     .into_inner();
//! client.cancel_order().id(&order.id).send().await?;
//! # Ok(())
//! # }
//! ```
//!
//! Every operation is a builder: path, query and header parameters are methods, the JSON
//! body is `body(…)` or `body_map(|b| …)`, and `send()` returns
//! `Result<ResponseValue<T>, Error<types::Problem>>`. A documented error status arrives as
//! [`Error::ErrorResponse`] holding the gateway's RFC 9457 problem (`code`, `field`,
//! `retry_after`); an undocumented one as [`Error::UnexpectedResponse`].
//!
//! Prices and quantities are decimal strings, exactly as the API takes them: the SDK never
//! turns them into floats.
//!
//! # Streams
//!
//! `GET /v1/stream` is a WebSocket, which progenitor cannot drive, so the SDK has no method
//! for it. Connect with any WebSocket client and exchange JSON text frames typed by
//! [`types::ClientMessage`] (out) and [`types::ServerMessage`] (in), both generated here
//! as internally tagged enums on their `type` field.

use std::time::Duration;

use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderValue, InvalidHeaderValue};

// Generated code is exempt from rustfmt (prettyplease already laid it out, and the drift
// test compares bytes) and from the lints it trips as emitted: typify's builders and
// `impl` blocks carry no docs, its paths are fully qualified (`::std::string::String`),
// progenitor's `Client::new` unwraps the reqwest builder (which fails only when no TLS
// backend can start), and the API's descriptions become doc comments verbatim, so a
// bracketed name in them reads to rustdoc as a link it cannot resolve.
#[rustfmt::skip]
#[allow(
    missing_docs,
    unused_qualifications,
    clippy::unwrap_used,
    rustdoc::broken_intra_doc_links
)]
mod generated;

pub use generated::*;

/// The timeouts of progenitor's own `Client::new`, kept for [`Client::with_bearer_token`].
const TIMEOUT: Duration = Duration::from_secs(15);

/// Why a client could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The token holds characters an HTTP header cannot carry.
    #[error("the bearer token is not a valid header value: {0}")]
    Token(#[source] InvalidHeaderValue),
    /// reqwest could not build its client (for example, no TLS backend could start).
    #[error("cannot build the HTTP client: {0}")]
    Http(#[source] reqwest::Error),
}

impl Client {
    /// A client that sends `Authorization: Bearer <token>` on every request, with the
    /// same 15 s connect and request timeouts as [`Client::new`].
    ///
    /// progenitor generates no authentication, because OpenAPI's security schemes do not
    /// say where a token comes from; this is the bearer scheme the gateway documents. For
    /// other settings (proxies, TLS roots, timeouts), build a `reqwest::Client` with the
    /// header yourself and pass it to [`Client::new_with_client`].
    ///
    /// # Errors
    ///
    /// [`ClientError::Token`] when `token` is not a valid header value;
    /// [`ClientError::Http`] when reqwest cannot build a client.
    pub fn with_bearer_token(base_url: &str, token: &str) -> Result<Self, ClientError> {
        let mut value =
            HeaderValue::from_str(&format!("Bearer {token}")).map_err(ClientError::Token)?;
        // Keeps the token out of `Debug` output and HTTP/2 header compression tables.
        value.set_sensitive(true);
        let mut headers = HeaderMap::new();
        headers.insert(AUTHORIZATION, value);
        let http = reqwest::Client::builder()
            .default_headers(headers)
            .connect_timeout(TIMEOUT)
            .timeout(TIMEOUT)
            .build()
            .map_err(ClientError::Http)?;
        Ok(Self::new_with_client(base_url, http))
    }
}
