//! Scoring with a hetero linear model: each host sends `x_h·w_h` in plaintext for the
//! rows the guest names, and the guest adds its own part (spec §6.5). Rows go block by
//! block; when the two tables are aligned (same ids in the same order, as Intersection
//! writes them) a block is named by its position, otherwise by its ids.

use std::collections::HashMap;

use fateflow_crypto::paillier::{Ciphertext, Encryptor, PrivateKey, PublicKey};
use fateflow_crypto::Integer;
use fateflow_domain::Party;
use fateflow_federation::FederationExt;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::dataset::{Block, Dataset, Layout, READ_BLOCK_ROWS};
use crate::context::TaskContext;
use crate::error::{Error, Result};

/// What the guest tells the hosts before scoring: its table's layout and the rows per
/// block.
#[derive(Debug, Serialize, Deserialize)]
struct ScorePlan {
    layout: Layout,
    block_rows: usize,
}

/// The rows of one block, as the guest names them.
#[derive(Debug, Serialize, Deserialize)]
enum ScoreAsk {
    /// Rows `start..end` of the host's aligned table.
    Range(usize, usize),
    /// These sample ids.
    Sids(Vec<String>),
}

/// A host's part of a model: its weights, or (SSHE with `encrypted_reveal_in_host`)
/// their ciphertexts under the guest's key, in the ring of [`super::sshe`].
#[derive(Debug, Clone)]
pub(crate) enum HostWeights {
    Plain(Vec<f64>),
    Encrypted {
        key: PublicKey,
        cts: Vec<Ciphertext>,
    },
}

/// Takes each block's scores: its first row, its rows and their scores.
pub(crate) type ScoreSink<'a> = dyn FnMut(usize, &Block, Vec<f64>) -> Result<()> + 'a;

/// Guest: `x_g·w_g + b + Σ_hosts x_h·w_h` for every row of `data`, in its order, block
/// by block: `each(start, block, scores)` gets rows `start..start + scores.len()`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn guest_scores(
    ctx: &TaskContext<'_>,
    hosts: &[Party],
    data: &Dataset,
    w: &[f64],
    intercept: f64,
    tag: &str,
    key: Option<&PrivateKey>,
    each: &mut ScoreSink<'_>,
) -> Result<()> {
    let fed = ctx.federation()?;
    let plan = ScorePlan {
        layout: Layout::of(data)?,
        block_rows: READ_BLOCK_ROWS,
    };
    fed.remote("score_plan", tag, &plan, hosts)?;
    let aligned: Vec<bool> = hosts
        .iter()
        .map(|h| fed.get("score_aligned", tag, *h))
        .collect::<std::result::Result<_, _>>()?;
    for (j, (start, end)) in data.spans(plan.block_rows).enumerate() {
        let btag = format!("{tag}.{j}");
        let block = data.range(start, end)?;
        let mut sids = None;
        for (host, &a) in hosts.iter().zip(&aligned) {
            let ask = if a {
                ScoreAsk::Range(start, end)
            } else {
                if sids.is_none() {
                    sids = Some(data.sid_range(start, end)?);
                }
                ScoreAsk::Sids(sids.clone().unwrap_or_default())
            };
            fed.remote("score_ask", &btag, &ask, &[*host])?;
        }
        let mut scores: Vec<f64> = (0..block.len())
            .map(|p| block.x(p).iter().zip(w).map(|(x, w)| x * w).sum::<f64>() + intercept)
            .collect();
        for host in hosts {
            let theirs: Vec<f64> = match key {
                None => fed.get("host_scores", &btag, *host)?,
                Some(key) => {
                    decrypt_scores(key, &fed.get_bytes("host_scores_enc", &btag, *host)?, *host)?
                }
            };
            if theirs.len() != scores.len() || theirs.iter().any(|v| !v.is_finite()) {
                return Err(Error::param(
                    "host_scores",
                    format!(
                        "{host} sent {} scores for a block of {} rows (or a non-finite one)",
                        theirs.len(),
                        scores.len()
                    ),
                ));
            }
            for (s, t) in scores.iter_mut().zip(theirs) {
                *s += t;
            }
        }
        each(start, &block, scores)?;
    }
    Ok(())
}

/// Host: answers the guest's [`guest_scores`] with `x_h·w_h` for the named rows.
pub(crate) fn host_scores(
    ctx: &TaskContext<'_>,
    data: &Dataset,
    w: &HostWeights,
    tag: &str,
) -> Result<()> {
    let fed = ctx.federation()?;
    let guest = ctx
        .parties_of(fateflow_domain::Role::Guest)
        .first()
        .copied()
        .ok_or_else(|| Error::param("role", "scoring needs a guest"))?;
    let plan: ScorePlan = fed.get("score_plan", tag, guest)?;
    if plan.block_rows == 0 {
        return Err(Error::param(
            "score_plan",
            format!("{guest} sent blocks of 0 rows"),
        ));
    }
    let aligned = plan.layout.matches(data)?;
    fed.remote("score_aligned", tag, &aligned, &[guest])?;
    let index = if aligned {
        None
    } else {
        Some(sid_index(data)?)
    };
    for j in 0..plan.layout.rows.div_ceil(plan.block_rows) {
        let btag = format!("{tag}.{j}");
        let block = match fed.get::<ScoreAsk>("score_ask", &btag, guest)? {
            ScoreAsk::Range(start, end) if aligned && start <= end && end <= data.n() => {
                data.range(start, end)?
            }
            ScoreAsk::Range(start, end) => {
                return Err(Error::param(
                    "score_ask",
                    format!("{guest} asked for rows {start}..{end} of {} rows", data.n()),
                ))
            }
            ScoreAsk::Sids(sids) => {
                let Some(index) = &index else {
                    return Err(Error::param(
                        "score_ask",
                        format!("{guest} named rows by id although the tables are aligned"),
                    ));
                };
                let rows = sids
                    .iter()
                    .map(|s| {
                        index.get(s).copied().ok_or_else(|| Error::InvalidValue {
                            table: data.table.clone(),
                            sid: s.clone(),
                            column: data.sid_name.clone(),
                            reason: "the guest asked for a score of a sample this host does not have; intersect the data first".into(),
                        })
                    })
                    .collect::<Result<Vec<usize>>>()?;
                data.block(&rows)?
            }
        };
        match w {
            HostWeights::Plain(w) => {
                let scores: Vec<f64> = (0..block.len())
                    .map(|p| block.x(p).iter().zip(w).map(|(x, w)| x * w).sum::<f64>())
                    .collect();
                fed.remote("host_scores", &btag, &scores, &[guest])?;
            }
            HostWeights::Encrypted { key, cts } => {
                let bytes = encrypted_scores(data, &block, key, cts)?;
                fed.remote_bytes("host_scores_enc", &btag, &bytes, &[guest])?;
            }
        }
    }
    Ok(())
}

/// The row of each sid of `data` (for a guest whose table is not aligned with ours).
pub(crate) fn sid_index(data: &Dataset) -> Result<HashMap<String, usize>> {
    let mut index = HashMap::with_capacity(data.n());
    for (start, end) in data.spans(READ_BLOCK_ROWS) {
        for (p, sid) in data.sid_range(start, end)?.into_iter().enumerate() {
            index.insert(sid, start + p);
        }
    }
    Ok(index)
}

/// The logistic function.
pub fn sigmoid(x: f64) -> f64 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp();
        e / (1.0 + e)
    }
}

/// `[[x·w]]` per row under the guest's key, the part above the ring's 128 bits masked
/// (it holds the shares' carries times the host's features).
fn encrypted_scores(
    data: &Dataset,
    block: &Block,
    key: &PublicKey,
    cts: &[Ciphertext],
) -> Result<Vec<u8>> {
    let f = super::sshe::F;
    let cols: Vec<Vec<i64>> = (0..data.k)
        .map(|j| {
            (0..block.len())
                .map(|p| {
                    crate::wire::fixed_i64(block.x(p)[j], f, &|| {
                        format!("feature `{}`", data.header[j])
                    })
                })
                .collect::<Result<_>>()
        })
        .collect::<Result<_>>()?;
    let dots = super::sshe::encrypted_products(key, cts, &cols, block.len())?;
    let out: Vec<Ciphertext> = dots
        .par_iter()
        .map(|c| {
            let t = fateflow_crypto::random_integer(192) << 128u32;
            let m = key.encrypt_raw(&Integer::from(&t % key.n()))?;
            Ok(key.raw_add(c, &m))
        })
        .collect::<Result<_>>()?;
    Ok(crate::wire::encode_ciphers(&out))
}

/// The guest's view of a host's encrypted scores: the ring value at `2F` bits.
fn decrypt_scores(key: &PrivateKey, bytes: &[u8], from: Party) -> Result<Vec<f64>> {
    let pk = key.public_key();
    let cts = crate::wire::decode_ciphers("host_scores_enc", from, pk, bytes)?;
    Ok(fateflow_crypto::sshare::he::decrypt_to_shares(key, &cts)?
        .into_iter()
        .map(|v| fateflow_crypto::sshare::decode_at(v, 2 * super::sshe::F))
        .collect())
}
