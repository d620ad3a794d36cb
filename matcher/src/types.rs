//! Newtypes for everything that crosses the engine's boundary.
//!
//! Prices and quantities are integers in the market's smallest units: nothing here is a
//! float, and a bare `u64` is never passed where a price or a quantity is meant.

use std::fmt;

/// A price in integer price units (the market decides what one unit is worth; a valid
/// price is a multiple of the market's tick size). Signed, because some instruments
/// (spreads, some futures) trade at negative prices.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Price(pub i64);

/// A quantity in integer quantity units; a valid order quantity is a non-zero multiple of
/// the market's lot size.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Quantity(pub u64);

impl Quantity {
    /// Zero units.
    pub const ZERO: Quantity = Quantity(0);

    /// True when nothing is left.
    #[inline]
    #[must_use]
    pub const fn is_zero(self) -> bool {
        self.0 == 0
    }
}

/// An order id, assigned by the engine from a counter: unique for the engine's whole life
/// and reproduced exactly on replay.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct OrderId(pub u64);

/// A trading account. Orders, self-trade prevention and client order ids are per account.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AccountId(pub u64);

/// A market's stable numeric id, fixed in configuration (never a position in a list, so
/// reordering a config file cannot remap a journal).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MarketId(pub u32);

/// The engine's gapless event sequence number. The first event is sequence 1.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Seq(pub u64);

/// Nanoseconds since the Unix epoch, stamped on each command by whoever sequences it.
/// The engine never reads a clock; it only copies this into what it records.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub u64);

/// Which side of the book an order is on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Side {
    /// Bid: wants to buy at or below its price.
    Buy = 0,
    /// Ask: wants to sell at or above its price.
    Sell = 1,
}

impl Side {
    /// The other side.
    #[inline]
    #[must_use]
    pub const fn opposite(self) -> Side {
        match self {
            Side::Buy => Side::Sell,
            Side::Sell => Side::Buy,
        }
    }
}

/// How long an order may live.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum TimeInForce {
    /// Good till cancelled: the unfilled remainder rests on the book.
    Gtc = 0,
    /// Immediate or cancel: fill what can be filled now, cancel the rest.
    Ioc = 1,
    /// Fill or kill: fill the whole quantity now, or cancel it without touching the book.
    Fok = 2,
}

/// Limit or market.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OrderType {
    /// Trades at `price` or better.
    Limit {
        /// The worst price the order accepts.
        price: Price,
    },
    /// Trades at any price on the book; never rests (time in force IOC or FOK).
    Market,
}

/// What happens when an order would trade with another order of the same account.
/// The incoming (taker) order's mode decides.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum StpMode {
    /// Cancel the incoming order's remainder; the resting order stays.
    #[default]
    CancelNewest = 0,
    /// Cancel the resting order and keep matching the incoming one.
    CancelOldest = 1,
    /// Cancel both: the resting order, then the incoming remainder.
    CancelBoth = 2,
    /// Reduce both by the smaller remaining quantity (no trade); whichever reaches zero is
    /// done, and the incoming order keeps matching while it has quantity left.
    DecrementAndCancel = 3,
}

/// Longest client order id, in bytes: room for a textual UUID.
pub const MAX_CLIENT_ORDER_ID_LEN: usize = 36;

/// A client's own id for an order: 1 to 36 printable ASCII bytes, stored inline so that
/// commands and orders stay `Copy` and the hot path never allocates.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct ClientOrderId {
    len: u8,
    bytes: [u8; MAX_CLIENT_ORDER_ID_LEN],
}

/// Why a string cannot be a [`ClientOrderId`] or a [`Symbol`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum IdentError {
    /// Empty, or longer than the limit.
    #[error("must be 1 to {max} bytes long, got {len}")]
    Length {
        /// Bytes given.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// Contains a byte outside printable ASCII (`!` to `~`).
    #[error("byte {index} is not printable ASCII")]
    Character {
        /// Position of the first bad byte.
        index: usize,
    },
}

fn check_ident(s: &[u8], max: usize) -> Result<(), IdentError> {
    if s.is_empty() || s.len() > max {
        return Err(IdentError::Length { len: s.len(), max });
    }
    match s.iter().position(|b| !b.is_ascii_graphic()) {
        Some(index) => Err(IdentError::Character { index }),
        None => Ok(()),
    }
}

impl ClientOrderId {
    /// Validates and stores `s`.
    ///
    /// # Errors
    /// [`IdentError`] when `s` is empty, longer than [`MAX_CLIENT_ORDER_ID_LEN`] bytes, or
    /// not printable ASCII.
    pub fn new(s: &str) -> Result<Self, IdentError> {
        Self::from_bytes(s.as_bytes())
    }

    /// Like [`ClientOrderId::new`], from raw bytes (as they arrive off the wire).
    ///
    /// # Errors
    /// As [`ClientOrderId::new`].
    pub fn from_bytes(s: &[u8]) -> Result<Self, IdentError> {
        check_ident(s, MAX_CLIENT_ORDER_ID_LEN)?;
        let mut bytes = [0u8; MAX_CLIENT_ORDER_ID_LEN];
        bytes[..s.len()].copy_from_slice(s);
        // Checked above: len <= 36.
        #[allow(clippy::cast_possible_truncation)]
        Ok(Self {
            len: s.len() as u8,
            bytes,
        })
    }

    /// The decimal digits of `n`, without allocating: handy for generated ids in
    /// benchmarks, load generators and tests.
    #[must_use]
    pub fn from_u64(mut n: u64) -> Self {
        let mut bytes = [0u8; MAX_CLIENT_ORDER_ID_LEN];
        let mut digits = [0u8; 20];
        let mut len = 0;
        loop {
            // n % 10 < 10: the cast cannot truncate.
            #[allow(clippy::cast_possible_truncation)]
            let d = (n % 10) as u8;
            digits[len] = b'0' + d;
            len += 1;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        for (i, d) in digits[..len].iter().rev().enumerate() {
            bytes[i] = *d;
        }
        // At most 20 digits.
        #[allow(clippy::cast_possible_truncation)]
        Self {
            len: len as u8,
            bytes,
        }
    }

    /// The id's bytes.
    #[inline]
    #[must_use]
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }

    /// The id as text (always valid: construction admits printable ASCII only).
    #[must_use]
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(self.as_bytes()).unwrap_or_default()
    }
}

/// Hashes only the id's own bytes, not the unused tail of the inline array: most ids are
/// far shorter than 36 bytes, and this hash runs several times per order.
impl std::hash::Hash for ClientOrderId {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        state.write(self.as_bytes());
    }
}

impl fmt::Debug for ClientOrderId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ClientOrderId({:?})", self.as_str())
    }
}

impl fmt::Display for ClientOrderId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Longest market symbol, in bytes.
pub const MAX_SYMBOL_LEN: usize = 16;

/// A market's human name (`BTC-USD`): 1 to 16 printable ASCII bytes, stored inline.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Symbol {
    len: u8,
    bytes: [u8; MAX_SYMBOL_LEN],
}

impl Symbol {
    /// Validates and stores `s`.
    ///
    /// # Errors
    /// [`IdentError`] when `s` is empty, longer than [`MAX_SYMBOL_LEN`] bytes, or not
    /// printable ASCII.
    pub fn new(s: &str) -> Result<Self, IdentError> {
        check_ident(s.as_bytes(), MAX_SYMBOL_LEN)?;
        let mut bytes = [0u8; MAX_SYMBOL_LEN];
        bytes[..s.len()].copy_from_slice(s.as_bytes());
        // Checked above: len <= 16.
        #[allow(clippy::cast_possible_truncation)]
        Ok(Self {
            len: s.len() as u8,
            bytes,
        })
    }

    /// The symbol as text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.bytes[..usize::from(self.len)]).unwrap_or_default()
    }
}

impl fmt::Debug for Symbol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Symbol({:?})", self.as_str())
    }
}

impl fmt::Display for Symbol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_order_id_accepts_uuid_and_rejects_bad_text() {
        let uuid = "3f2b8c1e-9d4a-4e6b-8f7a-1c2d3e4f5a6b";
        assert_eq!(ClientOrderId::new(uuid).unwrap().as_str(), uuid);
        assert_eq!(
            ClientOrderId::new(""),
            Err(IdentError::Length { len: 0, max: 36 })
        );
        assert_eq!(
            ClientOrderId::new(&"x".repeat(37)),
            Err(IdentError::Length { len: 37, max: 36 })
        );
        assert_eq!(
            ClientOrderId::new("a b"),
            Err(IdentError::Character { index: 1 })
        );
        assert_eq!(
            ClientOrderId::new("é"),
            Err(IdentError::Character { index: 0 })
        );
    }

    #[test]
    fn client_order_id_from_u64_is_decimal() {
        assert_eq!(ClientOrderId::from_u64(0).as_str(), "0");
        assert_eq!(ClientOrderId::from_u64(907).as_str(), "907");
        assert_eq!(
            ClientOrderId::from_u64(u64::MAX).as_str(),
            u64::MAX.to_string()
        );
        assert_eq!(
            ClientOrderId::from_u64(42),
            ClientOrderId::new("42").unwrap()
        );
    }

    #[test]
    fn symbol_round_trips() {
        assert_eq!(Symbol::new("BTC-USD").unwrap().to_string(), "BTC-USD");
        assert!(Symbol::new("ABCDEFGHIJKLMNOPQ").is_err());
    }
}
