//! The WebSocket message types: generated as enums tagged by `type`, as the gateway sends
//! and reads them (the SDK has no WebSocket client; these are for the caller's own).

use serde_json::json;
use tradeplane_sdk::types::{ClientMessage, ServerMessage};

#[test]
fn client_messages_are_tagged_by_type() {
    let subscribe = ClientMessage::Subscribe {
        channel: "book:AAA-USD".to_owned(),
    };
    assert_eq!(
        serde_json::to_value(&subscribe).unwrap(),
        json!({"type": "subscribe", "channel": "book:AAA-USD"})
    );
}

#[test]
fn server_messages_decode_by_type() {
    let message: ServerMessage =
        serde_json::from_value(json!({"type": "subscribed", "channel": "orders"})).unwrap();
    assert!(
        matches!(&message, ServerMessage::Subscribed { channel } if channel == "orders"),
        "{message:?}"
    );
}
