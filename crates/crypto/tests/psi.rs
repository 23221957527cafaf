//! Property tests of the PSI primitives: both protocols find exactly the intersection,
//! whichever party plays which role.

mod common;

use std::collections::BTreeSet;

use common::rsa_signer;
use fateflow_crypto::psi::ecdh::{EcdhParty, EcdhPoint};
use fateflow_crypto::psi::intersect;
use fateflow_crypto::psi::rsa::{RsaBlinder, RsaHashing, RsaPublicKey, RsaSigner};
use fateflow_crypto::Error;
use proptest::prelude::*;

/// Two id sets with a random overlap.
fn two_sets() -> impl Strategy<Value = (Vec<String>, Vec<String>)> {
    (
        prop::collection::btree_set(0u32..400, 0..40),
        prop::collection::btree_set(0u32..400, 0..40),
    )
        .prop_map(|(a, b)| {
            let ids =
                |s: BTreeSet<u32>| s.into_iter().map(|i| format!("id-{i}")).collect::<Vec<_>>();
            (ids(a), ids(b))
        })
}

fn expected(a: &[String], b: &[String]) -> BTreeSet<String> {
    let b: BTreeSet<&String> = b.iter().collect();
    a.iter().filter(|x| b.contains(x)).cloned().collect()
}

/// The RSA flow; returns what the guest and the host each learn.
fn rsa_psi(
    signer: &RsaSigner,
    guest_ids: &[String],
    host_ids: &[String],
) -> (BTreeSet<String>, BTreeSet<String>) {
    let host_sigs = signer.sign_ids(host_ids).unwrap();
    let blinder =
        RsaBlinder::new(signer.public_key().clone()).with_hashing(signer.hashing().clone());
    let blinded = blinder.blind_ids(guest_ids);
    let signed = signer.sign_blinded(blinded.blinded()).unwrap();
    let guest_sigs = blinder.unblind(&blinded, &signed).unwrap();
    let pairs = intersect(&guest_sigs, &host_sigs);
    let guest_view = pairs.iter().map(|&(g, _)| guest_ids[g].clone()).collect();
    // Sync step: the guest sends the matching host signatures back, the host maps them.
    let synced: Vec<&String> = pairs.iter().map(|&(_, h)| &host_sigs[h]).collect();
    let host_view = intersect(&host_sigs.iter().collect::<Vec<_>>(), &synced)
        .into_iter()
        .map(|(h, _)| host_ids[h].clone())
        .collect();
    (guest_view, host_view)
}

/// The ECDH flow; returns what the guest and the host each learn.
fn ecdh_psi(
    guest_ids: &[String],
    host_ids: &[String],
    salt: &str,
) -> (BTreeSet<String>, BTreeSet<String>) {
    let guest = EcdhParty::new().with_salt(salt);
    let host = EcdhParty::new().with_salt(salt);
    let g1 = guest.encrypt_ids(guest_ids);
    let h1 = host.encrypt_ids(host_ids);
    let g2 = host.reencrypt(&g1).unwrap();
    let h2 = guest.reencrypt(&h1).unwrap();
    let pairs = intersect(&g2, &h2);
    let guest_view = pairs.iter().map(|&(g, _)| guest_ids[g].clone()).collect();
    // Sync step: the guest sends back the host's first ciphertexts that matched.
    let synced: Vec<EcdhPoint> = pairs.iter().map(|&(_, h)| h1[h]).collect();
    let host_view = intersect(&h1, &synced)
        .into_iter()
        .map(|(h, _)| host_ids[h].clone())
        .collect();
    (guest_view, host_view)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn rsa_finds_exactly_the_intersection((a, b) in two_sets()) {
        let want = expected(&a, &b);
        let signer = rsa_signer();
        prop_assert_eq!(rsa_psi(signer, &a, &b), (want.clone(), want.clone()));
        prop_assert_eq!(rsa_psi(signer, &b, &a), (want.clone(), want));
    }

    #[test]
    fn ecdh_finds_exactly_the_intersection((a, b) in two_sets(), salt in "[a-z]{0,4}") {
        let want = expected(&a, &b);
        prop_assert_eq!(ecdh_psi(&a, &b, &salt), (want.clone(), want.clone()));
        prop_assert_eq!(ecdh_psi(&b, &a, &salt), (want.clone(), want));
    }
}

#[test]
fn different_salts_do_not_match() {
    let ids = vec!["x".to_owned(), "y".to_owned()];
    let signer = rsa_signer().clone().with_hashing(RsaHashing {
        salt: "s1".into(),
        ..RsaHashing::default()
    });
    let host = signer.sign_ids(&ids).unwrap();
    let blinder = RsaBlinder::new(signer.public_key().clone());
    let blinded = blinder.blind_ids(&ids);
    let guest = blinder
        .unblind(&blinded, &signer.sign_blinded(blinded.blinded()).unwrap())
        .unwrap();
    assert!(intersect(&guest, &host).is_empty());

    let a = EcdhParty::new().with_salt("s1");
    let b = EcdhParty::new().with_salt("s2");
    let twice_a = b.reencrypt(&a.encrypt_ids(&ids)).unwrap();
    let twice_b = a.reencrypt(&b.encrypt_ids(&ids)).unwrap();
    assert!(intersect(&twice_a, &twice_b).is_empty());
}

#[test]
fn bad_inputs_are_rejected() {
    let signer = rsa_signer();
    let n = signer.public_key().n().clone();
    assert!(matches!(
        signer.sign_blinded(&[n]),
        Err(Error::Malformed { .. })
    ));
    let json = serde_json::to_value(signer.public_key()).unwrap();
    assert_eq!(json["kind"], "rsa-public-key");
    let back: RsaPublicKey = serde_json::from_value(json).unwrap();
    assert_eq!(&back, signer.public_key());
    assert!(!format!("{signer:?}").contains("dp"));
    assert!(matches!(
        RsaSigner::generate(512),
        Err(Error::UnsupportedKeySize { .. })
    ));
    assert!(matches!(
        EcdhParty::from_secret_bytes([0; 32]),
        Err(Error::InvalidKey(_))
    ));
}
