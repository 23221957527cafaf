//! `FeldmanVerifiableSum`: the per-row sum of some columns over the guest and every
//! host, by Feldman's verifiable secret sharing; the guest learns only the sums.
//!
//! FATE registered this module up to 1.11.3 (1.11.4 dropped it); it is kept here. Its
//! parameters and defaults are FATE's `FeldmanVerifiableSumParam`: `sum_cols` (feature
//! indexes; none or empty: every feature) and `q_n` (6: decimal digits kept, 0..=16).
//!
//! Protocol, with `n` = hosts + 1 parties and the RFC 5114 §2.1 group (1024-bit `p`,
//! 160-bit prime `q`, `g` of order `q`), as FATE:
//! 1. every party encodes each value as `a0 = trunc(v·10^q_n)`, draws `a1..a_{n-1}`,
//!    evaluates `f(x) = Σ a_j x^j mod q` at `x = 1..n` (host `i` holds point `i + 1`, the
//!    guest point `n`) and commits `C_j = g^{a_j} mod p`;
//! 2. it sends every other party that party's share and broadcasts its commitments;
//! 3. each receiver checks every share: `g^y ≡ Π_j C_j^{x^j} (mod p)`, naming the sender
//!    of a share that fails;
//! 4. each party adds the shares it holds; hosts send their sums to the guest, which
//!    checks them against the product of every party's commitments, interpolates the sum
//!    at 0 (Lagrange, mod q) and decodes it (above q/2: negative; divided by 10^q_n).
//!
//! Rows are matched by sid; a row missing at any party is left out, as FATE's joins.
//! Output: the guest's table of sums (its sids, the summed columns' names); hosts output
//! nothing. No model. The component holds its table and the shares in memory (FATE's
//! example sums 3 columns of a few hundred rows).

use std::collections::HashMap;

use fateflow_crypto::Integer;
use fateflow_domain::module::Kind::{Bool, Int, IntOrList};
use fateflow_domain::module::{describe_value, param, ModuleSchema, Param};
use fateflow_domain::{Party, Role};
use fateflow_federation::FederationExt;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use crate::context::{Component, TaskContext};
use crate::error::{Error, Result};
use crate::params::Params;
use crate::table_io::{feature_header, read_first_input, write_output_frame};

/// The module name.
pub const MODULE: &str = "FeldmanVerifiableSum";

const FELDMAN_PARAMS: &[Param] = &[
    param("sum_cols", IntOrList, "null", true),
    param("q_n", Int, "6", true),
    param("need_run", Bool, "true", true),
];

/// `FeldmanVerifiableSum`'s parameter schema.
pub const SCHEMA: ModuleSchema = ModuleSchema {
    name: MODULE,
    params: &[FELDMAN_PARAMS],
    conditions: &[],
    supported: &[],
};

/// RFC 5114 §2.1: the 1024-bit MODP group with a 160-bit prime-order subgroup.
const P_HEX: &str = "B10B8F96A080E01DDE92DE5EAE5D54EC52C99FBCFB06A3C69A6A9DCA52D23B616073E28675A23D189838EF1E2EE652C013ECB4AEA906112324975C3CD49B83BFACCBDD7D90C4BD7098488E9C219A73724EFFD6FAE5644738FAA31A4FF55BCCC0A151AF5F0DC8B4BD45BF37DF365C1A65E68CFDA76D4DA708DF1FB2BC2E4A4371";
const G_HEX: &str = "A4D1CBD5C3FD34126765A442EFB99905F8104DD258AC507FD6406CFF14266D31266FEA1E5C41564B777E690F5504F213160217B4B01B886A5E91547F9E2749F4D7FBD7D3B9A92EE1909D0D2263F80A76A6A24C087A091F531DBF0A0169B6A28AD662A4D18E73AFA32D779D5918D08BC8858F4DCEF97C2A24855E6EEB22B3B2E5";
const Q_HEX: &str = "F518AA8781A8DF278ABA4E7D64B7CB9D49462353";

/// `v mod m` in `[0, m)`.
fn modulo(v: Integer, m: &Integer) -> Integer {
    let mut r = v % m;
    if r < 0 {
        r += m;
    }
    r
}

/// The group.
struct Group {
    p: Integer,
    g: Integer,
    q: Integer,
}

impl Group {
    fn rfc5114() -> Group {
        let h = |s: &str| Integer::from_str_radix(s, 16).expect("a constant");
        Group {
            p: h(P_HEX),
            g: h(G_HEX),
            q: h(Q_HEX),
        }
    }

    /// `g^e mod p` (`e` reduced mod q first: g has order q).
    fn commit(&self, e: &Integer) -> Integer {
        let e = modulo(e.clone(), &self.q);
        self.g
            .clone()
            .pow_mod(&e, &self.p)
            .expect("non-negative exponent")
    }

    /// Shares of `a0` at `x = 1..=n` and the commitments of the polynomial.
    fn share(&self, a0: Integer, n: usize) -> (Vec<Integer>, Vec<Integer>) {
        let mut coef = vec![a0];
        for _ in 1..n {
            coef.push(fateflow_crypto::random_integer(224) % &self.q);
        }
        let shares = (1..=n as u64)
            .map(|x| {
                let mut y = Integer::new();
                for c in coef.iter().rev() {
                    y *= x;
                    y += c;
                    y = modulo(y, &self.q);
                }
                y
            })
            .collect();
        let commitments = coef.iter().map(|c| self.commit(c)).collect();
        (shares, commitments)
    }

    /// `g^y ≡ Π_j C_j^{x^j} (mod p)`.
    fn verify(&self, x: u64, y: &Integer, commitments: &[Integer]) -> bool {
        let lhs = self.commit(y);
        let mut rhs = Integer::from(1);
        let mut power = Integer::from(1);
        for c in commitments {
            rhs *= c
                .clone()
                .pow_mod(&power, &self.p)
                .expect("non-negative exponent");
            rhs %= &self.p;
            power *= x;
        }
        lhs == rhs
    }

    /// The polynomial's value at 0 from `(x, y)` points, mod q.
    fn interpolate(&self, points: &[(u64, Integer)]) -> Integer {
        let mut secret = Integer::new();
        for (i, (xi, yi)) in points.iter().enumerate() {
            let (mut num, mut den) = (Integer::from(1), Integer::from(1));
            for (j, (xj, _)) in points.iter().enumerate() {
                if i != j {
                    num *= -Integer::from(*xj);
                    den *= Integer::from(*xi) - Integer::from(*xj);
                }
            }
            let inv = modulo(den, &self.q)
                .invert(&self.q)
                .expect("distinct points");
            let l = modulo(num * inv, &self.q);
            secret = modulo(secret + Integer::from(yi * &l), &self.q);
        }
        secret
    }

    /// FATE's decoding: above q/2 is negative; then divided by `10^q_n`.
    fn decode(&self, s: &Integer, q_n: u32) -> f64 {
        let half = Integer::from(&self.q >> 1);
        let v = if *s > half {
            Integer::from(s - &self.q)
        } else {
            s.clone()
        };
        v.to_f64() / 10f64.powi(q_n as i32)
    }
}

/// The parsed parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct FeldmanParam {
    /// Feature indexes to sum; empty: every feature.
    pub sum_cols: Vec<usize>,
    /// Decimal digits kept.
    pub q_n: u32,
}

impl FeldmanParam {
    /// Parses the parameters, naming the field in every error.
    pub fn parse(map: &Map<String, Value>) -> Result<FeldmanParam> {
        let p = Params::with_schema(map, &SCHEMA);
        let sum_cols = match p.value("sum_cols") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| {
                    v.as_u64().map(|i| i as usize).ok_or_else(|| {
                        Error::param(
                            "sum_cols",
                            format!("expected feature indexes, found {}", describe_value(v)),
                        )
                    })
                })
                .collect::<Result<_>>()?,
            Some(v) => {
                return Err(Error::param(
                    "sum_cols",
                    format!(
                        "expected a list of feature indexes, found {}",
                        describe_value(v)
                    ),
                ))
            }
        };
        let q_n = match p.get_int("q_n")? {
            n @ 0..=16 => n as u32,
            n => {
                return Err(Error::param(
                    "q_n",
                    format!("expected an integer between 0 and 16, found {n}"),
                ))
            }
        };
        Ok(FeldmanParam { sum_cols, q_n })
    }
}

/// A party's shares for one receiver, or its commitments, per row.
#[derive(Debug, Serialize, Deserialize)]
struct Packet {
    sids: Vec<String>,
    /// Per row, per column: one hex number (a share), or `n` (commitments).
    values: Vec<Vec<Vec<String>>>,
}

fn hex(v: &Integer) -> String {
    v.to_string_radix(16)
}

fn unhex(s: &str, from: Party, what: &str) -> Result<Integer> {
    Integer::from_str_radix(s, 16).map_err(|e| {
        Error::param(
            "federation",
            format!("{from} sent a {what} that is not a hex number: {e}"),
        )
    })
}

/// FATE's `FeldmanVerifiableSum`.
#[derive(Debug, Clone, Copy, Default)]
pub struct FeldmanVerifiableSum;

impl Component for FeldmanVerifiableSum {
    fn run(&self, ctx: &TaskContext<'_>) -> Result<()> {
        let param = FeldmanParam::parse(&ctx.parameters)?;
        let (id, frame) = read_first_input(ctx, MODULE, &["data"])?;
        let features = feature_header(&frame.schema());
        let cols: Vec<usize> = if param.sum_cols.is_empty() {
            (0..features.len()).collect()
        } else {
            param.sum_cols.clone()
        };
        if let Some(&bad) = cols.iter().find(|&&c| c >= features.len()) {
            return Err(Error::MissingColumn {
                table: id.to_string(),
                column: format!("index {bad}"),
                why: format!(
                    "sum_cols names it; the table's features are {}",
                    features.join(", ")
                ),
            });
        }
        let names: Vec<String> = cols.iter().map(|&c| features[c].clone()).collect();
        let frame_cols: Vec<usize> = names
            .iter()
            .map(|n| frame.column_index(n).expect("a feature column"))
            .collect();
        let guest = *ctx.parties_of(Role::Guest).first().ok_or_else(|| {
            Error::param(
                "role",
                format!("{MODULE} needs a guest (it receives the sums)"),
            )
        })?;
        let hosts = ctx.parties_of(Role::Host);
        let n = hosts.len() + 1;
        // Evaluation points: host i at i + 1, the guest at n.
        let mut parties: Vec<Party> = hosts.clone();
        parties.push(guest);
        let me = Party {
            role: ctx.role,
            party_id: ctx.party_id,
        };
        let my_index = parties.iter().position(|p| *p == me).ok_or_else(|| {
            Error::param("role", format!("{me} is not a guest or host of this job"))
        })?;
        let group = Group::rfc5114();
        let scale = 10f64.powi(param.q_n as i32);
        // Shares per receiver (row × column) and commitments (row × column × n).
        let mut shares: Vec<Vec<Vec<Vec<String>>>> = vec![Vec::with_capacity(frame.nrows()); n];
        let mut commitments = Vec::with_capacity(frame.nrows());
        let mut own: Vec<Vec<Integer>> = Vec::with_capacity(frame.nrows());
        for (r, row) in frame.rows().enumerate() {
            let mut row_commit = Vec::with_capacity(cols.len());
            for s in shares.iter_mut() {
                s.push(Vec::with_capacity(cols.len()));
            }
            let mut own_row = Vec::with_capacity(cols.len());
            for (k, &c) in frame_cols.iter().enumerate() {
                let v = row[c];
                let scaled = (v * scale).trunc();
                let a0 = Integer::from_f64(scaled).ok_or_else(|| Error::InvalidValue {
                    table: id.to_string(),
                    sid: frame.sids()[r].clone(),
                    column: names[k].clone(),
                    reason: format!("{v} is not a finite number"),
                })?;
                let (y, cm) = group.share(a0, n);
                for (p, yp) in y.iter().enumerate() {
                    shares[p][r].push(vec![hex(yp)]);
                }
                own_row.push(y[my_index].clone());
                row_commit.push(cm.iter().map(hex).collect::<Vec<_>>());
            }
            own.push(own_row);
            commitments.push(row_commit);
        }
        let fed = ctx.federation()?;
        let tag = "feldman";
        let others: Vec<Party> = parties.iter().copied().filter(|p| *p != me).collect();
        for (p, party) in parties.iter().enumerate() {
            if *party != me {
                let packet = Packet {
                    sids: frame.sids().to_vec(),
                    values: std::mem::take(&mut shares[p]),
                };
                fed.remote(&format!("share.{}", my_index), tag, &packet, &[*party])?;
            }
        }
        let packet = Packet {
            sids: frame.sids().to_vec(),
            values: commitments,
        };
        fed.remote(&format!("commitments.{my_index}"), tag, &packet, &others)?;
        // Receive, verify and add the others' shares at our point.
        let row_of: HashMap<&str, usize> = frame
            .sids()
            .iter()
            .enumerate()
            .map(|(i, s)| (s.as_str(), i))
            .collect();
        let mut sums = own;
        let mut present = vec![1usize; frame.nrows()];
        // The product of every party's commitments, per row and column (the guest checks
        // the hosts' sums with it).
        let mut all_commit: Vec<Vec<Vec<Integer>>> = packet
            .values
            .iter()
            .map(|row| {
                row.iter()
                    .map(|c| {
                        c.iter()
                            .map(|h| Integer::from_str_radix(h, 16).expect("ours"))
                            .collect()
                    })
                    .collect()
            })
            .collect();
        let x_me = (my_index + 1) as u64;
        for (p, party) in parties.iter().enumerate() {
            if *party == me {
                continue;
            }
            let share: Packet = fed.get(&format!("share.{p}"), tag, *party)?;
            let commit: Packet = fed.get(&format!("commitments.{p}"), tag, *party)?;
            if share.sids.len() != share.values.len() || commit.sids != share.sids {
                return Err(Error::param(
                    "federation",
                    format!("{party} sent shares and commitments of different rows"),
                ));
            }
            for ((sid, ys), cs) in share.sids.iter().zip(&share.values).zip(&commit.values) {
                let Some(&r) = row_of.get(sid.as_str()) else {
                    continue;
                };
                if ys.len() != cols.len() || cs.len() != cols.len() {
                    return Err(Error::param(
                        "federation",
                        format!(
                            "{party} sent {} values for {} columns",
                            ys.len(),
                            cols.len()
                        ),
                    ));
                }
                for k in 0..cols.len() {
                    let y = unhex(ys[k].first().map_or("", String::as_str), *party, "share")?;
                    let c: Vec<Integer> = cs[k]
                        .iter()
                        .map(|h| unhex(h, *party, "commitment"))
                        .collect::<Result<_>>()?;
                    if c.len() != n || !group.verify(x_me, &y, &c) {
                        return Err(Error::param(
                            "federation",
                            format!("the share {party} sent for row `{sid}`, column `{}` fails its commitments (Feldman verification)", names[k]),
                        ));
                    }
                    sums[r][k] += y;
                    for (acc, cj) in all_commit[r][k].iter_mut().zip(&c) {
                        *acc = Integer::from(&*acc * cj) % &group.p;
                    }
                }
                present[r] += 1;
            }
        }
        if ctx.role != Role::Guest {
            let packet = Packet {
                sids: frame.sids().to_vec(),
                values: sums
                    .iter()
                    .map(|row| row.iter().map(|v| vec![hex(v)]).collect())
                    .collect(),
            };
            fed.remote(&format!("sum.{my_index}"), tag, &packet, &[guest])?;
            ctx.tracker.info(&format!(
                "{MODULE}: sent this host's summed shares of {} rows × {} columns to the guest",
                frame.nrows(),
                cols.len()
            ));
            return Ok(());
        }
        // The guest: every host's sum, verified, then interpolated at 0.
        let mut points: Vec<Vec<Vec<(u64, Integer)>>> = sums
            .into_iter()
            .map(|row| row.into_iter().map(|v| vec![(x_me, v)]).collect())
            .collect();
        for (p, party) in hosts.iter().enumerate() {
            let sum: Packet = fed.get(&format!("sum.{p}"), tag, *party)?;
            for (sid, ys) in sum.sids.iter().zip(&sum.values) {
                let Some(&r) = row_of.get(sid.as_str()) else {
                    continue;
                };
                for k in 0..cols.len().min(ys.len()) {
                    let y = unhex(ys[k].first().map_or("", String::as_str), *party, "sum")?;
                    if !group.verify((p + 1) as u64, &y, &all_commit[r][k]) {
                        return Err(Error::param(
                            "federation",
                            format!("the sum {party} sent for row `{sid}`, column `{}` fails the commitments (Feldman verification)", names[k]),
                        ));
                    }
                    points[r][k].push(((p + 1) as u64, y));
                }
            }
        }
        let mut sids = Vec::new();
        let mut values = Vec::new();
        for (r, row) in points.iter().enumerate() {
            if present[r] < n || row.iter().any(|pts| pts.len() < n) {
                continue;
            }
            sids.push(frame.sids()[r].clone());
            for pts in row {
                values.push(group.decode(&group.interpolate(pts), param.q_n));
            }
        }
        let dropped = frame.nrows() - sids.len();
        let out = fateflow_tables::Frame::new(frame.sid_name(), names.clone(), sids, values)
            .map_err(|e| Error::table(&id, e))?;
        ctx.tracker.info(&format!(
            "{MODULE}: the sums of {} over {n} parties for {} rows{}",
            names.join(", "),
            out.nrows(),
            if dropped > 0 {
                format!(" ({dropped} rows missing at another party left out)")
            } else {
                String::new()
            }
        ));
        write_output_frame(ctx, &out)?;
        ctx.tracker
            .set_summary(json!({"sum_cols": names, "rows": out.nrows(), "parties": n}))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_verify_and_interpolate_to_the_secret() {
        let g = Group::rfc5114();
        for (v, n) in [(1234567i64, 3usize), (-42, 2), (0, 4)] {
            let (y, c) = g.share(Integer::from(v), n);
            for (i, yi) in y.iter().enumerate() {
                assert!(g.verify((i + 1) as u64, yi, &c));
            }
            // A tampered share fails.
            assert!(!g.verify(1, &Integer::from(&y[0] + 1), &c));
            let pts: Vec<(u64, Integer)> = y
                .into_iter()
                .enumerate()
                .map(|(i, yi)| ((i + 1) as u64, yi))
                .collect();
            assert_eq!(g.decode(&g.interpolate(&pts), 0), v as f64);
        }
        // Sums of shares are shares of the sum, checked by the commitments' product.
        let (ya, ca) = g.share(Integer::from(1_500_000), 3);
        let (yb, cb) = g.share(Integer::from(-250_000), 3);
        let c: Vec<Integer> = ca
            .iter()
            .zip(&cb)
            .map(|(a, b)| Integer::from(a * b) % &g.p)
            .collect();
        let pts: Vec<(u64, Integer)> = (0..3)
            .map(|i| {
                let s = Integer::from(&ya[i] + &yb[i]);
                assert!(g.verify((i + 1) as u64, &s, &c));
                ((i + 1) as u64, s)
            })
            .collect();
        assert!((g.decode(&g.interpolate(&pts), 6) - 1.25).abs() < 1e-12);
    }

    #[test]
    fn parameters_follow_fate() {
        let p = FeldmanParam::parse(json!({}).as_object().unwrap()).unwrap();
        assert_eq!(
            p,
            FeldmanParam {
                sum_cols: vec![],
                q_n: 6
            }
        );
        let p = FeldmanParam::parse(json!({"sum_cols": [1, 2], "q_n": 3}).as_object().unwrap())
            .unwrap();
        assert_eq!(p.sum_cols, vec![1, 2]);
        for bad in [json!({"q_n": 17}), json!({"sum_cols": ["x"]})] {
            assert!(
                FeldmanParam::parse(bad.as_object().unwrap()).is_err(),
                "{bad}"
            );
        }
    }
}

#[cfg(test)]
mod run_tests {
    use std::collections::BTreeMap;

    use super::*;
    use fateflow_component_core::testing::{
        context, frame, rows, temp_store, upload, MemoryHub, RecordingTracker,
    };

    /// Guest and two hosts (one of them the guest's own party id, as FATE's example)
    /// each hold a table; the guest gets the per-row sums of the chosen columns, rows
    /// missing at a party left out.
    #[test]
    fn the_guest_gets_the_sums_of_every_partys_values() {
        let (_dir, store) = temp_store();
        let a = upload(
            &store,
            "fa",
            "id,x0,x1,x2\na,1.5,-2,10\nb,0.25,3,0\nc,7,7,7\n",
        );
        let b = upload(&store, "fb", "id,x0,x1,x2\na,1,1,1\nb,-0.5,2.125,4\n");
        let c = upload(&store, "fc", "id,x0,x1,x2\nb,2,2,2\na,3,0.000001,-1\n");
        let hub = MemoryHub::with_timeout(std::time::Duration::from_secs(20));
        let roles = BTreeMap::from([(Role::Guest, vec![9999]), (Role::Host, vec![10000, 9999])]);
        let parties = [
            (Role::Guest, 9999, &a),
            (Role::Host, 10000, &b),
            (Role::Host, 9999, &c),
        ];
        let trackers: Vec<RecordingTracker> =
            parties.iter().map(|_| RecordingTracker::new()).collect();
        let results: Vec<Result<()>> = std::thread::scope(|s| {
            let handles: Vec<_> = parties
                .iter()
                .zip(&trackers)
                .map(|((role, id, table), tracker)| {
                    let fed = hub.party(*role, *id);
                    let roles = roles.clone();
                    let store = &store;
                    s.spawn(move || {
                        let mut ctx = context(
                            "feldman_0",
                            MODULE,
                            json!({"sum_cols": [0, 1], "q_n": 6}),
                            store,
                            tracker,
                        );
                        ctx.role = *role;
                        ctx.party_id = *id;
                        ctx.roles = roles;
                        ctx.federation = Some(&fed);
                        ctx.inputs
                            .data
                            .insert("data".into(), vec![(*table).clone()]);
                        FeldmanVerifiableSum.run(&ctx)
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        for r in &results {
            assert!(r.is_ok(), "{r:?}");
        }
        let out = frame(&store, &trackers[0].output_data().pop().unwrap().1);
        assert_eq!(out.columns(), ["x0", "x1"]);
        let got = rows(&out);
        assert_eq!(got.len(), 2, "row c is missing at the hosts: {got:?}");
        assert!(
            (got["a"][0] - 5.5).abs() < 1e-9 && (got["a"][1] - (-0.999999)).abs() < 1e-9,
            "{got:?}"
        );
        assert!(
            (got["b"][0] - 1.75).abs() < 1e-9 && (got["b"][1] - 7.125).abs() < 1e-9,
            "{got:?}"
        );
        assert!(trackers[1].output_data().is_empty());
    }
}
