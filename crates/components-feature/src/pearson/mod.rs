//! `HeteroPearson`: Pearson correlation of the guest's and one host's feature columns,
//! without either party revealing its data (FATE 1.11's
//! `statistic/correlation/hetero_pearson.py`).
//!
//! Each party selects its columns (`column_indexes`: `-1` or indexes into the feature
//! columns; `column_names`; their union in header order), standardises them with the
//! population standard deviation (`x' = (x − μ)/σ`; a column with `σ = 0` is left out and
//! its rows and columns of every matrix are NaN), computes its local correlation matrix
//! `X'ᵀX'/n` (clipped to [−1, 1]) and, with `calc_local_vif`, each column's VIF from the
//! eigenvalues of that matrix and of its minors (FATE's formula; the `i`-th diagonal
//! entry of the inverse for a regular matrix).
//!
//! With `cross_parties` (default) the guest and the first host swap their selected
//! columns' anonymous names and kept indexes, and compute `X'_gᵀ·X'_h / n` on the
//! secret-sharing layer ([`fateflow_crypto::sshare::cross`]): the host encrypts its
//! fixed-point rows once under a fresh Paillier key of `fixpoint_bit_length` bits,
//! packed several columns per ciphertext; the guest computes each of its columns' dot
//! products by bucket multi-exponentiation and turns them into additive shares over
//! Z_{2^128} with statistically hiding masks; the host decrypts its shares; both reveal
//! the `m_g × m_h` matrix to each other, as FATE does. The fixed-point scale is the
//! largest from 2^20 to 2^32 that keeps the host's packing, so the error is below 1e-6.
//!
//! Outputs: the model (FATE's `HeteroPearsonModelMeta` / `HeteroPearsonModelParam`), the
//! summary (`num_local_features`, `local_corr`, and with cross: `num_remote_features`,
//! `corr`) and the metric meta `statistic`/`correlation` of type `CORRELATION_GRAPH`. No
//! output data.
//!
//! Departures from FATE: a missing value fails naming its row (FATE's arithmetic would
//! spread NaN); σ is computed in two passes, and a column of one repeated value has σ = 0 exactly;
//! with a column subset, `names`/`all_names`/`shapes` describe the selected columns
//! (FATE mixes the full header into them); `use_mix_rand` is accepted and changes
//! nothing (our shares always come from the OS-seeded CSPRNG).

pub mod model;
pub(crate) mod param;

use arrow_array::Array;
use fateflow_crypto::paillier::Keypair;
use fateflow_crypto::sshare::cross::{
    dot_to_shares, encrypt_rows, shares_from_packed, CrossLayout,
};
use fateflow_crypto::sshare::{decode_at, reveal};
use fateflow_domain::{Party, Role};
use fateflow_federation::FederationExt;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::context::{Component, Metric, TaskContext};
use crate::error::{Error, ErrorKind, Result};
use crate::table_io::{feature_header, open_first_input, scan_columns};
use crate::wire::{decode_ciphers, encode_ciphers};

pub use model::PearsonModel;
use model::{AnonymousMap, ModelMeta, ModelParam, Names, MODULE};
use param::{Columns, PearsonParam};

/// Input data keys tried in order.
const INPUT_KEYS: [&str; 2] = ["train_data", "data"];

/// FATE's `HeteroPearson` component.
#[derive(Debug, Clone, Copy, Default)]
pub struct HeteroPearson;

/// One party's selected columns.
struct Local {
    /// The selected columns' names.
    names: Vec<String>,
    /// Their anonymous names.
    anonymous: Vec<String>,
    sids: Vec<String>,
    /// Column-major values of the selected columns.
    columns: Vec<Vec<f64>>,
}

/// What each party tells the other before the cross-party product.
#[derive(Debug, Serialize, Deserialize)]
enum Hello {
    Ready {
        /// Anonymous names of the selected columns.
        anonymous: Vec<String>,
        /// Indexes (among them) of the columns with variance.
        remains: Vec<usize>,
        /// The guest's ids in its row order (the host aligns to them).
        sids: Option<Vec<String>>,
    },
    Failed(ErrorKind),
}

/// The host's key and fixed-point scale for the product.
#[derive(Debug, Serialize, Deserialize)]
struct KeyMessage {
    key: fateflow_crypto::paillier::PublicKey,
    frac_bits: u32,
    value_bits: u32,
}

const HELLO: &str = "pearson_hello";
const KEY: &str = "pearson_key";
const ROWS: &str = "pearson_rows";
const PRODUCTS: &str = "pearson_products";
const SHARES: &str = "pearson_shares";

impl Component for HeteroPearson {
    fn run(&self, ctx: &TaskContext<'_>) -> Result<()> {
        let param = PearsonParam::parse(&ctx.parameters)?;
        if !matches!(ctx.role, Role::Guest | Role::Host) {
            return Err(Error::MissingInput {
                component: MODULE.into(),
                what: format!("the role guest or host (this party is {})", ctx.role),
            });
        }
        let me = Party {
            role: ctx.role,
            party_id: ctx.party_id,
        };
        if !param.cross_parties {
            let local = read(ctx, &param)?;
            let fit = LocalFit::of(&local, param.calc_local_vif);
            return save(ctx, &local, &fit, None, me);
        }
        let missing = |what: &str| Error::MissingInput {
            component: MODULE.into(),
            what: format!("a {what} in the job's roles"),
        };
        let guest = *ctx
            .parties_of(Role::Guest)
            .first()
            .ok_or_else(|| missing("guest"))?;
        let host = *ctx
            .parties_of(Role::Host)
            .first()
            .ok_or_else(|| missing("host"))?;
        let other = if ctx.role == Role::Guest { host } else { guest };
        let fed = ctx.federation()?;
        let prepared = read(ctx, &param).map(|mut local| {
            let fit = LocalFit::of(&local, param.calc_local_vif);
            // Standardised columns are all the product needs.
            local.columns = Vec::new();
            (local, fit)
        });
        let hello = match &prepared {
            Ok((local, fit)) => Hello::Ready {
                anonymous: local.anonymous.clone(),
                remains: fit.remains.clone(),
                sids: (ctx.role == Role::Guest).then(|| local.sids.clone()),
            },
            Err(e) => Hello::Failed(e.kind()),
        };
        fed.remote(HELLO, "0", &hello, &[other])?;
        let (local, mut fit) = prepared?;
        let (remote_anonymous, remote_remains, guest_sids) = match fed.get(HELLO, "0", other)? {
            Hello::Ready {
                anonymous,
                remains,
                sids,
            } => (anonymous, remains, sids),
            Hello::Failed(kind) => {
                return Err(Error::PartyFailed {
                    party: other.to_string(),
                    kind,
                })
            }
        };
        if remote_remains.iter().any(|&i| i >= remote_anonymous.len()) {
            return Err(Error::param(
                "pearson_hello",
                format!("{other} sent a kept column index outside its columns"),
            ));
        }
        let n = local.sids.len();
        let (g_names, h_names, g_remains, h_remains) = if ctx.role == Role::Guest {
            (
                local.names.clone(),
                remote_anonymous,
                fit.remains.clone(),
                remote_remains,
            )
        } else {
            let order = guest_sids
                .ok_or_else(|| Error::param("pearson_hello", format!("{other} sent no row ids")))?;
            let sid_refs: Vec<&str> = local.sids.iter().map(String::as_str).collect();
            let rows = crate::table_io::match_rows(MODULE, "id", &sid_refs, &order)?;
            fit.standardized = fit
                .standardized
                .iter()
                .map(|c| rows.iter().map(|&r| c[r]).collect())
                .collect();
            (
                remote_anonymous,
                local.names.clone(),
                remote_remains,
                fit.remains.clone(),
            )
        };
        let (m1, m2) = (g_names.len(), h_names.len());
        let kept = if g_remains.is_empty() || h_remains.is_empty() {
            vec![0.0; g_remains.len() * h_remains.len()]
        } else {
            cross_product(
                ctx,
                &param,
                &fit.standardized,
                other,
                n,
                g_remains.len(),
                h_remains.len(),
            )?
        };
        let mut corr = vec![f64::NAN; m1 * m2];
        for (a, &i) in g_remains.iter().enumerate() {
            for (b, &j) in h_remains.iter().enumerate() {
                corr[i * m2 + j] = kept[a * h_remains.len() + b].clamp(-1.0, 1.0);
            }
        }
        let cross = Cross {
            guest,
            host,
            names: [g_names, h_names],
            corr,
        };
        save(ctx, &local, &fit, Some(cross), me)
    }
}

/// `X'_gᵀ·X'_h / n` (kept columns only, row-major), both parties running their side.
fn cross_product(
    ctx: &TaskContext<'_>,
    param: &PearsonParam,
    standardized: &[Vec<f64>],
    other: Party,
    n: usize,
    mg: usize,
    mh: usize,
) -> Result<Vec<f64>> {
    let fed = ctx.federation()?;
    let shares: Vec<u128>;
    let mine: Vec<u128>;
    let frac_bits;
    if ctx.role == Role::Host {
        let (f, value_bits) = scale(param.key_bits, n, mh)?;
        frac_bits = f;
        ctx.tracker.info(&format!(
            "hetero_pearson: encrypting {n} rows of {mh} columns (key {} bits, 2^{f} fixed point)",
            param.key_bits
        ));
        let started = std::time::Instant::now();
        let keys = Keypair::generate(param.key_bits)?;
        let layout = CrossLayout::new(&keys.public, value_bits, mh)?;
        let rows = to_fixed_rows(standardized, f)?;
        let cts = encrypt_rows(&keys.private, &layout, &rows)?;
        ctx.tracker.info(&format!(
            "hetero_pearson: {} ciphertexts ({} per row) in {:.2?}",
            cts.len(),
            layout.per_row(),
            started.elapsed()
        ));
        fed.remote(
            KEY,
            "0",
            &KeyMessage {
                key: keys.public.clone(),
                frac_bits: f,
                value_bits,
            },
            &[other],
        )?;
        fed.remote_bytes(ROWS, "0", &encode_ciphers(&cts), &[other])?;
        let bytes = fed.get_bytes(PRODUCTS, "0", other)?;
        let products = decode_ciphers(PRODUCTS, other, &keys.public, &bytes)?;
        if products.len() != mg * layout.per_row() {
            return Err(Error::param(
                PRODUCTS,
                format!(
                    "{other} sent {} ciphertexts, {} expected",
                    products.len(),
                    mg * layout.per_row()
                ),
            ));
        }
        mine = shares_from_packed(&keys.private, &layout, &products)?;
        fed.remote_bytes(SHARES, "host", &u128_bytes(&mine), &[other])?;
        shares = from_u128_bytes(&fed.get_bytes(SHARES, "guest", other)?, mg * mh)?;
    } else {
        let msg: KeyMessage = fed.get(KEY, "0", other)?;
        let (f, value_bits) = scale(msg.key.bits(), n, mh)?;
        if (f, value_bits) != (msg.frac_bits, msg.value_bits) || msg.key.bits() != param.key_bits {
            return Err(Error::param(
                "fixpoint_bit_length",
                format!(
                    "{other} uses a {}-bit key at 2^{} and {} value bits; this party expects {} bits at 2^{f} and {value_bits}",
                    msg.key.bits(),
                    msg.frac_bits,
                    msg.value_bits,
                    param.key_bits
                ),
            ));
        }
        frac_bits = f;
        let layout = CrossLayout::new(&msg.key, value_bits, mh)?;
        let bytes = fed.get_bytes(ROWS, "0", other)?;
        let cts = decode_ciphers(ROWS, other, &msg.key, &bytes)?;
        if cts.len() != n * layout.per_row() {
            return Err(Error::param(
                ROWS,
                format!(
                    "{other} sent {} ciphertexts for {n} rows, {} expected",
                    cts.len(),
                    n * layout.per_row()
                ),
            ));
        }
        ctx.tracker.info(&format!(
            "hetero_pearson: {mg} encrypted dot products over {n} rows"
        ));
        let columns: Vec<Vec<i64>> = standardized
            .iter()
            .map(|c| c.iter().map(|&x| to_fixed(x, f)).collect::<Result<_>>())
            .collect::<Result<_>>()?;
        let started = std::time::Instant::now();
        let (keep, sent) = dot_to_shares(&msg.key, &layout, &cts, &columns)?;
        ctx.tracker.info(&format!(
            "hetero_pearson: {mg} dot products in {:.2?}",
            started.elapsed()
        ));
        fed.remote_bytes(PRODUCTS, "0", &encode_ciphers(&sent), &[other])?;
        mine = keep;
        fed.remote_bytes(SHARES, "guest", &u128_bytes(&mine), &[other])?;
        shares = from_u128_bytes(&fed.get_bytes(SHARES, "host", other)?, mg * mh)?;
    }
    Ok(mine
        .iter()
        .zip(&shares)
        .map(|(&a, &b)| decode_at(reveal(a, b), 2 * frac_bits) / n as f64)
        .collect())
}

/// The fixed-point scale and the bound on the product's entries for `n` rows and the
/// host's `mh` columns under a `key_bits` key: the largest `f` in 20..=32 that packs the
/// host's row in as few ciphertexts as `f = 20` does.
fn scale(key_bits: u32, n: usize, mh: usize) -> Result<(u32, u32)> {
    let row_bits = usize::BITS - n.max(1).leading_zeros();
    let value_bits = |f: u32| row_bits + 2 * f + 2;
    let per_row =
        |f: u32| CrossLayout::for_key_bits(key_bits, value_bits(f), mh).map(|l| l.per_row());
    let floor = per_row(20)?;
    let f = (20..=32)
        .rev()
        .find(|&f| per_row(f).is_ok_and(|p| p == floor))
        .unwrap_or(20);
    Ok((f, value_bits(f)))
}

/// `round(x·2^f)` as an i64 (a standardised value is at most √n in magnitude).
fn to_fixed(x: f64, f: u32) -> Result<i64> {
    let y = (x * 2f64.powi(f as i32)).round();
    if !y.is_finite() || y.abs() >= 2f64.powi(62) {
        return Err(Error::param(
            "column_indexes",
            format!("a standardised value {x} is out of the fixed-point range"),
        ));
    }
    Ok(y as i64)
}

/// Row-major fixed-point values of column-major columns.
fn to_fixed_rows(columns: &[Vec<f64>], f: u32) -> Result<Vec<i64>> {
    let n = columns.first().map_or(0, Vec::len);
    let m = columns.len();
    (0..n * m)
        .into_par_iter()
        .map(|k| to_fixed(columns[k % m][k / m], f))
        .collect()
}

fn u128_bytes(v: &[u128]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn from_u128_bytes(bytes: &[u8], len: usize) -> Result<Vec<u128>> {
    if bytes.len() != len * 16 {
        return Err(Error::param(
            SHARES,
            format!("{} bytes received, {} expected", bytes.len(), len * 16),
        ));
    }
    Ok(bytes
        .chunks_exact(16)
        .map(|c| u128::from_le_bytes(c.try_into().expect("16 bytes")))
        .collect())
}

/// Reads the selected columns of the first input table.
fn read(ctx: &TaskContext<'_>, param: &PearsonParam) -> Result<Local> {
    let (id, info, rows) = open_first_input(ctx, MODULE, &INPUT_KEYS)?;
    let table = id.to_string();
    let header = feature_header(&info.schema);
    let selected: Vec<usize> = match &param.columns {
        Columns::All => (0..header.len()).collect(),
        Columns::Some { indexes, names } => {
            let mut set = std::collections::BTreeSet::new();
            for name in names {
                let i = header.iter().position(|h| h == name).ok_or_else(|| {
                    Error::param(
                        "column_names",
                        format!("feature `{name}` is not a feature column of {table}"),
                    )
                })?;
                set.insert(i);
            }
            for &i in indexes {
                if i < 0 || i as usize >= header.len() {
                    return Err(Error::param(
                        "column_indexes",
                        format!(
                            "index {i} is out of the {} feature columns of {table}",
                            header.len()
                        ),
                    ));
                }
                set.insert(i as usize);
            }
            set.into_iter().collect()
        }
    };
    if selected.is_empty() {
        return Err(Error::MissingInput {
            component: MODULE.into(),
            what: format!("at least one feature column in table {table}"),
        });
    }
    let names: Vec<String> = selected.iter().map(|&i| header[i].clone()).collect();
    let anonymous: Vec<String> = selected
        .iter()
        .map(|&i| format!("{}_{}_x{i}", ctx.role, ctx.party_id))
        .collect();
    let table_cols: Vec<usize> = names
        .iter()
        .map(|n| {
            info.schema
                .column_index(n)
                .expect("a feature is a header column")
        })
        .collect();
    ctx.memory.check(
        MODULE,
        &format!("the {} selected columns of {rows} samples", names.len()),
        rows.saturating_mul(names.len() as u64 * 16 + 48),
    )?;
    let mut columns = vec![Vec::with_capacity(rows as usize); names.len()];
    let mut sids = Vec::with_capacity(rows as usize);
    scan_columns(ctx, &id, &info, |_, batch_sids, values| {
        for (c, &col) in table_cols.iter().enumerate() {
            let v = values[col];
            if let Some(r) = v.iter().position(|x| !x.is_finite()) {
                return Err(Error::InvalidValue {
                    table: table.clone(),
                    sid: batch_sids.value(r).into(),
                    column: names[c].clone(),
                    reason: format!(
                        "{} is not a value {MODULE} can use (impute missing values first)",
                        v[r]
                    ),
                });
            }
            columns[c].extend_from_slice(v);
        }
        sids.extend((0..batch_sids.len()).map(|r| batch_sids.value(r).to_owned()));
        Ok(())
    })?;
    Ok(Local {
        names,
        anonymous,
        sids,
        columns,
    })
}

/// The local half of the fit.
struct LocalFit {
    /// Indexes (among the selected columns) of the columns with variance.
    remains: Vec<usize>,
    /// Their standardised values, column-major.
    standardized: Vec<Vec<f64>>,
    /// The full local correlation matrix (NaN for columns without variance), clipped.
    local_corr: Vec<f64>,
    /// The VIF of every selected column (NaN without variance), when asked.
    local_vif: Option<Vec<f64>>,
}

impl LocalFit {
    fn of(local: &Local, calc_vif: bool) -> LocalFit {
        let (remains, standardized) = standardize(&local.columns);
        let size = local.columns.len();
        let k = remains.len();
        let n = local.sids.len() as f64;
        let kept = correlation(&standardized, n);
        let mut local_corr = vec![f64::NAN; size * size];
        for (a, &i) in remains.iter().enumerate() {
            for (b, &j) in remains.iter().enumerate() {
                local_corr[i * size + j] = kept[a * k + b].clamp(-1.0, 1.0);
            }
        }
        let local_vif = calc_vif.then(|| {
            let v = vif_from_correlation(&kept, k);
            let mut out = vec![f64::NAN; size];
            for (a, &i) in remains.iter().enumerate() {
                out[i] = v[a];
            }
            out
        });
        LocalFit {
            remains,
            standardized,
            local_corr,
            local_vif,
        }
    }
}

/// `(x − μ)/σ` of every column with `σ > 0` (population σ, two passes; 0 for a column
/// of one repeated value): the kept
/// indexes and their standardised values.
fn standardize(columns: &[Vec<f64>]) -> (Vec<usize>, Vec<Vec<f64>>) {
    let stats: Vec<(f64, f64)> = columns
        .par_iter()
        .map(|c| {
            let n = c.len() as f64;
            let mu = c.iter().sum::<f64>() / n;
            if c.iter().all(|&x| x == c[0]) {
                return (mu, 0.0);
            }
            let var = c.iter().map(|x| (x - mu) * (x - mu)).sum::<f64>() / n;
            (mu, var.sqrt())
        })
        .collect();
    let remains: Vec<usize> = (0..columns.len()).filter(|&i| stats[i].1 > 0.0).collect();
    let standardized = remains
        .par_iter()
        .map(|&i| {
            let (mu, sigma) = stats[i];
            columns[i].iter().map(|x| (x - mu) / sigma).collect()
        })
        .collect();
    (remains, standardized)
}

/// `XᵀX / n` of column-major `x`, row-major, unclipped.
fn correlation(x: &[Vec<f64>], n: f64) -> Vec<f64> {
    let k = x.len();
    let upper: Vec<(usize, usize, f64)> = (0..k)
        .flat_map(|i| (i..k).map(move |j| (i, j)))
        .collect::<Vec<_>>()
        .into_par_iter()
        .map(|(i, j)| {
            (
                i,
                j,
                x[i].iter().zip(&x[j]).map(|(a, b)| a * b).sum::<f64>() / n,
            )
        })
        .collect();
    let mut out = vec![0.0; k * k];
    for (i, j, v) in upper {
        out[i * k + j] = v;
        out[j * k + i] = v;
    }
    out
}

/// Eigenvalues of a symmetric `k × k` matrix (cyclic Jacobi rotations).
fn symmetric_eigenvalues(m: &[f64], k: usize) -> Vec<f64> {
    let mut a = m.to_vec();
    for _sweep in 0..100 {
        let off: f64 = (0..k)
            .flat_map(|i| (0..k).filter(move |&j| j != i).map(move |j| (i, j)))
            .map(|(i, j)| a[i * k + j] * a[i * k + j])
            .sum();
        let scale: f64 = a.iter().map(|v| v * v).sum::<f64>().max(f64::MIN_POSITIVE);
        if off <= 1e-30 * scale {
            break;
        }
        for p in 0..k {
            for q in p + 1..k {
                let apq = a[p * k + q];
                if apq == 0.0 {
                    continue;
                }
                let theta = (a[q * k + q] - a[p * k + p]) / (2.0 * apq);
                let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
                let t = if theta == 0.0 { 1.0 } else { t };
                let c = 1.0 / (t * t + 1.0).sqrt();
                let s = t * c;
                for r in 0..k {
                    let arp = a[r * k + p];
                    let arq = a[r * k + q];
                    a[r * k + p] = c * arp - s * arq;
                    a[r * k + q] = s * arp + c * arq;
                }
                for r in 0..k {
                    let apr = a[p * k + r];
                    let aqr = a[q * k + r];
                    a[p * k + r] = c * apr - s * aqr;
                    a[q * k + r] = s * apr + c * aqr;
                }
            }
        }
    }
    (0..k).map(|i| a[i * k + i]).collect()
}

/// FATE's VIF from a correlation matrix: with the `d` absolute eigenvalues below 1e-8
/// dropped, `VIF_i = Π eig(minor_i)[d..] / Π eig(full)[d..]` (sorted ascending).
pub(crate) fn vif_from_correlation(m: &[f64], k: usize) -> Vec<f64> {
    const THRESHOLD: f64 = 1e-8;
    let sorted_abs = |v: Vec<f64>| {
        let mut v: Vec<f64> = v.into_iter().map(f64::abs).collect();
        v.sort_by(f64::total_cmp);
        v
    };
    let eig = sorted_abs(symmetric_eigenvalues(m, k));
    let drop = eig.iter().filter(|&&e| e < THRESHOLD).count();
    let det: f64 = eig[drop..].iter().product();
    (0..k)
        .into_par_iter()
        .map(|i| {
            let idx: Vec<usize> = (0..k).filter(|&j| j != i).collect();
            let minor: Vec<f64> = idx
                .iter()
                .flat_map(|&r| idx.iter().map(move |&c| m[r * k + c]))
                .collect();
            let e = sorted_abs(symmetric_eigenvalues(&minor, k - 1));
            e.iter().skip(drop).product::<f64>() / det
        })
        .collect()
}

/// The cross-party part of the model.
struct Cross {
    guest: Party,
    host: Party,
    /// Guest's selected names (its own, or anonymous at the host) and the host's.
    names: [Vec<String>; 2],
    corr: Vec<f64>,
}

fn party_label(p: Party) -> String {
    format!("({},{})", p.role, p.party_id)
}

fn matrix(v: &[f64], cols: usize) -> serde_json::Value {
    if cols == 0 {
        return json!([]);
    }
    json!(v
        .chunks(cols)
        .map(|r| r
            .iter()
            .map(|x| x.is_finite().then_some(*x))
            .collect::<Vec<_>>())
        .collect::<Vec<_>>())
}

fn save(
    ctx: &TaskContext<'_>,
    local: &Local,
    fit: &LocalFit,
    cross: Option<Cross>,
    me: Party,
) -> Result<()> {
    let size = local.names.len();
    let mut summary = serde_json::Map::new();
    summary.insert("num_local_features".into(), json!(size));
    summary.insert("local_corr".into(), matrix(&fit.local_corr, size));
    let (parties, shapes, all_names, corr) = match cross {
        None => (
            vec![party_label(me)],
            vec![size],
            vec![Names {
                names: local.names.clone(),
            }],
            Vec::new(),
        ),
        Some(c) => {
            let [g, h] = c.names;
            let (m1, m2) = (g.len(), h.len());
            summary.insert(
                "num_remote_features".into(),
                json!(if ctx.role == Role::Guest { m2 } else { m1 }),
            );
            summary.insert("corr".into(), matrix(&c.corr, m2));
            (
                vec![party_label(c.guest), party_label(c.host)],
                vec![m1, m2],
                vec![Names { names: g }, Names { names: h }],
                c.corr,
            )
        }
    };
    let model = PearsonModel {
        param: ModelParam {
            party: party_label(me),
            parties,
            shape: size,
            shapes,
            names: local.names.clone(),
            corr,
            local_corr: fit.local_corr.clone(),
            all_names,
            anonymous_map: local
                .names
                .iter()
                .zip(&local.anonymous)
                .map(|(n, a)| AnonymousMap {
                    anonymous: a.clone(),
                    name: n.clone(),
                })
                .collect(),
            model_name: MODULE.into(),
            local_vif: fit.local_vif.clone().unwrap_or_default(),
        },
        meta: ModelMeta::default(),
    };
    ctx.tracker.save_model(
        ctx.first_output_model_name("model"),
        &model.to_component_model(),
    )?;
    ctx.log_metric(Metric {
        namespace: "statistic".into(),
        name: "correlation".into(),
        data: Vec::new(),
        meta: json!({"name": "pearson", "metric_type": "CORRELATION_GRAPH"}),
    })?;
    ctx.tracker
        .set_summary(serde_json::Value::Object(summary))?;
    ctx.tracker.progress(100);
    Ok(())
}

#[cfg(test)]
mod tests;
