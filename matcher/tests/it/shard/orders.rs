//! Order entry: acknowledgements, queries, and state that survives a restart.

use matcher::{AccountId, Cancel, CommandKind, EventKind, MarketId, OrderRef, Quantity, Side};

use super::harness::{client, limit, start};

#[tokio::test]
async fn orders_are_acknowledged_queried_and_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let shard = start(dir.path(), |_| {}).await;
    let c = client(shard.addr);

    let ack = c.submit(limit(1, 1, Side::Buy, 100, 5)).await.unwrap();
    assert_eq!(ack.command_seq, 1);
    assert!(matches!(ack.events[0].kind, EventKind::Accepted(_)));
    let ack = c.submit(limit(2, 1, Side::Sell, 100, 2)).await.unwrap();
    assert!(
        ack.events
            .iter()
            .any(|e| matches!(e.kind, EventKind::Trade(_)))
    );
    // The same client order id again is a duplicate, never a second order.
    let dup = c.submit(limit(1, 1, Side::Buy, 100, 5)).await.unwrap();
    assert!(matches!(dup.events[0].kind, EventKind::Rejected(r) if r.reason.code() == "duplicate"));

    let open = c.open_orders(AccountId(1), None).await.unwrap();
    assert_eq!(open.len(), 1);
    assert_eq!(open[0].remaining, Quantity(3));
    let depth = c.depth(MarketId(1), 5).await.unwrap().unwrap();
    assert_eq!(depth.bids[0].quantity, Quantity(3));
    assert!(c.depth(MarketId(9), 5).await.unwrap().is_none());
    // A market the shard does not own is a clear reject.
    let mut other = limit(1, 2, Side::Buy, 100, 1);
    if let CommandKind::NewOrder(o) = &mut other {
        o.market = MarketId(77);
    }
    let ack = c.submit(other).await.unwrap();
    assert!(
        matches!(ack.events[0].kind, EventKind::Rejected(r) if r.reason.code() == "unknown_market")
    );
    let (cmd, ev) = c.ping().await.unwrap();
    assert_eq!(cmd, 4);
    shard.shutdown().await;

    // Restart: the state is back, and sequence numbers continue.
    let shard = start(dir.path(), |_| {}).await;
    let c = client(shard.addr);
    assert_eq!(c.ping().await.unwrap(), (cmd, ev));
    let open = c.open_orders(AccountId(1), None).await.unwrap();
    assert_eq!(open.len(), 1);
    let ack = c
        .submit(CommandKind::Cancel(Cancel {
            account: AccountId(1),
            order: OrderRef::Id(open[0].order_id),
        }))
        .await
        .unwrap();
    assert_eq!(ack.command_seq, cmd + 1);
    assert_eq!(ack.events[0].seq.0, ev + 1);
    shard.shutdown().await;
}
