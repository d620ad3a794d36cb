//! What a decoder reports instead of panicking.

/// Why bytes do not decode.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The input ended inside a value.
    #[error("input ends {needed} bytes short at offset {offset}")]
    Truncated {
        /// Where the short read started.
        offset: usize,
        /// Bytes missing.
        needed: usize,
    },
    /// A tag or enum byte with no meaning.
    #[error("invalid {what} byte {value} at offset {offset}")]
    Invalid {
        /// Which field.
        what: &'static str,
        /// The byte found.
        value: u8,
        /// Where.
        offset: usize,
    },
    /// Bytes were left over after a complete value.
    #[error("{0} unexpected trailing bytes")]
    Trailing(usize),
}
