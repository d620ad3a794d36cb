//! Book deltas conflate for a reader that pauses, and a reader that stops reading is still
//! dropped (the client helpers are in [`crate::stream`]).
//!
//! Both tests first make the gateway's writer for one connection block: the reader asks
//! for the deep book's ~30 kB snapshot [`RESUBSCRIBES`] times (about 9 MB) and reads
//! nothing, while its socket receive buffer is 4 kB and the kernel holds at most a few MB
//! on the gateway's side. The last message it sends subscribes to `trades:AAA-USD`; the
//! gateway handles a connection's messages in order, so once the `stream_subscriptions`
//! gauge counts that subscription, every snapshot is queued behind a blocked writer.

use std::time::Duration;

use futures_util::StreamExt;
use gateway::auth::Role;
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tradeplane_sdk::types::ApiSide;

use crate::harness::{Stack, token, trader};
use crate::stream::{
    Book, MESSAGE_DEADLINE, Ws, connect, deep_book, next, next_of, rest_book, send, subscribe,
};
use crate::trades::eventually;

/// Snapshot requests that fill the reader's socket, with room to spare.
const RESUBSCRIBES: usize = 300;

/// Connects a reader with a 4 kB receive buffer and leaves its writer blocked behind
/// [`RESUBSCRIBES`] snapshots (see the module docs); returns once the gateway has taken
/// every request. `elsewhere`: subscriptions open on other connections.
async fn blocked_reader(stack: &Stack, elsewhere: usize) -> Ws {
    let mut ws = connect(stack, Some(&token("v", 60, &[Role::Viewer])), Some(4096)).await;
    for _ in 0..RESUBSCRIBES {
        send(
            &mut ws,
            json!({"type": "subscribe", "channel": "book:AAA-USD"}),
        )
        .await;
    }
    send(
        &mut ws,
        json!({"type": "subscribe", "channel": "trades:AAA-USD"}),
    )
    .await;
    let counted = format!("stream_subscriptions {}", elsewhere + 2);
    eventually("the blocked reader's last subscription", || async {
        let text = stack.metrics().await;
        text.lines().any(|l| l == counted).then_some(())
    })
    .await;
    ws
}

/// Places `count` sells on distinct prices far above the deep book's bids (nothing
/// trades): each changes one level.
async fn sells(stack: &Stack, count: usize) {
    for i in 0..count {
        let price = format!("{}.{:02}", 900 + i * 5 / 100, i * 5 % 100);
        stack.place_limit(&trader(2), ApiSide::Sell, &price).await;
    }
}

#[tokio::test]
async fn a_paused_reader_gets_merged_deltas_that_replay_to_the_rest_book() {
    const ORDERS: usize = 40;
    let stack = Stack::start().await;
    deep_book(&stack).await;
    let mut paused = blocked_reader(&stack, 0).await;
    sells(&stack, ORDERS).await;
    let expected = rest_book(&stack).await;

    // The reader catches up: snapshots (each resets its book), then the deltas queued
    // while it read nothing, which must chain from the last snapshot.
    let mut book: Option<Book> = None;
    let (mut seq, mut deltas) = (0, 0);
    while book.as_ref() != Some(&expected) {
        let m = next(&mut paused).await;
        match m["type"].as_str() {
            Some("book_snapshot") => {
                book = Some(Book::of(&m));
                seq = m["seq"].as_u64().unwrap();
                deltas = 0;
            }
            Some("book_delta") => {
                assert_eq!(m["prev_seq"].as_u64(), Some(seq), "gap or duplicate: {m}");
                seq = m["seq"].as_u64().unwrap();
                book.as_mut()
                    .expect("a delta before any snapshot")
                    .apply(&m);
                deltas += 1;
            }
            _ => {}
        }
    }
    // One merged delta is expected; a publication still on its way when the reader
    // started may add a few.
    assert!(
        (1..=ORDERS / 4).contains(&deltas),
        "{deltas} deltas for {ORDERS} orders"
    );
    stack.stop().await;
}

#[tokio::test]
async fn a_reader_that_stops_reading_is_dropped_after_the_stall_timeout() {
    let stack =
        Stack::start_configured(|c| c.stream_stall_timeout = Duration::from_millis(300)).await;
    deep_book(&stack).await;
    let t = trader(1);
    let mut normal = connect(&stack, Some(&t), None).await;
    next_of(&mut normal, "authenticated").await;
    subscribe(&mut normal, "orders").await;
    let mut stalled = blocked_reader(&stack, 1).await;
    // Its deltas merge into one waiting message: a stalled reader holds no more.
    sells(&stack, 20).await;
    eventually("the stalled reader's disconnection", || async {
        let text = stack.metrics().await;
        text.contains("stream_dropped_clients_total 1")
            .then_some(())
    })
    .await;

    // The normal reader is unaffected.
    let id = stack.place_limit(&t, ApiSide::Sell, "950.00").await;
    loop {
        let m = next_of(&mut normal, "order").await;
        if m["order_id"] == id.as_str() {
            assert_eq!(m["event"], "accepted");
            break;
        }
    }

    // The stalled reader finds the batch that was in flight, then the close frame.
    let mut snapshots = 0;
    let frame = tokio::time::timeout(MESSAGE_DEADLINE, async {
        while let Some(m) = stalled.next().await {
            match m.unwrap_or_else(|e| panic!("after {snapshots} snapshots: {e}")) {
                Message::Close(frame) => return frame,
                Message::Text(t) if t.contains("book_snapshot") => snapshots += 1,
                _ => {}
            }
        }
        None
    })
    .await
    .unwrap()
    .expect("a close frame");
    assert_eq!(frame.code, CloseCode::from(4008), "{frame:?}");
    assert!(
        snapshots < RESUBSCRIBES,
        "the stalled reader got everything"
    );
    stack.stop().await;
}
