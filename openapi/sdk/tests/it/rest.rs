//! REST calls through the generated client: typed answers, typed problems, header
//! parameters, and the bearer token helper.

use reqwest::StatusCode;
use tradeplane_sdk::types::{ApiOrderType, ApiSide, OrderBody, OrderStatus, Problem, Role};
use tradeplane_sdk::{Client, Error, ResponseValue};

use crate::harness::Stack;

/// The documented problem of a failed call; anything else fails the test.
fn problem<T: std::fmt::Debug>(result: Result<T, Error<Problem>>) -> ResponseValue<Problem> {
    match result {
        Err(Error::ErrorResponse(problem)) => problem,
        other => panic!("expected a documented problem answer, got {other:?}"),
    }
}

/// Places a resting buy of 1.500 AAA-USD at `price`.
async fn place_buy(client: &Client, price: &str) -> Result<OrderBody, Error<Problem>> {
    client
        .place_order()
        .body_map(|b| {
            b.symbol("AAA-USD")
                .side(ApiSide::Buy)
                .type_(ApiOrderType::Limit)
                .price(Some(price.to_owned()))
                .quantity("1.500")
        })
        .send()
        .await
        .map(ResponseValue::into_inner)
}

#[tokio::test]
async fn markets_and_whoami_come_back_typed() {
    let stack = Stack::start().await;
    let client = stack.trader(7);

    let markets = client.list_markets().send().await.unwrap().into_inner();
    let [market] = markets.markets.as_slice() else {
        panic!("one market expected: {markets:?}");
    };
    assert_eq!(market.symbol, "AAA-USD");
    assert_eq!(market.tick_size, "0.05");
    assert_eq!(market.lot_size, "0.001");
    assert_eq!(market.min_price, "0.05");
    assert_eq!(market.max_price, "1000.00");

    let me = client.whoami().send().await.unwrap();
    assert_eq!(me.status(), StatusCode::OK);
    assert_eq!(me.subject, "trader-7");
    assert_eq!(me.account, 7);
    assert_eq!(me.roles, [Role::Trader]);
    stack.stop().await;
}

#[tokio::test]
async fn an_order_is_placed_read_listed_booked_and_cancelled() {
    let stack = Stack::start().await;
    let client = stack.trader(7);

    let placed = client
        .place_order()
        .body_map(|b| {
            b.symbol("AAA-USD")
                .side(ApiSide::Buy)
                .type_(ApiOrderType::Limit)
                .price(Some("10.05".to_owned()))
                .quantity("1.500")
                .client_order_id(Some("sdk-1".to_owned()))
        })
        .send()
        .await
        .unwrap();
    assert_eq!(placed.status(), StatusCode::CREATED);
    let placed = placed.into_inner();
    assert!(placed.id.starts_with("ord_"), "{}", placed.id);
    assert_eq!(placed.status, OrderStatus::Open);
    assert_eq!(placed.price.as_deref(), Some("10.05"));
    assert_eq!(placed.remaining_quantity, "1.500");
    assert_eq!(placed.client_order_id, "sdk-1");

    let read = client.get_order().id(&placed.id).send().await.unwrap();
    assert_eq!(read.id, placed.id);
    assert_eq!(read.status, OrderStatus::Open);
    assert_eq!(read.side, ApiSide::Buy);

    let open = client
        .list_orders()
        .status("open")
        .symbol("AAA-USD")
        .send()
        .await
        .unwrap();
    let ids: Vec<&str> = open.orders.iter().map(|o| o.id.as_str()).collect();
    assert_eq!(ids, [placed.id.as_str()]);

    let book = client
        .get_book()
        .symbol("AAA-USD")
        .depth(std::num::NonZeroU32::new(5).unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(book.bids.len(), 1, "{book:?}");
    assert_eq!(book.bids[0].price, "10.05");
    assert_eq!(book.bids[0].quantity, "1.500");
    assert_eq!(book.bids[0].orders, 1);
    assert!(book.asks.is_empty());

    let cancelled = client.cancel_order().id(&placed.id).send().await.unwrap();
    assert_eq!(cancelled.status, OrderStatus::Cancelled);

    let gone = problem(client.get_order().id(&placed.id).send().await);
    assert_eq!(gone.status(), StatusCode::NOT_FOUND);
    assert_eq!(gone.code, "order_not_found");
    stack.stop().await;
}

#[tokio::test]
async fn documented_errors_arrive_as_typed_problems() {
    let stack = Stack::start().await;

    let unauthenticated = problem(stack.anonymous().whoami().send().await);
    assert_eq!(unauthenticated.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(unauthenticated.code, "unauthorized");
    assert!(unauthenticated.headers().contains_key("www-authenticate"));

    let client = stack.trader(7);
    let off_tick = problem(place_buy(&client, "10.03").await);
    assert_eq!(off_tick.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(off_tick.status, 422);
    assert_eq!(off_tick.field.as_deref(), Some("price"));

    // Another account's order is invisible, not forbidden.
    let mine = place_buy(&client, "10.05").await.unwrap();
    let theirs = problem(stack.trader(8).get_order().id(&mine.id).send().await);
    assert_eq!(theirs.status(), StatusCode::NOT_FOUND);
    assert_eq!(theirs.code, "order_not_found");
    stack.stop().await;
}

#[tokio::test]
async fn header_parameters_are_sent() {
    let stack = Stack::start().await;
    let me = stack
        .trader(7)
        .whoami()
        .x_request_id("sdk-request-1")
        .send()
        .await
        .unwrap();
    assert_eq!(me.headers()["x-request-id"], "sdk-request-1");
    stack.stop().await;
}

#[test]
fn a_token_that_cannot_be_a_header_is_refused() {
    let err = Client::with_bearer_token("http://127.0.0.1:9", "bad\ntoken").unwrap_err();
    assert!(
        matches!(err, tradeplane_sdk::ClientError::Token(_)),
        "{err:?}"
    );
}
