//! Property tests of the Paillier scheme and its fixed-point layer.

mod common;

use common::{close, keypair};
use fateflow_crypto::paillier::{
    Ciphertext, EncryptedNumber, Encryptor, Keypair, ObfuscatorPool, PrivateKey, PublicKey,
};
use fateflow_crypto::{Error, Integer};
use proptest::prelude::*;

/// Finite floats over a wide range of magnitudes, both signs.
fn float() -> impl Strategy<Value = f64> {
    (-1.0f64..1.0, -30i32..30).prop_map(|(m, e)| m * 10f64.powi(e))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn sum_of_integers_is_exact(a in any::<i64>(), b in any::<i64>()) {
        let keys = keypair();
        let (pk, sk) = (&keys.public, &keys.private);
        let sum = pk.add(&pk.encrypt_i64(a).unwrap(), &pk.encrypt_i64(b).unwrap()).unwrap();
        let expected = i128::from(a) + i128::from(b);
        match i64::try_from(expected) {
            Ok(v) => prop_assert_eq!(sk.decrypt_i64(&sum).unwrap(), v),
            Err(_) => {
                let out_of_range = matches!(sk.decrypt_i64(&sum), Err(Error::OutOfRange { .. }));
                prop_assert!(out_of_range, "sum beyond i64 must be reported");
            }
        }
    }

    #[test]
    fn sum_of_floats(a in float(), b in float()) {
        let keys = keypair();
        let (pk, sk) = (&keys.public, &keys.private);
        let sum = pk.add(&pk.encrypt_f64(a).unwrap(), &pk.encrypt_f64(b).unwrap()).unwrap();
        let got = sk.decrypt_f64(&sum).unwrap();
        prop_assert!(close(got, a + b, a.abs() + b.abs()), "{} + {} = {} got {}", a, b, a + b, got);
        // Plaintext addition and subtraction take the same path.
        let plus = sk.decrypt_f64(&pk.add_f64(&pk.encrypt_f64(a).unwrap(), b).unwrap()).unwrap();
        prop_assert!(close(plus, a + b, a.abs() + b.abs()));
        let minus = sk.decrypt_f64(&pk.sub(&pk.encrypt_f64(a).unwrap(), &pk.encrypt_f64(b).unwrap()).unwrap()).unwrap();
        prop_assert!(close(minus, a - b, a.abs() + b.abs()));
    }

    #[test]
    fn scalar_multiplication(a in float(), k in float(), ki in -1_000_000i64..1_000_000) {
        let keys = keypair();
        let (pk, sk) = (&keys.public, &keys.private);
        let ea = pk.encrypt_f64(a).unwrap();
        let got = sk.decrypt_f64(&pk.mul_f64(&ea, k).unwrap()).unwrap();
        prop_assert!(close(got, a * k, (a * k).abs()), "{} * {} = {} got {}", a, k, a * k, got);
        let got = sk.decrypt_f64(&pk.mul_i64(&ea, ki).unwrap()).unwrap();
        prop_assert!(close(got, a * ki as f64, (a * ki as f64).abs()));
        let neg = sk.decrypt_f64(&pk.neg(&ea).unwrap()).unwrap();
        prop_assert!(close(neg, -a, a.abs()));
    }

    #[test]
    fn every_encryptor_agrees(x in float()) {
        let keys = keypair();
        let (pk, sk) = (&keys.public, &keys.private);
        for c in [pk.encrypt_f64(x).unwrap(), sk.encrypt_f64(x).unwrap(), pk.rerandomize(&pk.encrypt_f64(x).unwrap())] {
            let got = sk.decrypt_f64(&c).unwrap();
            prop_assert!(close(got, x, x.abs()));
        }
    }
}

#[test]
fn negative_scalar_uses_the_inverse() {
    let keys = keypair();
    let (pk, sk) = (&keys.public, &keys.private);
    let c = pk.encrypt_i64(5).unwrap();
    let minus_three = pk.raw_mul(&c.ciphertext, &Integer::from(-3)).unwrap();
    let inverse_cubed = pk
        .raw_mul(&pk.raw_neg(&c.ciphertext).unwrap(), &Integer::from(3))
        .unwrap();
    assert_eq!(minus_three, inverse_cubed);
    let encoded_minus_three = Integer::from(pk.n() - 3u32);
    assert_eq!(
        pk.raw_mul(&c.ciphertext, &encoded_minus_three).unwrap(),
        inverse_cubed
    );
    assert_eq!(
        sk.decrypt_i64(&EncryptedNumber {
            ciphertext: minus_three,
            exponent: 0
        })
        .unwrap(),
        -15
    );
}

#[test]
fn encryption_is_randomized() {
    let keys = keypair();
    let (pk, sk) = (&keys.public, &keys.private);
    let a = pk.encrypt_f64(1.0).unwrap();
    let b = pk.encrypt_f64(1.0).unwrap();
    let c = pk.rerandomize(&a);
    let d = sk.encrypt_f64(1.0).unwrap();
    assert_ne!(a, b);
    assert_ne!(a, c);
    assert_ne!(a, d);
    assert_eq!(sk.decrypt_f64(&c).unwrap(), 1.0);
}

#[test]
fn batches_match_single_operations() {
    let keys = keypair();
    let (pk, sk) = (&keys.public, &keys.private);
    let xs: Vec<f64> = (0..40).map(|i| f64::from(i) * 0.75 - 10.0).collect();
    let ks: Vec<f64> = (0..40).map(|i| 1.5 - f64::from(i) * 0.125).collect();
    let ints: Vec<i64> = (0..40).map(|i| i * 7 - 100).collect();
    let ex = pk.encrypt_f64_batch(&xs).unwrap();
    let ei = sk.encrypt_i64_batch(&ints).unwrap();
    assert_eq!(sk.decrypt_f64_batch(&ex).unwrap(), xs);
    assert_eq!(sk.decrypt_i64_batch(&ei).unwrap(), ints);
    let sums = sk
        .decrypt_f64_batch(&pk.add_batch(&ex, &ei).unwrap())
        .unwrap();
    let products = sk
        .decrypt_f64_batch(&pk.mul_f64_batch(&ex, &ks).unwrap())
        .unwrap();
    let shifted = sk
        .decrypt_f64_batch(&pk.add_f64_batch(&ex, &ks).unwrap())
        .unwrap();
    for i in 0..xs.len() {
        assert_eq!(sums[i], xs[i] + ints[i] as f64);
        assert_eq!(products[i], xs[i] * ks[i]);
        assert_eq!(shifted[i], xs[i] + ks[i]);
    }
    let total = sk.decrypt_f64(&pk.sum(&ex).unwrap()).unwrap();
    assert_eq!(total, xs.iter().sum::<f64>());
    assert_eq!(sk.decrypt_i64(&pk.sum(&[]).unwrap()).unwrap(), 0);
    assert!(matches!(
        pk.add_batch(&ex, &ei[1..]),
        Err(Error::LengthMismatch { .. })
    ));
}

#[test]
fn obfuscator_pool_encrypts() {
    let keys = keypair();
    let pool = ObfuscatorPool::new(keys.public.clone(), 8).unwrap();
    let xs = [0.5, -2.0, 1e6];
    let cs = pool.encrypt_f64_batch(&xs).unwrap();
    assert_eq!(keys.private.decrypt_f64_batch(&cs).unwrap(), xs);
    drop(pool);
}

#[test]
fn overflow_is_reported() {
    let keys = keypair();
    let (pk, sk) = (&keys.public, &keys.private);
    let big = Integer::from(pk.max_int() - 1u32);
    let c = EncryptedNumber {
        ciphertext: pk.encrypt_raw(&big).unwrap(),
        exponent: 0,
    };
    let doubled = pk.add(&c, &c).unwrap();
    assert!(matches!(
        sk.decrypt_f64(&doubled),
        Err(Error::DecodeOverflow)
    ));
    assert!(matches!(
        pk.encrypt_raw(pk.n()),
        Err(Error::PlaintextOutOfRange)
    ));
    assert!(matches!(pk.encrypt_f64(f64::NAN), Err(Error::NonFinite(_))));
}

#[test]
fn keys_serialize_with_kind_and_version() {
    let keys = keypair();
    let json = serde_json::to_value(&keys.public).unwrap();
    assert_eq!(json["kind"], "paillier-public-key");
    assert_eq!(json["version"], 1);
    let public: PublicKey = serde_json::from_value(json.clone()).unwrap();
    assert_eq!(public, keys.public);

    let private_json = serde_json::to_string(&keys.private).unwrap();
    let private: PrivateKey = serde_json::from_str(&private_json).unwrap();
    let c = public.encrypt_f64(-7.25).unwrap();
    assert_eq!(private.decrypt_f64(&c).unwrap(), -7.25);
    assert!(!format!("{:?}", keys.private).contains(&keys.private.p().to_string_radix(16)));

    let mut wrong = json.clone();
    wrong["version"] = 2.into();
    assert!(serde_json::from_value::<PublicKey>(wrong).is_err());
    let mut wrong = json.clone();
    wrong["kind"] = "paillier-private-key".into();
    assert!(serde_json::from_value::<PublicKey>(wrong).is_err());
    let mut wrong = json;
    wrong["n"] = "-1f".into();
    assert!(serde_json::from_value::<PublicKey>(wrong).is_err());

    let ciphertext_json = serde_json::to_string(&c).unwrap();
    let back: EncryptedNumber = serde_json::from_str(&ciphertext_json).unwrap();
    assert_eq!(back, c);
    public.check_ciphertext(&back.ciphertext).unwrap();
    assert!(public
        .check_ciphertext(&Ciphertext::from_integer(public.n_squared().clone()))
        .is_err());
    assert_eq!(
        Ciphertext::from_bytes_be(&c.ciphertext.to_bytes_be()).unwrap(),
        c.ciphertext
    );
}

#[test]
fn generated_keys_have_the_requested_size() {
    let keys = Keypair::generate(2048).unwrap();
    assert_eq!(keys.public.bits(), 2048);
    let c = keys.private.encrypt_f64(3.5).unwrap();
    assert_eq!(
        keys.private
            .decrypt_f64(&keys.public.mul_i64(&c, -2).unwrap())
            .unwrap(),
        -7.0
    );
}

/// The tables are built lazily inside a `OnceLock`; the first use from inside a rayon batch
/// once deadlocked when the build itself used rayon.
#[test]
fn first_use_inside_a_batch_does_not_deadlock() {
    let keys = keypair();
    let fresh_public = PublicKey::from_modulus(keys.public.n().clone()).unwrap();
    let fresh_private =
        PrivateKey::from_primes(keys.private.p().clone(), keys.private.q().clone()).unwrap();
    let xs: Vec<f64> = (0..64).map(f64::from).collect();
    let a = fresh_public.encrypt_f64_batch(&xs).unwrap();
    let b = fresh_private.encrypt_f64_batch(&xs).unwrap();
    assert_eq!(keys.private.decrypt_f64_batch(&a).unwrap(), xs);
    assert_eq!(keys.private.decrypt_f64_batch(&b).unwrap(), xs);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(12))]

    /// The batch paths (eight lanes per IFMA call where the CPU has it, with a short last
    /// chunk) encrypt and re-randomize to the same plaintexts, with fresh randomness, on
    /// the default table and on a wider prepared one.
    #[test]
    fn raw_batches_encrypt_and_rerandomize(ms in proptest::collection::vec(0u64..u64::MAX, 0..30), prepared in any::<bool>()) {
        let keys = keypair();
        let pk = PublicKey::from_modulus(keys.public.n().clone()).unwrap();
        if prepared {
            pk.prepare_obfuscators(200_000);
        }
        let plain: Vec<Integer> = ms.iter().map(|&m| Integer::from(m)).collect();
        let cts = pk.encrypt_raw_batch(&plain).unwrap();
        let again = pk.rerandomize_raw_batch(&cts);
        for ((c, d), m) in cts.iter().zip(&again).zip(&plain) {
            prop_assert_eq!(&keys.private.decrypt_raw(c), m);
            prop_assert_eq!(&keys.private.decrypt_raw(d), m);
            prop_assert_ne!(c, d);
        }
        let too_big = [Integer::from(keys.public.n())];
        prop_assert!(matches!(pk.encrypt_raw_batch(&too_big), Err(Error::PlaintextOutOfRange)));
    }
}
