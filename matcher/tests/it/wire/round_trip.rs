//! Round trips: what is encoded decodes to the same value, framed exactly, and nothing
//! shorter or longer decodes.

use matcher::codec::{
    Encode, Reader, decode_command, decode_depth, decode_event, decode_order_view,
};
use matcher::journal::{FRAME_HEADER, Frame, decode_payload, read_frame};
use matcher::protocol::{
    MAX_REQUEST_FRAME, Response, decode_request, decode_response, encode_ack, encode_event_frame,
    encode_request, encode_response,
};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::Index;

use super::config;
use super::frames::{body_of, encode_record_of};
use super::strategies::{command, depth, event, junk, order_view, record, request, response};

proptest! {
    #![proptest_config(config())]

    #[test]
    fn requests_round_trip(junk in junk(), request_id in any::<u64>(), request in request()) {
        let mut buf = junk.clone();
        encode_request(&mut buf, request_id, &request);
        prop_assert_eq!(&buf[..junk.len()], junk.as_slice(), "encoder appends");
        let body = body_of(&buf, junk.len());
        prop_assert!(4 + body.len() <= MAX_REQUEST_FRAME);
        prop_assert_eq!(decode_request(body), Ok((request_id, request)));
        for cut in 0..body.len() {
            prop_assert!(decode_request(&body[..cut]).is_err(), "prefix of {} bytes", cut);
        }
        let mut longer = body.to_vec();
        longer.push(0);
        prop_assert!(decode_request(&longer).is_err(), "a trailing byte");
    }

    #[test]
    fn responses_round_trip(
        junk in junk(),
        request_id in any::<u64>(),
        response in response(),
        cuts in vec(any::<Index>(), 4),
    ) {
        let mut buf = junk.clone();
        encode_response(&mut buf, request_id, &response);
        prop_assert_eq!(&buf[..junk.len()], junk.as_slice(), "encoder appends");
        let body = body_of(&buf, junk.len());
        prop_assert_eq!(decode_response(body), Ok((request_id, response.clone())));
        for cut in cuts.iter().map(|c| c.index(body.len())).chain([body.len() - 1]) {
            prop_assert!(decode_response(&body[..cut]).is_err(), "prefix of {} bytes", cut);
        }
        let mut longer = body.to_vec();
        longer.push(0);
        prop_assert!(decode_response(&longer).is_err(), "a trailing byte");

        // The hot-path encoders write what the general one does.
        let mut fast = junk.clone();
        match &response {
            Response::Ack { command_seq, events } => {
                encode_ack(&mut fast, request_id, *command_seq, events);
            }
            Response::Event(e) => encode_event_frame(&mut fast, request_id, e),
            _ => fast.clone_from(&buf),
        }
        prop_assert_eq!(fast, buf);
    }

    #[test]
    fn codec_values_round_trip(
        command in command(),
        event in event(),
        view in order_view(),
        depth in depth(),
    ) {
        let mut buf = Vec::new();
        command.encode(&mut buf);
        event.encode(&mut buf);
        view.encode(&mut buf);
        depth.encode(&mut buf);
        let mut r = Reader::new(&buf);
        prop_assert_eq!(decode_command(&mut r), Ok(command));
        prop_assert_eq!(decode_event(&mut r), Ok(event));
        prop_assert_eq!(decode_order_view(&mut r), Ok(view));
        prop_assert_eq!(decode_depth(&mut r), Ok(depth));
        prop_assert_eq!(r.finish(), Ok(()));
    }

    #[test]
    fn journal_records_round_trip(junk in junk(), record in record(), zeros in 0usize..16) {
        let mut buf = junk.clone();
        encode_record_of(&mut buf, &record);
        prop_assert_eq!(&buf[..junk.len()], junk.as_slice(), "encoder appends");
        let frame_len = buf.len() - junk.len();
        // As in a preallocated segment: zeros follow the last record.
        buf.resize(buf.len() + zeros, 0);
        let Frame::Valid { payload, len } = read_frame(&buf[junk.len()..]) else {
            return Err(TestCaseError::fail("a fresh record does not frame"));
        };
        prop_assert_eq!(len, frame_len);
        prop_assert_eq!(payload.len(), frame_len - FRAME_HEADER);
        prop_assert_eq!(decode_payload(payload), Ok(record));
        prop_assert_eq!(read_frame(&buf[junk.len() + len..]), Frame::End);
        for cut in [0, 1, payload.len() / 2, payload.len() - 1] {
            prop_assert!(decode_payload(&payload[..cut]).is_err(), "prefix of {} bytes", cut);
        }
    }

    /// CRC32C catches every single-byte error in the payload; a changed checksum or
    /// length cannot give back the original payload either.
    #[test]
    fn journal_frame_with_any_byte_changed_does_not_read_back(
        record in record(),
        at in any::<Index>(),
        xor in 1u8..=255,
        zeros in 0usize..16,
    ) {
        let mut buf = Vec::new();
        encode_record_of(&mut buf, &record);
        let frame_len = buf.len();
        buf.resize(frame_len + zeros, 0);
        let original = buf[FRAME_HEADER..frame_len].to_vec();
        let i = at.index(frame_len);
        buf[i] ^= xor;
        let frame = read_frame(&buf);
        prop_assert!(
            !matches!(frame, Frame::Valid { payload, .. } if payload == original.as_slice()),
            "byte {} ^ {:#04x} still reads back: {:?}", i, xor, frame
        );
        if i >= 4 {
            // Checksum or payload changed, length intact: always a checksum mismatch.
            prop_assert_eq!(frame, Frame::Invalid("checksum mismatch"));
        }
    }
}
