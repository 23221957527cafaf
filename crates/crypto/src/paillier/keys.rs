//! Paillier keys: generation, validation, serialization and the precomputed values that
//! make encryption and decryption fast.

use std::fmt;
use std::sync::{Arc, OnceLock};

use rayon::prelude::*;

use rug::integer::IsPrime;
use rug::ops::RemRounding;
use rug::Integer;
use serde::{Deserialize, Serialize};

use super::table::FixedBaseTable;
use super::{Ciphertext, Obfuscator};
use crate::encoding::Encoder;
use crate::mont52::Mont52;
use crate::{rng, wire, Error, Result};

/// Key sizes offered by [`Keypair::generate`].
pub const SUPPORTED_KEY_SIZES: &[u32] = &[1024, 2048, 3072];
/// Smallest modulus accepted when a key is loaded.
pub const MIN_KEY_BITS: u32 = 1024;
/// Largest modulus accepted when a key is loaded (bounds the work an input can cause).
pub const MAX_KEY_BITS: u32 = 8192;

const PUBLIC_KIND: &str = "paillier-public-key";
const PRIVATE_KIND: &str = "paillier-private-key";
const FORMAT_VERSION: u32 = 1;

/// Length in bits of the DJN short exponent `x` in the obfuscator `h^x`, per modulus size.
///
/// It is four times the security level of the modulus (80, 112, 128 and 192 bits for
/// 1024, 2048, 3072 and 7680-bit moduli): 320, 448, 512 and 768 bits. Generic attacks on a
/// short exponent (baby-step giant-step, kangaroo) cost about `2^(bits/2)`, so twice the
/// security level is the minimum; we double it for margin.
pub fn short_exponent_bits(modulus_bits: u32) -> u32 {
    match modulus_bits {
        0..=1024 => 320,
        1025..=2048 => 448,
        2049..=3072 => 512,
        _ => 768,
    }
}

/// The public key: the modulus `n` (with `g = n + 1`).
///
/// Cloning is cheap (the key is shared behind an `Arc`). The first encryption builds this
/// key's DJN obfuscation base and its fixed-base table (default width: about 29 MB for a
/// 2048-bit key; see [`PublicKey::prepare_obfuscators`] for wider ones); clones share it, so
/// deserialize a received key once and clone it rather than deserializing it again for
/// each use.
#[derive(Clone)]
pub struct PublicKey {
    inner: Arc<PublicInner>,
}

struct PublicInner {
    n: Integer,
    n_squared: Integer,
    encoder: Encoder,
    bits: u32,
    djn: OnceLock<FixedBaseTable>,
    /// The IFMA Montgomery context modulo n², where the CPU has IFMA.
    mont: OnceLock<Option<Mont52>>,
}

impl PublicKey {
    /// A public key for the modulus `n`, checked to be odd and of an accepted size.
    pub fn from_modulus(n: Integer) -> Result<Self> {
        let bits = n.significant_bits();
        if !(MIN_KEY_BITS..=MAX_KEY_BITS).contains(&bits) {
            return Err(Error::InvalidKey("modulus size out of the accepted range"));
        }
        if n.is_even() {
            return Err(Error::InvalidKey("modulus is even"));
        }
        let n_squared = Integer::from(n.square_ref());
        let encoder = Encoder::new(n.clone());
        Ok(Self {
            inner: Arc::new(PublicInner {
                n,
                n_squared,
                encoder,
                bits,
                djn: OnceLock::new(),
                mont: OnceLock::new(),
            }),
        })
    }

    /// The modulus `n`.
    pub fn n(&self) -> &Integer {
        &self.inner.n
    }

    /// `n²`, the ciphertext modulus.
    pub fn n_squared(&self) -> &Integer {
        &self.inner.n_squared
    }

    /// Size of `n` in bits.
    pub fn bits(&self) -> u32 {
        self.inner.bits
    }

    /// The largest magnitude of an encoded mantissa (`n / 3 − 1`).
    pub fn max_int(&self) -> &Integer {
        self.inner.encoder.max_int()
    }

    /// The fixed-point encoder for this key.
    pub fn encoder(&self) -> &Encoder {
        &self.inner.encoder
    }

    /// Checks that a ciphertext received from elsewhere lies in `(0, n²)`.
    pub fn check_ciphertext(&self, c: &Ciphertext) -> Result<()> {
        let c = c.as_integer();
        if *c <= 0 || *c >= self.inner.n_squared {
            return Err(Error::Malformed {
                what: "ciphertext",
                reason: "not in (0, n^2)",
            });
        }
        Ok(())
    }

    /// Eight-lane Montgomery arithmetic modulo n², when the CPU has AVX-512 IFMA.
    pub(crate) fn mont_n2(&self) -> Option<&Mont52> {
        self.inner
            .mont
            .get_or_init(|| Mont52::new(&self.inner.n_squared))
            .as_ref()
    }

    /// The DJN table, built on first use (default width, on the calling thread).
    pub(crate) fn djn_table(&self) -> &FixedBaseTable {
        self.inner.djn.get_or_init(|| {
            let bytes = short_exponent_bits(self.inner.bits).div_ceil(8) as usize;
            FixedBaseTable::new(&self.djn_base(), &self.inner.n_squared, bytes)
        })
    }

    /// h = (−s²)^n mod n² for a random unit s: an n-th residue that, with good
    /// probability, generates the whole group of n-th residues of Jacobi symbol 1.
    fn djn_base(&self) -> Integer {
        let n = &self.inner.n;
        let s = rng::random_nonzero_below(n);
        let minus_s2 = n - Integer::from(s.square_ref()) % n;
        minus_s2
            .pow_mod(n, &self.inner.n_squared)
            .expect("positive exponent")
    }

    /// Says that about `expected` obfuscators (encryptions or re-randomizations) are
    /// coming: when the DJN table is not built yet, builds it now, on the rayon pool, as
    /// wide as that many uses repay (up to [`super::MAX_TABLE_BYTES`]). For 300,000
    /// uses that is 14-bit digits, a quarter to a third fewer multiplications per
    /// obfuscator than the default table. Does nothing once the table exists.
    pub fn prepare_obfuscators(&self, expected: usize) {
        if self.inner.djn.get().is_some() {
            return;
        }
        let exponent_bits = short_exponent_bits(self.inner.bits);
        let digit_bits = super::table::digit_bits_for(
            self.inner.n_squared.significant_bits(),
            exponent_bits,
            expected,
        );
        // Built outside the OnceLock (see `FixedBaseTable::with_digit_bits`); if another
        // thread got there first, its table stays and this one is dropped.
        let table = FixedBaseTable::with_digit_bits(
            &self.djn_base(),
            &self.inner.n_squared,
            exponent_bits.div_ceil(8) as usize,
            digit_bits,
            true,
        );
        let _ = self.inner.djn.set(table);
    }

    /// `h^x mod n²` (DJN) for a fresh random short exponent `x`, from the fixed-base table.
    pub fn obfuscator(&self) -> Obfuscator {
        let table = self.djn_table();
        let mut x = vec![0u8; table.exponent_bytes()];
        rng::fill(&mut x);
        Obfuscator(table.pow(&x))
    }

    /// `c · h^x mod n²` for each `c` in `[0, n²)`, each with a fresh random short
    /// exponent `x`: many encryptions or re-randomizations at once, eight per call of the
    /// IFMA kernel where the CPU has it, on the rayon pool.
    pub(crate) fn times_obfuscators(&self, values: &[&Integer]) -> Vec<Integer> {
        let table = self.djn_table();
        values
            .par_chunks(8)
            .flat_map_iter(|chunk| {
                let exps: Vec<Vec<u8>> = chunk
                    .iter()
                    .map(|_| {
                        let mut x = vec![0u8; table.exponent_bytes()];
                        rng::fill(&mut x);
                        x
                    })
                    .collect();
                let refs: Vec<&[u8]> = exps.iter().map(Vec::as_slice).collect();
                table.pow_times(&refs, chunk)
            })
            .collect()
    }

    /// `r^n mod n²` for a fresh uniform `r` in `[1, n)`: the textbook (and FATE) obfuscator,
    /// with a full-size exponent. About 30 times slower than [`Self::obfuscator`] for a
    /// 2048-bit key; kept as the reference the benchmarks compare against.
    pub fn obfuscator_full(&self) -> Obfuscator {
        self.obfuscator_from_randomness(&rng::random_nonzero_below(&self.inner.n))
    }

    /// `r^n mod n²` for a given `r` (for known-answer tests and interoperability).
    pub fn obfuscator_from_randomness(&self, r: &Integer) -> Obfuscator {
        let r = Integer::from(r % &self.inner.n_squared);
        Obfuscator(
            r.pow_mod(&self.inner.n, &self.inner.n_squared)
                .expect("positive exponent"),
        )
    }
}

impl PartialEq for PublicKey {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner) || self.inner.n == other.inner.n
    }
}

impl Eq for PublicKey {}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hex = self.inner.n.to_string_radix(16);
        let head = &hex[..hex.len().min(16)];
        f.debug_struct("PublicKey")
            .field("bits", &self.inner.bits)
            .field("n", &format_args!("{head}…"))
            .finish()
    }
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct PublicKeyWire {
    kind: String,
    version: u32,
    n: String,
}

impl Serialize for PublicKey {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        PublicKeyWire {
            kind: PUBLIC_KIND.into(),
            version: FORMAT_VERSION,
            n: wire::to_hex(self.n()),
        }
        .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for PublicKey {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let w = PublicKeyWire::deserialize(deserializer)?;
        let parse = || -> Result<Self> {
            wire::check_header(PUBLIC_KIND, &w.kind, w.version, FORMAT_VERSION)?;
            Self::from_modulus(wire::parse_hex(&w.n, "public key modulus", MAX_KEY_BITS)?)
        };
        parse().map_err(serde::de::Error::custom)
    }
}

/// The private key: the primes `p`, `q` and the values precomputed from them for CRT
/// decryption and CRT encryption.
///
/// `Debug` never prints secret values. Cloning is cheap (shared behind an `Arc`).
#[derive(Clone)]
pub struct PrivateKey {
    public: PublicKey,
    inner: Arc<PrivateInner>,
}

struct PrivateInner {
    p: Integer,
    q: Integer,
    p_squared: Integer,
    q_squared: Integer,
    p_minus_1: Integer,
    q_minus_1: Integer,
    /// `L_p(g^(p−1) mod p²)^(−1) mod p`.
    hp: Integer,
    /// `L_q(g^(q−1) mod q²)^(−1) mod q`.
    hq: Integer,
    /// `q^(−1) mod p`.
    q_inv_p: Integer,
    /// `(q²)^(−1) mod p²`, to recombine residues modulo p² and q² into one modulo n².
    q2_inv_p2: Integer,
    /// The DJN table of the public key reduced modulo p² and q² (built on first use).
    crt_tables: OnceLock<(FixedBaseTable, FixedBaseTable)>,
}

impl PrivateKey {
    /// Builds the key from its two primes, checking them.
    pub fn from_primes(p: Integer, q: Integer) -> Result<Self> {
        if p == q {
            return Err(Error::InvalidKey("p equals q"));
        }
        for x in [&p, &q] {
            if *x <= 2 || x.is_even() || x.is_probably_prime(30) == IsPrime::No {
                return Err(Error::InvalidKey("p or q is not an odd prime"));
            }
        }
        let n = Integer::from(&p * &q);
        let public = PublicKey::from_modulus(n)?;
        let p_minus_1 = Integer::from(&p - 1u32);
        let q_minus_1 = Integer::from(&q - 1u32);
        let phi = Integer::from(&p_minus_1 * &q_minus_1);
        if Integer::from(public.n().gcd_ref(&phi)) != 1 {
            return Err(Error::InvalidKey("gcd(n, phi(n)) is not 1"));
        }
        let p_squared = Integer::from(p.square_ref());
        let q_squared = Integer::from(q.square_ref());
        let hp = h_value(public.n(), &p, &p_minus_1, &p_squared)?;
        let hq = h_value(public.n(), &q, &q_minus_1, &q_squared)?;
        let q_inv_p = Integer::from(&q % &p)
            .invert(&p)
            .map_err(|_| Error::InvalidKey("q has no inverse mod p"))?;
        let q2_inv_p2 = Integer::from(&q_squared % &p_squared)
            .invert(&p_squared)
            .map_err(|_| Error::InvalidKey("q^2 has no inverse mod p^2"))?;
        let inner = PrivateInner {
            p,
            q,
            p_squared,
            q_squared,
            p_minus_1,
            q_minus_1,
            hp,
            hq,
            q_inv_p,
            q2_inv_p2,
            crt_tables: OnceLock::new(),
        };
        Ok(Self {
            public,
            inner: Arc::new(inner),
        })
    }

    /// The matching public key.
    pub fn public_key(&self) -> &PublicKey {
        &self.public
    }

    /// The prime `p` (secret).
    pub fn p(&self) -> &Integer {
        &self.inner.p
    }

    /// The prime `q` (secret).
    pub fn q(&self) -> &Integer {
        &self.inner.q
    }

    /// Raw CRT decryption of a ciphertext to the plaintext in `[0, n)`.
    ///
    /// `m_p = L_p(c^(p−1) mod p²) · hp mod p`, the same modulo q, recombined as
    /// `m = m_q + ((m_p − m_q) · q⁻¹ mod p) · q`. The two exponentiations use GMP's
    /// side-channel resistant `mpz_powm_sec`; there is no branch on secret data in this code.
    pub fn decrypt_raw(&self, c: &Ciphertext) -> Integer {
        let k = &*self.inner;
        let c = c.as_integer();
        let mp = crt_half(c, &k.p, &k.p_minus_1, &k.p_squared, &k.hp);
        let mq = crt_half(c, &k.q, &k.q_minus_1, &k.q_squared, &k.hq);
        let u = (Integer::from(&mp - &mq) * &k.q_inv_p).rem_euc(&k.p);
        mq + u * &k.q
    }

    /// The DJN obfuscator `h^x mod n²` computed from two half-size tables (modulo p² and
    /// q²) and recombined by CRT: about twice as fast as [`PublicKey::obfuscator`], and
    /// usable only by the key owner.
    pub fn obfuscator(&self) -> Obfuscator {
        let k = &*self.inner;
        let (tp, tq) = k.crt_tables.get_or_init(|| {
            let full = self.public.djn_table();
            let (h, bytes) = (full.base(), full.exponent_bytes());
            // Sequential: see `FixedBaseTable::new`.
            (
                FixedBaseTable::new(&h, &k.p_squared, bytes),
                FixedBaseTable::new(&h, &k.q_squared, bytes),
            )
        });
        let mut x = vec![0u8; tp.exponent_bytes()];
        rng::fill(&mut x);
        let yp = tp.pow(&x);
        let yq = tq.pow(&x);
        // y = yq + q² · ((yp − yq) · (q²)⁻¹ mod p²)
        let t = (Integer::from(&yp - &yq) * &k.q2_inv_p2).rem_euc(&k.p_squared);
        Obfuscator(yq + t * &k.q_squared)
    }
}

/// `L_x(g^(x−1) mod x²)^(−1) mod x` with `g = n + 1`.
fn h_value(n: &Integer, x: &Integer, x_minus_1: &Integer, x_squared: &Integer) -> Result<Integer> {
    let g = Integer::from(n + 1u32) % x_squared;
    let u = g.secure_pow_mod(x_minus_1, x_squared);
    let l = (u - 1u32) / x;
    l.invert(x)
        .map_err(|_| Error::InvalidKey("h value not invertible"))
}

/// One CRT half of decryption: `L_x(c^(x−1) mod x²) · h mod x`.
fn crt_half(
    c: &Integer,
    x: &Integer,
    x_minus_1: &Integer,
    x_squared: &Integer,
    h: &Integer,
) -> Integer {
    let base = Integer::from(c % x_squared);
    let u = base.secure_pow_mod(x_minus_1, x_squared);
    let l = (u - 1u32) / x;
    (l * h).rem_euc(x)
}

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PrivateKey")
            .field("public", &self.public)
            .finish_non_exhaustive()
    }
}

impl PartialEq for PrivateKey {
    fn eq(&self, other: &Self) -> bool {
        self.public == other.public
    }
}

impl Eq for PrivateKey {}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct PrivateKeyWire {
    kind: String,
    version: u32,
    p: String,
    q: String,
}

impl Serialize for PrivateKey {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        PrivateKeyWire {
            kind: PRIVATE_KIND.into(),
            version: FORMAT_VERSION,
            p: wire::to_hex(&self.inner.p),
            q: wire::to_hex(&self.inner.q),
        }
        .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for PrivateKey {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let w = PrivateKeyWire::deserialize(deserializer)?;
        let parse = || -> Result<Self> {
            wire::check_header(PRIVATE_KIND, &w.kind, w.version, FORMAT_VERSION)?;
            let p = wire::parse_hex(&w.p, "private key prime", MAX_KEY_BITS)?;
            let q = wire::parse_hex(&w.q, "private key prime", MAX_KEY_BITS)?;
            Self::from_primes(p, q)
        };
        parse().map_err(serde::de::Error::custom)
    }
}

/// A freshly generated key pair.
#[derive(Clone, Debug)]
pub struct Keypair {
    /// The public key, to share.
    pub public: PublicKey,
    /// The private key, to keep.
    pub private: PrivateKey,
}

/// Largest modulus [`Keypair::generate`] makes.
pub const MAX_GENERATED_BITS: u32 = 4096;

/// Whether [`Keypair::generate`] makes a key of `bits` bits: an even size from
/// [`MIN_KEY_BITS`] to [`MAX_GENERATED_BITS`] (FATE takes any `key_length`; the usual
/// ones are [`SUPPORTED_KEY_SIZES`]).
pub fn generatable(bits: u32) -> bool {
    bits.is_multiple_of(2) && (MIN_KEY_BITS..=MAX_GENERATED_BITS).contains(&bits)
}

impl Keypair {
    /// Generates a key with a modulus of exactly `bits` bits (see [`generatable`]), from
    /// two random primes of `bits / 2` bits, as FATE does.
    pub fn generate(bits: u32) -> Result<Self> {
        if !generatable(bits) {
            return Err(Error::UnsupportedKeySize {
                bits,
                supported: SUPPORTED_KEY_SIZES,
            });
        }
        loop {
            let (p, q) = rayon::join(
                || rng::random_prime(bits / 2),
                || rng::random_prime(bits / 2),
            );
            if p == q || Integer::from(&p * &q).significant_bits() != bits {
                continue;
            }
            let private = PrivateKey::from_primes(p, q)?;
            return Ok(Self {
                public: private.public_key().clone(),
                private,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn odd_sizes_generate_and_round_trip() {
        use crate::paillier::Encryptor;
        let kp = Keypair::generate(1204).unwrap();
        assert_eq!(kp.public.bits(), 1204);
        let m = Integer::from(123_456_789u64);
        let c = kp.public.encrypt_raw(&m).unwrap();
        assert_eq!(kp.private.decrypt_raw(&c), m);
        let ms: Vec<Integer> = (0..20u32).map(Integer::from).collect();
        let cs = kp.public.encrypt_raw_batch(&ms).unwrap();
        assert_eq!(kp.private.decrypt_raw_batch(&cs), ms);
        assert!(Keypair::generate(1205).is_err());
    }

    #[test]
    fn exponent_lengths() {
        assert_eq!(short_exponent_bits(1024), 320);
        assert_eq!(short_exponent_bits(2048), 448);
        assert_eq!(short_exponent_bits(3072), 512);
        assert_eq!(short_exponent_bits(4096), 768);
    }

    #[test]
    fn rejects_bad_sizes_and_moduli() {
        assert!(matches!(
            Keypair::generate(512),
            Err(Error::UnsupportedKeySize { .. })
        ));
        assert!(PublicKey::from_modulus(Integer::from(1) << 1500u32).is_err());
        assert!(PublicKey::from_modulus(Integer::from(15)).is_err());
    }
}
