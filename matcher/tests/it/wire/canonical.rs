//! One encoding per value: a decoder accepts only what the encoder writes.

use matcher::journal::{FRAME_HEADER, decode_payload};
use matcher::protocol::{decode_request, decode_response, encode_request, encode_response};
use proptest::prelude::*;
use proptest::sample::Index;

use super::config;
use super::frames::{encode_record_of, mutate};
use super::strategies::{record, request, response};

proptest! {
    #![proptest_config(config())]

    /// One encoding per value: whatever a decoder accepts is exactly what the encoder
    /// writes for the decoded value (absent optional fields must be zeros, bools 0 or 1,
    /// a market order's price zero, error messages valid UTF-8, no trailing bytes).
    #[test]
    fn decoders_accept_only_canonical_encodings(
        request in request(),
        response in response(),
        record in record(),
        at in any::<Index>(),
        how in any::<u8>(),
        value in any::<u8>(),
    ) {
        let mut buf = Vec::new();
        encode_request(&mut buf, 7, &request);
        let mutated = mutate(&buf[4..], at, how, value);
        if let Ok((id, decoded)) = decode_request(&mutated) {
            let mut again = Vec::new();
            encode_request(&mut again, id, &decoded);
            prop_assert_eq!(&again[4..], mutated.as_slice(), "{:?}", decoded);
        }
        buf.clear();
        encode_response(&mut buf, 7, &response);
        let mutated = mutate(&buf[4..], at, how, value);
        if let Ok((id, decoded)) = decode_response(&mutated) {
            let mut again = Vec::new();
            encode_response(&mut again, id, &decoded);
            prop_assert_eq!(&again[4..], mutated.as_slice(), "{:?}", decoded);
        }
        buf.clear();
        encode_record_of(&mut buf, &record);
        let mutated = mutate(&buf[FRAME_HEADER..], at, how, value);
        if let Ok(decoded) = decode_payload(&mutated) {
            let mut again = Vec::new();
            encode_record_of(&mut again, &decoded);
            prop_assert_eq!(&again[FRAME_HEADER..], mutated.as_slice(), "{:?}", decoded);
        }
    }
}
