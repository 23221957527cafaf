//! RSA blind-signature PSI (FATE 1.x's default), the guest computing the intersection.
//!
//! Unified flow, per host: the host sends its public key and the final-hashed signatures
//! of its own ids; the guest blinds its ids, the host signs them blindly, the guest
//! unblinds and matches. With `cardinality_only` the host sends a Bloom filter of its
//! signatures instead of the list, and the guest counts its ids that pass (an estimate
//! with the filter's false-positive rate, FATE's "estimated cardinality").
//!
//! `split_calculation`, per host: both sides hold a key. Ids whose first hash is odd go
//! the unified way (guest blinds, host signs); even ones the other way (host blinds, the
//! guest signs), and the host reports the even matches to the guest. The guest then
//! finishes as in the unified flow, so every party's result is the common intersection.

use super::param::{FilterParams, RsaParams};
use super::{bloom, finish_guest, finish_host, guest_of, hosts_of, Found, Goal};
use crate::context::TaskContext;
use crate::error::{Error, Result};
use fateflow_crypto::psi::rsa::{BlindedIds, RsaBlinder, RsaHashing, RsaPublicKey, RsaSigner};
use fateflow_crypto::Integer;
use fateflow_domain::{Party, Role};
use fateflow_federation::{Federation, FederationExt};

const TAG: &str = "rsa";

fn crypto(e: fateflow_crypto::Error) -> Error {
    Error::param("rsa_params", e.to_string())
}

fn hashing(p: &RsaParams) -> RsaHashing {
    RsaHashing {
        first: p.hash,
        last: p.final_hash,
        salt: p.salt.clone(),
    }
}

fn to_hex(values: &[Integer]) -> Vec<String> {
    values.iter().map(|v| v.to_string_radix(16)).collect()
}

fn from_hex(name: &str, from: Party, values: &[String]) -> Result<Vec<Integer>> {
    values
        .iter()
        .map(|h| {
            Integer::from_str_radix(h, 16).map_err(|e| {
                Error::param(
                    name,
                    format!("{from} sent a value that is not hexadecimal: {e}"),
                )
            })
        })
        .collect()
}

fn signer(p: &RsaParams) -> Result<RsaSigner> {
    Ok(RsaSigner::generate(p.key_length)
        .map_err(|e| Error::param("rsa_params.key_length", e.to_string()))?
        .with_hashing(hashing(p)))
}

fn blinder(p: &RsaParams, public: RsaPublicKey) -> RsaBlinder {
    RsaBlinder::new(public)
        .with_hashing(hashing(p))
        .with_random_bits(p.random_bit)
}

fn blind(p: &RsaParams, b: &RsaBlinder, ids: &[&str]) -> BlindedIds {
    match p.fraction {
        Some(f) => b.blind_ids_with_fraction(ids, f),
        None => b.blind_ids(ids),
    }
}

/// Blinds `ids` under `public`, has `to` sign them (messages `<prefix>_blinded` and
/// `<prefix>_signed`), and returns the unblinded final hashes.
fn blind_and_unblind(
    fed: &dyn Federation,
    p: &RsaParams,
    public: RsaPublicKey,
    ids: &[&str],
    prefix: &str,
    to: Party,
) -> Result<Vec<String>> {
    let b = blinder(p, public);
    let blinded = blind(p, &b, ids);
    fed.remote(
        &format!("{prefix}_blinded"),
        TAG,
        &to_hex(blinded.blinded()),
        &[to],
    )?;
    let name = format!("{prefix}_signed");
    let signed: Vec<String> = fed.get(&name, TAG, to)?;
    let signed = from_hex(&name, to, &signed)?;
    b.unblind(&blinded, &signed).map_err(crypto)
}

/// Signs what `from` blinded under our key (messages `<prefix>_blinded`/`_signed`).
fn sign_for(fed: &dyn Federation, s: &RsaSigner, prefix: &str, from: Party) -> Result<()> {
    let name = format!("{prefix}_blinded");
    let blinded: Vec<String> = fed.get(&name, TAG, from)?;
    let blinded = from_hex(&name, from, &blinded)?;
    let signed = s.sign_blinded(&blinded).map_err(crypto)?;
    fed.remote(&format!("{prefix}_signed"), TAG, &to_hex(&signed), &[from])?;
    Ok(())
}

/// Runs the flow at this party on `ids`.
pub(crate) fn run(
    ctx: &TaskContext<'_>,
    p: &RsaParams,
    filter: &FilterParams,
    ids: &[&str],
    goal: Goal,
) -> Result<Found> {
    let fed = ctx.federation()?;
    match ctx.role {
        Role::Guest => {
            let hosts = hosts_of(ctx)?;
            if let Goal::Count { sync } = goal {
                return guest_count(ctx, fed, p, ids, &hosts, sync);
            }
            let mut pairs_per_host = Vec::with_capacity(hosts.len());
            for host in &hosts {
                let pairs = if p.split_calculation {
                    guest_split(fed, p, ids, *host)?
                } else {
                    let public: RsaPublicKey = fed.get("rsa_pubkey", TAG, *host)?;
                    let mine = blind_and_unblind(fed, p, public, ids, "guest", *host)?;
                    let theirs: Vec<String> = fed.get("host_signed_ids", TAG, *host)?;
                    fateflow_crypto::psi::intersect(&mine, &theirs)
                };
                ctx.tracker.info(&format!(
                    "{} of our {} ids are also at {host}",
                    pairs.len(),
                    ids.len()
                ));
                pairs_per_host.push((*host, pairs));
            }
            finish_guest(fed, TAG, ids.len(), pairs_per_host, goal)
        }
        _ => {
            let guest = guest_of(ctx)?;
            let s = signer(p)?;
            fed.remote("rsa_pubkey", TAG, s.public_key(), &[guest])?;
            match goal {
                Goal::Count { .. } => {
                    let mine = s.sign_ids(ids).map_err(crypto)?;
                    let bloom = bloom::build(filter, mine.len(), mine.iter().map(String::as_str))?;
                    fed.remote_bytes("host_filter", TAG, &bloom.to_bytes(), &[guest])?;
                    drop(mine);
                    sign_for(fed, &s, "guest", guest)?;
                }
                Goal::Rows { .. } if p.split_calculation => {
                    let order = host_split(fed, p, &s, ids, guest)?;
                    return Ok(match finish_host(fed, TAG, guest, ids.len(), goal)? {
                        Found::Rows(positions) => {
                            Found::Rows(positions.into_iter().map(|q| order[q]).collect())
                        }
                        other => other,
                    });
                }
                Goal::Rows { .. } => {
                    sign_for(fed, &s, "guest", guest)?;
                    let mine = s.sign_ids(ids).map_err(crypto)?;
                    fed.remote("host_signed_ids", TAG, &mine, &[guest])?;
                }
            }
            finish_host(fed, TAG, guest, ids.len(), goal)
        }
    }
}

/// The guest's estimated cardinality: its ids whose signature passes every host's filter.
fn guest_count(
    ctx: &TaskContext<'_>,
    fed: &dyn Federation,
    p: &RsaParams,
    ids: &[&str],
    hosts: &[Party],
    sync: bool,
) -> Result<Found> {
    let mut passing: Vec<usize> = (0..ids.len()).collect();
    for host in hosts {
        let public: RsaPublicKey = fed.get("rsa_pubkey", TAG, *host)?;
        let bytes = fed.get_bytes("host_filter", TAG, *host)?;
        let filter = bloom::Bloom::from_bytes("host_filter", *host, &bytes)?;
        let mine = blind_and_unblind(fed, p, public, ids, "guest", *host)?;
        passing.retain(|&i| filter.contains(&mine[i]));
        ctx.tracker.info(&format!(
            "{} of our {} ids pass the filter of {host}",
            passing.len(),
            ids.len()
        ));
    }
    if sync {
        fed.remote("cardinality", TAG, &passing.len(), hosts)?;
    }
    Ok(Found::Count(Some(passing.len())))
}

/// Whether the first hash of `id` is odd (FATE's split of the ids).
fn odd(h: &RsaHashing, id: &str) -> bool {
    h.first_hash(id.as_bytes()).is_odd()
}

/// Positions of the odd and of the even ids.
fn split(p: &RsaParams, ids: &[&str]) -> (Vec<usize>, Vec<usize>) {
    let h = hashing(p);
    (0..ids.len()).partition(|&i| odd(&h, ids[i]))
}

/// The guest's half of the split flow with one host: matching pairs (guest position,
/// host position) over all ids.
fn guest_split(
    fed: &dyn Federation,
    p: &RsaParams,
    ids: &[&str],
    host: Party,
) -> Result<Vec<(usize, usize)>> {
    let own = signer(p)?;
    fed.remote("guest_pubkey", TAG, own.public_key(), &[host])?;
    let (odd_pos, even_pos) = split(p, ids);
    let pick = |pos: &[usize]| pos.iter().map(|&i| ids[i]).collect::<Vec<&str>>();
    // Odd ids: signed by the host, blindly.
    let public: RsaPublicKey = fed.get("rsa_pubkey", TAG, host)?;
    let mine_odd = blind_and_unblind(fed, p, public, &pick(&odd_pos), "guest", host)?;
    let theirs_odd: Vec<String> = fed.get("host_signed_ids", TAG, host)?;
    // Host positions count its odd ids first, then its even ones (the host maps them
    // back), so the host never tells which of its rows are odd.
    let mut pairs: Vec<(usize, usize)> = fateflow_crypto::psi::intersect(&mine_odd, &theirs_odd)
        .into_iter()
        .map(|(i, j)| (odd_pos[i], j))
        .collect();
    // Even ids: the guest signs its own; the host blinds its own under the guest's key.
    let mine_even = own.sign_ids(&pick(&even_pos)).map_err(crypto)?;
    fed.remote("guest_signed_ids", TAG, &mine_even, &[host])?;
    sign_for(fed, &own, "host", host)?;
    let even: Vec<(usize, usize)> = fed.get("even_pairs", TAG, host)?;
    for (i, j) in even {
        let g = *even_pos.get(i).ok_or_else(|| {
            Error::param(
                "even_pairs",
                format!("{host} named even id {i} of {}", even_pos.len()),
            )
        })?;
        pairs.push((g, theirs_odd.len() + j));
    }
    pairs.sort_unstable();
    Ok(pairs)
}

/// The host's half of the split flow. Returns the order in which the guest counts the
/// host's ids: the odd ones, then the even ones.
fn host_split(
    fed: &dyn Federation,
    p: &RsaParams,
    s: &RsaSigner,
    ids: &[&str],
    guest: Party,
) -> Result<Vec<usize>> {
    let guest_public: RsaPublicKey = fed.get("guest_pubkey", TAG, guest)?;
    let (odd_pos, even_pos) = split(p, ids);
    let pick = |pos: &[usize]| pos.iter().map(|&i| ids[i]).collect::<Vec<&str>>();
    sign_for(fed, s, "guest", guest)?;
    let mine_odd = s.sign_ids(&pick(&odd_pos)).map_err(crypto)?;
    fed.remote("host_signed_ids", TAG, &mine_odd, &[guest])?;
    let mine_even = blind_and_unblind(fed, p, guest_public, &pick(&even_pos), "host", guest)?;
    let theirs_even: Vec<String> = fed.get("guest_signed_ids", TAG, guest)?;
    let even = fateflow_crypto::psi::intersect(&theirs_even, &mine_even);
    fed.remote("even_pairs", TAG, &even, &[guest])?;
    Ok(odd_pos.into_iter().chain(even_pos).collect())
}
