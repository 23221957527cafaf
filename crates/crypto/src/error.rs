//! The crate's error type.

/// Everything that can go wrong in this crate.
///
/// The variants say what was wrong with the input, so that a caller can tell a bad value
/// received from another party (for example [`Error::Malformed`]) from a local misuse
/// (for example [`Error::LengthMismatch`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Key generation was asked for a size this crate does not offer.
    #[error("unsupported key size: {bits} bits (supported: {supported:?})")]
    UnsupportedKeySize {
        /// The requested modulus size.
        bits: u32,
        /// The sizes that are supported.
        supported: &'static [u32],
    },
    /// Key material failed validation (not prime, wrong size, not invertible, ...).
    #[error("invalid key: {0}")]
    InvalidKey(&'static str),
    /// A serialized value names a kind or version this crate does not read.
    #[error("unsupported serialized {kind}: {found}")]
    UnsupportedFormat {
        /// What was being read.
        kind: &'static str,
        /// The kind tag or version that was found.
        found: String,
    },
    /// A value received from outside has the wrong shape or is out of its range.
    #[error("malformed {what}: {reason}")]
    Malformed {
        /// What was being read.
        what: &'static str,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// NaN or an infinity was given to the fixed-point encoder.
    #[error("cannot encode the non-finite number {0}")]
    NonFinite(f64),
    /// A precision that is not a positive finite number was given to the encoder.
    #[error("invalid encoding precision {0}: it must be a positive finite number")]
    InvalidPrecision(f64),
    /// The value does not fit in the key's plaintext range (`|x·16^e| > max_int`).
    #[error("value does not fit in the plaintext range of the key")]
    EncodeOverflow,
    /// A plaintext is neither a valid positive nor a valid negative encoding: an
    /// homomorphic computation overflowed.
    #[error("decrypted value is outside the valid range: the computation overflowed")]
    DecodeOverflow,
    /// A decoded value does not fit the requested Rust type (or is not an integer when
    /// an integer was asked for).
    #[error("decoded value cannot be represented as {target}")]
    OutOfRange {
        /// The requested type.
        target: &'static str,
    },
    /// A raw plaintext is not in `[0, n)`.
    #[error("plaintext is not in [0, n)")]
    PlaintextOutOfRange,
    /// A ciphertext has no inverse modulo n² (it is not a valid ciphertext for this key).
    #[error("ciphertext is not invertible modulo n^2")]
    InvalidCiphertext,
    /// Two slices that must be paired element by element have different lengths.
    #[error("slices have different lengths: {left} and {right}")]
    LengthMismatch {
        /// Length of the first slice.
        left: usize,
        /// Length of the second slice.
        right: usize,
    },
    /// A value does not fit in its packing slot.
    #[error("value in slot {slot} needs more than {bits} bits")]
    SlotOverflow {
        /// Index of the slot inside the record.
        slot: usize,
        /// The width of the slot.
        bits: u32,
    },
    /// A packing layout does not fit in the key's plaintext space.
    #[error("packing needs {needed} bits but the plaintext space has {available}")]
    PackingCapacity {
        /// Bits needed by the layout.
        needed: u32,
        /// Bits available.
        available: u32,
    },
    /// A packed plaintext has bits set above its last slot: a slot sum overflowed.
    #[error("packed plaintext overflowed its slots")]
    PackingOverflow,
    /// A 32-byte string is not the encoding of a Ristretto point.
    #[error("bytes do not encode a valid curve point")]
    InvalidPoint,
    /// An RSA-CRT signature failed its self-check (a fault during computation).
    #[error("RSA signature self-check failed")]
    SignatureFault,
    /// A number does not fit the fixed-point range of the secret-sharing ring.
    #[error(
        "cannot encode {value} with {frac_bits} fractional bits: |x|·2^f must stay below 2^126"
    )]
    FixedOverflow {
        /// The number.
        value: f64,
        /// The fixed-point scale.
        frac_bits: u32,
    },
    /// A Paillier key is too small for the masked values it must carry.
    #[error("Paillier key too small: {needed} bits needed, the key has {available}")]
    KeyTooSmall {
        /// Bits the values need.
        needed: u32,
        /// Bits of the key's modulus.
        available: u32,
    },
    /// The background obfuscator thread could not be started.
    #[error("cannot start the obfuscator pool thread")]
    PoolStart(#[source] std::io::Error),
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
