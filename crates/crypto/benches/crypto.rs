//! Throughput of every operation, per key size, on one core and on all cores.
//!
//! Run with: `cargo bench -p fateflow-crypto` (a few minutes), or narrow it down, e.g.
//! `cargo bench -p fateflow-crypto -- paillier-2048/1-core`.
//!
//! Criterion reports `thrpt` in elements per second, i.e. operations per second. Before each
//! key size, one line compares encryption with the naive one measured in alternating rounds,
//! which is the fair ratio on a machine whose load changes.
//! `1-core` groups run one operation at a time on the calling thread (or a batch on a
//! one-thread rayon pool); `all-cores` groups run a batch on the global rayon pool.
//! `encrypt-naive` is the textbook obfuscation `r^n mod n²` with a full-size exponent, as
//! FATE does it, for comparison with `encrypt` (DJN short exponent from a fixed-base table).
//! Where the CPU has AVX-512 IFMA the batch paths use the eight-lane kernel; run again with
//! `FATEFLOW_NO_IFMA=1` for the GMP figures.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{
    criterion_group, criterion_main, BenchmarkGroup, Criterion, SamplingMode, Throughput,
};
use fateflow_crypto::paillier::{Encryptor, Keypair, Obfuscator, PublicKey};
use fateflow_crypto::psi::ecdh::EcdhParty;
use fateflow_crypto::psi::rsa::{RsaBlinder, RsaSigner};
use fateflow_crypto::Integer;

/// Encrypts with the full-exponent obfuscator `r^n`.
struct Naive<'a>(&'a PublicKey);

impl Encryptor for Naive<'_> {
    fn public_key(&self) -> &PublicKey {
        self.0
    }

    fn obfuscator(&self) -> Obfuscator {
        self.0.obfuscator_full()
    }
}

fn one_thread() -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .expect("thread pool")
}

fn configure<M: criterion::measurement::Measurement>(group: &mut BenchmarkGroup<'_, M>) {
    group.sample_size(10);
    group.sampling_mode(SamplingMode::Flat);
    group.warm_up_time(Duration::from_millis(300));
    group.measurement_time(Duration::from_millis(1500));
}

/// Prints one-core encryption throughput, DJN against naive, measured in alternating rounds so
/// that a change in machine load affects both sides alike.
fn interleaved_ratio(bits: u32, pk: &PublicKey) {
    let naive = Naive(pk);
    let (mut fast_time, mut naive_time) = (Duration::ZERO, Duration::ZERO);
    let (fast_per_round, naive_per_round, rounds) = (64u32, 2u32, 12u32);
    for _ in 0..rounds {
        let t = Instant::now();
        for _ in 0..fast_per_round {
            black_box(pk.encrypt_f64(black_box(0.5)).unwrap());
        }
        fast_time += t.elapsed();
        let t = Instant::now();
        for _ in 0..naive_per_round {
            black_box(naive.encrypt_f64(black_box(0.5)).unwrap());
        }
        naive_time += t.elapsed();
    }
    let fast = f64::from(fast_per_round * rounds) / fast_time.as_secs_f64();
    let slow = f64::from(naive_per_round * rounds) / naive_time.as_secs_f64();
    println!(
        "paillier-{bits} interleaved, one core: encrypt {fast:.0}/s, encrypt-naive {slow:.1}/s, ratio {:.1}x",
        fast / slow
    );
}

fn paillier(c: &mut Criterion) {
    for bits in [1024u32, 2048, 3072] {
        let keys = Keypair::generate(bits).expect("keygen");
        let (pk, sk) = (&keys.public, &keys.private);
        // Build the DJN and CRT tables outside the measurements.
        let _ = pk.obfuscator();
        let _ = sk.obfuscator();
        interleaved_ratio(bits, pk);
        let naive = Naive(pk);
        let a = pk.encrypt_f64(1.25).unwrap();
        let b = pk.encrypt_f64(-3.5).unwrap();

        let mut g = c.benchmark_group(format!("paillier-{bits}/1-core"));
        configure(&mut g);
        g.throughput(Throughput::Elements(1));
        g.bench_function("encrypt-naive", |bench| {
            bench.iter(|| naive.encrypt_f64(black_box(0.5)).unwrap())
        });
        g.bench_function("encrypt", |bench| {
            bench.iter(|| pk.encrypt_f64(black_box(0.5)).unwrap())
        });
        g.bench_function("encrypt-crt-private", |bench| {
            bench.iter(|| sk.encrypt_f64(black_box(0.5)).unwrap())
        });
        g.bench_function("decrypt", |bench| {
            bench.iter(|| sk.decrypt_f64(black_box(&a)).unwrap())
        });
        g.bench_function("add-raw", |bench| {
            bench.iter(|| pk.raw_add(black_box(&a.ciphertext), &b.ciphertext))
        });
        g.bench_function("add", |bench| {
            bench.iter(|| pk.add(black_box(&a), &b).unwrap())
        });
        g.bench_function("add-f64", |bench| {
            bench.iter(|| pk.add_f64(black_box(&a), 0.75).unwrap())
        });
        g.bench_function("mul-i64-negative", |bench| {
            bench.iter(|| pk.mul_i64(black_box(&a), -3).unwrap())
        });
        g.bench_function("mul-f64", |bench| {
            bench.iter(|| pk.mul_f64(black_box(&a), -0.37).unwrap())
        });
        g.bench_function("rerandomize", |bench| {
            bench.iter(|| pk.rerandomize(black_box(&a)))
        });
        g.finish();

        let mut g = c.benchmark_group(format!("paillier-{bits}/all-cores"));
        configure(&mut g);
        let small: Vec<f64> = (0..8).map(|i| f64::from(i) * 0.5 - 1.0).collect();
        let medium: Vec<f64> = (0..64).map(|i| f64::from(i) * 0.25 - 3.0).collect();
        let encrypted = pk.encrypt_f64_batch(&medium).unwrap();
        let large_a: Vec<_> = (0..4096).map(|i| encrypted[i % 64].clone()).collect();
        let large_b: Vec<_> = large_a.iter().rev().cloned().collect();
        g.throughput(Throughput::Elements(small.len() as u64));
        g.bench_function("encrypt-naive-batch", |bench| {
            bench.iter(|| naive.encrypt_f64_batch(&small).unwrap())
        });
        g.throughput(Throughput::Elements(medium.len() as u64));
        g.bench_function("encrypt-batch", |bench| {
            bench.iter(|| pk.encrypt_f64_batch(&medium).unwrap())
        });
        g.bench_function("encrypt-crt-private-batch", |bench| {
            bench.iter(|| sk.encrypt_f64_batch(&medium).unwrap())
        });
        g.bench_function("decrypt-batch", |bench| {
            bench.iter(|| sk.decrypt_f64_batch(&encrypted).unwrap())
        });
        g.bench_function("mul-f64-batch", |bench| {
            bench.iter(|| pk.mul_f64_batch(&encrypted, &medium).unwrap())
        });
        g.bench_function("rerandomize-batch", |bench| {
            bench.iter(|| pk.rerandomize_batch(&encrypted))
        });
        let raw_a: Vec<_> = large_a.iter().map(|x| x.ciphertext.clone()).collect();
        let raw_b: Vec<_> = large_b.iter().map(|x| x.ciphertext.clone()).collect();
        g.throughput(Throughput::Elements(large_a.len() as u64));
        g.bench_function("add-raw-batch", |bench| {
            bench.iter(|| pk.raw_add_batch(&raw_a, &raw_b).unwrap())
        });
        g.bench_function("add-batch", |bench| {
            bench.iter(|| pk.add_batch(&large_a, &large_b).unwrap())
        });
        let scalars: Vec<f64> = (0..large_a.len()).map(|i| i as f64 * 0.5).collect();
        let negatives: Vec<i64> = (0..large_a.len() as i64).map(|i| -1 - i % 100).collect();
        g.bench_function("add-f64-batch", |bench| {
            bench.iter(|| pk.add_f64_batch(&large_a, &scalars).unwrap())
        });
        g.bench_function("mul-i64-negative-batch", |bench| {
            bench.iter(|| pk.mul_i64_batch(&large_a, &negatives).unwrap())
        });
        // Hetero LR's hot paths: raw batch encryption and re-randomization (eight lanes
        // per IFMA call where the CPU has it), and 15 gradient columns of 29-bit signed
        // scalars over the same ciphertexts.
        let plain: Vec<Integer> = (0..raw_a.len() as u64)
            .map(|i| Integer::from(i * 7919))
            .collect();
        g.bench_function("encrypt-raw-batch", |bench| {
            bench.iter(|| pk.encrypt_raw_batch(&plain).unwrap())
        });
        g.bench_function("rerandomize-raw-batch", |bench| {
            bench.iter(|| pk.rerandomize_raw_batch(&raw_a))
        });
        let columns: Vec<Vec<i64>> = (0..15i64)
            .map(|j| {
                (0..raw_a.len() as i64)
                    .map(|i| ((i * 2_654_435_761 + j * 40_503) % (1 << 29)) - (1 << 28))
                    .collect()
            })
            .collect();
        g.bench_function("dot-columns-15", |bench| {
            bench.iter(|| pk.raw_dot_columns(&raw_a, &columns).unwrap())
        });
        g.finish();
    }
}

fn psi(c: &mut Criterion) {
    let ids: Vec<String> = (0..2048u32).map(|i| format!("{}", 1_000_000 + i)).collect();
    let single = one_thread();

    let signer = RsaSigner::generate(2048).expect("rsa keygen");
    let blinder = RsaBlinder::new(signer.public_key().clone());
    let few = &ids[..64];
    let blinded = blinder.blind_ids(few);
    let signed = signer.sign_blinded(blinded.blinded()).unwrap();

    let mut g = c.benchmark_group("psi-rsa-2048");
    configure(&mut g);
    g.throughput(Throughput::Elements(few.len() as u64));
    g.bench_function("host-sign-ids/1-core", |bench| {
        bench.iter(|| single.install(|| signer.sign_ids(few).unwrap()))
    });
    g.bench_function("host-sign-ids/all-cores", |bench| {
        bench.iter(|| signer.sign_ids(few).unwrap())
    });
    g.bench_function("host-sign-blinded/all-cores", |bench| {
        bench.iter(|| signer.sign_blinded(blinded.blinded()).unwrap())
    });
    g.bench_function("guest-blind/1-core", |bench| {
        bench.iter(|| single.install(|| blinder.blind_ids(few)))
    });
    g.bench_function("guest-unblind/1-core", |bench| {
        bench.iter(|| single.install(|| blinder.unblind(&blinded, &signed).unwrap()))
    });
    g.finish();

    let party = EcdhParty::new();
    let other = EcdhParty::new();
    let theirs = other.encrypt_ids(&ids);
    let mut g = c.benchmark_group("psi-ecdh-ristretto255");
    configure(&mut g);
    g.throughput(Throughput::Elements(ids.len() as u64));
    g.bench_function("encrypt-ids/1-core", |bench| {
        bench.iter(|| single.install(|| party.encrypt_ids(&ids)))
    });
    g.bench_function("encrypt-ids/all-cores", |bench| {
        bench.iter(|| party.encrypt_ids(&ids))
    });
    g.bench_function("reencrypt/1-core", |bench| {
        bench.iter(|| single.install(|| party.reencrypt(&theirs).unwrap()))
    });
    g.bench_function("reencrypt/all-cores", |bench| {
        bench.iter(|| party.reencrypt(&theirs).unwrap())
    });
    g.finish();
}

/// HeteroPearson's cross-party product at default_credit's size (30,000 rows, host 10
/// columns encrypted once, packed; guest 13 dot products), 1024-bit key, all cores.
fn sshare_cross(c: &mut Criterion) {
    use fateflow_crypto::sshare::cross::{
        dot_to_shares, encrypt_rows, shares_from_packed, CrossLayout,
    };
    let (n, p, q) = (30_000usize, 13usize, 10usize);
    let mut seed = 1u64;
    let mut next = move || {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((seed >> 33) as i64 % (1 << 22)) - (1 << 21)
    };
    let y: Vec<i64> = (0..n * q).map(|_| next()).collect();
    let xs: Vec<Vec<i64>> = (0..p).map(|_| (0..n).map(|_| next()).collect()).collect();
    let keys = Keypair::generate(1024).expect("key");
    // 15 bits of rows, 2·21 bits of scale, 2 of margin: the layout HeteroPearson picks.
    let layout = CrossLayout::new(&keys.public, 15 + 42 + 2, q).expect("layout");
    let mut group = c.benchmark_group("sshare-cross-1024/all-cores");
    group.sample_size(10).sampling_mode(SamplingMode::Flat);
    group.bench_function("30000x10 x 13 columns", |b| {
        b.iter(|| {
            let cts = encrypt_rows(&keys.private, &layout, &y).expect("encrypt");
            let (keep, sent) = dot_to_shares(&keys.public, &layout, &cts, &xs).expect("dot");
            let shares = shares_from_packed(&keys.private, &layout, &sent).expect("shares");
            black_box((keep, shares))
        })
    });
    group.finish();
}

criterion_group!(benches, paillier, psi, sshare_cross);
criterion_main!(benches);
