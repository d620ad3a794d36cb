//! The event feed across the journal/live seam.

use std::time::Duration;

use matcher::{Event, Side};

use super::harness::{client, limit, start};

/// Collects `n` events from a subscription.
async fn take(sub: &mut matcher::client::Subscription, n: usize) -> Vec<Event> {
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        let e = tokio::time::timeout(Duration::from_secs(10), sub.next())
            .await
            .expect("feed stalled")
            .expect("feed closed")
            .unwrap();
        out.push(e);
    }
    out
}

#[tokio::test]
async fn feed_serves_from_zero_middle_and_head_without_gap_or_duplicate() {
    let dir = tempfile::tempdir().unwrap();
    let shard = start(dir.path(), |_| {}).await;
    let c = client(shard.addr);
    let mut all = Vec::new();
    for i in 0..200u64 {
        let side = if i % 2 == 0 { Side::Buy } else { Side::Sell };
        let ack = c
            .submit(limit(i % 3, i, side, 100 + (i % 5) as i64 - 2, 1 + i % 4))
            .await
            .unwrap();
        all.extend(ack.events);
    }
    let total = all.len();
    assert_eq!(all.last().unwrap().seq.0, total as u64);

    // From 0: everything, from the journal.
    let mut from_zero = c.subscribe(0).await.unwrap();
    assert_eq!(take(&mut from_zero, total).await, all);
    // From the middle.
    let mid = total / 2;
    let mut from_mid = c.subscribe(mid as u64 + 1).await.unwrap();
    assert_eq!(take(&mut from_mid, total - mid).await, all[mid..].to_vec());
    // From the head: only what comes next, live.
    let mut from_head = c.subscribe(total as u64 + 1).await.unwrap();

    // More commands while the subscriptions are live: all three see them, once each.
    let mut more = Vec::new();
    for i in 200..260u64 {
        let side = if i % 2 == 0 { Side::Buy } else { Side::Sell };
        more.extend(
            c.submit(limit(i % 3, i, side, 100, 1))
                .await
                .unwrap()
                .events,
        );
    }
    assert_eq!(take(&mut from_zero, more.len()).await, more);
    assert_eq!(take(&mut from_mid, more.len()).await, more);
    assert_eq!(take(&mut from_head, more.len()).await, more);

    // A subscriber that disconnects and resumes from its last sequence sees every event
    // exactly once.
    drop(from_head);
    let last_seen = more[more.len() / 2].seq.0;
    let mut resumed = c.subscribe(last_seen + 1).await.unwrap();
    let expected: Vec<Event> = more
        .iter()
        .filter(|e| e.seq.0 > last_seen)
        .copied()
        .collect();
    assert_eq!(take(&mut resumed, expected.len()).await, expected);
    shard.shutdown().await;
}
