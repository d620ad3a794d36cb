//! Recovery: from a snapshot plus the journal after it, and refusing a replay that
//! diverges from what the journal recorded.

use matcher::shard::ShardConfig;
use matcher::{AccountId, EventKind, Side, shard};

use super::harness::{client, engine_config, limit, start};

#[tokio::test]
async fn snapshot_on_request_then_recovery_uses_it() {
    let dir = tempfile::tempdir().unwrap();
    let shard = start(dir.path(), |_| {}).await;
    let c = client(shard.addr);
    for i in 0..50u64 {
        c.submit(limit(1, i, Side::Buy, 50 + i as i64, 1))
            .await
            .unwrap();
    }
    assert_eq!(c.snapshot().await.unwrap(), 50);
    for i in 50..60u64 {
        c.submit(limit(1, i, Side::Buy, 50 + i as i64, 1))
            .await
            .unwrap();
    }
    let before = c.ping().await.unwrap();
    shard.shutdown().await;
    assert_eq!(shard::list_snapshots(dir.path()).unwrap()[0].0, 50);

    let config = ShardConfig::new(engine_config(), dir.path().to_owned());
    let recovered = shard::recover(&ShardConfig {
        segment_size: 256 * 1024,
        ..config
    })
    .unwrap();
    assert_eq!(recovered.snapshot_seq, Some(50));
    assert_eq!(recovered.replayed, 10);
    assert_eq!(recovered.command_seq, before.0);
    assert_eq!(recovered.engine.open_orders(AccountId(1), None).len(), 60);
}

#[tokio::test]
async fn a_replay_that_diverges_from_the_journal_stops_start_up_naming_the_command() {
    let dir = tempfile::tempdir().unwrap();
    let shard = start(dir.path(), |_| {}).await;
    let c = client(shard.addr);
    for i in 0..10u64 {
        c.submit(limit(1, i, Side::Buy, 100 + i as i64, 1))
            .await
            .unwrap();
    }
    shard.shutdown().await;

    // Rewrite command 5's recorded events (a different order id) with a valid checksum:
    // only the replay check can notice.
    let scan = matcher::journal::scan(dir.path(), false, 256 * 1024).unwrap();
    let seg = &scan.segments[0].path;
    let original = std::fs::read(seg).unwrap();
    let mut rewritten = original[..matcher::journal::SEGMENT_HEADER].to_vec();
    matcher::journal::for_each_record(&scan, 1, u64::MAX, |mut r| {
        if r.command_seq == 5
            && let EventKind::Accepted(a) = &mut r.events[0].kind
        {
            a.order_id.0 += 100;
        }
        matcher::journal::encode_record(
            &mut rewritten,
            r.command_seq,
            r.first_event_seq,
            &r.command,
            &r.events,
        );
        Ok(())
    })
    .unwrap();
    rewritten.resize(original.len(), 0);
    std::fs::write(seg, &rewritten).unwrap();

    let mut config = ShardConfig::new(engine_config(), dir.path().to_owned());
    config.segment_size = 256 * 1024;
    let err = shard::recover(&config).unwrap_err();
    assert!(matches!(err, shard::ShardError::ReplayMismatch(_)), "{err}");
    let msg = err.to_string();
    assert!(msg.contains("command 5"), "{msg}");
    assert!(msg.contains("first difference at event"), "{msg}");
}
