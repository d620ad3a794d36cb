//! Error messages: cut to at most 1 KiB on a character boundary, and valid UTF-8 only (both
//! once loose).

use matcher::codec::DecodeError;
use matcher::protocol::{ErrorCode, FrameError, Response, decode_response, encode_response};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::Index;

use super::config;
use super::frames::body_of;

#[test]
fn error_messages_are_cut_to_1_kib() {
    let mut buf = Vec::new();
    let long = Response::Error {
        code: ErrorCode::Internal,
        message: "x".repeat(5000),
    };
    encode_response(&mut buf, 1, &long);
    let (_, decoded) = decode_response(&buf[4..]).unwrap();
    assert_eq!(
        decoded,
        Response::Error {
            code: ErrorCode::Internal,
            message: "x".repeat(1024),
        }
    );
}

/// The longest error message the encoder writes, in bytes.
const MAX_ERROR_MESSAGE: usize = 1024;

/// Encodes an error response and returns the frame body (after the length prefix).
fn error_body(message: &str) -> Vec<u8> {
    let mut buf = Vec::new();
    encode_response(
        &mut buf,
        9,
        &Response::Error {
            code: ErrorCode::Malformed,
            message: message.to_owned(),
        },
    );
    body_of(&buf, 0).to_vec()
}

/// An error response body whose message is `bytes`, valid UTF-8 or not, of any length.
fn error_body_with_message_bytes(bytes: &[u8]) -> Vec<u8> {
    let mut body = error_body("");
    // The message is the body's last field: a `u32` byte count (here 0), then the bytes.
    let count = body.len() - 4;
    assert_eq!(body[count..], [0; 4]);
    body.truncate(count);
    body.extend_from_slice(&u32::try_from(bytes.len()).unwrap().to_le_bytes());
    body.extend_from_slice(bytes);
    body
}

/// Encodes `message` in an error response, checks what it decodes to against the rules
/// (a prefix of `message` cut on a char boundary, at most 1 KiB, the longest such prefix,
/// encoded canonically) and returns it.
fn error_round_trip(message: &str) -> Result<String, TestCaseError> {
    let body = error_body(message);
    let Ok((9, Response::Error { code, message: got })) = decode_response(&body) else {
        return Err(TestCaseError::fail(format!(
            "an encoded error does not decode: {:?}",
            decode_response(&body)
        )));
    };
    prop_assert_eq!(code, ErrorCode::Malformed);
    prop_assert!(got.len() <= MAX_ERROR_MESSAGE, "{} bytes", got.len());
    prop_assert!(message.is_char_boundary(got.len()));
    prop_assert!(message.starts_with(got.as_str()));
    match message[got.len()..].chars().next() {
        // Cut: the next character would not have fitted.
        Some(next) => prop_assert!(got.len() + next.len_utf8() > MAX_ERROR_MESSAGE),
        None => prop_assert_eq!(got.len(), message.len()),
    }
    prop_assert_eq!(
        error_body(&got),
        body,
        "the cut message encodes as it was sent"
    );
    Ok(got)
}

/// A message of mostly multi-byte characters, sometimes over 1 KiB, with an ASCII lead-in
/// of any length so that the 1 KiB cut falls at every offset within a character.
fn error_message() -> impl Strategy<Value = String> {
    prop_oneof![
        vec(any::<char>(), 0..600).prop_map(|c| c.into_iter().collect()),
        (
            0usize..4,
            proptest::sample::select(vec!["é", "€", "😀"]),
            0usize..700
        )
            .prop_map(|(ascii, c, n)| "x".repeat(ascii) + &c.repeat(n)),
    ]
}

proptest! {
    #![proptest_config(config())]

    /// Any message, however long, comes back as the longest prefix of at most 1 KiB that
    /// ends on a character boundary, and that prefix encodes as it was sent.
    #[test]
    fn error_messages_are_cut_to_the_longest_prefix_that_fits(message in error_message()) {
        error_round_trip(&message)?;
    }

    /// An error frame decodes exactly when its message bytes are valid UTF-8, and then to
    /// those bytes.
    #[test]
    fn error_frames_decode_only_with_utf8_messages(
        bytes in prop_oneof![
            vec(any::<u8>(), 0..48),
            // Valid text with one byte changed: mostly invalid, sometimes still valid.
            (error_message(), any::<Index>(), any::<u8>()).prop_map(|(m, at, value)| {
                let mut b = m.into_bytes();
                b.truncate(MAX_ERROR_MESSAGE);
                if !b.is_empty() {
                    let i = at.index(b.len());
                    b[i] = value;
                }
                b
            }),
        ],
    ) {
        let body = error_body_with_message_bytes(&bytes);
        match (std::str::from_utf8(&bytes), decode_response(&body)) {
            (Ok(text), Ok((_, Response::Error { message, .. }))) => {
                prop_assert_eq!(message.as_str(), text);
            }
            (Err(_), Err(FrameError::Decode(DecodeError::Invalid { what, offset, .. }))) => {
                prop_assert_eq!(what, "error message");
                prop_assert_eq!(offset, body.len() - bytes.len(), "the message's offset");
            }
            (utf8, got) => {
                return Err(TestCaseError::fail(format!(
                    "UTF-8: {:?}, decoded: {:?}", utf8.is_ok(), got
                )));
            }
        }
    }
}

#[test]
fn error_messages_of_multi_byte_characters_are_cut_on_a_char_boundary() {
    for (message, expected) in [
        // Two-byte characters: 1024 bytes is a boundary.
        ("é".repeat(600), "é".repeat(512)),
        // One byte in: byte 1024 is inside an `é`, so 1023 bytes come back.
        (
            format!("x{}", "é".repeat(600)),
            format!("x{}", "é".repeat(511)),
        ),
        // Three-byte characters: 341 of them are 1023 bytes.
        ("€".repeat(400), "€".repeat(341)),
        ("😀".repeat(300), "😀".repeat(256)),
        (
            format!("xyz{}", "😀".repeat(300)),
            format!("xyz{}", "😀".repeat(255)),
        ),
        // Exactly 1 KiB, and one byte over.
        ("é".repeat(512), "é".repeat(512)),
        (format!("{}x", "é".repeat(512)), "é".repeat(512)),
    ] {
        let got = error_round_trip(&message).unwrap_or_else(|e| panic!("{message:?}: {e}"));
        assert_eq!(got, expected, "{} bytes in", message.len());
        assert!(got.len() <= MAX_ERROR_MESSAGE);
    }
}

#[test]
fn error_frames_with_invalid_utf8_messages_are_rejected() {
    let cases: [&[u8]; 10] = [
        b"\xff",
        b"\x80",                  // a continuation byte on its own
        b"abc\xc3",               // a two-byte character cut off
        b"\xc3(",                 // a lead byte without its continuation
        b"\xc0\x80",              // an overlong NUL
        b"\xe2\x82",              // `€` cut short
        b"\xed\xa0\x80",          // a UTF-16 surrogate
        b"\xf4\x90\x80\x80",      // beyond U+10FFFF
        b"caf\xe9",               // Latin-1
        b"ok, then \xf0\x9f\x98", // `😀` cut short at the end
    ];
    for bytes in cases {
        assert!(std::str::from_utf8(bytes).is_err());
        let body = error_body_with_message_bytes(bytes);
        match decode_response(&body) {
            Err(FrameError::Decode(DecodeError::Invalid {
                what: "error message",
                offset,
                ..
            })) => assert_eq!(offset, body.len() - bytes.len(), "{bytes:?}"),
            other => panic!("{bytes:?}: {other:?}"),
        }
    }
    // Built the same way, a valid message is what the encoder writes, and decodes.
    let body = error_body_with_message_bytes("café".as_bytes());
    assert_eq!(body, error_body("café"));
    assert_eq!(
        decode_response(&body),
        Ok((
            9,
            Response::Error {
                code: ErrorCode::Malformed,
                message: "café".to_owned(),
            }
        ))
    );
}

/// The encoder never writes more than 1 KiB of message, so a frame with more is another
/// encoding of the cut message and should be refused. It is not yet:
/// `decode_response` reads any length (`protocol.rs`, `RES_ERROR`).
#[test]
fn error_frames_with_messages_over_1_kib_are_rejected() {
    let body = error_body_with_message_bytes(&[b'x'; MAX_ERROR_MESSAGE + 1]);
    if let Ok((_, Response::Error { message, .. })) = decode_response(&body) {
        panic!("a {}-byte message decodes", message.len());
    }
}
