//! Retention: snapshots retire old journal segments, deleting or archiving them.

use std::path::Path;
use std::time::Duration;

use matcher::client::ClientError;
use matcher::protocol::ErrorCode;
use matcher::{AccountId, Side, shard};

use super::harness::{client, limit, start};

fn segment_files(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|r| {
            r.map(|e| e.unwrap().file_name().into_string().unwrap())
                .filter(|n| n.ends_with(".seg") && n.as_bytes()[0].is_ascii_digit())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

#[tokio::test]
async fn snapshots_retire_old_segments_by_deleting_or_archiving() {
    for archive in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let archive_dir = tempfile::tempdir().unwrap();
        let shard = start(dir.path(), |c| {
            c.segment_size = 64 * 1024;
            c.keep_snapshots = 1;
            if archive {
                c.archive_dir = Some(archive_dir.path().to_owned());
            }
        })
        .await;
        let c = client(shard.addr);
        for i in 0..1500u64 {
            let side = if i % 2 == 0 { Side::Buy } else { Side::Sell };
            c.submit(limit(
                1 + i % 4,
                i,
                side,
                100 + (i % 7) as i64 - 3,
                1 + i % 5,
            ))
            .await
            .unwrap();
        }
        let open_before = c.open_orders(AccountId(1), None).await.unwrap();
        let seq = c.snapshot().await.unwrap();
        assert_eq!(seq, 1500);
        let live = segment_files(dir.path());
        let archived = segment_files(archive_dir.path());
        // Everything before the snapshot's segment is gone from the data directory.
        assert!(live.len() <= 2, "live segments: {live:?}");
        assert!(live[0] != format!("{:020}.seg", 1), "{live:?}");
        if archive {
            assert!(archived.len() >= 3, "archived: {archived:?}");
            assert_eq!(archived[0], format!("{:020}.seg", 1));
        } else {
            assert!(archived.is_empty());
        }
        assert_eq!(shard::list_snapshots(dir.path()).unwrap().len(), 1);
        shard.shutdown().await;

        // Recovery needs only the snapshot and the segments that remain.
        let shard = start(dir.path(), |c| c.segment_size = 64 * 1024).await;
        let c = client(shard.addr);
        assert_eq!(
            c.open_orders(AccountId(1), None).await.unwrap(),
            open_before
        );
        assert_eq!(c.ping().await.unwrap().0, 1500);
        // The feed says plainly that retired events are gone.
        let mut sub = c.subscribe(1).await.unwrap();
        let first = tokio::time::timeout(Duration::from_secs(10), sub.next())
            .await
            .unwrap()
            .unwrap();
        assert!(
            matches!(
                first,
                Err(ClientError::Server {
                    code: ErrorCode::NotRetained,
                    ..
                })
            ),
            "{first:?}"
        );
        shard.shutdown().await;
    }
}
