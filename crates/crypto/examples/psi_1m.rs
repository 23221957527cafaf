//! ECDH PSI of two sets of random ids, end to end, both parties in this process.
//!
//! Run with: `cargo run --release -p fateflow-crypto --example psi_1m [ids_per_party] [overlap]`
//! (defaults: 1,000,000 ids per party, half of them shared). Uses every core of the
//! global rayon pool; set `RAYON_NUM_THREADS` to change that.

use std::collections::HashSet;
use std::time::Instant;

use fateflow_crypto::psi::ecdh::EcdhParty;
use fateflow_crypto::psi::intersect;
use rand::Rng;

fn main() {
    let mut args = std::env::args().skip(1);
    let size: usize = args
        .next()
        .map(|s| s.parse().expect("ids per party"))
        .unwrap_or(1_000_000);
    let overlap: usize = args
        .next()
        .map(|s| s.parse().expect("overlap"))
        .unwrap_or(size / 2);
    assert!(overlap <= size, "overlap must not exceed the set size");

    // Random distinct 64-bit ids, written as decimal strings like FATE table keys.
    let mut rng = rand::rng();
    let mut seen = HashSet::with_capacity(2 * size);
    let mut fresh = || loop {
        let id: u64 = rng.random();
        if seen.insert(id) {
            return id.to_string();
        }
    };
    let shared: Vec<String> = (0..overlap).map(|_| fresh()).collect();
    let mut guest_ids = shared.clone();
    guest_ids.extend((overlap..size).map(|_| fresh()));
    let mut host_ids = shared;
    host_ids.extend((overlap..size).map(|_| fresh()));
    // Shuffle the host's order so the join cannot rely on positions.
    host_ids.reverse();
    println!(
        "{size} x {size} ids, {overlap} shared, {} rayon threads",
        rayon::current_num_threads()
    );

    let start = Instant::now();
    let guest = EcdhParty::new();
    let host = EcdhParty::new();

    let t = Instant::now();
    let guest_once = guest.encrypt_ids(&guest_ids);
    let host_once = host.encrypt_ids(&host_ids);
    println!(
        "step 1, both parties hash and encrypt their ids: {:.1} s",
        t.elapsed().as_secs_f64()
    );

    let t = Instant::now();
    let guest_twice = host.reencrypt(&guest_once).expect("valid points");
    let host_twice = guest.reencrypt(&host_once).expect("valid points");
    println!(
        "step 2, both parties re-encrypt the other's ids: {:.1} s",
        t.elapsed().as_secs_f64()
    );

    let t = Instant::now();
    let pairs = intersect(&guest_twice, &host_twice);
    println!("step 3, guest joins: {:.1} s", t.elapsed().as_secs_f64());

    let elapsed = start.elapsed().as_secs_f64();
    let correct = pairs.len() == overlap && pairs.iter().all(|&(g, h)| guest_ids[g] == host_ids[h]);
    println!("intersection: {} ids, correct: {correct}", pairs.len());
    println!("elapsed: {elapsed:.1} s");
    if !correct {
        std::process::exit(1);
    }
}
