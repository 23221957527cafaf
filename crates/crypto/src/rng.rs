//! Randomness: every random number in this crate comes from the thread-local CSPRNG of
//! `rand` (ChaCha12, seeded and periodically reseeded from the operating system).

use rand::RngCore;
use rug::integer::{IsPrime, Order};
use rug::Integer;

/// Fills `buf` with cryptographically secure random bytes.
pub(crate) fn fill(buf: &mut [u8]) {
    rand::rng().fill_bytes(buf);
}

/// A uniform integer in `[0, 2^bits)`.
pub(crate) fn random_bits(bits: u32) -> Integer {
    let mut buf = vec![0u8; bits.div_ceil(8) as usize];
    fill(&mut buf);
    let mut x = Integer::from_digits(&buf, Order::Lsf);
    x.keep_bits_mut(bits);
    x
}

/// A uniform integer in `[1, n)`, by rejection sampling.
pub(crate) fn random_nonzero_below(n: &Integer) -> Integer {
    let bits = n.significant_bits();
    loop {
        let x = random_bits(bits);
        if x != 0 && x < *n {
            return x;
        }
    }
}

/// A random prime of exactly `bits` bits whose two top bits are set, so that the
/// product of two such primes has exactly `2·bits` bits.
pub(crate) fn random_prime(bits: u32) -> Integer {
    debug_assert!(bits >= 16);
    loop {
        let mut x = random_bits(bits);
        x.set_bit(bits - 1, true);
        x.set_bit(bits - 2, true);
        x.set_bit(0, true);
        let p = x.next_prime();
        if p.significant_bits() == bits && p.is_probably_prime(40) != IsPrime::No {
            return p;
        }
    }
}
