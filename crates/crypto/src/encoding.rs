//! Fixed-point encoding of real numbers into a Paillier plaintext space, with the
//! semantics of FATE 1.x `FixedPointNumber`.
//!
//! A number is stored as an integer `encoding` in `[0, n)` and an `exponent`, and its value
//! is `mantissa · 16^(-exponent)`, where the mantissa is `encoding` when
//! `encoding ≤ max_int` and `encoding − n` when `encoding ≥ n − max_int` (negative numbers
//! live at the top of the range). A larger exponent means more fractional digits.
//! `max_int` is `n / 3 − 1`, so that a sum of two valid encodings never wraps from the
//! positive range into the negative one unnoticed.
//!
//! Choice of the exponent, as FATE does it:
//! - an `i64` gets exponent 0;
//! - an `f64` `x` gets `floor((53 − e) / 4)` where `x = m · 2^e` with `0.5 ≤ |m| < 1`, which
//!   keeps all 53 mantissa bits;
//! - when a `precision` is given, the exponent is `floor(log16(precision))` instead;
//! - when a `max_exponent` is given (adding a scalar to a ciphertext), the exponent is the
//!   larger of that and the computed one;
//! - values with `|x| < 1e-200` are treated as the integer 0 (exponent 0).
//!
//! The integer is `round(x · 16^exponent)` with ties to even, computed in `f64` like
//! Python does, and must satisfy `|int| ≤ max_int`. Decoding reproduces Python's
//! `mantissa * pow(16, -exponent)`: for a positive exponent the mantissa is first rounded
//! to the nearest `f64` (ties to even) and then scaled by an exact power of two.

use rug::Integer;

use crate::{Error, Result};

/// The base of the fixed-point encoding.
pub const BASE: u32 = 16;
/// `log2(BASE)`.
pub const LOG2_BASE: i32 = 4;
/// Number of mantissa bits of an `f64`, counting the implicit leading bit.
pub const FLOAT_MANTISSA_BITS: i32 = 53;
/// Values with a smaller magnitude are encoded as the integer 0.
pub const ZERO_THRESHOLD: f64 = 1e-200;

/// An encoded number: `encoding` in `[0, n)` and its base-16 `exponent`.
///
/// It only has a meaning together with the [`Encoder`] (the modulus) that produced it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FixedPointNumber {
    /// The integer representative in `[0, n)`.
    pub encoding: Integer,
    /// The base-16 exponent: the value is `mantissa · 16^(-exponent)`.
    pub exponent: i32,
}

/// Encodes and decodes numbers for one modulus `n`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Encoder {
    n: Integer,
    max_int: Integer,
    negative_from: Integer,
}

impl Encoder {
    /// An encoder for the modulus `n`, with FATE 1.x's `max_int = n / 3 − 1`.
    pub fn new(n: Integer) -> Self {
        let max_int = Integer::from(&n / 3u32) - 1u32;
        Self::with_max_int(n, max_int)
    }

    /// An encoder with an explicit `max_int` (it must be below `n / 2`).
    pub fn with_max_int(n: Integer, max_int: Integer) -> Self {
        let negative_from = Integer::from(&n - &max_int);
        Self {
            n,
            max_int,
            negative_from,
        }
    }

    /// The modulus.
    pub fn n(&self) -> &Integer {
        &self.n
    }

    /// The largest magnitude of a mantissa.
    pub fn max_int(&self) -> &Integer {
        &self.max_int
    }

    /// The exponent FATE picks for `x` (before `max_exponent` is applied).
    pub fn exponent_for_f64(x: f64, precision: Option<f64>) -> Result<i32> {
        if !x.is_finite() {
            return Err(Error::NonFinite(x));
        }
        if let Some(p) = precision {
            return exponent_from_precision(p);
        }
        if x.abs() < ZERO_THRESHOLD {
            return Ok(0);
        }
        let lsb = FLOAT_MANTISSA_BITS - frexp_exponent(x);
        Ok(lsb.div_euclid(LOG2_BASE))
    }

    /// Encodes a float.
    pub fn encode_f64(
        &self,
        x: f64,
        precision: Option<f64>,
        max_exponent: Option<i32>,
    ) -> Result<FixedPointNumber> {
        let mut exponent = Self::exponent_for_f64(x, precision)?;
        if let Some(m) = max_exponent {
            exponent = exponent.max(m);
        }
        if x.abs() < ZERO_THRESHOLD {
            return Ok(FixedPointNumber {
                encoding: Integer::new(),
                exponent,
            });
        }
        // Python computes `x * pow(16, e)`: for e ≥ 0 the integer 16^e is converted to a
        // float (which fails above f64::MAX), for e < 0 it is the float 16.0^e.
        if exponent >= 256 {
            return Err(Error::EncodeOverflow);
        }
        let scaled = x * exp2i(exponent * LOG2_BASE);
        if !scaled.is_finite() {
            return Err(Error::EncodeOverflow);
        }
        let mantissa = Integer::from_f64(scaled.round_ties_even()).ok_or(Error::EncodeOverflow)?;
        self.encode_mantissa(mantissa, exponent)
    }

    /// Encodes an integer with exponent 0, or `max_exponent` when that is larger.
    pub fn encode_i64(&self, x: i64, max_exponent: Option<i32>) -> Result<FixedPointNumber> {
        self.encode_integer(&Integer::from(x), max_exponent)
    }

    /// Encodes a big integer with exponent 0, or `max_exponent` when that is larger.
    pub fn encode_integer(
        &self,
        x: &Integer,
        max_exponent: Option<i32>,
    ) -> Result<FixedPointNumber> {
        let exponent = max_exponent.unwrap_or(0).max(0);
        let bits = u32::try_from(exponent * LOG2_BASE).map_err(|_| Error::EncodeOverflow)?;
        if bits > self.n.significant_bits() {
            return Err(Error::EncodeOverflow);
        }
        self.encode_mantissa(Integer::from(x << bits), exponent)
    }

    /// Builds a number from a signed mantissa, checking `|mantissa| ≤ max_int`.
    pub fn encode_mantissa(&self, mantissa: Integer, exponent: i32) -> Result<FixedPointNumber> {
        if mantissa.as_abs().cmp(&self.max_int).is_gt() {
            return Err(Error::EncodeOverflow);
        }
        let encoding = if mantissa < 0 {
            mantissa + &self.n
        } else {
            mantissa
        };
        Ok(FixedPointNumber { encoding, exponent })
    }

    /// The signed mantissa of `x`, or an error when the encoding is in the overflow gap
    /// `(max_int, n − max_int)` or not below `n`.
    pub fn mantissa(&self, x: &FixedPointNumber) -> Result<Integer> {
        if x.encoding < 0 || x.encoding >= self.n {
            return Err(Error::Malformed {
                what: "fixed-point number",
                reason: "encoding not in [0, n)",
            });
        }
        if x.encoding <= self.max_int {
            Ok(x.encoding.clone())
        } else if x.encoding >= self.negative_from {
            Ok(Integer::from(&x.encoding - &self.n))
        } else {
            Err(Error::DecodeOverflow)
        }
    }

    /// Decodes to the nearest `f64`, as FATE (Python) does.
    pub fn decode_f64(&self, x: &FixedPointNumber) -> Result<f64> {
        let mantissa = self.mantissa(x)?;
        let out_of_range = Error::OutOfRange { target: "f64" };
        if x.exponent <= 0 {
            let shift = x
                .exponent
                .unsigned_abs()
                .checked_mul(LOG2_BASE as u32)
                .ok_or(out_of_range)?;
            if shift > 2048 {
                return if mantissa == 0 {
                    Ok(0.0)
                } else {
                    Err(Error::OutOfRange { target: "f64" })
                };
            }
            integer_to_f64(&(mantissa << shift)).ok_or(Error::OutOfRange { target: "f64" })
        } else {
            let m = integer_to_f64(&mantissa).ok_or(out_of_range)?;
            let k = x.exponent.saturating_mul(LOG2_BASE);
            Ok(m * exp2i(-k))
        }
    }

    /// Decodes to an `i64`; the value must be an integer in range.
    pub fn decode_i64(&self, x: &FixedPointNumber) -> Result<i64> {
        let mantissa = self.mantissa(x)?;
        let out_of_range = Error::OutOfRange { target: "i64" };
        let value = if x.exponent <= 0 {
            let shift = x
                .exponent
                .unsigned_abs()
                .checked_mul(LOG2_BASE as u32)
                .ok_or(out_of_range)?;
            if shift > 64 && mantissa != 0 {
                return Err(Error::OutOfRange { target: "i64" });
            }
            mantissa << shift.min(64)
        } else {
            let shift = x.exponent.unsigned_abs() * LOG2_BASE as u32;
            if mantissa.is_divisible_2pow(shift) {
                mantissa >> shift
            } else {
                return Err(Error::OutOfRange { target: "i64" });
            }
        };
        value.to_i64().ok_or(Error::OutOfRange { target: "i64" })
    }
}

/// `floor(log16(precision))` computed like Python's `math.log(precision, 16)`.
fn exponent_from_precision(precision: f64) -> Result<i32> {
    if !(precision.is_finite() && precision > 0.0) {
        return Err(Error::InvalidPrecision(precision));
    }
    let e = (precision.ln() / f64::from(BASE).ln()).floor();
    // A positive finite f64 has |log16| < 300, so this cast is exact.
    Ok(e as i32)
}

/// The exponent `e` of `x = m · 2^e` with `0.5 ≤ |m| < 1` (C `frexp`), for a normal `x`.
fn frexp_exponent(x: f64) -> i32 {
    let biased = ((x.to_bits() >> 52) & 0x7ff) as i32;
    if biased == 0 {
        // Subnormal: normalise first (never reached by the encoder, which zeroes tiny values).
        return frexp_exponent(x * exp2i(64)) - 64;
    }
    biased - 1022
}

/// The exact power of two `2^k` as an `f64` (0 below the subnormal range, ∞ above f64::MAX).
pub(crate) fn exp2i(k: i32) -> f64 {
    if k > 1023 {
        f64::INFINITY
    } else if k >= -1022 {
        f64::from_bits(((k + 1023) as u64) << 52)
    } else if k >= -1074 {
        f64::from_bits(1u64 << (k + 1074))
    } else {
        0.0
    }
}

/// Converts an integer to the nearest `f64`, ties to even (Python's `float(int)`);
/// `None` when the result would overflow.
pub(crate) fn integer_to_f64(x: &Integer) -> Option<f64> {
    let bits = x.significant_bits();
    if bits <= 53 {
        return Some(x.to_f64());
    }
    let shift = bits - 53;
    let abs = x.clone().abs();
    let mut top = Integer::from(&abs >> shift);
    let rest = abs.keep_bits(shift);
    let half = Integer::from(1) << (shift - 1);
    match rest.cmp(&half) {
        std::cmp::Ordering::Greater => top += 1,
        std::cmp::Ordering::Equal if top.is_odd() => top += 1,
        _ => {}
    }
    // `top` ≤ 2^53, so its conversion is exact.
    let magnitude = top.to_f64() * exp2i(i32::try_from(shift).ok()?);
    if !magnitude.is_finite() {
        return None;
    }
    Some(if *x < 0 { -magnitude } else { magnitude })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encoder() -> Encoder {
        // Any odd modulus works for the encoding itself.
        Encoder::new((Integer::from(1) << 1024u32) - 159u32)
    }

    #[test]
    fn exponents_match_fate() {
        assert_eq!(Encoder::exponent_for_f64(0.5, None).unwrap(), 13);
        assert_eq!(Encoder::exponent_for_f64(1.0, None).unwrap(), 13);
        assert_eq!(Encoder::exponent_for_f64(2.0, None).unwrap(), 12);
        assert_eq!(Encoder::exponent_for_f64(1e20, None).unwrap(), -4);
        assert_eq!(Encoder::exponent_for_f64(0.0, None).unwrap(), 0);
        assert_eq!(Encoder::exponent_for_f64(1e-201, None).unwrap(), 0);
        assert_eq!(Encoder::exponent_for_f64(3.0, Some(1e-8)).unwrap(), -7);
        assert!(Encoder::exponent_for_f64(f64::NAN, None).is_err());
        assert!(Encoder::exponent_for_f64(1.0, Some(0.0)).is_err());
    }

    #[test]
    fn round_trip_floats() {
        let e = encoder();
        for x in [0.0, 1.5, -1.5, -3.25e7, 123456.789, 1e300, -0.0078125] {
            let fp = e.encode_f64(x, None, None).unwrap();
            assert_eq!(e.decode_f64(&fp).unwrap(), x, "x = {x}");
        }
        // The exponent is rounded down to a multiple of 4 bits, so up to 3 low mantissa bits
        // can be lost; FATE (Python) gives the same value.
        let fp = e.encode_f64(1e-10, None, None).unwrap();
        assert_eq!(
            (fp.encoding.to_u64(), fp.exponent),
            (Some(1934281311383407), 21)
        );
        assert_eq!(e.decode_f64(&fp).unwrap(), 1.0000000000000002e-10);
    }

    #[test]
    fn precision_rounds_half_to_even() {
        let e = encoder();
        let fp = e.encode_f64(2.5, Some(1.0), None).unwrap();
        assert_eq!(fp.exponent, 0);
        assert_eq!(fp.encoding, 2);
        let fp = e.encode_f64(-3.5, Some(1.0), None).unwrap();
        assert_eq!(e.mantissa(&fp).unwrap(), -4);
    }

    #[test]
    fn integers() {
        let e = encoder();
        let fp = e.encode_i64(-42, Some(3)).unwrap();
        assert_eq!(fp.exponent, 3);
        assert_eq!(e.decode_i64(&fp).unwrap(), -42);
        assert_eq!(e.decode_f64(&fp).unwrap(), -42.0);
        let half = e.encode_f64(0.5, None, None).unwrap();
        assert!(e.decode_i64(&half).is_err());
    }

    #[test]
    fn overflow_is_detected() {
        let e = encoder();
        let too_big = Integer::from(e.max_int() + 1u32);
        assert!(matches!(
            e.encode_mantissa(too_big, 0),
            Err(Error::EncodeOverflow)
        ));
        let gap = FixedPointNumber {
            encoding: Integer::from(e.max_int() + 5u32),
            exponent: 0,
        };
        assert!(matches!(e.decode_f64(&gap), Err(Error::DecodeOverflow)));
    }

    #[test]
    fn integer_to_f64_rounds_to_nearest_even() {
        let two53 = Integer::from(1) << 53u32;
        assert_eq!(
            integer_to_f64(&Integer::from(&two53 + 1u32)),
            Some(9007199254740992.0)
        );
        assert_eq!(
            integer_to_f64(&Integer::from(&two53 + 3u32)),
            Some(9007199254740996.0)
        );
        assert_eq!(integer_to_f64(&(Integer::from(1) << 1024u32)), None);
        assert_eq!(exp2i(-1074), f64::from_bits(1));
        assert_eq!(exp2i(-1075), 0.0);
    }
}
