//! `HeteroKmeans`: k-means over vertically split features (guest and hosts each hold a
//! slice of every sample's features), coordinated by the arbiter, as FATE 1.11 runs it.
//!
//! # Protocol
//!
//! 1. The guest reads its table and sends its sample ids, in its order, to the hosts and
//!    the arbiter (FATE's tables are joined by id; here every party works by position in
//!    the guest's order, and a host reorders its rows to it, refusing any id the guest
//!    lacks or the other way round). Each host answers whether it is ready.
//! 2. Clients (guest, then hosts in order) agree on pairwise masks through the arbiter
//!    ([`secure`]).
//! 3. Training: the guest draws `k` row positions as FATE does
//!    (`np.random.seed(random_stat)`, `np.random.choice(n, k, replace=False)`, reproduced
//!    bit for bit by [`numpy_rng`]) and sends them to the hosts; every client's initial
//!    centroids are its own slice of those rows. Per iteration `t`:
//!    - each client sends, masked, the `n × k` squared distances of its slice to its
//!      centroid slices, and (from `t = 1`) the `k(k-1)` squared distances between its
//!      centroid slices;
//!    - the arbiter sums them (it sees only the totals), logs the Davies–Bouldin index
//!      of the previous assignment as metric `train`/`DBI` at iteration `t - 1`, assigns
//!      every sample to its nearest centroid (the first on ties, as `np.argmin`) and sends
//!      the assignment to the clients;
//!    - each client recomputes its centroid slices (an empty cluster keeps its old one)
//!      and sends `Σ_c ‖old_c − new_c‖²` of its slice in plaintext; the arbiter sums them
//!      over all clients, converged when the sum is below `tol`, and tells the clients.
//!
//!    After the loop, as in FATE, two more assignment rounds log the DBI of the last
//!    iteration and of the centroids recomputed from the final assignment.
//! 4. Output, on the training data (FATE's `predict` after `fit`) or, with a
//!    `HeteroKmeans` model input, on the input data (predict mode): the clients send
//!    distances to their (final or stored) centroids, the arbiter assigns, the clients
//!    recompute centroids from that assignment and send distances to those and their
//!    inter-centroid distances (what the arbiter's cluster table reports).
//!
//! # Outputs
//!
//! - Guest and host: the first output data (`data_0`) with columns `label` (the guest's
//!   label, NaN where there is none: FATE's `None`), `predicted_label` (cluster index)
//!   and `type` (0 train, 2 predict: the `predict_output` codes), the input's sid name
//!   and partition count.
//! - Arbiter: the first output data (`data_0`), one row per non-empty cluster, sid name
//!   `cluster_index`: `cluster_sample_count`, `cluster_inner_dist` (mean Euclidean
//!   distance of the cluster's samples to the recomputed centroid), `max_radius` (the
//!   largest squared distance of a member to its assigned centroid), `inter_cluster_dist.<j>`
//!   for every cluster `j` (squared distance between recomputed centroids, 0 for the
//!   cluster itself) and `type`. FATE's rows hold the same values with the distances as
//!   one list under a header that names only four columns. The second output data
//!   (`data_1`, when the DSL declares it), sid name `id`: `predicted_cluster_index`,
//!   `distance` (squared distance to the assigned centroid), `type`.
//! - Model (training only; guest and host): `HeteroKmeansMeta{k, tol, max_iter}` and
//!   `HeteroKmeansParam{count_of_clusters, max_interation, converged, cluster_detail[]
//!   ([index, count, share] from the output round), centroid_detail[] (this party's
//!   slice), header}`; the arbiter's param is empty, as FATE's.
//! - Metric: arbiter `train`/`DBI`, metric type `DBI`, one point per iteration.
//! - Summary (not in FATE): `k`, `iterations`, `converged`, the cluster sizes and, at
//!   the arbiter, the last DBI.
//!
//! # Differences from FATE
//!
//! - The initial rows are numpy's positions, but positions in our scan order of the
//!   guest's table, which differs from FATE's key order: a seeded run starts from other
//!   rows than FATE's. Without `random_stat` the seed comes from the clock.
//! - Convergence sums every client's tolerance; FATE adds the guest's and the first
//!   host's only.
//! - The masks are exact ring arithmetic (see [`secure`]), not float pads.
//! - A sample with a missing feature value is refused, naming it.
//! - `validate_data` during training is refused.
//! - The DBI over clusters some of which are empty pairs each non-empty cluster with the
//!   right inter-centroid distances (FATE misaligns them).
//!
//! Each client holds its feature slice in memory (`n × d` numbers, checked against the
//! task's memory budget); the arbiter holds `n × k` distance sums.

use fateflow_component_core::numpy_rng;
pub mod param;
mod secure;

use std::collections::BTreeMap;

use arrow_array::Array;

use fateflow_domain::{Party, Role};
use fateflow_federation::FederationExt;
use fateflow_tables::{write_frame, Frame, WriteMode};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::context::{Component, ComponentModel, Metric, ModelError, TaskContext};
use crate::error::{Error, ErrorKind, Result};
use crate::table_io::{feature_header, model_columns, open_first_input, percent, scan_columns};

use param::KmeansParam;
pub use param::MODULE;

const START: &str = "kmeans_start";
const READY: &str = "kmeans_host_ready";
const INIT: &str = "kmeans_init_rows";
const DIST: &str = "kmeans_dist";
const CENTROID_DIST: &str = "kmeans_centroid_dist";
const ASSIGN: &str = "kmeans_assignment";
const TOL: &str = "kmeans_tol";
const CONVERGED: &str = "kmeans_converged";

/// `type` codes (component-core's `predict_output`).
const TYPE_TRAIN: f64 = 0.0;
const TYPE_PREDICT: f64 = 2.0;

/// One cluster's row of `cluster_detail`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ClusterDetail {
    /// `[cluster index, sample count, share of the samples]`.
    pub cluster: Vec<f64>,
}

/// One centroid (this party's feature slice).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct CentroidDetail {
    /// The coordinates, in `header` order.
    pub centroid: Vec<f64>,
}

/// Fitted values (FATE's `KmeansModelParam`; the arbiter's is empty).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct KmeansModelParam {
    /// `k`.
    pub count_of_clusters: u64,
    /// Iterations run (FATE's spelling).
    pub max_interation: u64,
    /// Whether the arbiter declared convergence.
    pub converged: bool,
    /// Per cluster `[index, count, share]`.
    pub cluster_detail: Vec<ClusterDetail>,
    /// Per cluster, this party's centroid slice.
    pub centroid_detail: Vec<CentroidDetail>,
    /// This party's feature columns.
    pub header: Vec<String>,
}

/// Settings (FATE's `KmeansModelMeta`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KmeansModelMeta {
    /// Number of clusters.
    pub k: u64,
    /// Convergence threshold.
    pub tol: f64,
    /// Maximum iterations.
    pub max_iter: u64,
}

/// A typed `HeteroKmeans` model.
#[derive(Debug, Clone, PartialEq)]
pub struct KmeansModel {
    /// Fitted values.
    pub param: KmeansModelParam,
    /// Settings.
    pub meta: KmeansModelMeta,
}

impl KmeansModel {
    /// The model as the executor stores it.
    pub fn to_component_model(&self) -> ComponentModel {
        ComponentModel::from_parts(MODULE, &self.param, &self.meta)
    }

    /// Reads a stored model; the error says which part does not parse.
    pub fn from_component_model(model: &ComponentModel) -> std::result::Result<Self, ModelError> {
        let (param, meta) = model.parts()?;
        Ok(KmeansModel { param, meta })
    }
}

/// FATE's `HeteroKmeans` component.
#[derive(Debug, Clone, Copy, Default)]
pub struct HeteroKmeans;

/// What the guest tells the hosts and the arbiter first.
#[derive(Debug, Serialize, Deserialize)]
enum Start {
    Run {
        predict: bool,
        k: usize,
        sids: Vec<String>,
    },
    Failed(ErrorKind),
}

/// The parties of the job.
struct Parties {
    guest: Party,
    hosts: Vec<Party>,
    arbiter: Party,
}

impl Parties {
    fn of(ctx: &TaskContext<'_>) -> Result<Self> {
        let missing = |what: &str| Error::MissingInput {
            component: MODULE.into(),
            what: format!("a{what} in the job's roles"),
        };
        let guest = *ctx
            .parties_of(Role::Guest)
            .first()
            .ok_or_else(|| missing(" guest"))?;
        let hosts = ctx.parties_of(Role::Host);
        if hosts.is_empty() {
            return Err(missing(" host"));
        }
        let arbiter = *ctx
            .parties_of(Role::Arbiter)
            .first()
            .ok_or_else(|| missing("n arbiter"))?;
        Ok(Parties {
            guest,
            hosts,
            arbiter,
        })
    }

    /// Guest first, then the hosts in order.
    fn clients(&self) -> Vec<Party> {
        std::iter::once(self.guest)
            .chain(self.hosts.iter().copied())
            .collect()
    }
}

impl Component for HeteroKmeans {
    fn run(&self, ctx: &TaskContext<'_>) -> Result<()> {
        let param = KmeansParam::parse(&ctx.parameters)?;
        let parties = Parties::of(ctx)?;
        match ctx.role {
            Role::Guest | Role::Host => client(ctx, &param, &parties),
            Role::Arbiter => arbiter(ctx, &param, &parties),
            other => Err(Error::param(
                "role",
                format!("{MODULE} runs at guest, host and arbiter, not {other}"),
            )),
        }
    }
}

// ----- Client (guest and hosts) ------------------------------------------------------

/// A client's table: its samples in the guest's order.
struct Local {
    table: String,
    sid_name: String,
    sids: Vec<String>,
    labels: Vec<f64>,
    /// Row-major `n × d` feature values.
    x: Vec<f64>,
    d: usize,
    header: Vec<String>,
    partitions: u32,
}

impl Local {
    fn n(&self) -> usize {
        self.sids.len()
    }

    fn row(&self, i: usize) -> &[f64] {
        &self.x[i * self.d..(i + 1) * self.d]
    }

    /// Reads the first table under `keys`: `columns` (the model's header) or every
    /// feature column.
    fn read(ctx: &TaskContext<'_>, keys: &[&str], columns: Option<&[String]>) -> Result<Local> {
        let (id, info, rows) = open_first_input(ctx, MODULE, keys)?;
        let table = id.to_string();
        let header = match columns {
            Some(h) => h.to_vec(),
            None => feature_header(&info.schema),
        };
        if header.is_empty() {
            return Err(Error::MissingInput {
                component: MODULE.into(),
                what: format!("at least one feature column in table {table}"),
            });
        }
        let cols = model_columns(&table, &info.schema.header, &header)?;
        let label = info
            .schema
            .label_name
            .as_deref()
            .and_then(|l| info.schema.column_index(l));
        let d = header.len();
        ctx.memory.check(
            MODULE,
            &format!("the {d} feature columns of {rows} samples"),
            rows.saturating_mul(d as u64 * 8 + 48),
        )?;
        let mut local = Local {
            table: table.clone(),
            sid_name: info.schema.sid.clone(),
            sids: Vec::with_capacity(rows as usize),
            labels: Vec::with_capacity(rows as usize),
            x: Vec::with_capacity(rows as usize * d),
            d,
            header,
            partitions: info.partitions,
        };
        scan_columns(ctx, &id, &info, |_, sids, columns| {
            for (r, sid) in (0..sids.len()).map(|r| (r, sids.value(r))) {
                for (c, &col) in cols.iter().enumerate() {
                    let v = columns[col][r];
                    if v.is_nan() {
                        return Err(Error::InvalidValue {
                            table: table.clone(),
                            sid: sid.into(),
                            column: local.header[c].clone(),
                            reason: format!(
                                "the value is missing; {MODULE} needs every feature value (impute it first)"
                            ),
                        });
                    }
                    local.x.push(v);
                }
                local.sids.push(sid.to_owned());
                local.labels.push(label.map_or(f64::NAN, |l| columns[l][r]));
            }
            Ok(())
        })?;
        Ok(local)
    }

    /// Reorders the rows to `order` (the guest's ids).
    fn align(&mut self, order: &[String]) -> Result<()> {
        let host_sids: Vec<&str> = self.sids.iter().map(String::as_str).collect();
        let rows = crate::table_io::match_rows(&self.table, &self.sid_name, &host_sids, order)?;
        if rows.iter().enumerate().all(|(i, &r)| i == r) {
            return Ok(());
        }
        let mut x = Vec::with_capacity(self.x.len());
        let mut labels = Vec::with_capacity(rows.len());
        for &r in &rows {
            x.extend_from_slice(self.row(r));
            labels.push(self.labels[r]);
        }
        self.x = x;
        self.labels = labels;
        self.sids = order.to_vec();
        Ok(())
    }

    /// Squared distances of every row to every centroid, row-major `n × k`.
    fn distances(&self, centroids: &[Vec<f64>]) -> Vec<f64> {
        let mut out = Vec::with_capacity(self.n() * centroids.len());
        for i in 0..self.n() {
            let row = self.row(i);
            for c in centroids {
                out.push(squared(row, c));
            }
        }
        out
    }

    /// New centroids from `assignment` (an empty cluster keeps its old one) and the
    /// `[index, count, share]` rows.
    fn recompute(&self, assignment: &[u32], old: &[Vec<f64>]) -> (Vec<Vec<f64>>, Vec<Vec<f64>>) {
        let k = old.len();
        let mut sums = vec![vec![0.0; self.d]; k];
        let mut counts = vec![0u64; k];
        for (i, &a) in assignment.iter().enumerate() {
            let a = a as usize;
            counts[a] += 1;
            for (s, v) in sums[a].iter_mut().zip(self.row(i)) {
                *s += v;
            }
        }
        let n = self.n() as f64;
        let mut centroids = Vec::with_capacity(k);
        let mut detail = Vec::with_capacity(k);
        for (c, (sum, &count)) in sums.into_iter().zip(&counts).enumerate() {
            if count == 0 {
                centroids.push(old[c].clone());
                detail.push(vec![c as f64, 0.0, 0.0]);
            } else {
                centroids.push(sum.into_iter().map(|s| s / count as f64).collect());
                detail.push(vec![c as f64, count as f64, count as f64 / n]);
            }
        }
        (centroids, detail)
    }
}

fn squared(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum()
}

/// Squared distances between centroid slices, every ordered pair `(i, j)`, `j ≠ i`.
fn centroid_distances(centroids: &[Vec<f64>]) -> Vec<f64> {
    let mut out = Vec::with_capacity(centroids.len() * centroids.len().saturating_sub(1));
    for (i, a) in centroids.iter().enumerate() {
        for (j, b) in centroids.iter().enumerate() {
            if i != j {
                out.push(squared(a, b));
            }
        }
    }
    out
}

/// Which data the task works on and what it starts from.
struct Mode {
    predict: bool,
    model: Option<KmeansModel>,
}

fn mode(ctx: &TaskContext<'_>) -> Result<Mode> {
    let model = match ctx.models_of(MODULE).next() {
        Some(input) => Some(
            KmeansModel::from_component_model(&input.model).map_err(|e| Error::InvalidModel {
                component: input.component.clone(),
                alias: input.alias.clone(),
                module: MODULE.into(),
                reason: e.to_string(),
            })?,
        ),
        None => None,
    };
    let training = ctx.inputs.data.contains_key("train_data") || model.is_none();
    if training && ctx.inputs.first_table(&["validate_data"]).is_some() {
        return Err(Error::Unsupported {
            parameter: "input validate_data".into(),
            value: ctx
                .inputs
                .first_table(&["validate_data"])
                .map_or_else(String::new, |t| t.to_string()),
            supported: "train_data only".into(),
        });
    }
    Ok(Mode {
        predict: !training,
        model: if training { None } else { model },
    })
}

fn send_bytes_u32(values: &[u32]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

fn recv_u32(bytes: &[u8], len: usize, what: &str) -> Result<Vec<u32>> {
    if bytes.len() != len * 4 {
        return Err(Error::param(
            what,
            format!("received {} bytes, expected {len} values", bytes.len()),
        ));
    }
    Ok(bytes
        .chunks_exact(4)
        .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect())
}

fn client(ctx: &TaskContext<'_>, param: &KmeansParam, parties: &Parties) -> Result<()> {
    let fed = ctx.federation()?;
    let is_guest = ctx.role == Role::Guest;
    let clients = parties.clients();
    let me = clients
        .iter()
        .position(|p| p.role == ctx.role && p.party_id == ctx.party_id)
        .ok_or_else(|| {
            Error::param(
                "role",
                format!("{} {} is not a party of the job", ctx.role, ctx.party_id),
            )
        })?;
    let others: Vec<Party> = parties
        .hosts
        .iter()
        .copied()
        .chain(std::iter::once(parties.arbiter))
        .collect();
    // Read and align; a failure is announced so that nobody waits for it.
    let prepared = (|| -> Result<(Mode, Local, usize)> {
        let mode = mode(ctx)?;
        let header = mode.model.as_ref().map(|m| m.param.header.clone());
        let keys: &[&str] = if mode.predict {
            &["test_data", "data", "validate_data", "train_data"]
        } else {
            &["train_data", "data"]
        };
        let local = Local::read(ctx, keys, header.as_deref())?;
        let k = match &mode.model {
            Some(m) => m.meta.k as usize,
            None => param.k,
        };
        if let Some(m) = &mode.model {
            if m.param.centroid_detail.len() != k
                || m.param
                    .centroid_detail
                    .iter()
                    .any(|c| c.centroid.len() != local.d)
            {
                return Err(Error::InvalidModel {
                    component: ctx.component.clone(),
                    alias: "model".into(),
                    module: MODULE.into(),
                    reason: format!("the model has not {k} centroids of {} values", local.d),
                });
            }
        }
        Ok((mode, local, k))
    })();
    let (mode, mut local, k) = if is_guest {
        match prepared {
            Ok((mode, local, k)) => {
                if !mode.predict && k > local.n() {
                    let e = Error::param(
                        "k",
                        format!("{k} is larger than the number of samples ({})", local.n()),
                    );
                    fed.remote(START, "0", &Start::Failed(e.kind()), &others)?;
                    return Err(e);
                }
                fed.remote(
                    START,
                    "0",
                    &Start::Run {
                        predict: mode.predict,
                        k,
                        sids: local.sids.clone(),
                    },
                    &others,
                )?;
                (mode, local, k)
            }
            Err(e) => {
                fed.remote(START, "0", &Start::Failed(e.kind()), &others)?;
                return Err(e);
            }
        }
    } else {
        let start: Start = fed.get(START, "0", parties.guest)?;
        let outcome = (|| -> Result<(Mode, Local, usize)> {
            let (mode, mut local, k) = prepared?;
            match &start {
                Start::Run {
                    predict,
                    k: gk,
                    sids,
                } => {
                    if *predict != mode.predict || *gk != k {
                        return Err(Error::InvalidModel {
                            component: ctx.component.clone(),
                            alias: "model".into(),
                            module: MODULE.into(),
                            reason: format!(
                                "the guest runs {} with k = {gk}, this host {} with k = {k}",
                                if *predict { "predict" } else { "training" },
                                if mode.predict { "predict" } else { "training" }
                            ),
                        });
                    }
                    local.align(sids)?;
                }
                Start::Failed(_) => {}
            }
            Ok((mode, local, k))
        })();
        if let Start::Failed(kind) = start {
            return Err(Error::PartyFailed {
                party: parties.guest.to_string(),
                kind,
            });
        }
        let ready = outcome.as_ref().err().map(Error::kind);
        fed.remote(READY, "0", &ready, &[parties.guest, parties.arbiter])?;
        outcome?
    };
    if is_guest {
        check_hosts_ready(fed, &parties.hosts)?;
    }
    let masker = secure::Masker::agree(fed, me, &clients, parties.arbiter)?;
    let n = local.n();
    let send_masked = |name: &str, tag: &str, values: &[f64]| -> Result<()> {
        fed.remote_bytes(
            name,
            tag,
            &masker.mask(&format!("{name}/{tag}"), values),
            &[parties.arbiter],
        )?;
        Ok(())
    };
    let get_assignment = |tag: &str| -> Result<Vec<u32>> {
        let bytes = fed.get_bytes(ASSIGN, tag, parties.arbiter)?;
        let a = recv_u32(&bytes, n, "cluster assignment")?;
        if a.iter().any(|&c| c as usize >= k) {
            return Err(Error::param(
                "cluster assignment",
                "a cluster index is out of range",
            ));
        }
        Ok(a)
    };
    let (centroids, iterations, converged) = if mode.predict {
        let model = mode.model.as_ref().map(|m| &m.param);
        let centroids: Vec<Vec<f64>> = model
            .map(|m| {
                m.centroid_detail
                    .iter()
                    .map(|c| c.centroid.clone())
                    .collect()
            })
            .unwrap_or_default();
        (
            centroids,
            model.map_or(0, |m| m.max_interation as usize),
            model.is_some_and(|m| m.converged),
        )
    } else {
        let picks: Vec<usize> = if is_guest {
            let seed = param.random_stat.unwrap_or_else(numpy_rng::clock_seed);
            let picks = numpy_rng::choice_without_replacement(seed, n, k);
            fed.remote(INIT, "0", &picks, &parties.hosts)?;
            picks
        } else {
            fed.get(INIT, "0", parties.guest)?
        };
        if picks.len() != k || picks.iter().any(|&p| p >= n) {
            return Err(Error::param(
                "initial rows",
                "the guest sent positions out of range",
            ));
        }
        let mut centroids: Vec<Vec<f64>> = picks.iter().map(|&p| local.row(p).to_vec()).collect();
        let mut t = 0usize;
        let mut converged = false;
        while t < param.max_iter {
            if t > 0 {
                send_masked(
                    CENTROID_DIST,
                    &t.to_string(),
                    &centroid_distances(&centroids),
                )?;
            }
            send_masked(DIST, &t.to_string(), &local.distances(&centroids))?;
            let assignment = get_assignment(&t.to_string())?;
            let (next, _) = local.recompute(&assignment, &centroids);
            let tol: f64 = centroids
                .iter()
                .zip(&next)
                .map(|(a, b)| squared(a, b))
                .sum();
            fed.remote(TOL, &t.to_string(), &tol, &[parties.arbiter])?;
            converged = fed.get(CONVERGED, &t.to_string(), parties.arbiter)?;
            centroids = next;
            t += 1;
            ctx.tracker
                .progress(percent(t as u32, param.max_iter as u32 + 1));
            if converged {
                break;
            }
        }
        // The two DBI rounds after the loop.
        send_masked(DIST, &t.to_string(), &local.distances(&centroids))?;
        let assignment = get_assignment(&t.to_string())?;
        send_masked(
            CENTROID_DIST,
            &t.to_string(),
            &centroid_distances(&centroids),
        )?;
        let (recomputed, _) = local.recompute(&assignment, &centroids);
        let tag = (t + 1).to_string();
        send_masked(DIST, &tag, &local.distances(&recomputed))?;
        get_assignment(&tag)?;
        send_masked(CENTROID_DIST, &tag, &centroid_distances(&recomputed))?;
        (centroids, t, converged)
    };
    // The output round.
    send_masked(DIST, "predict", &local.distances(&centroids))?;
    let assignment = get_assignment("predict")?;
    let (recomputed, cluster_detail) = local.recompute(&assignment, &centroids);
    send_masked(DIST, "predict_dbi", &local.distances(&recomputed))?;
    get_assignment("predict_dbi")?;
    send_masked(CENTROID_DIST, "predict", &centroid_distances(&recomputed))?;

    let ty = if mode.predict {
        TYPE_PREDICT
    } else {
        TYPE_TRAIN
    };
    let mut values = Vec::with_capacity(n * 3);
    for (label, &a) in local.labels.iter().zip(&assignment) {
        values.extend_from_slice(&[*label, f64::from(a), ty]);
    }
    let frame = Frame::new(
        local.sid_name.clone(),
        vec!["label".into(), "predicted_label".into(), "type".into()],
        std::mem::take(&mut local.sids),
        values,
    )
    .map_err(|e| Error::param("output", e.to_string()))?;
    write_output(
        ctx,
        ctx.first_output_data_name("data_0"),
        &frame,
        local.partitions,
    )?;

    let counts: Vec<u64> = cluster_detail.iter().map(|c| c[1] as u64).collect();
    if !mode.predict {
        let model = KmeansModel {
            param: KmeansModelParam {
                count_of_clusters: k as u64,
                max_interation: iterations as u64,
                converged,
                cluster_detail: cluster_detail
                    .into_iter()
                    .map(|cluster| ClusterDetail { cluster })
                    .collect(),
                centroid_detail: centroids
                    .into_iter()
                    .map(|centroid| CentroidDetail { centroid })
                    .collect(),
                header: local.header.clone(),
            },
            meta: KmeansModelMeta {
                k: k as u64,
                tol: param.tol,
                max_iter: param.max_iter as u64,
            },
        };
        ctx.tracker.save_model(
            ctx.first_output_model_name("model"),
            &model.to_component_model(),
        )?;
    }
    ctx.tracker.set_summary(json!({
        "k": k,
        "iterations": iterations,
        "converged": converged,
        "cluster_sample_count": counts,
    }))?;
    ctx.tracker.progress(100);
    Ok(())
}

fn check_hosts_ready(fed: &dyn fateflow_federation::Federation, hosts: &[Party]) -> Result<()> {
    for &host in hosts {
        let ready: Option<ErrorKind> = fed.get(READY, "0", host)?;
        if let Some(kind) = ready {
            return Err(Error::PartyFailed {
                party: host.to_string(),
                kind,
            });
        }
    }
    Ok(())
}

fn write_output(ctx: &TaskContext<'_>, name: &str, frame: &Frame, partitions: u32) -> Result<()> {
    let target = ctx.output_table(name);
    let id = target.to_id("output")?;
    write_frame(
        ctx.tables,
        &id,
        frame,
        partitions.max(1),
        WriteMode::Replace,
    )
    .map_err(|e| Error::table(&id, e))?;
    ctx.tracker.save_output_data(name, &target)
}

// ----- Arbiter -------------------------------------------------------------------------

/// Per sample the nearest centroid (first on ties) and its squared distance.
fn assign(dist: &[f64], k: usize) -> (Vec<u32>, Vec<f64>) {
    dist.chunks_exact(k)
        .map(|row| {
            let mut best = 0;
            for (c, &v) in row.iter().enumerate() {
                if v < row[best] {
                    best = c;
                }
            }
            (best as u32, row[best])
        })
        .unzip()
}

/// Per cluster: sample count and mean Euclidean distance to the assigned centroid.
fn intra(dist: &[f64], assignment: &[u32], k: usize) -> Vec<(u64, f64)> {
    let mut acc = vec![(0u64, 0.0f64); k];
    for (row, &a) in dist.chunks_exact(k).zip(assignment) {
        let e = &mut acc[a as usize];
        e.0 += 1;
        e.1 += row[a as usize].max(0.0).sqrt();
    }
    acc.into_iter()
        .map(|(n, s)| (n, if n == 0 { 0.0 } else { s / n as f64 }))
        .collect()
}

/// The squared distance between centroids `i` and `j` in the `k(k-1)` list.
fn pair(inter: &[f64], k: usize, i: usize, j: usize) -> f64 {
    inter[i * (k - 1) + if j < i { j } else { j - 1 }]
}

/// FATE's Davies–Bouldin index over the non-empty clusters: the mean over clusters of
/// `max_j (S_i + S_j) / sqrt(M_ij)`.
fn davies_bouldin(stats: &[(u64, f64)], inter: &[f64], k: usize) -> Result<f64> {
    let present: Vec<usize> = (0..k).filter(|&c| stats[c].0 > 0).collect();
    if present.len() < 2 {
        return Err(Error::param(
            "k",
            "only one cluster has samples; the Davies-Bouldin index is undefined (FATE fails the same way)",
        ));
    }
    let sum: f64 = present
        .iter()
        .map(|&i| {
            present
                .iter()
                .filter(|&&j| j != i)
                .map(|&j| (stats[i].1 + stats[j].1) / pair(inter, k, i, j).sqrt())
                .fold(f64::NEG_INFINITY, f64::max)
        })
        .sum();
    Ok(sum / present.len() as f64)
}

fn arbiter(ctx: &TaskContext<'_>, param: &KmeansParam, parties: &Parties) -> Result<()> {
    let fed = ctx.federation()?;
    let clients = parties.clients();
    let start: Start = fed.get(START, "0", parties.guest)?;
    let (predict, k, sids) = match start {
        Start::Run { predict, k, sids } => (predict, k, sids),
        Start::Failed(kind) => {
            return Err(Error::PartyFailed {
                party: parties.guest.to_string(),
                kind,
            })
        }
    };
    check_hosts_ready(fed, &parties.hosts)?;
    secure::relay_keys(fed, &clients)?;
    let n = sids.len();
    let pairs = k * (k - 1);
    let aggregate =
        |name: &str, tag: &str, len: usize| secure::aggregate(fed, &clients, name, tag, len);
    let broadcast = |tag: &str, assignment: &[u32]| -> Result<()> {
        fed.remote_bytes(ASSIGN, tag, &send_bytes_u32(assignment), &clients)?;
        Ok(())
    };
    let log_dbi = |iteration: usize, dbi: f64| -> Result<()> {
        ctx.log_metric(Metric {
            namespace: "train".into(),
            name: "DBI".into(),
            data: vec![(json!(iteration), json!(dbi))],
            meta: json!({"name": "train", "metric_type": "DBI", "unit_name": "iters"}),
        })
    };
    let dist = |tag: &str| aggregate(DIST, tag, n * k);
    let inter = |tag: &str| aggregate(CENTROID_DIST, tag, pairs);
    let mut last_dbi = None;
    let mut iterations = 0;
    let mut converged = false;
    if !predict {
        let mut last: Option<Vec<u32>> = None;
        let mut t = 0usize;
        while t < param.max_iter {
            let tag = t.to_string();
            let d = dist(&tag)?;
            if let Some(previous) = &last {
                let dbi = davies_bouldin(&intra(&d, previous, k), &inter(&tag)?, k)?;
                log_dbi(t - 1, dbi)?;
            }
            let (assignment, _) = assign(&d, k);
            broadcast(&tag, &assignment)?;
            let mut tol = 0.0;
            for &c in &clients {
                let part: f64 = fed.get(TOL, &tag, c)?;
                tol += part;
            }
            converged = tol < param.tol;
            fed.remote(CONVERGED, &tag, &converged, &clients)?;
            ctx.tracker.info(&format!(
                "kmeans: iteration {t}: summed centroid move {tol}, converged: {converged}"
            ));
            last = Some(assignment);
            t += 1;
            ctx.tracker
                .progress(percent(t as u32, param.max_iter as u32 + 1));
            if converged {
                break;
            }
        }
        let tag = t.to_string();
        let d = dist(&tag)?;
        let (assignment, _) = assign(&d, k);
        broadcast(&tag, &assignment)?;
        let previous = last.unwrap_or_else(|| assignment.clone());
        let dbi = davies_bouldin(&intra(&d, &previous, k), &inter(&tag)?, k)?;
        log_dbi(t - 1, dbi)?;
        let tag = (t + 1).to_string();
        let d = dist(&tag)?;
        broadcast(&tag, &assignment)?;
        let dbi = davies_bouldin(&intra(&d, &assignment, k), &inter(&tag)?, k)?;
        log_dbi(t, dbi)?;
        last_dbi = Some(dbi);
        iterations = t;
    }
    // The output round.
    let d = dist("predict")?;
    let (assignment, nearest) = assign(&d, k);
    broadcast("predict", &assignment)?;
    let d_recomputed = dist("predict_dbi")?;
    broadcast("predict_dbi", &assignment)?;
    let stats = intra(&d_recomputed, &assignment, k);
    let inter_final = inter("predict")?;
    let mut radius = vec![0.0f64; k];
    for (&a, &m) in assignment.iter().zip(&nearest) {
        radius[a as usize] = radius[a as usize].max(m);
    }
    let ty = if predict { TYPE_PREDICT } else { TYPE_TRAIN };
    let mut columns = vec![
        "cluster_sample_count".to_owned(),
        "cluster_inner_dist".to_owned(),
        "max_radius".to_owned(),
    ];
    columns.extend((0..k).map(|j| format!("inter_cluster_dist.{j}")));
    columns.push("type".into());
    let mut cluster_ids = Vec::new();
    let mut values = Vec::new();
    for c in (0..k).filter(|&c| stats[c].0 > 0) {
        cluster_ids.push(c.to_string());
        values.extend_from_slice(&[stats[c].0 as f64, stats[c].1, radius[c]]);
        values.extend((0..k).map(|j| {
            if j == c {
                0.0
            } else {
                pair(&inter_final, k, c, j)
            }
        }));
        values.push(ty);
    }
    let clusters = Frame::new("cluster_index", columns, cluster_ids, values)
        .map_err(|e| Error::param("output", e.to_string()))?;
    write_output(ctx, ctx.first_output_data_name("data_0"), &clusters, 1)?;
    if let Some(name) = ctx.output_data_names.get(1) {
        let mut values = Vec::with_capacity(n * 3);
        for (&a, &m) in assignment.iter().zip(&nearest) {
            values.extend_from_slice(&[f64::from(a), m, ty]);
        }
        let samples = Frame::new(
            "id",
            vec![
                "predicted_cluster_index".into(),
                "distance".into(),
                "type".into(),
            ],
            sids,
            values,
        )
        .map_err(|e| Error::param("output", e.to_string()))?;
        write_output(ctx, name, &samples, 4)?;
    }
    if !predict {
        let model = KmeansModel {
            param: KmeansModelParam::default(),
            meta: KmeansModelMeta {
                k: k as u64,
                tol: param.tol,
                max_iter: param.max_iter as u64,
            },
        };
        ctx.tracker.save_model(
            ctx.first_output_model_name("model"),
            &model.to_component_model(),
        )?;
    }
    let counts: BTreeMap<String, u64> = (0..k).map(|c| (c.to_string(), stats[c].0)).collect();
    let mut summary = json!({
        "k": k,
        "iterations": iterations,
        "converged": converged,
        "cluster_sample_count": counts,
    });
    if let Some(dbi) = last_dbi {
        summary["DBI"] = Value::from(dbi);
    }
    ctx.tracker.set_summary(summary)?;
    ctx.tracker.progress(100);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dbi_by_hand() {
        // Two clusters, mean distances 1 and 2, centroids 3 apart (squared 9).
        let stats = [(2, 1.0), (3, 2.0)];
        let dbi = davies_bouldin(&stats, &[9.0, 9.0], 2).unwrap();
        assert!((dbi - 1.0).abs() < 1e-12, "{dbi}");
        // Three clusters, one empty: only 0 and 2 count.
        let stats = [(2, 1.0), (0, 0.0), (3, 3.0)];
        // Pairs in order (0,1) (0,2) (1,0) (1,2) (2,0) (2,1).
        let inter = [1.0, 16.0, 1.0, 4.0, 16.0, 4.0];
        let dbi = davies_bouldin(&stats, &inter, 3).unwrap();
        assert!((dbi - 1.0).abs() < 1e-12, "{dbi}");
        assert!(davies_bouldin(&[(5, 1.0), (0, 0.0)], &[1.0, 1.0], 2).is_err());
    }

    #[test]
    fn argmin_takes_the_first_on_ties() {
        let (a, m) = assign(&[2.0, 1.0, 1.0, 0.5, 0.5, 3.0], 3);
        assert_eq!(a, [1, 0]);
        assert_eq!(m, [1.0, 0.5]);
    }
}
