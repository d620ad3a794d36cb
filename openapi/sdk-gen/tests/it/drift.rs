//! `openapi/sdk/src/generated.rs` must be exactly what `cargo run -q -p tradeplane-sdk-gen`
//! would write now. The generation runs in memory; nothing is written.

use serde_json::Value;
use tradeplane_sdk_gen::{COMMAND, OUTPUT_PATH, SPEC_PATH, downgrade, generate};

fn spec() -> String {
    std::fs::read_to_string(SPEC_PATH).unwrap()
}

#[test]
fn committed_sdk_matches_a_fresh_generation() {
    let fresh = generate(&spec()).unwrap();
    let committed = std::fs::read_to_string(OUTPUT_PATH).unwrap_or_default();
    if committed != fresh {
        // Name the first differing line: a whole-file assert_eq! would print 4,000 lines.
        let line = committed
            .lines()
            .zip(fresh.lines())
            .position(|(a, b)| a != b)
            .unwrap_or_else(|| committed.lines().count().min(fresh.lines().count()));
        panic!(
            "openapi/sdk/src/generated.rs is out of date with openapi/openapi.json (first \
             difference at line {}); regenerate it with `{COMMAND}` and commit the result",
            line + 1
        );
    }
}

/// Every 3.1-only spelling of the committed document is gone after the downgrade, so
/// progenitor sees the document's meaning and not a partial parse of it.
#[test]
fn the_committed_document_downgrades_to_plain_3_0() {
    let mut doc: Value = serde_json::from_str(&spec()).unwrap();
    assert_eq!(
        doc["openapi"], "3.1.0",
        "the gateway's document changed version"
    );
    downgrade::to_v3_0(&mut doc).unwrap();
    assert_eq!(doc["openapi"], "3.0.3");
    let mut leftovers = Vec::new();
    find_3_1_spellings(&doc, String::new(), &mut leftovers);
    assert!(leftovers.is_empty(), "3.1 constructs left: {leftovers:#?}");
    // openapiv3 (progenitor's reader) accepts the result as a whole.
    serde_json::from_value::<openapiv3::OpenAPI>(doc).unwrap();
}

/// Array-valued `type`s and `{"type": "null"}` schemas, wherever they are.
fn find_3_1_spellings(value: &Value, at: String, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            if map.get("type").is_some_and(|t| t.is_array() || t == "null") {
                out.push(at.clone());
            }
            for (key, child) in map {
                if key != "example" && key != "examples" {
                    find_3_1_spellings(child, format!("{at}/{key}"), out);
                }
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                find_3_1_spellings(child, format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
}
