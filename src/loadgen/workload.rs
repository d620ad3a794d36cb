//! What each connection sends: whoami calls, or orders placed and then cancelled.
//!
//! The orders workload alternates, per connection, a `POST /v1/orders` (a GTC limit order
//! that rests) and a `DELETE /v1/orders/{id}` of the oldest order it placed, so the book
//! stays small however long the run. Buys sit on the lowest 50 ticks of the band and sells
//! on the highest 50, so nothing trades: every request is one journalled matcher command
//! with the same cost, which keeps runs comparable.
//!
//! Requests rotate over the connection's principals (distinct token subjects) so the
//! gateway's per-principal rate limit is not what the benchmark measures.

use std::collections::VecDeque;
use std::sync::Arc;

use bytes::Bytes;
use hyper::Method;
use serde::Deserialize;

use super::connection::{Answer, Call};

/// The REST call the benchmark exercises.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Endpoint {
    /// Place and cancel orders.
    Orders,
    /// `GET /v1/whoami`: authentication and routing without a matcher round trip.
    Whoami,
}

impl Endpoint {
    /// The name in the report line.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Orders => "orders",
            Self::Whoami => "whoami",
        }
    }
}

/// A market as `GET /v1/markets` describes it.
#[derive(Clone, Debug, Deserialize)]
pub(crate) struct MarketInfo {
    pub(crate) symbol: String,
    pub(crate) tick_size: String,
    pub(crate) lot_size: String,
    pub(crate) min_price: String,
    pub(crate) max_price: String,
}

/// The answer of `GET /v1/markets`.
#[derive(Debug, Deserialize)]
pub(crate) struct MarketList {
    pub(crate) markets: Vec<MarketInfo>,
}

/// Ready-made order bodies for one market (formatted once, not per request).
#[derive(Debug)]
pub(crate) struct OrderBodies {
    bodies: Vec<Bytes>,
}

/// How many ticks at each end of the band the workload uses.
const LADDER: i128 = 50;

impl OrderBodies {
    /// Bodies for `market`: buys on the lowest ticks, sells on the highest, varied sizes.
    ///
    /// # Errors
    /// A message if the market's decimals cannot be read or its band is too narrow.
    pub(crate) fn new(market: &MarketInfo) -> Result<Self, String> {
        let tick = Fixed::parse(&market.tick_size)?;
        let lot = Fixed::parse(&market.lot_size)?;
        let min = Fixed::parse(&market.min_price)?;
        let max = Fixed::parse(&market.max_price)?;
        let scale = tick.scale.max(min.scale).max(max.scale);
        let (tick, min, max) = (tick.rescale(scale), min.rescale(scale), max.rescale(scale));
        if tick.units <= 0 || (max.units - min.units) / tick.units < 2 * LADDER {
            return Err(format!(
                "market {} has fewer than {} ticks in its band",
                market.symbol,
                2 * LADDER
            ));
        }
        let mut bodies = Vec::new();
        for i in 0..LADDER {
            for (side, price) in [
                ("buy", min.units + i * tick.units),
                ("sell", max.units - i * tick.units),
            ] {
                let quantity = Fixed {
                    units: lot.units * (1 + i % 10),
                    scale: lot.scale,
                };
                bodies.push(Bytes::from(format!(
                    r#"{{"symbol":"{}","side":"{side}","type":"limit","price":"{}","quantity":"{}"}}"#,
                    market.symbol,
                    Fixed { units: price, scale },
                    quantity
                )));
            }
        }
        Ok(Self { bodies })
    }
}

/// A decimal string as an integer and a scale (`"12.50"` → 1250, 2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Fixed {
    units: i128,
    scale: u32,
}

impl Fixed {
    fn parse(s: &str) -> Result<Self, String> {
        let bad = || format!("not a decimal: {s:?}");
        let (int, frac) = s.split_once('.').unwrap_or((s, ""));
        if int.is_empty() || !int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        let scale = u32::try_from(frac.len()).map_err(|_| bad())?;
        let units = format!("{int}{frac}").parse::<i128>().map_err(|_| bad())?;
        Ok(Self { units, scale })
    }

    fn rescale(self, scale: u32) -> Self {
        Self {
            units: self.units * 10_i128.pow(scale - self.scale),
            scale,
        }
    }
}

impl std::fmt::Display for Fixed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let digits = format!("{:0width$}", self.units, width = self.scale as usize + 1);
        let (int, frac) = digits.split_at(digits.len() - self.scale as usize);
        if frac.is_empty() {
            f.write_str(int)
        } else {
            write!(f, "{int}.{frac}")
        }
    }
}

/// What a connection sends next.
#[derive(Debug)]
pub(crate) enum Planned {
    Whoami,
    Place(Bytes),
    Cancel(String),
}

/// One connection's request sequence.
#[derive(Debug)]
pub(crate) struct Workload {
    endpoint: Endpoint,
    tokens: Vec<String>,
    next_token: usize,
    bodies: Arc<OrderBodies>,
    next_body: usize,
    /// Paths (`/v1/orders/{id}`) of orders placed and not yet cancelled, oldest first.
    open: VecDeque<String>,
    cancel_next: bool,
}

#[derive(Deserialize)]
struct Placed {
    id: String,
}

impl Workload {
    /// A sequence over `tokens` (at least one), starting at body `offset`.
    pub(crate) fn new(
        endpoint: Endpoint,
        tokens: Vec<String>,
        bodies: Arc<OrderBodies>,
        offset: usize,
    ) -> Self {
        Self {
            endpoint,
            tokens,
            next_token: 0,
            bodies,
            next_body: offset,
            open: VecDeque::new(),
            cancel_next: false,
        }
    }

    /// The next request to send.
    pub(crate) fn plan(&mut self) -> Planned {
        match self.endpoint {
            Endpoint::Whoami => Planned::Whoami,
            Endpoint::Orders => {
                if self.cancel_next
                    && let Some(path) = self.open.pop_front()
                {
                    return Planned::Cancel(path);
                }
                let body = &self.bodies.bodies[self.next_body % self.bodies.bodies.len()];
                self.next_body = self.next_body.wrapping_add(1);
                Planned::Place(body.clone())
            }
        }
    }

    /// The call for `planned`, with the next principal's token.
    pub(crate) fn call<'a>(&'a mut self, planned: &'a Planned) -> Call<'a> {
        let token = &self.tokens[self.next_token % self.tokens.len()];
        self.next_token = self.next_token.wrapping_add(1);
        match planned {
            Planned::Whoami => Call {
                method: Method::GET,
                path: "/v1/whoami",
                bearer: token,
                json: None,
            },
            Planned::Place(body) => Call {
                method: Method::POST,
                path: "/v1/orders",
                bearer: token,
                // A reference count, not a copy.
                json: Some(body.clone()),
            },
            Planned::Cancel(path) => Call {
                method: Method::DELETE,
                path,
                bearer: token,
                json: None,
            },
        }
    }

    /// Records the answer; `true` if it is the success the workload expects.
    pub(crate) fn answered(&mut self, planned: &Planned, answer: &Answer) -> bool {
        let ok = answer.status.is_success();
        match planned {
            Planned::Whoami => {}
            Planned::Place(_) => {
                if ok && let Ok(placed) = serde_json::from_slice::<Placed>(&answer.body) {
                    self.open.push_back(format!("/v1/orders/{}", placed.id));
                    self.cancel_next = true;
                }
            }
            Planned::Cancel(_) => self.cancel_next = false,
        }
        ok
    }

    /// Paths of orders still resting (cancelled after the run, outside the measurement).
    pub(crate) fn take_open(&mut self) -> Vec<String> {
        self.open.drain(..).collect()
    }

    /// A token of this connection (for clean-up calls).
    pub(crate) fn token(&self) -> &str {
        &self.tokens[0]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn market() -> MarketInfo {
        MarketInfo {
            symbol: "SOL-USD".into(),
            tick_size: "0.01".into(),
            lot_size: "0.01".into(),
            min_price: "1.00".into(),
            max_price: "1000.00".into(),
        }
    }

    #[test]
    fn decimals_round_trip() {
        for s in ["0.01", "1000.00", "7", "0.0001", "120.5"] {
            assert_eq!(Fixed::parse(s).unwrap().to_string(), s);
        }
        assert!(Fixed::parse("-1").is_err());
        assert!(Fixed::parse(".5").is_err());
        assert!(Fixed::parse("1e3").is_err());
    }

    #[test]
    fn bodies_rest_at_both_ends_of_the_band_without_crossing() {
        let bodies = OrderBodies::new(&market()).unwrap();
        assert_eq!(bodies.bodies.len(), 100);
        assert_eq!(
            &bodies.bodies[0][..],
            br#"{"symbol":"SOL-USD","side":"buy","type":"limit","price":"1.00","quantity":"0.01"}"#
        );
        assert_eq!(
            &bodies.bodies[99][..],
            br#"{"symbol":"SOL-USD","side":"sell","type":"limit","price":"999.51","quantity":"0.10"}"#
        );
    }

    #[test]
    fn a_narrow_band_is_refused() {
        let mut m = market();
        m.max_price = "1.50".into();
        assert!(
            OrderBodies::new(&m)
                .unwrap_err()
                .contains("fewer than 100 ticks")
        );
    }

    #[test]
    fn orders_alternate_place_and_cancel_of_the_oldest() {
        let bodies = Arc::new(OrderBodies::new(&market()).unwrap());
        let mut w = Workload::new(Endpoint::Orders, vec!["t".into()], bodies, 0);
        let placed = |id: &str| Answer {
            status: hyper::StatusCode::CREATED,
            body: format!(r#"{{"id":"{id}","status":"open"}}"#).into(),
        };
        let p = w.plan();
        assert!(matches!(p, Planned::Place(_)));
        assert!(w.answered(&p, &placed("ord_1_1")));
        let c = w.plan();
        assert!(matches!(&c, Planned::Cancel(path) if path == "/v1/orders/ord_1_1"));
        let cancelled = Answer {
            status: hyper::StatusCode::OK,
            body: Bytes::new(),
        };
        assert!(w.answered(&c, &cancelled));
        assert!(matches!(w.plan(), Planned::Place(_)));
        // A failed place leaves nothing to cancel.
        let failed = Answer {
            status: hyper::StatusCode::SERVICE_UNAVAILABLE,
            body: Bytes::new(),
        };
        let p = w.plan();
        assert!(!w.answered(&p, &failed));
        assert!(matches!(w.plan(), Planned::Place(_)));
        assert!(w.take_open().is_empty());
    }
}
