//! Connections: malformed input closes only its own connection; a stopped shard fails fast
//! and clients reconnect.

use std::time::Duration;

use matcher::client::ClientError;
use matcher::protocol::{ErrorCode, Request, Response, decode_response, encode_request};
use matcher::shard::ShardConfig;
use matcher::{Side, shard};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

use super::harness::{client, engine_config, limit, start};

#[tokio::test]
async fn malformed_input_closes_only_that_connection_with_an_error_frame() {
    let dir = tempfile::tempdir().unwrap();
    let shard = start(dir.path(), |_| {}).await;
    let c = client(shard.addr);
    c.submit(limit(1, 1, Side::Buy, 100, 1)).await.unwrap();

    for garbage in [
        // A valid length, then a request type that does not exist.
        {
            let mut f = vec![];
            f.extend_from_slice(&10u32.to_le_bytes());
            f.extend_from_slice(&[1, 99, 7, 0, 0, 0, 0, 0, 0, 0]);
            f
        },
        // A wrong protocol version.
        {
            let mut f = vec![];
            encode_request(&mut f, 5, &Request::Ping);
            f[4] = 9;
            f
        },
        // A frame larger than the limit.
        (u32::MAX).to_le_bytes().to_vec(),
    ] {
        let mut s = TcpStream::connect(shard.addr).await.unwrap();
        s.write_all(&garbage).await.unwrap();
        let mut buf = Vec::new();
        tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut buf))
            .await
            .expect("connection closed")
            .unwrap();
        let (_, response) = decode_response(&buf[4..]).unwrap();
        assert!(
            matches!(response, Response::Error { code, .. } if code != ErrorCode::Internal),
            "{response:?}"
        );
    }
    // The shard and other connections are unaffected.
    let ack = c.submit(limit(1, 2, Side::Buy, 100, 1)).await.unwrap();
    assert_eq!(ack.command_seq, 2);
    shard.shutdown().await;
}

#[tokio::test]
async fn a_stopped_shard_answers_unavailable_quickly_and_clients_reconnect() {
    let dir = tempfile::tempdir().unwrap();
    let shard = start(dir.path(), |_| {}).await;
    let addr = shard.addr;
    let c = client(addr);
    c.submit(limit(1, 1, Side::Buy, 100, 1)).await.unwrap();
    shard.shutdown().await;
    let err = c.ping().await.unwrap_err();
    assert!(err.retryable(), "{err}");
    // Nothing listens: the dial fails and the client backs off, failing fast.
    let started = std::time::Instant::now();
    for _ in 0..5 {
        let err = c.ping().await.unwrap_err();
        assert!(
            matches!(err, ClientError::Unavailable(_) | ClientError::Disconnected),
            "{err}"
        );
    }
    assert!(started.elapsed() < Duration::from_secs(3));
    // Restarted on the same address: the client reconnects once its backoff passes.
    let listener = loop {
        match TcpListener::bind(addr).await {
            Ok(l) => break l,
            Err(_) => tokio::task::yield_now().await,
        }
    };
    let mut config = ShardConfig::new(engine_config(), dir.path().to_owned());
    config.segment_size = 256 * 1024;
    let stop = CancellationToken::new();
    let task = tokio::spawn(shard::run(config, listener, stop.clone()));
    let mut answer = c.ping().await;
    for _ in 0..100 {
        if answer.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        answer = c.ping().await;
    }
    assert_eq!(answer.unwrap().0, 1);
    stop.cancel();
    task.await.unwrap().unwrap();
}
