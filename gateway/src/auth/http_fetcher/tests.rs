//! HTTP fetcher tests against loopback servers that answer with exact bytes (or never).

use std::error::Error as _;
use std::sync::Arc;
use std::time::Duration;

use reqwest::StatusCode;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

use super::*;
use crate::auth::test_support::JWKS_JSON;

const LIMIT: usize = 1024;

fn limits() -> HttpFetcherLimits {
    HttpFetcherLimits {
        max_body: LIMIT,
        ..HttpFetcherLimits::default()
    }
}

/// Answers every connection with `response` (raw HTTP/1.1) after reading the request head,
/// which it sends to the returned channel. Returns the URL to fetch.
async fn serve(response: Vec<u8>) -> (String, mpsc::UnboundedReceiver<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/jwks.json", listener.local_addr().unwrap());
    let (heads, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            let response = response.clone();
            let heads = heads.clone();
            tokio::spawn(async move { answer(stream, &response, &heads).await });
        }
    });
    (url, rx)
}

async fn answer(mut stream: TcpStream, response: &[u8], heads: &mpsc::UnboundedSender<String>) {
    let mut head = Vec::new();
    let mut buf = [0_u8; 1024];
    while !head.ends_with(b"\r\n\r\n") {
        let n = stream.read(&mut buf).await.unwrap();
        if n == 0 {
            return;
        }
        head.extend_from_slice(&buf[..n]);
    }
    let _ = heads.send(String::from_utf8_lossy(&head).into_owned());
    // The client may hang up early (a refused length); that is not the server's failure.
    let _ = stream.write_all(response).await;
    let _ = stream.shutdown().await;
}

fn with_length(status: &str, body: &[u8]) -> Vec<u8> {
    let mut response = format!(
        "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
         connection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    response.extend_from_slice(body);
    response
}

/// A chunked 200 (no `Content-Length`): `chunks` chunks of `size` bytes.
fn chunked(chunks: usize, size: usize) -> Vec<u8> {
    let mut response =
        b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n".to_vec();
    for _ in 0..chunks {
        response.extend_from_slice(format!("{size:x}\r\n").as_bytes());
        response.extend(std::iter::repeat_n(b' ', size));
        response.extend_from_slice(b"\r\n");
    }
    response.extend_from_slice(b"0\r\n\r\n");
    response
}

async fn fetch(url: &str, limits: HttpFetcherLimits) -> Result<Vec<u8>, HttpFetchError> {
    HttpFetcher::new(url, limits).unwrap().fetch_body().await
}

#[tokio::test]
async fn a_2xx_body_is_returned_and_the_request_asks_for_a_jwk_set() {
    let (url, mut heads) = serve(with_length("200 OK", JWKS_JSON.as_bytes())).await;
    let fetcher: Arc<dyn JwksFetcher> = Arc::new(HttpFetcher::new(&url, limits()).unwrap());
    assert_eq!(fetcher.fetch().await.unwrap(), JWKS_JSON.as_bytes());
    let head = heads.recv().await.unwrap().to_ascii_lowercase();
    assert!(head.starts_with("get /jwks.json http/1.1\r\n"), "{head}");
    assert!(head.contains("accept: application/jwk-set+json"), "{head}");
    assert!(head.contains("user-agent: tradeplane-gateway/"), "{head}");
}

#[tokio::test]
async fn a_non_2xx_status_is_an_error_and_redirects_are_not_followed() {
    for (status, code) in [
        ("404 Not Found", StatusCode::NOT_FOUND),
        (
            "500 Internal Server Error",
            StatusCode::INTERNAL_SERVER_ERROR,
        ),
        ("503 Service Unavailable", StatusCode::SERVICE_UNAVAILABLE),
    ] {
        let (url, _heads) = serve(with_length(status, JWKS_JSON.as_bytes())).await;
        let result = fetch(&url, limits()).await;
        assert!(
            matches!(result, Err(HttpFetchError::Status(s)) if s == code),
            "{status}: {result:?}"
        );
    }
    // Following would hit the closed port 1 and fail differently.
    let redirect = b"HTTP/1.1 302 Found\r\nlocation: http://127.0.0.1:1/jwks.json\r\n\
                     content-length: 0\r\nconnection: close\r\n\r\n";
    let (url, _heads) = serve(redirect.to_vec()).await;
    let result = fetch(&url, limits()).await;
    assert!(
        matches!(result, Err(HttpFetchError::Status(StatusCode::FOUND))),
        "{result:?}"
    );
}

#[tokio::test]
async fn the_trait_reports_failures_as_fetch_errors_with_the_cause() {
    let (url, _heads) = serve(with_length("500 Internal Server Error", b"{}")).await;
    let fetcher = HttpFetcher::new(&url, limits()).unwrap();
    let error = JwksFetcher::fetch(&fetcher).await.unwrap_err();
    assert!(matches!(error, JwksError::Fetch(_)), "{error:?}");
    let cause = error.source().unwrap().downcast_ref::<HttpFetchError>();
    assert!(
        matches!(
            cause,
            Some(HttpFetchError::Status(StatusCode::INTERNAL_SERVER_ERROR))
        ),
        "{cause:?}"
    );
}

#[tokio::test]
async fn a_body_over_the_limit_is_refused_whether_announced_or_streamed() {
    let big = vec![b' '; LIMIT + 1];
    for (name, response) in [
        ("content-length", with_length("200 OK", &big)),
        ("chunked", chunked(4, LIMIT / 2)),
        ("chunked, one byte over", chunked(LIMIT + 1, 1)),
    ] {
        let (url, _heads) = serve(response).await;
        let result = fetch(&url, limits()).await;
        assert!(
            matches!(result, Err(HttpFetchError::TooLarge { limit: LIMIT })),
            "{name}: {result:?}"
        );
    }
    // Exactly the limit is fine, both ways.
    for response in [with_length("200 OK", &big[..LIMIT]), chunked(2, LIMIT / 2)] {
        let (url, _heads) = serve(response).await;
        assert_eq!(fetch(&url, limits()).await.unwrap().len(), LIMIT);
    }
}

#[tokio::test]
async fn a_server_that_never_answers_hits_the_total_timeout() {
    // Accepts and holds connections, never writes: only the timeout can end the fetch.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/jwks.json", listener.local_addr().unwrap());
    let (accepted, mut accepted_rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut held = Vec::new();
        loop {
            held.push(listener.accept().await.unwrap().0);
            let _ = accepted.send(());
        }
    });
    let limits = HttpFetcherLimits {
        timeout: Duration::from_millis(200),
        ..limits()
    };
    let result = fetch(&url, limits).await;
    assert!(
        matches!(result, Err(HttpFetchError::Timeout(_))),
        "{result:?}"
    );
    // It was the answer that never came, not the connection.
    accepted_rx.recv().await.unwrap();
}

#[tokio::test]
async fn an_https_url_opens_with_a_tls_client_hello() {
    // No certificate is needed to see that TLS is compiled in and used: the first bytes
    // on the wire are a TLS handshake record (0x16, version 3.x), not an HTTP request line.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("https://{}/jwks.json", listener.local_addr().unwrap());
    let (first, mut first_rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.unwrap();
        let mut record = [0_u8; 3];
        stream.read_exact(&mut record).await.unwrap();
        let _ = first.send(record);
        // Dropping the stream ends the handshake.
    });
    let result = fetch(&url, limits()).await;
    assert!(
        matches!(result, Err(HttpFetchError::Request(_))),
        "{result:?}"
    );
    let record = first_rx.recv().await.unwrap();
    assert_eq!(record[..2], [0x16, 0x03], "{record:?}");
}

#[tokio::test]
async fn a_refused_connection_is_a_request_error() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let result = fetch(&format!("http://{closed}/jwks.json"), limits()).await;
    assert!(
        matches!(&result, Err(HttpFetchError::Request(e)) if e.is_connect()),
        "{result:?}"
    );
}

#[test]
fn only_absolute_http_urls_with_a_host_are_accepted() {
    for url in [
        "https://idp.example/.well-known/jwks.json",
        "http://127.0.0.1:8080/jwks",
        "HTTPS://IDP.EXAMPLE/keys",
    ] {
        assert!(parse_jwks_url(url).is_ok(), "{url}");
    }
    for (url, reason) in [
        ("", "not an absolute URL"),
        ("/jwks.json", "not an absolute URL"),
        ("idp.example/jwks.json", "not an absolute URL"),
        (
            "ftp://idp.example/jwks.json",
            "the scheme must be http or https",
        ),
        ("file:///etc/jwks.json", "the scheme must be http or https"),
        ("unix:/run/idp.sock", "the scheme must be http or https"),
        ("https://", "not an absolute URL"),
    ] {
        assert_eq!(parse_jwks_url(url).err(), Some(reason), "{url:?}");
    }
    assert!(matches!(
        HttpFetcher::new("ftp://idp.example/jwks.json", limits()),
        Err(HttpFetchError::InvalidUrl(_))
    ));
}

#[test]
fn loopback_hosts_are_recognised() {
    for (url, loopback) in [
        ("http://localhost:1/jwks", true),
        ("http://LOCALHOST/jwks", true),
        ("http://127.0.0.1/jwks", true),
        ("http://127.8.9.10/jwks", true),
        ("http://[::1]:8080/jwks", true),
        ("http://idp.example/jwks", false),
        ("http://10.0.0.1/jwks", false),
        ("http://[2001:db8::1]/jwks", false),
        ("http://localhost.idp.example/jwks", false),
    ] {
        assert_eq!(is_loopback(&Url::parse(url).unwrap()), loopback, "{url}");
    }
}
