//! A market order's price field must be zero wherever a new order is decoded (it once
//! was not checked).

use matcher::codec::{DecodeError, Encode, Reader, decode_command};
use matcher::journal::{FRAME_HEADER, Frame, decode_payload, encode_record, read_frame};
use matcher::protocol::{
    FrameError, Request, Response, decode_request, decode_response, encode_request, encode_response,
};
use matcher::{
    Accepted, Command, CommandKind, Event, EventKind, NewOrder, OrderType, Price, Seq, Timestamp,
};
use proptest::prelude::*;

use super::config;
use super::frames::checksummed_frame;
use super::strategies::{new_order, order_id};

/// `encode(order)` for `order` as a market order, and the same bytes with `price` written
/// into its price field (which the encoder fills with zeros). The field is found without
/// hard-coding the layout: it is the 8 bytes after the order type tag, the first byte
/// where the market encoding and the limit-at-`price` encoding differ.
fn market_order_with_price(
    order: &NewOrder,
    price: i64,
    encode: impl Fn(&NewOrder) -> Vec<u8>,
) -> (Vec<u8>, Vec<u8>) {
    let market = encode(&NewOrder {
        order_type: OrderType::Market,
        ..*order
    });
    let limit = encode(&NewOrder {
        order_type: OrderType::Limit {
            price: Price(price),
        },
        ..*order
    });
    assert_eq!(market.len(), limit.len());
    let tag = market.iter().zip(&limit).position(|(m, l)| m != l).unwrap();
    assert_eq!((market[tag], limit[tag]), (1, 0), "the order type tag");
    assert_eq!(
        market[tag + 1..tag + 9],
        [0; 8],
        "a market order's price is zero"
    );
    assert_eq!(
        limit[tag + 1..tag + 9],
        price.to_le_bytes(),
        "the price field"
    );
    let mut with_price = market.clone();
    with_price[tag + 1..tag + 9].copy_from_slice(&price.to_le_bytes());
    (market, with_price)
}

fn is_invalid_order_type(e: &DecodeError) -> bool {
    matches!(
        e,
        DecodeError::Invalid {
            what: "order type",
            ..
        }
    )
}

proptest! {
    #![proptest_config(config())]

    /// A market order whose price field is not zero is refused wherever a new order is
    /// decoded: in a request, a codec command, an `Accepted` event (feed and ack) and a
    /// journal record (checksum intact, so the decoder is what refuses it).
    #[test]
    fn market_orders_with_a_non_zero_price_field_are_rejected(
        order in new_order(),
        price in any::<i64>().prop_filter("non-zero", |p| *p != 0),
        timestamp in any::<u64>(),
        order_id in order_id(),
        seq in 1..u64::MAX / 2,
    ) {
        // A request.
        let (ok, bad) = market_order_with_price(&order, price, |o| {
            let mut buf = Vec::new();
            encode_request(&mut buf, 3, &Request::Command(CommandKind::NewOrder(*o)));
            buf
        });
        prop_assert!(decode_request(&ok[4..]).is_ok());
        let got = decode_request(&bad[4..]);
        prop_assert!(
            matches!(&got, Err(FrameError::Decode(e)) if is_invalid_order_type(e)),
            "{:?}", got
        );

        // A command, as the codec and the journal carry it.
        let command_of = |o: &NewOrder| Command {
            timestamp: Timestamp(timestamp),
            kind: CommandKind::NewOrder(*o),
        };
        let (ok, bad) = market_order_with_price(&order, price, |o| {
            let mut buf = Vec::new();
            command_of(o).encode(&mut buf);
            buf
        });
        prop_assert!(decode_command(&mut Reader::new(&ok)).is_ok());
        let got = decode_command(&mut Reader::new(&bad));
        prop_assert!(matches!(&got, Err(e) if is_invalid_order_type(e)), "{:?}", got);

        // An `Accepted` event, in a feed frame and in an ack.
        let accepted = |o: &NewOrder| Event {
            seq: Seq(seq),
            timestamp: Timestamp(timestamp),
            kind: EventKind::Accepted(Accepted { order_id, order: *o }),
        };
        for ack in [false, true] {
            let (ok, bad) = market_order_with_price(&order, price, |o| {
                let mut buf = Vec::new();
                let response = if ack {
                    Response::Ack { command_seq: seq, events: vec![accepted(o)] }
                } else {
                    Response::Event(accepted(o))
                };
                encode_response(&mut buf, 3, &response);
                buf
            });
            prop_assert!(decode_response(&ok[4..]).is_ok());
            let got = decode_response(&bad[4..]);
            prop_assert!(
                matches!(&got, Err(FrameError::Decode(e)) if is_invalid_order_type(e)),
                "ack {}: {:?}", ack, got
            );
        }

        // A journal record with its `Accepted` event, checksummed afresh.
        let (ok, bad) = market_order_with_price(&order, price, |o| {
            let mut buf = Vec::new();
            encode_record(&mut buf, seq, seq, &command_of(o), &[accepted(o)]);
            buf.split_off(FRAME_HEADER)
        });
        prop_assert!(decode_payload(&ok).is_ok());
        let frame = checksummed_frame(&bad);
        let Frame::Valid { payload, .. } = read_frame(&frame) else {
            return Err(TestCaseError::fail("a checksummed payload does not frame"));
        };
        let got = decode_payload(payload);
        prop_assert!(matches!(&got, Err(e) if is_invalid_order_type(e)), "{:?}", got);
    }
}
