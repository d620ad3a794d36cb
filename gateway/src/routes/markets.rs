//! `GET /v1/markets`, `GET /v1/markets/{symbol}/book?depth=N` and
//! `GET /v1/markets/{symbol}/trades?limit=N`: market data, with prices and quantities as
//! decimal strings in each market's precision.

use axum::extract::State;
use matcher::{DepthLevel, RejectReason};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app::AppState;
use crate::decimal::{format_price, format_quantity};
use crate::feed::messages::TradeList;
use crate::feed::trade_view;
use crate::openapi::Problem as ProblemSchema;
use crate::problem::{ApiJson, ApiPath, ApiQuery, Problem, from_reject};
use crate::shards::{Market, shard_problem};

/// Book depth when `depth` is not given.
pub const DEFAULT_DEPTH: u32 = 10;
/// Largest `depth` accepted.
pub const MAX_DEPTH: u32 = 1000;

/// One market in `GET /v1/markets`.
#[derive(Debug, Serialize, ToSchema)]
pub struct MarketView {
    /// The market's symbol.
    pub symbol: String,
    /// Smallest price increment.
    pub tick_size: String,
    /// Smallest quantity increment.
    pub lot_size: String,
    /// Lowest accepted price.
    pub min_price: String,
    /// Highest accepted price.
    pub max_price: String,
    /// Largest accepted order quantity.
    pub max_quantity: String,
}

impl MarketView {
    fn of(market: &Market) -> Self {
        let c = &market.config;
        let p = market.precision;
        let price =
            |units: u64| format_price(matcher::Price(i64::try_from(units).unwrap_or(i64::MAX)), p);
        Self {
            symbol: market.symbol(),
            tick_size: price(c.tick_size()),
            lot_size: format_quantity(matcher::Quantity(c.lot_size()), p),
            min_price: format_price(c.min_price(), p),
            max_price: format_price(c.max_price(), p),
            max_quantity: format_quantity(c.max_quantity(), p),
        }
    }
}

/// The answer of `GET /v1/markets`.
#[derive(Debug, Serialize, ToSchema)]
pub struct MarketList {
    /// Every market, in configuration order.
    pub markets: Vec<MarketView>,
}

/// `GET /v1/markets`.
#[utoipa::path(
    get,
    path = "/v1/markets",
    operation_id = "list_markets",
    tag = "markets",
    summary = "List markets",
    description = "Every market, in configuration order, with prices and quantities as decimal strings.",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Every market with its tick size, lot size, price band and maximum quantity.", body = MarketList),
        (status = 401, description = "Missing, malformed, expired or otherwise invalid bearer token (`unauthorized`); see `WWW-Authenticate`.",
            content_type = "application/problem+json", body = ProblemSchema,
            headers(("WWW-Authenticate" = String, description = "The bearer challenge, with the reason as `error`."))),
        (status = 403, description = "The caller's roles do not allow this request (`forbidden`).",
            content_type = "application/problem+json", body = ProblemSchema),
        (status = 429, description = "The caller's rate limit is exhausted (`rate_limited`).",
            content_type = "application/problem+json", body = ProblemSchema,
            headers(("Retry-After" = u32, description = "Seconds to wait before retrying."))),
        (status = 500, description = "Internal error (`internal`); no details are shown.",
            content_type = "application/problem+json", body = ProblemSchema),
        (status = 503, description = "The signing keys could not be fetched, or the request ran out of time (`unavailable`).",
            content_type = "application/problem+json", body = ProblemSchema,
            headers(("Retry-After" = u32, description = "Seconds to wait before retrying."))),
    )
)]
pub async fn list(State(state): State<AppState>) -> ApiJson<MarketList> {
    ApiJson(MarketList {
        markets: state.shards().markets().map(MarketView::of).collect(),
    })
}

/// Query of the book route.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BookQuery {
    /// Levels per side (1 to [`MAX_DEPTH`]).
    pub depth: Option<u32>,
}

/// One price level.
#[derive(Debug, Serialize, ToSchema)]
pub struct LevelView {
    /// The level's price.
    pub price: String,
    /// Total resting quantity.
    pub quantity: String,
    /// Resting orders.
    pub orders: u32,
}

/// The answer of the book route.
#[derive(Debug, Serialize, ToSchema)]
pub struct BookView {
    /// The market's symbol.
    pub symbol: String,
    /// Best bid first.
    pub bids: Vec<LevelView>,
    /// Best ask first.
    pub asks: Vec<LevelView>,
}

/// `GET /v1/markets/{symbol}/book?depth=N`.
///
/// # Errors
/// 404 `market_not_found`, 400 `invalid_query` for a depth out of range, 503 if the shard
/// cannot answer.
#[utoipa::path(
    get,
    path = "/v1/markets/{symbol}/book",
    operation_id = "get_book",
    tag = "markets",
    summary = "Order book",
    description = "The market's aggregated price levels, best first on each side.",
    security(("bearer" = [])),
    params(
        ("symbol" = String, Path, description = "The market's symbol.", example = "BTC-USD"),
        ("depth" = Option<u32>, Query, nullable = false, description = "Levels per side, 1 to 1000 (default 10).", minimum = 1, maximum = 1000),
    ),
    responses(
        (status = 200, description = "The aggregated price levels of the market's book, best first.", body = BookView),
        (status = 400, description = "Invalid query string: an unknown parameter or a depth out of range (`invalid_query`).",
            content_type = "application/problem+json", body = ProblemSchema),
        (status = 401, description = "Missing, malformed, expired or otherwise invalid bearer token (`unauthorized`); see `WWW-Authenticate`.",
            content_type = "application/problem+json", body = ProblemSchema,
            headers(("WWW-Authenticate" = String, description = "The bearer challenge, with the reason as `error`."))),
        (status = 403, description = "The caller's roles do not allow this request (`forbidden`).",
            content_type = "application/problem+json", body = ProblemSchema),
        (status = 404, description = "No market with that symbol (`market_not_found`).",
            content_type = "application/problem+json", body = ProblemSchema),
        (status = 429, description = "The caller's rate limit is exhausted (`rate_limited`).",
            content_type = "application/problem+json", body = ProblemSchema,
            headers(("Retry-After" = u32, description = "Seconds to wait before retrying."))),
        (status = 500, description = "Internal error (`internal`); no details are shown.",
            content_type = "application/problem+json", body = ProblemSchema),
        (status = 503, description = "The market's shard is unavailable or did not answer in time, the signing keys could not be fetched, or the request ran out of time (`unavailable`).",
            content_type = "application/problem+json", body = ProblemSchema,
            headers(("Retry-After" = u32, description = "Seconds to wait before retrying."))),
    )
)]
pub async fn book(
    State(state): State<AppState>,
    ApiPath(symbol): ApiPath<String>,
    ApiQuery(query): ApiQuery<BookQuery>,
) -> Result<ApiJson<BookView>, Problem> {
    let depth = query.depth.unwrap_or(DEFAULT_DEPTH);
    if !(1..=MAX_DEPTH).contains(&depth) {
        return Err(Problem::bad_request(
            "invalid_query",
            format!("depth must be between 1 and {MAX_DEPTH}."),
        )
        .with_field("depth"));
    }
    let shards = state.shards();
    let market = shards
        .by_symbol(&symbol)
        .ok_or_else(|| from_reject(RejectReason::UnknownMarket))?;
    let client = shards
        .client(market.shard)
        .ok_or_else(Problem::internal_without_cause)?;
    let depth = client
        .depth(market.config.id(), depth)
        .await
        .map_err(|e| shard_problem(&e, "book depth"))?
        .ok_or_else(|| {
            tracing::error!(symbol, "configured market unknown to its shard");
            Problem::internal_without_cause()
        })?;
    let p = market.precision;
    let levels = |levels: Vec<DepthLevel>| {
        levels
            .into_iter()
            .map(|l| LevelView {
                price: format_price(l.price, p),
                quantity: format_quantity(l.quantity, p),
                orders: l.orders,
            })
            .collect()
    };
    Ok(ApiJson(BookView {
        symbol: market.symbol(),
        bids: levels(depth.bids),
        asks: levels(depth.asks),
    }))
}

/// Trades returned when `limit` is not given.
pub const DEFAULT_TRADES: u32 = 100;
/// Largest `limit` accepted.
pub const MAX_TRADES: u32 = 1000;

/// Query of the trades route.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TradesQuery {
    /// Trades to return (1 to [`MAX_TRADES`]).
    pub limit: Option<u32>,
}

/// `GET /v1/markets/{symbol}/trades?limit=N`: the most recent trades kept from the shard
/// feed (no shard round trip).
///
/// # Errors
/// 404 `market_not_found`, 400 `invalid_query` for a limit out of range.
#[utoipa::path(
    get,
    path = "/v1/markets/{symbol}/trades",
    operation_id = "get_trades",
    tag = "markets",
    summary = "Recent trades",
    description = "The market's most recent trades, newest first, as the gateway received them \
        from the shard's event feed. Empty until the gateway has caught up with the feed.",
    security(("bearer" = [])),
    params(
        ("symbol" = String, Path, description = "The market's symbol.", example = "BTC-USD"),
        ("limit" = Option<u32>, Query, nullable = false, description = "Trades to return, 1 to 1000 (default 100).", minimum = 1, maximum = 1000),
    ),
    responses(
        (status = 200, description = "The most recent trades, newest first.", body = TradeList),
        (status = 400, description = "Invalid query string: an unknown parameter or a limit out of range (`invalid_query`).",
            content_type = "application/problem+json", body = ProblemSchema),
        (status = 401, description = "Missing, malformed, expired or otherwise invalid bearer token (`unauthorized`); see `WWW-Authenticate`.",
            content_type = "application/problem+json", body = ProblemSchema,
            headers(("WWW-Authenticate" = String, description = "The bearer challenge, with the reason as `error`."))),
        (status = 403, description = "The caller's roles do not allow this request (`forbidden`).",
            content_type = "application/problem+json", body = ProblemSchema),
        (status = 404, description = "No market with that symbol (`market_not_found`).",
            content_type = "application/problem+json", body = ProblemSchema),
        (status = 429, description = "The caller's rate limit is exhausted (`rate_limited`).",
            content_type = "application/problem+json", body = ProblemSchema,
            headers(("Retry-After" = u32, description = "Seconds to wait before retrying."))),
        (status = 500, description = "Internal error (`internal`); no details are shown.",
            content_type = "application/problem+json", body = ProblemSchema),
        (status = 503, description = "The signing keys could not be fetched, or the request ran out of time (`unavailable`).",
            content_type = "application/problem+json", body = ProblemSchema,
            headers(("Retry-After" = u32, description = "Seconds to wait before retrying."))),
    )
)]
pub async fn trades(
    State(state): State<AppState>,
    ApiPath(symbol): ApiPath<String>,
    ApiQuery(query): ApiQuery<TradesQuery>,
) -> Result<ApiJson<TradeList>, Problem> {
    let limit = query.limit.unwrap_or(DEFAULT_TRADES);
    if !(1..=MAX_TRADES).contains(&limit) {
        return Err(Problem::bad_request(
            "invalid_query",
            format!("limit must be between 1 and {MAX_TRADES}."),
        )
        .with_field("limit"));
    }
    let market = state
        .shards()
        .by_symbol(&symbol)
        .ok_or_else(|| from_reject(RejectReason::UnknownMarket))?;
    let trades = {
        let books = state
            .feed()
            .books(market.shard)
            .ok_or_else(Problem::internal_without_cause)?;
        books
            .market(market.config.id())
            .map_or_else(Vec::new, |book| {
                book.trades
                    .iter()
                    .rev()
                    .take(usize::try_from(limit).unwrap_or(usize::MAX))
                    .map(|t| trade_view(t, market))
                    .collect()
            })
    };
    Ok(ApiJson(TradeList {
        symbol: market.symbol(),
        trades,
    }))
}

/// The resource's routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(book))
        .routes(routes!(trades))
}
