//! Feeds arbitrary bytes to the wire protocol's decoders: as one frame body, and as a
//! stream split into length-delimited frames the way the shard's connection reader does
//! (little-endian `u32` length, then that many bytes, at most `MAX_REQUEST_FRAME`).
//!
//! Besides "never panics", it checks that the manual split agrees with the shard's own
//! codec (`matcher::shard::frame_codec`), and that a body that decodes is exactly what the
//! encoder writes for the decoded value (one encoding per value), with no exceptions: a
//! market order's price field must be zero and an error message valid UTF-8.

#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use matcher::protocol::{
    MAX_REQUEST_FRAME, decode_request, decode_response, encode_request, encode_response,
};
use tokio_util::codec::Decoder;

/// Decodes `body` both ways; whatever decodes must re-encode to the same bytes.
fn decode_body(body: &[u8]) {
    if let Ok((id, request)) = decode_request(body) {
        let mut again = Vec::new();
        encode_request(&mut again, id, &request);
        assert_eq!(
            &again[4..],
            body,
            "request {request:?} has another encoding"
        );
    }
    if let Ok((id, response)) = decode_response(body) {
        let mut again = Vec::new();
        encode_response(&mut again, id, &response);
        assert_eq!(
            &again[4..],
            body,
            "response {response:?} has another encoding"
        );
    }
}

/// Why the frame stream stopped.
#[derive(Debug, PartialEq, Eq)]
enum Stop {
    /// Fewer bytes than the next length prefix announces (or than a prefix).
    Incomplete,
    /// A length over the limit: the shard answers `FrameTooLarge` and closes.
    TooLarge,
}

fuzz_target!(|data: &[u8]| {
    // The whole input as one frame body.
    decode_body(data);

    // The input as a stream of frames.
    let mut rest = data;
    let mut frames = Vec::new();
    let stop = loop {
        let Some(prefix) = rest.first_chunk::<4>() else {
            break Stop::Incomplete;
        };
        let len = u32::from_le_bytes(*prefix) as usize;
        if len > MAX_REQUEST_FRAME {
            break Stop::TooLarge;
        }
        let Some(body) = rest.get(4..4 + len) else {
            break Stop::Incomplete;
        };
        decode_body(body);
        frames.push(body);
        rest = &rest[4 + len..];
    };

    // The shard's own codec splits the stream the same way.
    let mut codec = matcher::shard::frame_codec(MAX_REQUEST_FRAME);
    let mut buf = BytesMut::from(data);
    for expected in frames {
        let frame = codec
            .decode(&mut buf)
            .expect("a frame")
            .expect("a whole frame");
        assert_eq!(&frame[..], expected);
    }
    match stop {
        Stop::Incomplete => assert!(matches!(codec.decode(&mut buf), Ok(None))),
        Stop::TooLarge => assert!(codec.decode(&mut buf).is_err()),
    }
});
