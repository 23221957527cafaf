//! Property tests of plaintext packing and cipher compression.

mod common;

use common::keypair;
use fateflow_crypto::packing::{decode_fixed, encode_fixed, Packer};
use fateflow_crypto::paillier::Encryptor;
use fateflow_crypto::Error;
use proptest::prelude::*;

/// Slot widths and records that fit them.
fn layout_and_records() -> impl Strategy<Value = (Vec<u32>, Vec<u128>)> {
    prop::collection::vec(1u32..=128, 1..4).prop_flat_map(|widths| {
        let slot = widths.clone();
        let record = slot
            .into_iter()
            .map(|w| {
                if w == 128 {
                    any::<u128>().boxed()
                } else {
                    (0u128..(1u128 << w)).boxed()
                }
            })
            .collect::<Vec<_>>();
        (Just(widths), prop::collection::vec(record, 0..12))
            .prop_map(|(w, records)| (w, records.into_iter().flatten().collect()))
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn pack_unpack_round_trip((widths, records) in layout_and_records()) {
        let packer = Packer::for_key(&keypair().public, &widths).unwrap();
        let n_records = records.len() / widths.len();
        let packed = packer.pack(&records).unwrap();
        prop_assert_eq!(packed.len(), n_records.div_ceil(packer.records_per_plaintext()));
        prop_assert_eq!(packer.unpack(&packed, n_records).unwrap(), records);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(16))]

    /// Encrypt one record per sample, sum samples per bin homomorphically, compress the bin
    /// sums, decrypt: the slot sums come back (the binning / SecureBoost flow).
    #[test]
    fn encrypted_bin_sums_round_trip(
        samples in prop::collection::vec((0u128..1 << 20, 0u128..1 << 30, 0usize..6), 1..40),
    ) {
        let keys = keypair();
        let (pk, sk) = (&keys.public, &keys.private);
        let n = samples.len() as u64;
        let widths = [Packer::slot_bits_for((1 << 20) - 1, n), Packer::slot_bits_for((1 << 30) - 1, n)];
        let packer = Packer::for_key(pk, &widths).unwrap();
        let flat: Vec<u128> = samples.iter().flat_map(|&(g, h, _)| [g, h]).collect();
        let encrypted = packer.encrypt_records(pk, &flat).unwrap();

        let mut bins = vec![fateflow_crypto::paillier::Ciphertext::one(); 6];
        let mut expected = [[0u128; 2]; 6];
        for (c, &(g, h, bin)) in encrypted.iter().zip(&samples) {
            bins[bin] = pk.raw_add(&bins[bin], c);
            expected[bin][0] += g;
            expected[bin][1] += h;
        }
        let compressed = pk.rerandomize_batch(
            &packer
                .compress(pk, &bins)
                .unwrap()
                .into_iter()
                .map(|c| fateflow_crypto::paillier::EncryptedNumber { ciphertext: c, exponent: 0 })
                .collect::<Vec<_>>(),
        );
        let cts: Vec<_> = compressed.into_iter().map(|e| e.ciphertext).collect();
        prop_assert!(cts.len() <= bins.len());
        let got = packer.decrypt_packed(sk, &cts, bins.len()).unwrap();
        prop_assert_eq!(got, expected.concat());
        prop_assert_eq!(packer.decrypt_records(sk, &bins).unwrap(), expected.concat());
    }
}

#[test]
fn packed_encryption_and_overflow_detection() {
    let keys = keypair();
    let (pk, sk) = (&keys.public, &keys.private);
    let packer = Packer::for_key(pk, &[4, 4]).unwrap();
    assert_eq!(
        packer.records_per_plaintext() as u32,
        Packer::plaintext_bits(pk) / 8
    );
    let records: Vec<u128> = (0..300).map(|i| i % 16).collect();
    let cts = packer.encrypt_packed(pk, &records).unwrap();
    assert_eq!(cts.len(), 150usize.div_ceil(packer.records_per_plaintext()));
    assert_eq!(packer.decrypt_packed(sk, &cts, 150).unwrap(), records);

    // A slot sum that outgrows its slot spills into the next one; at the top it is caught.
    let one = packer.encrypt_records(pk, &[15, 0]).unwrap();
    let doubled = pk.raw_add(&one[0], &one[0]);
    assert!(matches!(
        packer.decrypt_records(sk, &[doubled]),
        Err(Error::PackingOverflow)
    ));
    // A negative sum wraps modulo n and is caught as well.
    let negative = pk.raw_neg(&one[0]).unwrap();
    assert!(matches!(
        packer.decrypt_records(sk, &[negative]),
        Err(Error::PackingOverflow)
    ));
    assert!(matches!(
        packer.pack_record(&[16, 0]),
        Err(Error::SlotOverflow { slot: 0, bits: 4 })
    ));
    assert!(matches!(
        Packer::for_key(pk, &[128; 8]),
        Err(Error::PackingCapacity { .. })
    ));
}

#[test]
fn gradient_fixed_point_packing() {
    let keys = keypair();
    let (pk, sk) = (&keys.public, &keys.private);
    // SecureBoost-style: g in [-1, 1] offset by 1, h in [0, 1], 52 bits of precision.
    let samples = [(-0.5, 0.25), (0.75, 0.125), (-1.0, 1.0), (0.0, 0.0)];
    let n = samples.len() as u64;
    let widths = [
        Packer::slot_bits_for(2 << 52, n),
        Packer::slot_bits_for(1 << 52, n),
    ];
    let packer = Packer::for_key(pk, &widths).unwrap();
    let flat: Vec<u128> = samples
        .iter()
        .flat_map(|&(g, h)| {
            [
                encode_fixed(g, 52, 1.0).unwrap(),
                encode_fixed(h, 52, 0.0).unwrap(),
            ]
        })
        .collect();
    let cts = packer.encrypt_records(pk, &flat).unwrap();
    let total = cts
        .iter()
        .fold(fateflow_crypto::paillier::Ciphertext::one(), |acc, c| {
            pk.raw_add(&acc, c)
        });
    let sums = packer.decrypt_records(sk, &[total]).unwrap();
    assert_eq!(decode_fixed(sums[0], 52, 1.0, n), -0.75);
    assert_eq!(decode_fixed(sums[1], 52, 0.0, n), 1.375);
}
