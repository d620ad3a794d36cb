//! Backpressure: a full ring answers busy at once and loses nothing it accepted.

use std::time::Duration;

use matcher::protocol::{Request, Response, decode_response, encode_request};
use matcher::{AccountId, Side, shard};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::harness::{client, limit, start};

/// A clock that holds the matching thread on cue: the first command's timestamp read
/// blocks until released, so the ring can be filled deterministically.
struct GateClock {
    entered: std::sync::Mutex<Option<std::sync::mpsc::Sender<()>>>,
    release: std::sync::Mutex<std::sync::mpsc::Receiver<()>>,
}

impl shard::Clock for GateClock {
    fn now_nanos(&self) -> u64 {
        if let Some(tx) = self.entered.lock().unwrap().take() {
            let _ = tx.send(());
            let _ = self.release.lock().unwrap().recv();
        }
        1_700_000_000_000_000_000
    }
}

#[tokio::test]
async fn a_full_ring_answers_busy_at_once_and_nothing_is_lost() {
    let dir = tempfile::tempdir().unwrap();
    let (entered_tx, entered_rx) = std::sync::mpsc::channel();
    let (release_tx, release_rx) = std::sync::mpsc::channel();
    let clock = std::sync::Arc::new(GateClock {
        entered: std::sync::Mutex::new(Some(entered_tx)),
        release: std::sync::Mutex::new(release_rx),
    });
    let shard = start(dir.path(), |c| {
        c.ring_capacity = 4;
        c.clock = clock;
    })
    .await;
    let c = client(shard.addr);
    // The first command takes the matching thread into the gate.
    let first = tokio::spawn({
        let c = c.clone();
        async move { c.submit(limit(1, 0, Side::Buy, 10, 1)).await }
    });
    tokio::task::spawn_blocking(move || entered_rx.recv().unwrap())
        .await
        .unwrap();

    // Ten pipelined commands in one write: four fill the ring, six are refused at once.
    let mut s = TcpStream::connect(shard.addr).await.unwrap();
    let mut frames = Vec::new();
    for id in 1..=10u64 {
        encode_request(
            &mut frames,
            id,
            &Request::Command(limit(2, id, Side::Buy, 10, 1)),
        );
    }
    s.write_all(&frames).await.unwrap();
    async fn read_frame(s: &mut TcpStream) -> (u64, Response) {
        let mut len = [0u8; 4];
        s.read_exact(&mut len).await.unwrap();
        let mut body = vec![0u8; u32::from_le_bytes(len) as usize];
        s.read_exact(&mut body).await.unwrap();
        decode_response(&body).unwrap()
    }
    for expected in 5..=10u64 {
        let (id, response) = tokio::time::timeout(Duration::from_secs(10), read_frame(&mut s))
            .await
            .expect("busy answers come while the matching thread is held");
        assert_eq!((id, response), (expected, Response::Busy));
    }
    // Released: the four queued commands run, in order, and are acknowledged.
    release_tx.send(()).unwrap();
    assert_eq!(first.await.unwrap().unwrap().command_seq, 1);
    for expected in 1..=4u64 {
        let (id, response) = read_frame(&mut s).await;
        assert_eq!(id, expected);
        assert!(
            matches!(response, Response::Ack { command_seq, .. } if command_seq == expected + 1),
            "{response:?}"
        );
    }
    assert_eq!(c.open_orders(AccountId(2), None).await.unwrap().len(), 4);
    shard.shutdown().await;
}
