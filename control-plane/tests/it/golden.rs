//! The queued message format is pinned by a committed golden file: a change to the bytes a
//! producer writes must be deliberate (a new version), because consumers of the old build
//! read them during a rolling deploy. `UPDATE_GOLDEN=1 cargo test` rewrites the file.

use std::path::PathBuf;

use control_plane::Message;
use control_plane::queue::MESSAGE_VERSION;

fn golden(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name)
}

fn fixture() -> Message {
    Message {
        job_id: "job_0190b4c412347abc8def0123456789ab".parse().expect("id"),
        attempt: 3,
        job_type: "http.request".to_owned(),
    }
}

#[test]
fn message_v1_matches_the_golden_file() {
    assert_eq!(
        MESSAGE_VERSION, 1,
        "a new version needs its own golden file"
    );
    let path = golden("message_v1.json");
    let encoded = fixture().encode();
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, format!("{encoded}\n")).expect("write golden file");
    }
    let stored = std::fs::read_to_string(&path).expect("golden file (UPDATE_GOLDEN=1 writes it)");
    assert_eq!(stored.trim_end(), encoded, "the v1 wire format changed");
    // Bytes written by any earlier build stay readable.
    assert_eq!(
        Message::decode(stored.trim_end().as_bytes()).expect("decode"),
        fixture()
    );
}
