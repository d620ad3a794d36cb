//! Depth and order queries.

use matcher::{MarketId, OrderId, Price, Quantity, Side, Timestamp};

use super::harness::{A, B, C, Harness, M};

#[test]
fn depth_and_queries_report_the_book() {
    let mut h = Harness::new();
    h.limit(A, Side::Buy, 100, 5);
    h.limit(B, Side::Buy, 100, 3);
    h.limit(A, Side::Buy, 97, 1);
    h.limit(C, Side::Sell, 103, 2);
    h.limit(C, Side::Sell, 110, 4);
    let d = h.engine.depth(M, 1).unwrap();
    assert_eq!(d.bids.len(), 1);
    assert_eq!(
        (d.bids[0].price, d.bids[0].quantity, d.bids[0].orders),
        (Price(100), Quantity(8), 2)
    );
    assert_eq!(
        (d.asks[0].price, d.asks[0].quantity, d.asks[0].orders),
        (Price(103), Quantity(2), 1)
    );
    let d = h.engine.depth(M, 10).unwrap();
    assert_eq!((d.bids.len(), d.asks.len()), (2, 2));
    assert_eq!(d.asks[1].price, Price(110));
    assert!(h.engine.depth(MarketId(9), 1).is_err());

    let mine: Vec<u64> = h
        .engine
        .open_orders(A, Some(M))
        .iter()
        .map(|o| o.order_id.0)
        .collect();
    assert_eq!(mine, vec![1, 3]);
    let o = h.engine.order(OrderId(2)).unwrap();
    assert_eq!(
        (o.account, o.price, o.created),
        (B, Price(100), Timestamp(1002))
    );
    let by_client = h.engine.order_by_client_id(B, o.client_order_id).unwrap();
    assert_eq!(by_client, o);
    assert_eq!(h.engine.resting_count(M).unwrap(), 5);
}
