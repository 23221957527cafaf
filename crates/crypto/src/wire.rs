//! Helpers for the serialized forms: big integers are lower-case hexadecimal strings
//! without prefix or sign, and their length is bounded before parsing.

use rug::Integer;

use crate::{Error, Result};

/// Hexadecimal form of a non-negative integer.
pub(crate) fn to_hex(x: &Integer) -> String {
    x.to_string_radix(16)
}

/// Parses a hexadecimal non-negative integer of at most `max_bits` bits.
pub(crate) fn parse_hex(s: &str, what: &'static str, max_bits: u32) -> Result<Integer> {
    if s.is_empty() {
        return Err(Error::Malformed {
            what,
            reason: "empty number",
        });
    }
    if s.len() > max_bits.div_ceil(4) as usize {
        return Err(Error::Malformed {
            what,
            reason: "number too long",
        });
    }
    if !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(Error::Malformed {
            what,
            reason: "not a hexadecimal number",
        });
    }
    Integer::from_str_radix(s, 16).map_err(|_| Error::Malformed {
        what,
        reason: "not a hexadecimal number",
    })
}

/// Checks a `kind` tag and `version` field of a serialized object.
pub(crate) fn check_header(
    kind_expected: &'static str,
    kind: &str,
    version: u32,
    supported_version: u32,
) -> Result<()> {
    if kind != kind_expected {
        return Err(Error::UnsupportedFormat {
            kind: kind_expected,
            found: format!("kind {kind:?}"),
        });
    }
    if version != supported_version {
        return Err(Error::UnsupportedFormat {
            kind: kind_expected,
            found: format!("version {version}"),
        });
    }
    Ok(())
}
