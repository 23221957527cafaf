//! Cryptography for the Rust FATE-Flow: Paillier homomorphic encryption with FATE 1.x
//! fixed-point semantics, ciphertext packing, and the primitives of private set
//! intersection (RSA blind signatures and ECDH).
//!
//! This is a pure leaf crate: no IO, no async runtime, no knowledge of parties or
//! federation. Batch functions take slices, return `Vec`s and run on the current rayon
//! pool; every type is `Send + Sync`.
//!
//! - [`paillier`]: keys, encryption (DJN short-exponent obfuscation from fixed-base tables,
//!   CRT for the key owner, a background obfuscator pool), CRT decryption, homomorphic
//!   operations on raw ciphertexts and on encrypted fixed-point numbers.
//! - [`encoding`]: FATE 1.x `FixedPointNumber` (base 16, exponent carried with the number).
//! - [`packing`]: several small integers per plaintext, with overflow checks.
//! - [`psi`]: [`psi::rsa`] (FATE 1.x compatible) and [`psi::ecdh`] (ristretto255).
//! - [`sshare`]: additive two-party shares over Z_{2^128}, the HE-to-share boundary and
//!   Beaver triples generated with Paillier.
//!
//! Big integers are GMP integers through [`rug`]; [`Integer`] is re-exported so callers
//! need not depend on `rug` themselves.
//!
//! # Example
//!
//! ```
//! use fateflow_crypto::paillier::{Encryptor, Keypair};
//!
//! let keys = Keypair::generate(1024)?;
//! let a = keys.public.encrypt_f64(1.5)?;
//! let b = keys.public.encrypt_f64(-0.25)?;
//! let sum = keys.public.add(&a, &b)?;
//! let scaled = keys.public.mul_f64(&sum, -2.0)?;
//! assert_eq!(keys.private.decrypt_f64(&scaled)?, -2.5);
//! # Ok::<(), fateflow_crypto::Error>(())
//! ```

#![warn(missing_docs)]

pub mod encoding;
mod error;
mod mont52;
pub mod ot;
pub mod packing;
pub mod paillier;
pub mod psi;
mod rng;
pub mod sshare;
mod wire;

pub use error::{Error, Result};
pub use rug::Integer;

/// A uniformly random integer in `[0, 2^bits)` from the operating system's CSPRNG, for
/// masks that hide a value sent to another party for decryption.
pub fn random_integer(bits: u32) -> Integer {
    rng::random_bits(bits)
}

#[cfg(test)]
mod tests {
    /// Every public type must be usable across threads.
    #[test]
    fn types_are_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<crate::paillier::PublicKey>();
        check::<crate::paillier::PrivateKey>();
        check::<crate::paillier::Keypair>();
        check::<crate::paillier::Ciphertext>();
        check::<crate::paillier::EncryptedNumber>();
        check::<crate::paillier::ObfuscatorPool>();
        check::<crate::encoding::Encoder>();
        check::<crate::packing::Packer>();
        check::<crate::psi::rsa::RsaSigner>();
        check::<crate::psi::rsa::RsaBlinder>();
        check::<crate::psi::rsa::BlindedIds>();
        check::<crate::psi::ecdh::EcdhParty>();
        check::<crate::sshare::Fixed>();
        check::<crate::sshare::Triples>();
        check::<crate::sshare::MatrixTriple>();
        check::<crate::sshare::ElementwiseTripleSession>();
        check::<crate::sshare::MatrixTripleSession>();
        check::<crate::sshare::cross::CrossLayout>();
        check::<crate::Error>();
    }
}
