//! Reading untrusted bytes: a bounds-checked cursor and the field decoders shared by
//! every layout.

use super::error::DecodeError;
use crate::types::{ClientOrderId, Side, StpMode, TimeInForce};

/// A bounds-checked cursor over untrusted bytes.
#[derive(Debug)]
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    /// Starts at the beginning of `buf`.
    #[must_use]
    pub fn new(buf: &'a [u8]) -> Self {
        Self { buf, pos: 0 }
    }

    /// Bytes consumed so far.
    #[must_use]
    pub fn position(&self) -> usize {
        self.pos
    }

    /// Bytes not yet consumed.
    #[must_use]
    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// Fails unless everything was consumed.
    ///
    /// # Errors
    /// [`DecodeError::Trailing`].
    pub fn finish(&self) -> Result<(), DecodeError> {
        match self.remaining() {
            0 => Ok(()),
            n => Err(DecodeError::Trailing(n)),
        }
    }

    /// The next `n` bytes.
    ///
    /// # Errors
    /// [`DecodeError::Truncated`].
    pub fn bytes(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|end| *end <= self.buf.len())
            .ok_or(DecodeError::Truncated {
                offset: self.pos,
                needed: n.saturating_sub(self.remaining()),
            })?;
        let out = &self.buf[self.pos..end];
        self.pos = end;
        Ok(out)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.bytes(N)?);
        Ok(out)
    }

    /// One byte.
    ///
    /// # Errors
    /// [`DecodeError::Truncated`].
    pub fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.array::<1>()?[0])
    }

    /// A little-endian `u16`.
    ///
    /// # Errors
    /// [`DecodeError::Truncated`].
    pub fn u16(&mut self) -> Result<u16, DecodeError> {
        Ok(u16::from_le_bytes(self.array()?))
    }

    /// A little-endian `u32`.
    ///
    /// # Errors
    /// [`DecodeError::Truncated`].
    pub fn u32(&mut self) -> Result<u32, DecodeError> {
        Ok(u32::from_le_bytes(self.array()?))
    }

    /// A little-endian `u64`.
    ///
    /// # Errors
    /// [`DecodeError::Truncated`].
    pub fn u64(&mut self) -> Result<u64, DecodeError> {
        Ok(u64::from_le_bytes(self.array()?))
    }

    /// A little-endian `i64`.
    ///
    /// # Errors
    /// [`DecodeError::Truncated`].
    pub fn i64(&mut self) -> Result<i64, DecodeError> {
        Ok(i64::from_le_bytes(self.array()?))
    }

    pub(super) fn invalid(&self, what: &'static str, value: u8) -> DecodeError {
        DecodeError::Invalid {
            what,
            value,
            offset: self.pos.saturating_sub(1),
        }
    }

    /// A `0`/`1` byte.
    ///
    /// # Errors
    /// [`DecodeError`] on truncation or any other byte.
    pub fn bool(&mut self) -> Result<bool, DecodeError> {
        match self.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            v => Err(self.invalid("bool", v)),
        }
    }

    pub(crate) fn client_order_id(&mut self) -> Result<ClientOrderId, DecodeError> {
        let len = self.u8()?;
        let bytes = self.bytes(usize::from(len))?;
        ClientOrderId::from_bytes(bytes).map_err(|_| self.invalid("client order id", len))
    }

    pub(crate) fn time_in_force(&mut self) -> Result<TimeInForce, DecodeError> {
        match self.u8()? {
            0 => Ok(TimeInForce::Gtc),
            1 => Ok(TimeInForce::Ioc),
            2 => Ok(TimeInForce::Fok),
            v => Err(self.invalid("time in force", v)),
        }
    }

    pub(crate) fn stp(&mut self) -> Result<StpMode, DecodeError> {
        match self.u8()? {
            0 => Ok(StpMode::CancelNewest),
            1 => Ok(StpMode::CancelOldest),
            2 => Ok(StpMode::CancelBoth),
            3 => Ok(StpMode::DecrementAndCancel),
            v => Err(self.invalid("stp mode", v)),
        }
    }

    pub(crate) fn side(&mut self) -> Result<Side, DecodeError> {
        match self.u8()? {
            0 => Ok(Side::Buy),
            1 => Ok(Side::Sell),
            v => Err(self.invalid("side", v)),
        }
    }
}

pub(super) fn decode_opt_u64(r: &mut Reader<'_>) -> Result<Option<u64>, DecodeError> {
    let present = r.bool()?;
    let v = r.u64()?;
    if !present && v != 0 {
        // One encoding per value: an absent field is all zeros.
        return Err(r.invalid("absent field", 1));
    }
    Ok(present.then_some(v))
}
