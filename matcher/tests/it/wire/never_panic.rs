//! Decoders never panic: on random bytes, on random bytes behind a valid header or
//! checksum, and on mutations of valid encodings.

use matcher::codec::{Reader, decode_command, decode_depth, decode_event, decode_order_view};
use matcher::decode_snapshot;
use matcher::journal::{FRAME_HEADER, Frame, decode_payload, read_frame};
use matcher::protocol::{decode_request, decode_response, encode_request, encode_response};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::Index;

use super::config;
use super::frames::{checksummed_frame, encode_record_of, mutate};
use super::strategies::{bytes, record, request, response};

/// Calls every decoder on `bytes`; none may panic, whatever they answer.
fn decode_everything(bytes: &[u8]) {
    let _ = decode_request(bytes);
    let _ = decode_response(bytes);
    let _ = decode_command(&mut Reader::new(bytes));
    let _ = decode_event(&mut Reader::new(bytes));
    let _ = decode_order_view(&mut Reader::new(bytes));
    let _ = decode_depth(&mut Reader::new(bytes));
    let _ = decode_snapshot(bytes);
    let _ = decode_payload(bytes);
    if let Frame::Valid { payload, len } = read_frame(bytes) {
        assert!(len <= bytes.len());
        let _ = decode_payload(payload);
    }
}

/// Request and response type bytes, and a few that are neither.
const FRAME_TYPES: [u8; 20] = [
    1, 2, 3, 4, 5, 6, 7, 8, 128, 129, 130, 131, 132, 133, 134, 135, 136, 0, 9, 255,
];

proptest! {
    #![proptest_config(config())]

    #[test]
    fn decoders_never_panic_on_random_bytes(bytes in bytes()) {
        decode_everything(&bytes);
    }

    /// Random bodies behind a valid version and frame type reach the body decoders.
    #[test]
    fn frame_decoders_never_panic_past_the_prefix(
        kind in proptest::sample::select(FRAME_TYPES.to_vec()),
        request_id in any::<u64>(),
        body in bytes(),
    ) {
        let mut frame = vec![1, kind];
        frame.extend_from_slice(&request_id.to_le_bytes());
        frame.extend_from_slice(&body);
        let _ = decode_request(&frame);
        let _ = decode_response(&frame);
    }

    /// Random payloads with a correct checksum (and, mostly, the right version and kind
    /// bytes) reach the record decoder.
    #[test]
    fn journal_decoder_never_panics_past_the_checksum(
        header in prop_oneof![3 => Just(vec![1u8, 1]), 1 => vec(any::<u8>(), 0..2)],
        body in bytes(),
    ) {
        let mut payload = header;
        payload.extend_from_slice(&body);
        let frame = checksummed_frame(&payload);
        if let Frame::Valid { payload, .. } = read_frame(&frame) {
            let _ = decode_payload(payload);
        }
    }

    /// Random snapshot bodies behind the magic and version, with a correct checksum.
    #[test]
    fn snapshot_decoder_never_panics_past_the_checksum(body in bytes()) {
        let mut bytes = b"TPSNAPSH".to_vec();
        bytes.extend_from_slice(&1u32.to_le_bytes());
        bytes.extend_from_slice(&body);
        let crc = crc32c::crc32c(&bytes);
        bytes.extend_from_slice(&crc.to_le_bytes());
        let _ = decode_snapshot(&bytes);
    }

    /// Valid encodings with one byte flipped, removed or inserted, or cut short.
    #[test]
    fn decoders_never_panic_on_mutated_encodings(
        request in request(),
        response in response(),
        record in record(),
        at in any::<Index>(),
        how in any::<u8>(),
        value in any::<u8>(),
    ) {
        let mut buf = Vec::new();
        encode_request(&mut buf, 7, &request);
        let _ = decode_request(&mutate(&buf[4..], at, how, value));
        buf.clear();
        encode_response(&mut buf, 7, &response);
        let _ = decode_response(&mutate(&buf[4..], at, how, value));
        buf.clear();
        encode_record_of(&mut buf, &record);
        let mutated = mutate(&buf[FRAME_HEADER..], at, how, value);
        let _ = decode_payload(&mutated);
        decode_everything(&checksummed_frame(&mutated));
    }
}
