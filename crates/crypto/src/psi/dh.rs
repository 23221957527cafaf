//! DH (Pohlig–Hellman commutative encryption) PSI, the `dh` method of FATE 1.x.
//!
//! The public modulus `p` is a safe prime (`p = 2q + 1`, `q` prime): the MODP group of
//! RFC 2409 (1024 bits, FATE's `oakley_group_1024_1024`) or RFC 3526 group 14 (2048
//! bits). Each party holds a secret exponent `a` (256 random bits: FATE draws it below
//! `p`, see [`DhParty::new`]), and "encrypts" a group element `x` as `x^a mod p`. Because `(x^a)^b = (x^b)^a`, the doubly encrypted
//! values of the two parties are equal exactly for common ids. The flow is ECDH's
//! ([`super::ecdh`]): exchange first encryptions, encrypt the other's again, join.
//!
//! An id is mapped to the group as FATE does — the hexadecimal digest of
//! `id ‖ salt` ([`HashMethod::hex_digest`]), its ASCII bytes read as a big-endian
//! integer — then reduced modulo `p` and **squared**, which puts it in the subgroup of
//! quadratic residues, of prime order `q`. FATE exponentiates the unsquared value, which
//! leaves the Legendre symbol of each id visible through the encryption; squaring removes
//! that leak, and since `q` is prime every exponent in `[2, q)` is a bijection of the
//! subgroup. Received values are checked to be quadratic residues in `(0, p)`.
//!
//! Values travel as big-endian integers of the modulus' byte length
//! ([`DhParty::to_bytes`], [`DhParty::from_bytes`]). Security: semi-honest, decisional
//! Diffie–Hellman in the quadratic residues modulo a safe prime with short exponents
//! (about 80 bits for 1024, 112 for 2048). The exponentiations with the secret use GMP's side-channel resistant
//! `mpz_powm_sec`.

use rayon::prelude::*;
use rug::integer::Order;
use rug::Integer;

use super::HashMethod;
use crate::{rng, Error, Result};

/// RFC 2409, second Oakley group (1024 bits).
const MODP_1024: &str = "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74\
020BBEA63B139B22514A08798E3404DDEF9519B3CD3A431B302B0A6DF25F1437\
4FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED\
EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE65381FFFFFFFFFFFFFFFF";

/// RFC 3526, group 14 (2048 bits).
const MODP_2048: &str = "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74\
020BBEA63B139B22514A08798E3404DDEF9519B3CD3A431B302B0A6DF25F1437\
4FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED\
EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF05\
98DA48361C55D39A69163FA8FD24CF5F83655D23DCA3AD961C62F356208552BB\
9ED529077096966D670C354E4ABC9804F1746C08CA18217C32905E462E36CE3B\
E39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9DE2BCBF695581718\
3995497CEA956AE515D2261898FA051015728E5A8AACAA68FFFFFFFFFFFFFFFF";

/// Bits of a fresh secret exponent (see [`DhParty::new`]).
const SECRET_BITS: u32 = 256;

/// The key lengths (bits of `p`) FATE offers: `dh_params.key_length`.
pub const KEY_LENGTHS: &[u32] = &[1024, 2048];

/// A safe-prime group: `p = 2q + 1`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DhGroup {
    p: Integer,
    q: Integer,
}

impl DhGroup {
    /// The MODP group of `bits` bits (one of [`KEY_LENGTHS`]).
    pub fn modp(bits: u32) -> Result<Self> {
        let hex = match bits {
            1024 => MODP_1024,
            2048 => MODP_2048,
            _ => {
                return Err(Error::UnsupportedKeySize {
                    bits,
                    supported: KEY_LENGTHS,
                })
            }
        };
        let p = Integer::from_str_radix(hex, 16).map_err(|_| Error::InvalidKey("MODP constant"))?;
        let q = Integer::from(&p - 1u32) >> 1u32;
        Ok(Self { p, q })
    }

    /// The modulus `p`.
    pub fn modulus(&self) -> &Integer {
        &self.p
    }

    /// Bits of `p`.
    pub fn bits(&self) -> u32 {
        self.p.significant_bits()
    }

    /// Bytes of one encoded element.
    pub fn element_len(&self) -> usize {
        self.bits().div_ceil(8) as usize
    }
}

/// One party's secret exponent and hashing parameters.
///
/// `Debug` never prints the secret.
#[derive(Clone)]
pub struct DhParty {
    group: DhGroup,
    secret: Integer,
    hash: HashMethod,
    salt: Vec<u8>,
}

impl DhParty {
    /// A party with a fresh secret, uniform in `[2, 2^256)`; SHA-256 and no salt.
    ///
    /// A short exponent, as NIST SP 800-56A rev. 3 (§5.6.1.1.4) allows for safe-prime
    /// groups: `2^N` with `N = 256 ≥ 2·s`, `s` the groups' security strength (at most
    /// 112 bits for these two). Eight times fewer squarings than an exponent below `q`
    /// in the 2048-bit group; any exponent in `[2, q)` is a bijection of the subgroup,
    /// so matching is unchanged.
    pub fn new(group: DhGroup) -> Self {
        let bound = Integer::from(1u32) << SECRET_BITS;
        let secret = loop {
            let s = rng::random_nonzero_below(&bound);
            if s > 1 && s < group.q {
                break s;
            }
        };
        Self {
            group,
            secret,
            hash: HashMethod::default(),
            salt: Vec::new(),
        }
    }

    /// A party with a given secret (a cached key, or a test's), checked to be in `[2, q)`.
    pub fn from_secret(group: DhGroup, secret: Integer) -> Result<Self> {
        if secret < 2 || secret >= group.q {
            return Err(Error::InvalidKey("DH secret must be in [2, q)"));
        }
        Ok(Self {
            group,
            secret,
            hash: HashMethod::default(),
            salt: Vec::new(),
        })
    }

    /// Sets the salt appended to each id before hashing (both parties must agree).
    pub fn with_salt(mut self, salt: impl Into<Vec<u8>>) -> Self {
        self.salt = salt.into();
        self
    }

    /// Sets the hash of ids (both parties must agree).
    pub fn with_hash_method(mut self, hash: HashMethod) -> Self {
        self.hash = hash;
        self
    }

    /// The group.
    pub fn group(&self) -> &DhGroup {
        &self.group
    }

    /// The secret exponent, to keep it with a cache of this party's encryptions. Whoever
    /// holds it can encrypt like this party: store it as a key.
    pub fn secret(&self) -> &Integer {
        &self.secret
    }

    /// The id as a quadratic residue modulo `p`.
    fn hash_to_group(&self, id: &[u8]) -> Integer {
        let text = self.hash.hex_digest(id, &self.salt);
        let mut x = Integer::from_digits(text.as_bytes(), Order::Msf) % &self.group.p;
        if x == 0 {
            x = Integer::from(1);
        }
        x.square_mut();
        x % &self.group.p
    }

    fn power(&self, x: Integer) -> Integer {
        x.secure_pow_mod(&self.secret, &self.group.p)
    }

    /// First encryption: `H(id)^secret mod p` for each id, in order (in parallel).
    pub fn encrypt_ids<S: AsRef<[u8]> + Sync>(&self, ids: &[S]) -> Vec<Integer> {
        ids.par_iter()
            .map(|id| self.power(self.hash_to_group(id.as_ref())))
            .collect()
    }

    /// Second encryption of values received from the other party, in order (in
    /// parallel). Fails unless each is a quadratic residue in `(0, p)`.
    pub fn reencrypt(&self, values: &[Integer]) -> Result<Vec<Integer>> {
        values
            .par_iter()
            .map(|x| {
                if *x <= 0 || *x >= self.group.p || x.jacobi(&self.group.p) != 1 {
                    return Err(Error::Malformed {
                        what: "DH ciphertext",
                        reason: "not a quadratic residue in (0, p)",
                    });
                }
                Ok(self.power(x.clone()))
            })
            .collect()
    }

    /// Values as fixed-width big-endian bytes, concatenated.
    pub fn to_bytes(&self, values: &[Integer]) -> Vec<u8> {
        let width = self.group.element_len();
        let mut out = vec![0u8; width * values.len()];
        for (chunk, v) in out.chunks_exact_mut(width).zip(values) {
            let digits = v.to_digits::<u8>(Order::Msf);
            chunk[width - digits.len()..].copy_from_slice(&digits);
        }
        out
    }

    /// The inverse of [`DhParty::to_bytes`]; the values are checked by
    /// [`DhParty::reencrypt`] when they are used.
    pub fn from_bytes(&self, bytes: &[u8]) -> Result<Vec<Integer>> {
        let width = self.group.element_len();
        if !bytes.len().is_multiple_of(width) {
            return Err(Error::Malformed {
                what: "DH ciphertexts",
                reason: "not a whole number of elements",
            });
        }
        Ok(bytes
            .chunks_exact(width)
            .map(|c| Integer::from_digits(c, Order::Msf))
            .collect())
    }
}

impl std::fmt::Debug for DhParty {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DhParty")
            .field("bits", &self.group.bits())
            .field("hash", &self.hash)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rug::integer::IsPrime;

    #[test]
    fn groups_are_safe_primes() {
        for bits in KEY_LENGTHS {
            let g = DhGroup::modp(*bits).unwrap();
            assert_eq!(g.bits(), *bits);
            assert_ne!(g.p.is_probably_prime(30), IsPrime::No);
            assert_ne!(g.q.is_probably_prime(30), IsPrime::No);
        }
        assert!(DhGroup::modp(3072).is_err());
    }

    #[test]
    fn secrets_outside_the_subgroup_order_are_refused() {
        let g = DhGroup::modp(1024).unwrap();
        assert!(DhParty::from_secret(g.clone(), Integer::from(1)).is_err());
        assert!(DhParty::from_secret(g.clone(), g.q.clone()).is_err());
        assert!(DhParty::from_secret(g, Integer::from(2)).is_ok());
    }

    #[test]
    fn non_residues_and_out_of_range_values_are_refused() {
        let party = DhParty::new(DhGroup::modp(1024).unwrap());
        let p = party.group().modulus().clone();
        // -1 is a non-residue modulo a safe prime p ≡ 3 (mod 4).
        for bad in [Integer::from(0), p.clone(), Integer::from(&p - 1u32)] {
            assert!(party.reencrypt(&[bad]).is_err());
        }
    }

    #[test]
    fn fresh_secrets_are_short_and_distinct() {
        let g = DhGroup::modp(2048).unwrap();
        let a = DhParty::new(g.clone());
        let b = DhParty::new(g);
        assert!(a.secret().significant_bits() <= SECRET_BITS);
        assert!(*a.secret() > 1);
        assert_ne!(a.secret(), b.secret());
    }

    #[test]
    fn bytes_round_trip() {
        let party = DhParty::new(DhGroup::modp(1024).unwrap());
        let values = party.encrypt_ids(&["a", "b", "c"]);
        let bytes = party.to_bytes(&values);
        assert_eq!(bytes.len(), 3 * 128);
        assert_eq!(party.from_bytes(&bytes).unwrap(), values);
        assert!(party.from_bytes(&bytes[1..]).is_err());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(12))]

        /// `E_b(E_a(x)) = E_a(E_b(x))`, equal ids give equal double encryptions and
        /// distinct ids distinct ones, whatever the hash and salt.
        #[test]
        fn double_encryption_commutes_and_matches_ids(
            ours in proptest::collection::btree_set("[a-z0-9]{1,8}", 1..12),
            theirs in proptest::collection::btree_set("[a-z0-9]{1,8}", 1..12),
            salt in "[a-z]{0,4}",
            method in proptest::sample::select(HashMethod::ALL.to_vec()),
        ) {
            let group = DhGroup::modp(1024).unwrap();
            let a = DhParty::new(group.clone()).with_salt(salt.clone()).with_hash_method(method);
            let b = DhParty::new(group).with_salt(salt).with_hash_method(method);
            let ours: Vec<String> = ours.into_iter().collect();
            let theirs: Vec<String> = theirs.into_iter().collect();
            let ab = b.reencrypt(&a.encrypt_ids(&ours)).unwrap();
            let ba = a.reencrypt(&b.encrypt_ids(&theirs)).unwrap();
            let pairs = crate::psi::intersect(&ab, &ba);
            let expected: Vec<(usize, usize)> = ours
                .iter()
                .enumerate()
                .filter_map(|(i, x)| theirs.iter().position(|y| y == x).map(|j| (i, j)))
                .collect();
            prop_assert_eq!(pairs, expected);
        }
    }
}
