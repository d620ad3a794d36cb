//! One keep-alive HTTP/1.1 connection to the gateway, as a real client would hold it.
//!
//! hyper's connection-level client, not a pooled one: the generator must control exactly
//! how many connections it opens (`--connections`), and each one carries one request at a
//! time. TCP_NODELAY is set, as on the server side.

use std::net::SocketAddr;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::{self, SendRequest};
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// Why a request got no HTTP answer.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ConnectionError {
    /// Connecting failed.
    #[error("connect to {addr}: {source}")]
    Connect {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    /// The HTTP exchange failed (connection reset, protocol error).
    #[error("http: {0}")]
    Http(#[from] hyper::Error),
    /// The request could not be built (a bad header value).
    #[error("request: {0}")]
    Request(#[from] hyper::http::Error),
}

/// A request to send: method, path and query, bearer token, optional JSON body.
#[derive(Debug)]
pub(crate) struct Call<'a> {
    pub(crate) method: Method,
    pub(crate) path: &'a str,
    pub(crate) bearer: &'a str,
    pub(crate) json: Option<Bytes>,
}

/// An answer: status and body.
#[derive(Debug)]
pub(crate) struct Answer {
    pub(crate) status: StatusCode,
    pub(crate) body: Bytes,
}

/// A connection that reconnects on the next call after a failure.
pub(crate) struct Connection {
    addr: SocketAddr,
    host: String,
    sender: Option<SendRequest<Full<Bytes>>>,
}

impl Connection {
    /// A connection to `addr`, dialled on first use; `host` is the `Host` header.
    pub(crate) fn new(addr: SocketAddr, host: String) -> Self {
        Self {
            addr,
            host,
            sender: None,
        }
    }

    /// The gateway's address.
    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The `Host` header sent.
    pub(crate) fn host(&self) -> &str {
        &self.host
    }

    async fn dial(&self) -> Result<SendRequest<Full<Bytes>>, ConnectionError> {
        let addr = self.addr;
        let stream = TcpStream::connect(addr)
            .await
            .map_err(|source| ConnectionError::Connect { addr, source })?;
        stream
            .set_nodelay(true)
            .map_err(|source| ConnectionError::Connect { addr, source })?;
        let (sender, connection) = http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(async move {
            // Ends when the sender is dropped or the peer closes; a failure surfaces as the
            // next request's error.
            let _ = connection.await;
        });
        Ok(sender)
    }

    /// Sends `call` and reads the whole answer. After an error the connection is dropped
    /// and the next call dials again.
    pub(crate) async fn send(&mut self, call: Call<'_>) -> Result<Answer, ConnectionError> {
        let request = self.request(call)?;
        let mut sender = match self.sender.take() {
            Some(sender) if !sender.is_closed() => sender,
            _ => self.dial().await?,
        };
        sender.ready().await?;
        let response = sender.send_request(request).await?;
        let status = response.status();
        let body = response.into_body().collect().await?.to_bytes();
        self.sender = Some(sender);
        Ok(Answer { status, body })
    }

    fn request(&self, call: Call<'_>) -> Result<Request<Full<Bytes>>, ConnectionError> {
        let mut builder = Request::builder()
            .method(call.method)
            .uri(call.path)
            .header(hyper::header::HOST, &self.host)
            .header(
                hyper::header::AUTHORIZATION,
                format!("Bearer {}", call.bearer),
            );
        let body = match call.json {
            Some(json) => {
                builder = builder.header(hyper::header::CONTENT_TYPE, "application/json");
                Full::new(json)
            }
            None => Full::new(Bytes::new()),
        };
        Ok(builder.body(body)?)
    }
}
