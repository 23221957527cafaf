//! Known-answer tests against fixtures computed independently in Python
//! (`tests/fixtures/gen_kat.py`, FATE 1.x semantics).

mod common;

use common::{fixture, float, i32_of, int};
use fateflow_crypto::encoding::FixedPointNumber;
use fateflow_crypto::paillier::{
    Ciphertext, EncryptedNumber, Encryptor, Obfuscator, PrivateKey, PublicKey,
};
use fateflow_crypto::psi::rsa::{RsaBlinder, RsaHashing, RsaSigner};
use fateflow_crypto::{Error, Integer};
use serde_json::Value;

/// Encrypts with a given randomness `r` (obfuscator `r^n`), like FATE's `random_value`.
struct FixedRandomness<'a> {
    key: &'a PublicKey,
    r: Integer,
}

impl Encryptor for FixedRandomness<'_> {
    fn public_key(&self) -> &PublicKey {
        self.key
    }

    fn obfuscator(&self) -> Obfuscator {
        self.key.obfuscator_from_randomness(&self.r)
    }
}

fn paillier_key(f: &Value) -> PrivateKey {
    let sk = PrivateKey::from_primes(int(&f["p"]), int(&f["q"])).expect("fixture key");
    assert_eq!(*sk.public_key().n(), int(&f["n"]));
    sk
}

fn ct(v: &Value) -> Ciphertext {
    Ciphertext::from_integer(int(v))
}

#[test]
fn paillier_raw_encryption_and_decryption() {
    let f = fixture("paillier_kat.json");
    let sk = paillier_key(&f);
    let pk = sk.public_key();
    for case in f["raw"].as_array().unwrap() {
        let m = int(&case["m"]);
        let enc = FixedRandomness {
            key: pk,
            r: int(&case["r"]),
        };
        let c = enc.encrypt_raw(&m).unwrap();
        assert_eq!(c, ct(&case["c"]), "m = {m}");
        assert_eq!(sk.decrypt_raw(&c), m);
    }
}

#[test]
fn paillier_homomorphic_operations() {
    let f = fixture("paillier_kat.json");
    let sk = paillier_key(&f);
    let pk = sk.public_key();
    for case in f["ops"].as_array().unwrap() {
        let (c1, c2) = (ct(&case["c1"]), ct(&case["c2"]));
        let k = Integer::from_str_radix(case["k"].as_str().unwrap(), 10).unwrap();
        let sum = pk.raw_add(&c1, &c2);
        assert_eq!(sum, ct(&case["sum"]));
        assert_eq!(sk.decrypt_raw(&sum), int(&case["sum_plain"]));
        let neg = pk.raw_neg(&c1).unwrap();
        assert_eq!(neg, ct(&case["neg"]));
        assert_eq!(sk.decrypt_raw(&neg), int(&case["neg_plain"]));
        let mul = pk.raw_mul(&c1, &k).unwrap();
        assert_eq!(mul, ct(&case["mul"]), "k = {k}");
        assert_eq!(sk.decrypt_raw(&mul), int(&case["mul_plain"]));
    }
}

#[test]
fn paillier_encrypted_numbers_follow_fate() {
    let f = fixture("paillier_kat.json");
    let sk = paillier_key(&f);
    let pk = sk.public_key();
    for case in f["numbers"].as_array().unwrap() {
        let (x, y) = (float(&case["x"]), float(&case["y"]));
        let y_is_int = case["y_is_int"].as_bool().unwrap();
        let cx = FixedRandomness {
            key: pk,
            r: int(&case["rx"]),
        }
        .encrypt_f64(x)
        .unwrap();
        let enc_y = FixedRandomness {
            key: pk,
            r: int(&case["ry"]),
        };
        let cy = if y_is_int {
            enc_y.encrypt_i64(y as i64)
        } else {
            enc_y.encrypt_f64(y)
        }
        .unwrap();
        let expect = |c: &str, e: &str| EncryptedNumber {
            ciphertext: ct(&case[c]),
            exponent: i32_of(&case[e]),
        };
        assert_eq!(cx, expect("cx", "ex"), "x = {x}");
        assert_eq!(cy, expect("cy", "ey"), "y = {y}");

        let sum = pk.add(&cx, &cy).unwrap();
        assert_eq!(sum, expect("sum", "sum_exponent"));
        assert_eq!(sk.decrypt_f64(&sum).unwrap(), float(&case["sum_value"]));

        let add_scalar = if y_is_int {
            pk.add_i64(&cx, y as i64)
        } else {
            pk.add_f64(&cx, y)
        }
        .unwrap();
        assert_eq!(add_scalar, expect("add_scalar", "add_scalar_exponent"));
        assert_eq!(
            sk.decrypt_f64(&add_scalar).unwrap(),
            float(&case["add_scalar_value"])
        );

        let mul = if y_is_int {
            pk.mul_i64(&cx, y as i64)
        } else {
            pk.mul_f64(&cx, y)
        }
        .unwrap();
        assert_eq!(mul, expect("mul", "mul_exponent"));
        assert_eq!(sk.decrypt_f64(&mul).unwrap(), float(&case["mul_value"]));
    }
}

#[test]
fn fixed_point_encoding_follows_fate() {
    let f = fixture("encoding_kat.json");
    let pk = PublicKey::from_modulus(int(&f["n"])).unwrap();
    let encoder = pk.encoder();
    for case in f["floats"].as_array().unwrap() {
        let x = float(&case["x"]);
        let precision = (!case["precision"].is_null()).then(|| float(&case["precision"]));
        let max_exponent = (!case["max_exponent"].is_null()).then(|| i32_of(&case["max_exponent"]));
        let got = encoder.encode_f64(x, precision, max_exponent);
        let what = format!("x = {x:e}, precision = {precision:?}, max_exponent = {max_exponent:?}");
        if case.get("error").is_some() {
            assert!(matches!(got, Err(Error::EncodeOverflow)), "{what}: {got:?}");
            continue;
        }
        let got = got.unwrap_or_else(|e| panic!("{what}: {e}"));
        assert_eq!(got.encoding, int(&case["encoding"]), "{what}");
        assert_eq!(got.exponent, i32_of(&case["exponent"]), "{what}");
        assert_eq!(
            encoder.decode_f64(&got).unwrap().to_bits(),
            float(&case["decoded"]).to_bits(),
            "{what}"
        );
    }
    for case in f["ints"].as_array().unwrap() {
        let x: i64 = case["x"].as_str().unwrap().parse().unwrap();
        let max_exponent = (!case["max_exponent"].is_null()).then(|| i32_of(&case["max_exponent"]));
        let got = encoder.encode_i64(x, max_exponent).unwrap();
        assert_eq!(got.encoding, int(&case["encoding"]), "x = {x}");
        assert_eq!(got.exponent, i32_of(&case["exponent"]), "x = {x}");
        assert_eq!(encoder.decode_i64(&got).unwrap(), x);
    }
    for case in f["decodes"].as_array().unwrap() {
        let number = FixedPointNumber {
            encoding: int(&case["encoding"]),
            exponent: i32_of(&case["exponent"]),
        };
        assert_eq!(
            encoder.decode_f64(&number).unwrap().to_bits(),
            float(&case["decoded"]).to_bits(),
            "{number:?}"
        );
    }
}

#[test]
fn rsa_psi_matches_fate() {
    let f = fixture("rsa_psi_kat.json");
    let base = RsaSigner::from_primes(int(&f["p"]), int(&f["q"]), int(&f["e"])).unwrap();
    assert_eq!(*base.public_key().n(), int(&f["n"]));
    for case in f["cases"].as_array().unwrap() {
        let id = case["id"].as_str().unwrap();
        let hashing = RsaHashing {
            salt: case["salt"].as_str().unwrap().to_owned(),
            ..RsaHashing::default()
        };
        let signer = base.clone().with_hashing(hashing.clone());
        let blinder = RsaBlinder::new(signer.public_key().clone()).with_hashing(hashing);

        let host = signer.sign_ids(&[id]).unwrap();
        assert_eq!(
            host[0],
            case["host_signature"].as_str().unwrap(),
            "id = {id:?}"
        );

        let blinded = blinder
            .blind_ids_with_factors(&[id], vec![int(&case["r"])])
            .unwrap();
        assert_eq!(blinded.blinded()[0], int(&case["blinded"]));
        let signed = signer.sign_blinded(blinded.blinded()).unwrap();
        assert_eq!(signed[0], int(&case["signed"]));
        let guest = blinder.unblind(&blinded, &signed).unwrap();
        assert_eq!(guest[0], case["guest_signature"].as_str().unwrap());
    }
}
