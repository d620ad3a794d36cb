//! Writing encodings: the [`Encode`] trait and the little-endian primitives every layout
//! is made of.

use crate::types::ClientOrderId;

/// Appends encodings to a byte buffer.
pub trait Encode {
    /// Appends `self`'s encoding to `out`.
    fn encode(&self, out: &mut Vec<u8>);
}

pub(crate) fn put_u8(out: &mut Vec<u8>, v: u8) {
    out.push(v);
}
pub(crate) fn put_u32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_le_bytes());
}
pub(crate) fn put_u64(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(&v.to_le_bytes());
}
pub(crate) fn put_i64(out: &mut Vec<u8>, v: i64) {
    out.extend_from_slice(&v.to_le_bytes());
}
pub(crate) fn put_client_order_id(out: &mut Vec<u8>, c: &ClientOrderId) {
    let bytes = c.as_bytes();
    // At most 36 bytes by construction.
    #[allow(clippy::cast_possible_truncation)]
    put_u8(out, bytes.len() as u8);
    out.extend_from_slice(bytes);
}

pub(super) fn put_opt_u64(out: &mut Vec<u8>, v: Option<u64>) {
    match v {
        Some(v) => {
            put_u8(out, 1);
            put_u64(out, v);
        }
        None => {
            put_u8(out, 0);
            put_u64(out, 0);
        }
    }
}
