//! Tests against the real Redis (`REDIS_URL`, default `redis://127.0.0.1:6379/`). Each test
//! writes under its own prefix and deletes its keys at the end; entries also carry TTLs of at
//! most a minute, so a failed test leaves nothing behind for long.

use std::time::{Duration, Instant};

use redis::AsyncCommands as _;

use super::*;

const TTL: Duration = Duration::from_secs(60);
const IN_FLIGHT_TTL: Duration = Duration::from_secs(30);

fn redis_url() -> String {
    std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379/".to_owned())
}

/// A prefix no other test (or run) shares.
fn unique_prefix(test: &str) -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!(
        "test:idem:{test}:{}:{nanos}:{}:",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

async fn store(test: &str, in_flight_ttl: Duration) -> IdempotencyStore {
    let conn = connection_manager(&redis_url(), Duration::from_secs(2)).unwrap();
    IdempotencyStore::new(conn, unique_prefix(test), TTL, in_flight_ttl)
}

/// Deletes every key under the store's prefix.
async fn cleanup(store: &IdempotencyStore) {
    let mut conn = store.conn.clone();
    let pattern = format!("{}*", store.prefix);
    let keys: Vec<String> = {
        let mut iter = conn.scan_match::<_, String>(&pattern).await.unwrap();
        let mut keys = Vec::new();
        while let Some(key) = futures_next(&mut iter).await {
            keys.push(key);
        }
        keys
    };
    if !keys.is_empty() {
        let _: () = conn.del(&keys).await.unwrap();
    }
}

async fn futures_next(iter: &mut redis::AsyncIter<'_, String>) -> Option<String> {
    iter.next_item().await.transpose().unwrap()
}

fn fp(n: u8) -> Fingerprint {
    Fingerprint([n; 32])
}

fn response(status: u16, body: &[u8]) -> StoredResponse {
    StoredResponse {
        status,
        headers: vec![
            ("content-type".into(), "application/json".into()),
            ("location".into(), "/v1/orders/ord_1".into()),
        ],
        body: body.to_vec(),
    }
}

fn proceed(begin: Begin) -> Guard {
    match begin {
        Begin::Proceed(guard) => guard,
        other => panic!("expected Proceed, got {other:?}"),
    }
}

async fn pttl(store: &IdempotencyStore, redis_key: &str) -> i64 {
    let mut conn = store.conn.clone();
    conn.pttl(redis_key).await.unwrap()
}

#[tokio::test]
async fn completed_response_is_replayed_byte_for_byte() {
    let store = store("replay", IN_FLIGHT_TTL).await;
    // Non-UTF-8 bytes survive the round trip.
    let sent = response(201, b"{\"id\":\"ord_1\"}\xff\x00");

    let guard = proceed(store.begin("alice", "k-1", fp(1)).await.unwrap());
    let redis_key = guard.redis_key().to_owned();
    assert_eq!(
        store.complete(guard, &sent).await.unwrap(),
        Finished::Stored
    );

    for _ in 0..2 {
        match store.begin("alice", "k-1", fp(1)).await.unwrap() {
            Begin::Replay(replayed) => assert_eq!(replayed, sent),
            other => panic!("expected Replay, got {other:?}"),
        }
    }
    // The response lives for `ttl`, not for the in-flight TTL.
    let left = pttl(&store, &redis_key).await;
    assert!(left > 55_000 && left <= 60_000, "PTTL {left}");
    cleanup(&store).await;
}

#[tokio::test]
async fn different_body_is_a_mismatch_in_flight_and_after_completion() {
    let store = store("mismatch", IN_FLIGHT_TTL).await;
    let guard = proceed(store.begin("alice", "k-1", fp(1)).await.unwrap());
    assert!(matches!(
        store.begin("alice", "k-1", fp(2)).await.unwrap(),
        Begin::Mismatch
    ));
    store.complete(guard, &response(200, b"ok")).await.unwrap();
    assert!(matches!(
        store.begin("alice", "k-1", fp(2)).await.unwrap(),
        Begin::Mismatch
    ));
    cleanup(&store).await;
}

#[tokio::test]
async fn concurrent_duplicates_exactly_one_proceeds() {
    let store = store("concurrent", IN_FLIGHT_TTL).await;
    // A second connection, as a second gateway replica would have.
    let other = IdempotencyStore::new(
        connection_manager(&redis_url(), Duration::from_secs(2)).unwrap(),
        store.prefix.clone(),
        TTL,
        IN_FLIGHT_TTL,
    );
    for i in 0..20 {
        let key = format!("k-{i}");
        let (a, b) = tokio::join!(
            store.begin("alice", &key, fp(1)),
            other.begin("alice", &key, fp(1))
        );
        let (a, b) = (a.unwrap(), b.unwrap());
        let (guard, loser) = match (a, b) {
            (Begin::Proceed(g), loser) | (loser, Begin::Proceed(g)) => (g, loser),
            (a, b) => panic!("nobody proceeded: {a:?} {b:?}"),
        };
        assert!(matches!(loser, Begin::InFlight), "{loser:?}");
        store.complete(guard, &response(201, b"x")).await.unwrap();
    }
    cleanup(&store).await;
}

#[tokio::test]
async fn abandon_lets_a_retry_proceed() {
    let store = store("abandon", IN_FLIGHT_TTL).await;
    let guard = proceed(store.begin("alice", "k-1", fp(1)).await.unwrap());
    assert!(matches!(
        store.begin("alice", "k-1", fp(1)).await.unwrap(),
        Begin::InFlight
    ));
    assert_eq!(store.abandon(guard).await.unwrap(), Finished::Released);
    // The retry may even carry a different body: nothing was recorded.
    let guard = proceed(store.begin("alice", "k-1", fp(2)).await.unwrap());
    store.abandon(guard).await.unwrap();
    cleanup(&store).await;
}

#[tokio::test]
async fn finish_stores_final_answers_and_releases_retryable_ones() {
    let store = store("finish", IN_FLIGHT_TTL).await;
    for status in [500, 503, 408, 429] {
        let key = format!("k-{status}");
        let guard = proceed(store.begin("alice", &key, fp(1)).await.unwrap());
        let outcome = store.finish(guard, &response(status, b"e")).await.unwrap();
        assert_eq!(outcome, Finished::Released, "{status}");
        let guard = proceed(store.begin("alice", &key, fp(1)).await.unwrap());
        store.abandon(guard).await.unwrap();
    }
    for status in [200, 201, 204, 400, 404, 409, 422] {
        let key = format!("k-{status}");
        let guard = proceed(store.begin("alice", &key, fp(1)).await.unwrap());
        let sent = response(status, b"answer");
        assert_eq!(store.finish(guard, &sent).await.unwrap(), Finished::Stored);
        match store.begin("alice", &key, fp(1)).await.unwrap() {
            Begin::Replay(replayed) => assert_eq!(replayed, sent),
            other => panic!("{status}: expected Replay, got {other:?}"),
        }
    }
    cleanup(&store).await;
}

#[tokio::test]
async fn in_flight_marker_expires_and_a_late_handler_cannot_overwrite_the_retry() {
    let store = store("expiry", Duration::from_millis(200)).await;
    let stale = proceed(store.begin("alice", "k-1", fp(1)).await.unwrap());
    let redis_key = stale.redis_key().to_owned();
    let left = pttl(&store, &redis_key).await;
    assert!(left > 0 && left <= 200, "PTTL {left}");

    // Wait on Redis' own expiry (PTTL -2: key gone), bounded.
    let deadline = Instant::now() + Duration::from_secs(5);
    while pttl(&store, &redis_key).await != -2 {
        assert!(Instant::now() < deadline, "marker did not expire");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    let fresh = proceed(store.begin("alice", "k-1", fp(1)).await.unwrap());
    // The first handler finishing late finds the retry's marker, not its own.
    let late = store
        .complete(stale, &response(201, b"late"))
        .await
        .unwrap();
    assert_eq!(late, Finished::MarkerLost);
    assert!(matches!(
        store.begin("alice", "k-1", fp(1)).await.unwrap(),
        Begin::InFlight
    ));
    let ours = response(201, b"fresh");
    assert_eq!(
        store.complete(fresh, &ours).await.unwrap(),
        Finished::Stored
    );
    match store.begin("alice", "k-1", fp(1)).await.unwrap() {
        Begin::Replay(replayed) => assert_eq!(replayed, ours),
        other => panic!("expected Replay, got {other:?}"),
    }
    cleanup(&store).await;
}

#[tokio::test]
async fn abandon_after_expiry_does_not_release_someone_elses_claim() {
    let store = store("abandon-expiry", Duration::from_millis(100)).await;
    let stale = proceed(store.begin("alice", "k-1", fp(1)).await.unwrap());
    let redis_key = stale.redis_key().to_owned();
    let deadline = Instant::now() + Duration::from_secs(5);
    while pttl(&store, &redis_key).await != -2 {
        assert!(Instant::now() < deadline, "marker did not expire");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let fresh = proceed(store.begin("alice", "k-1", fp(1)).await.unwrap());
    assert_eq!(store.abandon(stale).await.unwrap(), Finished::MarkerLost);
    assert!(
        pttl(&store, &redis_key).await > 0,
        "fresh claim was released"
    );
    store.abandon(fresh).await.unwrap();
    cleanup(&store).await;
}

#[tokio::test]
async fn keys_are_per_principal() {
    let store = store("principals", IN_FLIGHT_TTL).await;
    let a = proceed(store.begin("alice", "k-1", fp(1)).await.unwrap());
    let b = proceed(store.begin("bob", "k-1", fp(2)).await.unwrap());
    // A principal shaped to smuggle a key boundary gets its own namespace too.
    let c = proceed(store.begin("alice}:{k", "1", fp(3)).await.unwrap());
    assert_ne!(a.redis_key(), c.redis_key());
    store.complete(a, &response(201, b"a")).await.unwrap();
    store.complete(b, &response(201, b"b")).await.unwrap();
    store.abandon(c).await.unwrap();
    cleanup(&store).await;
}

#[tokio::test]
async fn invalid_keys_are_refused_before_touching_redis() {
    // An unreachable Redis: InvalidKey must win over Unavailable.
    let conn = connection_manager("redis://127.0.0.1:1/", Duration::from_millis(200)).unwrap();
    let store = IdempotencyStore::new(conn, unique_prefix("invalid"), TTL, IN_FLIGHT_TTL);
    let too_long = "a".repeat(MAX_KEY_LEN + 1);
    for key in [
        "",
        "tab\there",
        "new\nline",
        "caf\u{e9}",
        "\u{7f}",
        too_long.as_str(),
    ] {
        let err = store.begin("alice", key, fp(1)).await.unwrap_err();
        assert_eq!(err, IdempotencyError::InvalidKey, "{key:?}");
        assert!(!err.retryable());
    }
    assert!(validate_key(&"~".repeat(MAX_KEY_LEN)).is_ok());
    assert!(validate_key(" !ok-key_1:2/3 ").is_ok());
}

#[tokio::test]
async fn unreachable_redis_is_unavailable_quickly() {
    let conn = connection_manager("redis://127.0.0.1:1/", Duration::from_millis(200)).unwrap();
    let store = IdempotencyStore::new(conn, unique_prefix("down"), TTL, IN_FLIGHT_TTL)
        .with_op_timeout(Duration::from_millis(500));
    for _ in 0..3 {
        let started = Instant::now();
        let err = store.begin("alice", "k-1", fp(1)).await.unwrap_err();
        assert!(matches!(err, IdempotencyError::Unavailable(_)), "{err:?}");
        assert!(err.retryable());
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{:?}",
            started.elapsed()
        );
    }
}

#[tokio::test]
async fn unreadable_records_are_corrupt_and_left_alone() {
    let store = store("corrupt", IN_FLIGHT_TTL).await;
    let mut conn = store.conn.clone();
    let cases = [
        ("garbage", "not json".to_owned()),
        (
            "future",
            r#"{"v":2,"fp":"AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=","state":"in_flight","token":"t"}"#
                .to_owned(),
        ),
        ("short-fp", r#"{"v":1,"fp":"AQ==","state":"in_flight","token":"t"}"#.to_owned()),
    ];
    for (key, value) in cases {
        let redis_key = store.redis_key("alice", key);
        let _: () = conn.set_ex(&redis_key, &value, 60).await.unwrap();
        let err = store.begin("alice", key, fp(1)).await.unwrap_err();
        assert!(
            matches!(err, IdempotencyError::Corrupt(_)),
            "{key}: {err:?}"
        );
        assert!(!err.retryable());
        let still: String = conn.get(&redis_key).await.unwrap();
        assert_eq!(still, value);
    }
    cleanup(&store).await;
}

#[tokio::test]
async fn redis_keys_escape_the_hash_tag() {
    let conn = connection_manager("redis://127.0.0.1:1/", Duration::from_millis(200)).unwrap();
    let store = IdempotencyStore::new(conn, "tp:", TTL, IN_FLIGHT_TTL);
    assert_eq!(store.redis_key("usr_1", "k"), "tp:idem:{usr_1}:k");
    assert_eq!(store.redis_key("a}:{b%", "k"), "tp:idem:{a%7D:%7Bb%25}:k");
    assert_ne!(store.redis_key("a}:{b", "c"), store.redis_key("a", "{b}:c"));
}

/// Golden encoding of format version 1: records already in Redis must stay readable.
#[test]
fn record_format_v1_is_stable() {
    let done = Record::done(fp(1), &response(201, b"{}"));
    let golden = r#"{"v":1,"fp":"AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=","state":"done","status":201,"headers":[["content-type","application/json"],["location","/v1/orders/ord_1"]],"body":"e30="}"#;
    assert_eq!(encode(&done).unwrap(), golden);
    let decoded = decode(golden.as_bytes()).unwrap();
    assert_eq!(decoded.fingerprint().unwrap(), fp(1));
    assert!(matches!(decoded.state, State::Done { status: 201, .. }));

    let marker = Record::in_flight(fp(1), "0123".into());
    let golden = r#"{"v":1,"fp":"AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=","state":"in_flight","token":"0123"}"#;
    assert_eq!(encode(&marker).unwrap(), golden);
    assert!(matches!(
        decode(golden.as_bytes()).unwrap().state,
        State::InFlight { .. }
    ));
}

#[test]
fn tokens_are_unique() {
    let tokens: std::collections::HashSet<String> = (0..1000).map(|_| new_token()).collect();
    assert_eq!(tokens.len(), 1000);
    assert!(tokens.iter().all(|t| t.len() == 32));
}
