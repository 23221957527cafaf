//! Shared helpers for the integration tests: cached keys and fixture readers.
#![allow(dead_code)]

use std::sync::OnceLock;

use fateflow_crypto::paillier::Keypair;
use fateflow_crypto::psi::rsa::RsaSigner;
use fateflow_crypto::Integer;
use serde_json::Value;

/// One 1024-bit Paillier key pair for the whole test binary.
pub(crate) fn keypair() -> &'static Keypair {
    static KEYS: OnceLock<Keypair> = OnceLock::new();
    KEYS.get_or_init(|| Keypair::generate(1024).expect("keygen"))
}

/// One 1024-bit RSA key for the whole test binary.
pub(crate) fn rsa_signer() -> &'static RsaSigner {
    static SIGNER: OnceLock<RsaSigner> = OnceLock::new();
    SIGNER.get_or_init(|| RsaSigner::generate(1024).expect("keygen"))
}

/// Reads a JSON fixture from `tests/fixtures/`.
pub(crate) fn fixture(name: &str) -> Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).expect("fixture is JSON")
}

/// A hexadecimal integer field.
pub(crate) fn int(v: &Value) -> Integer {
    Integer::from_str_radix(v.as_str().expect("hex string"), 16).expect("hex integer")
}

/// A float stored as the hex of its bits.
pub(crate) fn float(v: &Value) -> f64 {
    f64::from_bits(u64::from_str_radix(v.as_str().expect("bits"), 16).expect("hex bits"))
}

/// An `i32` field.
pub(crate) fn i32_of(v: &Value) -> i32 {
    i32::try_from(v.as_i64().expect("integer")).expect("i32")
}

/// Relative closeness for values that went through fixed-point rounding.
pub(crate) fn close(got: f64, expected: f64, scale: f64) -> bool {
    (got - expected).abs() <= 1e-13 * scale.max(1e-300)
}
