//! Federated training of a hetero linear model (spec §6), one function per role.
//!
//! **With an arbiter** (FATE 1.x's default): the arbiter generates the Paillier key and
//! sends the public key to guest and hosts. Per mini-batch, each host sends the guest
//! `[[u]]` (`u = ¼·wx_h` for LR, `wx_h` for LinR) and, with one host, the encrypted
//! parts of the loss; the guest forms the residual `[[d]] = (¼·a − ½·y or a − y) ⊕ Σ[[u]]`
//! (`a = wx_g + b`), re-randomizes it and sends it to the hosts; each party computes its
//! encrypted gradient `Σ[[d]]·x` (+ `B·α·w` for L2) and sends it to the arbiter, which
//! decrypts, runs the optimizer and returns each party's step Δ. The arbiter averages the
//! batch losses, decides convergence and broadcasts it each epoch.
//!
//! **Without an arbiter** (one host): guest and host each own a key. The host sends
//! `[[u]]` under its key, the guest sends `[[½-residual]]` under its key; each computes
//! the encrypted half of its gradient that needs the other's values, adds a random mask
//! 40+ bits wider than the value, has the other party decrypt it and removes the mask.
//! The guest also gets the loss this way and decides convergence. The parties are
//! assumed honest-but-curious: a party that sent crafted ciphertexts for decryption
//! could learn the other's values, as in the published protocols of this kind.
//!
//! **`optimizer: sqn`** (with an arbiter, FATE's `HeteroStochasticQuansiNewton`): every
//! party averages its weights before each step over windows of `update_interval_L`
//! iterations; at each window end from the second on, the guest samples up to
//! `sample_size` rows of the batch, the hosts send `[[x_h·s_h]]` for them, the guest
//! adds `x_g·s_g + b_s` and sends the sums `[[F]]` back, and each party sends the
//! arbiter `[[Σ F·x + m·α·s/c]]`; the arbiter decrypts `y = c·ΣF·x/m + α·s` (c = ¼ for
//! LR, 1 for LinR), pairs it with its own `s` and steps `lr·H·g` on the joint gradient.
//!
//! All plaintexts under encryption are fixed-point integers (`floating_point_precision`
//! fraction bits, FATE's 23 by default); encrypted dot products use the crypto crate's
//! bucket multi-exponentiation.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use fateflow_crypto::paillier::{Ciphertext, Encryptor, Keypair, PrivateKey, PublicKey};
use fateflow_crypto::Integer;
use fateflow_domain::{Party, Role};
use fateflow_federation::{Federation, FederationExt};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::dataset::{Block, Dataset, Layout};
use super::init::initial_weights;
use super::optimizer::{Optimizer, SqnHessian, SqnWindow};
use super::param::{BatchStrategy, EarlyStop, LinearParam, OptimizerKind, Penalty, Task};
use crate::context::TaskContext;
use crate::error::{Error, Result};
use crate::memory::MemoryBudget;
use crate::rng::SplitMix;
use crate::wire::{decode_ciphers, decode_signed, encode_ciphers, fixed, fixed_i64, residue};

/// Extra mask bits above the largest value a masked sum can hold.
const MASK_BITS: u32 = 64 + 40;

/// Where a party's time goes in an epoch, for the epoch's log line.
/// The main thread's phases, plus what producer threads report with [`Phases::add`];
/// the epoch's line adds the party's [`Activity`].
struct Phases {
    started: Instant,
    last: Instant,
    spent: Vec<(&'static str, Duration)>,
}

impl Phases {
    fn new() -> Self {
        let now = Instant::now();
        Self {
            started: now,
            last: now,
            spent: Vec::new(),
        }
    }

    /// Charges the time since the previous lap to `phase`.
    fn lap(&mut self, phase: &'static str) {
        let now = Instant::now();
        let d = now - self.last;
        self.last = now;
        self.add(phase, d);
    }

    /// Charges `d` to `phase` (time spent on another thread).
    fn add(&mut self, phase: &'static str, d: Duration) {
        match self.spent.iter_mut().find(|(p, _)| *p == phase) {
            Some((_, t)) => *t += d,
            None => self.spent.push((phase, d)),
        }
    }

    /// Adds another thread's phases to these.
    fn merge(&mut self, other: Phases) {
        for (p, d) in other.spent {
            self.add(p, d);
        }
    }

    /// `"encrypt 1.20 s, wait 0.31 s; idle 0.31 s (3%), overlapped 4.02 s (40%) of
    /// 10.11 s"`, then starts over. Idle: no thread of this party worked (it waited for
    /// another party); overlapped: two worked at once.
    fn take(&mut self, activity: &Activity) -> String {
        let mut out = self
            .spent
            .iter()
            .map(|(p, d)| format!("{p} {:.2} s", d.as_secs_f64()))
            .collect::<Vec<_>>()
            .join(", ");
        let (idle, overlap) = activity.take();
        let wall = self.started.elapsed().as_secs_f64();
        let pct = |d: Duration| {
            if wall > 0.0 {
                100.0 * d.as_secs_f64() / wall
            } else {
                0.0
            }
        };
        out.push_str(&format!(
            "; idle {:.2} s ({:.0}%), overlapped {:.2} s ({:.0}%) of {wall:.2} s",
            idle.as_secs_f64(),
            pct(idle),
            overlap.as_secs_f64(),
            pct(overlap)
        ));
        self.spent.clear();
        self.started = Instant::now();
        self.last = self.started;
        out
    }
}

/// Rows per block never go below this in the encrypted pipeline (tests use tiny budgets
/// to run many blocks on small data).
const MIN_PIPELINE_ROWS: usize = 64;
/// Rows per block never go above this. Smaller blocks overlap the parties better (the
/// pipeline fills and drains one block per batch) but make the bucket
/// multi-exponentiation of `Σ[[d]]·x` dearer per row (narrower windows): at 16,384 rows
/// the gradient took about 1.5× the multiplications per row of a 1M-row batch, at
/// 65,536 about 1.1×.
const MAX_PIPELINE_ROWS: usize = 65_536;
/// Blocks a producer may run ahead of its party's consumer.
const PIPELINE_LEAD: usize = 2;

/// Rows per block of the encrypted pipeline, from the task's memory budget: a block's
/// ciphertexts are held in about eight copies at once (received, summed, re-randomized,
/// encoded, and the producer's lead), and the blocks take at most an eighth of the
/// budget (the default 1536 MB gives the largest blocks at 1024 and 2048 bits).
pub(crate) fn pipeline_rows(budget: MemoryBudget, key_bits: u32) -> usize {
    // A ciphertext mod n² of 2·key bits, with its integer's overhead.
    let ct_bytes = key_bits as u64 / 4 + 48;
    let rows = budget.bytes() / 8 / (8 * ct_bytes);
    (rows as usize).clamp(MIN_PIPELINE_ROWS, MAX_PIPELINE_ROWS)
}

/// How busy a party's threads are: the time none of them works (waiting for another
/// party) and the time two work at once (a producer encrypting block k+1 while the
/// main thread handles block k).
struct Activity {
    state: Mutex<ActivityState>,
}

struct ActivityState {
    active: usize,
    since: Instant,
    idle: Duration,
    overlap: Duration,
}

impl Activity {
    /// The main thread, working.
    fn new() -> Self {
        Activity {
            state: Mutex::new(ActivityState {
                active: 1,
                since: Instant::now(),
                idle: Duration::ZERO,
                overlap: Duration::ZERO,
            }),
        }
    }

    fn change(&self, starting: bool) {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        let spent = now - s.since;
        match s.active {
            0 => s.idle += spent,
            1 => {}
            _ => s.overlap += spent,
        }
        s.since = now;
        if starting {
            s.active += 1;
        } else {
            s.active = s.active.saturating_sub(1);
        }
    }

    /// Runs `f` (a blocking wait) with this thread counted as not working.
    fn wait<T>(&self, f: impl FnOnce() -> T) -> T {
        self.change(false);
        let out = f();
        self.change(true);
        out
    }

    /// `(idle, overlap)` since the previous call.
    fn take(&self) -> (Duration, Duration) {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        let spent = now - s.since;
        match s.active {
            0 => s.idle += spent,
            1 => {}
            _ => s.overlap += spent,
        }
        s.since = now;
        (std::mem::take(&mut s.idle), std::mem::take(&mut s.overlap))
    }
}

/// Runs `blocks` blocks through a producer thread (`produce(j)`, e.g. computing and
/// encrypting block `j` and sending it) and this thread (`consume(j, item)`, e.g.
/// receiving the peer's answer for block `j`), the producer at most
/// [`PIPELINE_LEAD`] blocks ahead: while the consumer works on block `j` the producer
/// prepares block `j + 1`. The first error of either side is returned.
fn pipeline<T: Send>(
    activity: &Activity,
    blocks: usize,
    produce: impl FnMut(usize) -> Result<T> + Send,
    mut consume: impl FnMut(usize, T) -> Result<()>,
) -> Result<()> {
    std::thread::scope(|s| {
        let (tx, rx) = std::sync::mpsc::sync_channel::<T>(PIPELINE_LEAD);
        let mut produce = produce;
        let producer = s.spawn(move || -> Result<()> {
            activity.change(true);
            let mut out = Ok(());
            for j in 0..blocks {
                match produce(j) {
                    Ok(item) => {
                        if activity.wait(|| tx.send(item)).is_err() {
                            // The consumer stopped: its error is the one returned.
                            break;
                        }
                    }
                    Err(e) => {
                        out = Err(e);
                        break;
                    }
                }
            }
            activity.change(false);
            out
        });
        let consumed = {
            let rx = rx;
            let mut out = Ok(());
            for j in 0..blocks {
                // A closed channel: the producer failed, its error is returned.
                let Ok(item) = activity.wait(|| rx.recv()) else {
                    break;
                };
                if let Err(e) = consume(j, item) {
                    out = Err(e);
                    break;
                }
            }
            out
        };
        let produced = producer
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        produced.and(consumed)
    })
}

/// What a party ends training with.
#[derive(Debug, Clone, Default)]
pub(crate) struct FitResult {
    /// The weights; at the guest with `fit_intercept`, the intercept is last.
    pub(crate) weights: Vec<f64>,
    pub(crate) loss_history: Vec<f64>,
    pub(crate) iters: usize,
    pub(crate) converged: bool,
    pub(crate) best_iteration: Option<usize>,
    /// SSHE `encrypted_reveal_in_host`, at the host: its weights as ciphertexts under
    /// the guest's key (`weights` is then empty).
    pub(crate) encrypted: Option<(PublicKey, Vec<Ciphertext>)>,
    /// SSHE `encrypted_reveal_in_host`, at the guest: the key the host's scores come
    /// under.
    pub(crate) guest_key: Option<std::sync::Arc<Keypair>>,
}

impl FitResult {
    /// The host's part of the model for scoring.
    pub(crate) fn host_weights(&self) -> super::predict::HostWeights {
        match &self.encrypted {
            Some((key, cts)) => super::predict::HostWeights::Encrypted {
                key: key.clone(),
                cts: cts.clone(),
            },
            None => super::predict::HostWeights::Plain(self.weights.clone()),
        }
    }
}

/// Called by the guest after each epoch the validation strategy evaluates: records the
/// metrics and returns FATE's single-value metrics of the round (of the validate rows,
/// or of the train rows when there are none), in the order of `metrics`.
pub(crate) type Validator<'v> =
    dyn FnMut(&TaskContext<'_>, &str, usize, &[f64]) -> Result<Vec<(&'static str, f64)>> + 'v;

/// The guest's end-of-epoch validation outcome, sent to the hosts and the arbiter (FATE
/// syncs its `PerformanceRecorder` the same way).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(super) struct EpochVerdict {
    /// Early stopping says stop.
    pub(super) stop: bool,
    /// Per watched metric (in the recorder's order): it improved this epoch, so every
    /// party keeps this epoch's model as that metric's best.
    improved: Vec<bool>,
    /// With `stop`: the metric whose best model is kept.
    chosen: Option<usize>,
}

/// FATE's `PerformanceRecorder` plus the early-stopping checks of its
/// `ValidationStrategy`, kept by the guest.
#[derive(Debug, Default)]
pub(super) struct Recorder {
    /// Per metric, in first-seen order: name, best value, rounds without improvement.
    metrics: Vec<(&'static str, f64, usize)>,
}

impl Recorder {
    fn larger_is_better(metric: &str) -> Option<bool> {
        match metric {
            "auc" | "ks" | "r2_score" | "explained_variance" | "precision" | "recall"
            | "accuracy" => Some(true),
            "root_mean_squared_error"
            | "mean_absolute_error"
            | "mean_squared_error"
            | "mean_squared_log_error" => Some(false),
            // `median_absolute_error` is in neither of FATE's lists: it improves only
            // the first time it is seen.
            _ => None,
        }
    }

    /// `PerformanceRecorder.update`, then the verdict for `rounds`.
    pub(super) fn update(&mut self, eval: &[(&'static str, f64)], rounds: usize) -> EpochVerdict {
        for &(name, value) in eval {
            match self.metrics.iter_mut().find(|m| m.0 == name) {
                None => self.metrics.push((name, value, 0)),
                Some(m) => {
                    let better = match Self::larger_is_better(name) {
                        Some(true) => value > m.1,
                        Some(false) => value < m.1,
                        None => false,
                    };
                    if better {
                        m.1 = value;
                        m.2 = 0;
                    } else {
                        m.2 += 1;
                    }
                }
            }
        }
        let chosen = self.metrics.iter().position(|m| m.2 >= rounds);
        EpochVerdict {
            stop: chosen.is_some(),
            improved: self.metrics.iter().map(|m| m.2 == 0).collect(),
            chosen,
        }
    }
}

/// Every party's copies of the model at each watched metric's best epoch.
#[derive(Debug, Default)]
pub(super) struct BestModels {
    per_metric: Vec<Option<(usize, Vec<f64>)>>,
    chosen: Option<usize>,
}

impl BestModels {
    pub(super) fn update(&mut self, verdict: &EpochVerdict, epoch: usize, w: &[f64]) {
        if self.per_metric.len() < verdict.improved.len() {
            self.per_metric.resize(verdict.improved.len(), None);
        }
        for (slot, improved) in self.per_metric.iter_mut().zip(&verdict.improved) {
            if *improved {
                *slot = Some((epoch, w.to_vec()));
            }
        }
        if verdict.stop {
            self.chosen = verdict.chosen;
        }
    }

    /// FATE's `on_train_end` with early stopping: the model of the metric that stopped
    /// training, or else of the first metric, at its best epoch.
    pub(super) fn restore(self, param: &LinearParam, result: &mut FitResult, last: Vec<f64>) {
        let best = match param.callbacks.early_stopping() {
            Some(_) => self
                .per_metric
                .into_iter()
                .nth(self.chosen.unwrap_or(0))
                .flatten(),
            None => None,
        };
        match best {
            Some((epoch, w)) => {
                // FATE reloads the exported model of that epoch, `n_iter_` included.
                result.iters = epoch;
                result.best_iteration = Some(epoch);
                result.weights = w;
            }
            None => result.weights = last,
        }
    }
}

/// The arbiter's end-of-epoch broadcast.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
struct Convergence {
    /// Training ends: the loss (or weights) converged, or early stopping.
    converged: bool,
    loss: Option<f64>,
    /// The loss (or weights) converged: FATE's `is_converged`.
    by_loss: bool,
}

/// A party's step for one batch.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct Step {
    pub(super) delta: Vec<f64>,
    /// L1's soft threshold (α · current learning rate), 0 otherwise.
    pub(super) shrink: f64,
}

/// The guest's encrypted loss parts for one batch.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct LossMessage {
    /// Hex of the ciphertext of `Y` (scale `2^(2F)`).
    cipher: String,
    /// `loss = plain + Y / (divisor · 2^(2F))`.
    divisor: f64,
    plain: f64,
}

/// Who takes part.
pub(crate) struct Roles {
    pub(crate) guest: Party,
    pub(crate) hosts: Vec<Party>,
    pub(crate) arbiter: Option<Party>,
}

impl Roles {
    pub(crate) fn of(ctx: &TaskContext<'_>, task: Task) -> Result<Roles> {
        let guest = ctx
            .parties_of(Role::Guest)
            .first()
            .copied()
            .ok_or_else(|| Error::param("role", format!("{} needs a guest", task.module())))?;
        let hosts = ctx.parties_of(Role::Host);
        if hosts.is_empty() {
            return Err(Error::param(
                "role",
                format!("{} needs at least one host", task.module()),
            ));
        }
        let arbiter = ctx.parties_of(Role::Arbiter).first().copied();
        if task == Task::Poisson && hosts.len() > 1 {
            return Err(Error::param(
                "role",
                format!(
                    "HeteroPoisson supports one host (as FATE's); this job has {}",
                    hosts.len()
                ),
            ));
        }
        if arbiter.is_none() && hosts.len() > 1 {
            return Err(Error::param(
                "role",
                format!(
                    "{} without an arbiter supports one host; this job has {} (add an arbiter)",
                    task.module(),
                    hosts.len()
                ),
            ));
        }
        Ok(Roles {
            guest,
            hosts,
            arbiter,
        })
    }
}

/// One training run (the whole data, or one CV fold): the run id keeps its messages
/// apart from other runs of the same task.
pub(crate) struct Run<'r> {
    pub(crate) ctx: &'r TaskContext<'r>,
    pub(crate) task: Task,
    pub(crate) param: &'r LinearParam,
    pub(crate) roles: &'r Roles,
    pub(crate) run: String,
    /// A host's validation data, when the guest validates during training.
    pub(crate) validate_host: Option<&'r Dataset>,
    /// Whether the loss of each epoch is logged as the `train/loss` metric (FATE does
    /// not for the sub-models of one-vs-rest).
    pub(crate) log_loss: bool,
    /// This run is model `part.0` of `part.1` trained one after the other (one-vs-rest):
    /// the task's progress covers all of them.
    pub(crate) part: (usize, usize),
    /// Warm start: the epoch to continue from and this party's loaded weights.
    pub(crate) warm: Option<&'r Warm>,
}

/// Where a warm start continues (FATE loads `n_iter_` and the weights from the model
/// input; the optimizer, the loss history and `is_converged` start afresh).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Warm {
    /// The model's `iters`: the first epoch run now.
    pub(crate) start: usize,
    /// The loaded weights in this party's layout (the guest's intercept last; empty at
    /// the arbiter).
    pub(crate) weights: Vec<f64>,
}

impl Run<'_> {
    /// The first epoch and the starting weights: the warm start's, or `0` and the
    /// initializer's `k` weights.
    pub(super) fn start(&self, k: usize) -> Result<(usize, Vec<f64>)> {
        match self.warm {
            None => Ok((
                0,
                initial_weights(self.param.init, self.param.random_seed, k),
            )),
            Some(w) if w.weights.len() == k => Ok((w.start, w.weights.clone())),
            Some(w) => Err(Error::param(
                "input.model",
                format!(
                    "{}: warm start loaded {} weights, training needs {k}",
                    self.task.module(),
                    w.weights.len()
                ),
            )),
        }
    }

    pub(super) fn fed(&self) -> Result<&dyn Federation> {
        self.ctx.federation()
    }

    pub(super) fn tag(&self, parts: &[usize]) -> String {
        let mut t = self.run.clone();
        for p in parts {
            t.push('.');
            t.push_str(&p.to_string());
        }
        t
    }

    fn f(&self) -> u32 {
        self.param.precision_bits
    }

    /// Fraction bits of the encrypted gradient sums: `2F`, or `3F` when the guest
    /// multiplies `Σ[[u]]` by an `F`-bit factor (sample weights, Poisson's `exp(a)`).
    fn grad_bits(&self, scaled: bool) -> u32 {
        2 * self.f() + if scaled { self.f() } else { 0 }
    }

    fn loss_on(&self) -> bool {
        self.roles.hosts.len() == 1
    }

    /// Keeps the epoch's loss and, unless this is a one-vs-rest sub-model, logs it as
    /// FATE's `train/loss` metric (one point per epoch).
    pub(super) fn record_loss(
        &self,
        history: &mut Vec<f64>,
        epoch: usize,
        loss: f64,
    ) -> Result<()> {
        history.push(loss);
        if self.log_loss {
            self.ctx.log_metric(crate::context::Metric {
                namespace: "train".into(),
                name: "loss".into(),
                data: vec![(epoch.into(), loss.into())],
                meta: serde_json::json!({"metric_type": "LOSS", "unit_name": "iters"}),
            })?;
        }
        Ok(())
    }

    pub(super) fn progress(&self, epoch: usize) {
        let (i, of) = self.part;
        let total = self.param.max_iter.max(1) * of.max(1);
        let done = i * self.param.max_iter.max(1) + epoch + 1;
        let pct = (done * 100 / total).min(99) as u8;
        self.ctx.tracker.progress(pct);
    }
}

/// `(x_j · 2^F)` per column of the rows in `batch`, plus a constant column for the
/// intercept when `intercept` is set.
pub(super) fn scalar_columns(
    data: &Dataset,
    batch: &[usize],
    x: &Block,
    bits: u32,
    intercept: bool,
) -> Result<Vec<Vec<i64>>> {
    let mut cols = Vec::with_capacity(data.k + 1);
    for j in 0..data.k {
        let mut col = Vec::with_capacity(batch.len());
        for (p, &i) in batch.iter().enumerate() {
            col.push(fixed_i64(x.x(p)[j], bits, &|| {
                format!("feature `{}` of row `{}`", data.header[j], data.sid(i))
            })?);
        }
        cols.push(col);
    }
    if intercept {
        cols.push(vec![1i64 << bits; batch.len()]);
    }
    Ok(cols)
}

/// `x·w` for the rows of `x` (`w` may hold a trailing intercept when `intercept`).
pub(super) fn linear(x: &Block, w: &[f64], intercept: bool) -> Vec<f64> {
    let b = if intercept { w[x.k()] } else { 0.0 };
    (0..x.len())
        .map(|p| x.x(p).iter().zip(w).map(|(x, w)| x * w).sum::<f64>() + b)
        .collect()
}

pub(super) fn penalty_value(param: &LinearParam, w: &[f64]) -> f64 {
    match param.penalty {
        Penalty::L2 => 0.5 * param.alpha * w.iter().map(|x| x * x).sum::<f64>(),
        Penalty::L1 => param.alpha * w.iter().map(|x| x.abs()).sum::<f64>(),
        Penalty::None => 0.0,
    }
}

/// Adds `B·α·w_j · 2^bits` (`bits`: the gradients' scale) to each encrypted gradient
/// sum (L2), leaving the intercept.
fn add_l2(
    pk: &PublicKey,
    param: &LinearParam,
    grads: &mut [Ciphertext],
    w: &[f64],
    batch_len: usize,
    bits: u32,
) -> Result<()> {
    if param.penalty != Penalty::L2 {
        return Ok(());
    }
    for (g, wj) in grads.iter_mut().zip(w) {
        let reg = fixed(batch_len as f64 * param.alpha * wj, bits)?;
        *g = pk.raw_add_plain(g, &reg);
    }
    Ok(())
}

/// `w ← w − Δ`, then L1's soft threshold on the feature weights (not the intercept).
pub(super) fn apply_step(w: &mut [f64], step: &Step, features: usize) {
    for (wj, d) in w.iter_mut().zip(&step.delta) {
        *wj -= d;
    }
    if step.shrink > 0.0 {
        for wj in w.iter_mut().take(features) {
            *wj = wj.signum() * (wj.abs() - step.shrink).max(0.0);
        }
    }
}

/// Adds `block` elementwise into the running encrypted sums `acc` (empty at first).
fn add_into(
    pk: &PublicKey,
    acc: &mut Option<Vec<Ciphertext>>,
    block: Vec<Ciphertext>,
) -> Result<()> {
    *acc = Some(match acc.take() {
        None => block,
        Some(prev) => pk.raw_add_batch(&prev, &block)?,
    });
    Ok(())
}

fn encrypt_fixed(enc: &dyn Encryptor, values: &[f64], bits: u32) -> Result<Vec<Ciphertext>> {
    let n = enc.public_key().n().clone();
    let plain: Vec<Integer> = values
        .par_iter()
        .map(|&v| Ok(residue(&fixed(v, bits)?, &n)))
        .collect::<Result<_>>()?;
    Ok(enc.encrypt_raw_batch(&plain)?)
}

fn get_ciphers(
    run: &Run<'_>,
    name: &str,
    tag: &str,
    from: Party,
    key: &PublicKey,
) -> Result<Vec<Ciphertext>> {
    let bytes = run.fed()?.get_bytes(name, tag, from)?;
    decode_ciphers(name, from, key, &bytes)
}

/// The rows of one batch: a span of consecutive rows (no list of every row is held for
/// the full batch), or a list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(super) enum Batch {
    /// Rows `start..end`.
    Span(usize, usize),
    /// These rows, in this order.
    Rows(Vec<usize>),
}

impl Batch {
    pub(super) fn len(&self) -> usize {
        match self {
            Batch::Span(a, b) => b.saturating_sub(*a),
            Batch::Rows(r) => r.len(),
        }
    }

    /// The batch's `p`-th row.
    fn get(&self, p: usize) -> Option<usize> {
        match self {
            Batch::Span(a, b) => (a + p < *b).then_some(a + p),
            Batch::Rows(r) => r.get(p).copied(),
        }
    }

    /// The rows of block `j` of `size` rows.
    fn block(&self, j: usize, size: usize) -> Cow<'_, [usize]> {
        let (from, to) = (j * size, ((j + 1) * size).min(self.len()));
        match self {
            Batch::Span(a, _) => Cow::Owned((a + from..a + to).collect()),
            Batch::Rows(r) => Cow::Borrowed(&r[from..to]),
        }
    }

    fn to_rows(&self) -> Cow<'_, [usize]> {
        self.block(0, self.len().max(1))
    }

    /// The largest row named (`None` when empty).
    fn max_row(&self) -> Option<usize> {
        match self {
            Batch::Span(a, b) => (b > a).then(|| b - 1),
            Batch::Rows(r) => r.iter().max().copied(),
        }
    }
}

/// A batch cut into blocks of the pipeline's size.
pub(super) struct Blocks<'b> {
    batch: &'b Batch,
    size: usize,
}

impl<'b> Blocks<'b> {
    pub(super) fn new(batch: &'b Batch, size: usize) -> Blocks<'b> {
        Blocks {
            batch,
            size: size.max(1),
        }
    }

    pub(super) fn len(&self) -> usize {
        self.batch.len().div_ceil(self.size)
    }

    pub(super) fn get(&self, j: usize) -> Cow<'b, [usize]> {
        self.batch.block(j, self.size)
    }
}

/// The rows of each batch in id order: the full data, or spans of `batch_size`.
fn make_batches(param: &LinearParam, n: usize) -> Vec<Batch> {
    match param.batch_size {
        Some(b) if b < n => (0..n.div_ceil(b))
            .map(|i| Batch::Span(i * b, ((i + 1) * b).min(n)))
            .collect(),
        _ => vec![Batch::Span(0, n)],
    }
}

/// The guest's mini-batches, as FATE's batch generators: `batch_strategy: full` cuts the
/// data into batches of `batch_size`, in a new random order every epoch with `shuffle`
/// (FATE regenerates them each epoch) and in id order without; `random` draws one batch
/// of `batch_size` rows without replacement every epoch (`RandomBatchDataGenerator`).
/// A batch as large as the data is the full batch, unshuffled, for both. The draws are
/// seeded by `init_param.random_seed` (0 without one), where FATE uses the system's
/// randomness.
pub(super) enum Batches {
    Fixed(Vec<Batch>),
    Shuffled {
        rng: SplitMix,
        n: usize,
        size: usize,
    },
    Random {
        rng: SplitMix,
        n: usize,
        size: usize,
    },
}

impl Batches {
    pub(super) fn new(param: &LinearParam, n: usize) -> Batches {
        let rng = || SplitMix::seeded(param.random_seed.or(Some(0)));
        match (param.batch_strategy, param.batch_size) {
            (BatchStrategy::Random, Some(size)) if size < n => Batches::Random {
                rng: rng(),
                n,
                size,
            },
            (BatchStrategy::Full, Some(size)) if size < n && param.shuffle => Batches::Shuffled {
                rng: rng(),
                n,
                size,
            },
            _ => Batches::Fixed(make_batches(param, n)),
        }
    }

    /// Whether the batches change every epoch (the hosts get them every epoch).
    pub(super) fn per_epoch(&self) -> bool {
        !matches!(self, Batches::Fixed(_))
    }

    /// The batch sizes the arbiter divides by (the same every epoch).
    fn sizes(&self) -> Vec<usize> {
        match self {
            Batches::Fixed(b) => b.iter().map(Batch::len).collect(),
            Batches::Shuffled { n, size, .. } => {
                let mut sizes = vec![*size; n / size];
                if n % size > 0 {
                    sizes.push(n % size);
                }
                sizes
            }
            Batches::Random { size, .. } => vec![*size],
        }
    }

    /// The batches of the next epoch (the fixed ones are not copied).
    pub(super) fn next_epoch(&mut self) -> Cow<'_, [Batch]> {
        Cow::Owned(match self {
            Batches::Fixed(b) => return Cow::Borrowed(b),
            Batches::Shuffled { rng, n, size } => {
                let mut rows: Vec<usize> = (0..*n).collect();
                rng.shuffle(&mut rows);
                rows.chunks(*size)
                    .map(|c| Batch::Rows(c.to_vec()))
                    .collect()
            }
            Batches::Random { rng, n, size } => {
                // A partial Fisher–Yates shuffle: the first `size` rows of a random order.
                let mut rows: Vec<usize> = (0..*n).collect();
                for i in 0..*size {
                    let j = i + rng.below(*n - i);
                    rows.swap(i, j);
                }
                rows.truncate(*size);
                rows.sort_unstable();
                vec![Batch::Rows(rows)]
            }
        })
    }
}

/// The guest's batches as a host receives them (an empty list at the start: they come
/// every epoch).
#[derive(Debug, Serialize, Deserialize)]
pub(super) enum BatchRows {
    /// By sample id: the tables are not aligned.
    Sids(Vec<Vec<String>>),
    /// By row position: the tables are aligned (same ids in the same scan order, as
    /// Intersection writes them), so no id crosses and no map of ids is built.
    Rows(Vec<Batch>),
}

/// The batches for one host: by position when its table is aligned with ours.
fn batch_rows(data: &Dataset, batches: &[Batch], aligned: bool) -> Result<BatchRows> {
    if aligned {
        return Ok(BatchRows::Rows(batches.to_vec()));
    }
    Ok(BatchRows::Sids(
        batches
            .iter()
            .map(|b| data.sids(&b.to_rows()))
            .collect::<Result<_>>()?,
    ))
}

/// Sends the batches to each host, by position to the aligned ones.
pub(super) fn send_batches(
    run: &Run<'_>,
    tag: &str,
    data: &Dataset,
    batches: &[Batch],
    aligned: &[bool],
) -> Result<()> {
    let fed = run.fed()?;
    for (host, &a) in run.roles.hosts.iter().zip(aligned) {
        fed.remote("batches", tag, &batch_rows(data, batches, a)?, &[*host])?;
    }
    Ok(())
}

/// A host's batches from the guest's: positions (checked), or ids looked up in a map
/// of this host's ids built on first use.
pub(super) fn host_batches(
    data: &Dataset,
    index: &mut Option<HashMap<String, usize>>,
    rows: BatchRows,
) -> Result<Vec<Batch>> {
    let sid_batches = match rows {
        BatchRows::Rows(rows) => {
            if let Some(bad) = rows
                .iter()
                .filter_map(Batch::max_row)
                .find(|&i| i >= data.n())
            {
                return Err(Error::param(
                    "batches",
                    format!("the guest named row {bad} of {} rows", data.n()),
                ));
            }
            return Ok(rows);
        }
        BatchRows::Sids(sids) => sids,
    };
    if index.is_none() {
        *index = Some(super::predict::sid_index(data)?);
    }
    let index = index.as_ref().expect("built above");
    sid_batches
        .iter()
        .map(|b| {
            b.iter()
                .map(|s| {
                    index.get(s).copied().ok_or_else(|| Error::InvalidValue {
                        table: data.table.clone(),
                        sid: s.clone(),
                        column: data.sid_name.clone(),
                        reason: "the guest's sample is not in this host's data; intersect the data first (Intersection with sync_intersect_ids)".into(),
                    })
                })
                .collect::<Result<Vec<_>>>()
                .map(Batch::Rows)
        })
        .collect()
}

/// What the guest needs to compute the plaintext of a batch's blocks.
struct GuestPlan<'p> {
    run: &'p Run<'p>,
    data: &'p Dataset,
    /// The weights during this batch (the intercept last with `fit_intercept`).
    w: &'p [f64],
    /// With sample weights: the factor that makes them sum to the row count (FATE's
    /// `scale_sample_weight`).
    weight_scale: Option<f64>,
}

/// The guest's plaintext of one block of a batch: the residual is
/// `d = half + Σ[[u]]`, or `d = half + alpha·Σ[[u]]` when `alpha` is set (sample weights,
/// HeteroPoisson), which puts `d` at scale `2^(2F)` instead of `2^F`.
struct GuestBlock {
    /// Per row: `¼·a − ½·y` (LR) or `a − y` (LinR), `a = x_g·w_g + b`, times the weight;
    /// `−y` times the weight (Poisson).
    half: Vec<f64>,
    /// Per row, fixed-point: the coefficient `c` of the loss's cross term `Σ u·c`.
    coef: Vec<i64>,
    /// Per row: the factor on `Σ[[u]]` (the scaled weight; Poisson `exp(a)` times it).
    alpha: Option<Vec<f64>>,
    /// Poisson, per row, fixed-point: `−y`, the coefficient of the loss's `Σ y·wx_h`.
    neg_y: Option<Vec<i64>>,
    /// The block's rows.
    x: Block,
}

/// FATE's `safe_log` of an exposure (`log(1e-7)` for 0).
fn safe_log(v: f64) -> f64 {
    if v == 0.0 {
        1e-7f64.ln()
    } else {
        v.ln()
    }
}

/// Running sums of the guest's plaintext share of a batch's loss, over its blocks in
/// row order (so they equal the sums over the whole batch at once).
#[derive(Debug, Default)]
struct LossSums {
    /// `Σ a·y` (LR).
    ya: f64,
    /// `Σ a²` (LR).
    aa: f64,
    /// `Σ (a − y)²` (LinR).
    rr: f64,
    /// `Σ y·(a + offset)` (Poisson).
    py: f64,
}

impl LossSums {
    /// The guest's plaintext loss of a batch of `bl` rows, before the penalty.
    fn plain_loss(&self, task: Task, bl: usize) -> f64 {
        let bl = bl as f64;
        match task {
            Task::Logistic => {
                std::f64::consts::LN_2 + (-self.ya / (2.0 * bl) + self.aa / (8.0 * bl))
            }
            Task::Linear => 0.0 + self.rr / (2.0 * bl),
            Task::Poisson => -self.py / bl,
        }
    }

    /// `loss = plain + Y / divisor` (Y at scale `2^(2F)` once decrypted and decoded).
    fn divisor(&self, task: Task, bl: usize) -> f64 {
        match task {
            Task::Logistic => 8.0 * bl as f64,
            Task::Linear => 2.0 * bl as f64,
            Task::Poisson => bl as f64,
        }
    }
}

impl GuestPlan<'_> {
    /// The block of `rows`, adding its share of the loss to `sums`.
    fn block(&self, rows: &[usize], sums: &mut LossSums) -> Result<GuestBlock> {
        let (param, f) = (self.run.param, self.run.f());
        let x = self.data.block(rows)?;
        let a = linear(&x, self.w, param.fit_intercept);
        // The training target (LR maps 1 to +1 and everything else to -1, as FATE).
        let target: Vec<f64> = match self.run.task {
            Task::Logistic => {
                x.y.iter()
                    .flatten()
                    .map(|&v| if v == 1.0 { 1.0 } else { -1.0 })
                    .collect()
            }
            Task::Linear | Task::Poisson => x.y.clone().unwrap_or_default(),
        };
        if target.len() != rows.len() {
            return Err(Error::MissingColumn {
                table: self.data.table.clone(),
                column: "label".into(),
                why: format!("{} trains on the guest's labels", self.run.task.module()),
            });
        }
        let t = |p: usize| target[p];
        let weight = |p: usize| match (self.weight_scale, &x.w) {
            (Some(s), Some(w)) => w[p] * s,
            _ => 1.0,
        };
        let mut alpha = self
            .weight_scale
            .map(|_| (0..rows.len()).map(weight).collect::<Vec<f64>>());
        let mut neg_y = None;
        let (half, coef): (Vec<f64>, Vec<f64>) = match self.run.task {
            Task::Logistic => {
                for (p, a) in a.iter().enumerate() {
                    sums.ya += a * t(p);
                }
                for a in &a {
                    sums.aa += a * a;
                }
                (
                    a.iter()
                        .enumerate()
                        .map(|(p, a)| 0.25 * a - 0.5 * t(p))
                        .collect(),
                    a.iter()
                        .enumerate()
                        .map(|(p, a)| 8.0 * a - 16.0 * t(p))
                        .collect(),
                )
            }
            Task::Linear => {
                let half: Vec<f64> = a.iter().enumerate().map(|(p, a)| a - t(p)).collect();
                for r in &half {
                    sums.rr += r * r;
                }
                let coef = half.iter().map(|r| 2.0 * r).collect();
                (half, coef)
            }
            Task::Poisson => {
                // mu_g = exp(a + log(exposure)); d = w·(mu_g·Σ[[exp(wx_h)]] − y).
                let mut mu = Vec::with_capacity(rows.len());
                for (p, a) in a.iter().enumerate() {
                    let offset = x.e.as_ref().map_or(0.0, |e| safe_log(e[p]));
                    let m = (a + offset).exp();
                    if !m.is_finite() {
                        return Err(Error::InvalidValue {
                            table: self.data.table.clone(),
                            sid: self.data.sid(rows[p]),
                            column: "exposure".into(),
                            reason: format!(
                                "exp(wx + log(exposure)) = exp({}) is not a finite number (a negative exposure, or weights that diverged; lower learning_rate)",
                                a + offset
                            ),
                        });
                    }
                    sums.py += t(p) * (a + offset);
                    mu.push(m);
                }
                alpha = Some(mu.iter().enumerate().map(|(p, m)| m * weight(p)).collect());
                neg_y = Some(
                    (0..rows.len())
                        .map(|p| fixed_i64(-t(p), f, &|| "a label".to_string()))
                        .collect::<Result<Vec<i64>>>()?,
                );
                ((0..rows.len()).map(|p| -t(p) * weight(p)).collect(), mu)
            }
        };
        let coef = coef
            .iter()
            .map(|c| fixed_i64(*c, f, &|| "a loss coefficient".to_string()))
            .collect::<Result<_>>()?;
        // With weights (LR, LinR): half and the factor on Σ[[u]] are both weighted.
        let half = match (&alpha, self.run.task) {
            (Some(_), Task::Logistic | Task::Linear) => half
                .iter()
                .enumerate()
                .map(|(p, h)| h * weight(p))
                .collect(),
            _ => half,
        };
        Ok(GuestBlock {
            half,
            coef,
            alpha,
            neg_y,
            x,
        })
    }
}

/// With sample weights at the guest: the factor that rescales them to sum to the row
/// count (FATE's `scale_sample_weight`); refused where the protocol does not weight yet.
fn guest_weight_scale(run: &Run<'_>, data: &Dataset) -> Result<Option<f64>> {
    if !data.has_weights() {
        return Ok(None);
    }
    let module = run.task.module();
    if run.roles.arbiter.is_none() {
        return Err(Error::param(
            "role",
            format!("{module} with sample weights (SampleWeight) needs an arbiter; the two-party mode does not weight its gradients"),
        ));
    }
    if run.param.optimizer == OptimizerKind::Sqn {
        return Err(Error::param(
            "optimizer",
            format!("{module} with sample weights (SampleWeight) does not support `sqn` yet; use another optimizer"),
        ));
    }
    sample_weight_scale(run, data)
}

/// FATE's `scale_sample_weight`: the factor that makes the sample weights sum to the row
/// count (`None` without weights).
pub(super) fn sample_weight_scale(run: &Run<'_>, data: &Dataset) -> Result<Option<f64>> {
    if !data.has_weights() {
        return Ok(None);
    }
    let sum = data.weight_sum()?;
    if !(sum.is_finite() && sum > 0.0) {
        return Err(Error::InvalidValue {
            table: data.table.clone(),
            sid: String::new(),
            column: "sample weight".into(),
            reason: format!("the sample weights sum to {sum}; they must sum to a positive number"),
        });
    }
    let scale = data.n() as f64 / sum;
    run.ctx.tracker.info(&format!(
        "sample weights: residuals weighted per row, weights scaled by {scale:.6} to sum to {} rows",
        data.n()
    ));
    Ok(Some(scale))
}

/// Refuses a block of ciphertexts whose length is not the block's row count.
fn check_block(values: &[Ciphertext], rows: usize, from: Party) -> Result<()> {
    if values.len() != rows {
        return Err(Error::param(
            "batch",
            format!(
                "{from} sent {} values for a block of {rows} rows",
                values.len()
            ),
        ));
    }
    Ok(())
}

/// The guest's side of training.
pub(crate) fn fit_guest(
    run: &Run<'_>,
    data: &Dataset,
    validator: Option<&mut Validator<'_>>,
) -> Result<FitResult> {
    if run.param.sshe.is_some() {
        return super::sshe::fit_guest(run, data, validator);
    }
    let param = run.param;
    let fed = run.fed()?;
    if !data.has_label() {
        return Err(Error::MissingColumn {
            table: data.table.clone(),
            column: "label".into(),
            why: format!("{} trains on the guest's labels", run.task.module()),
        });
    }
    let k = data.k + usize::from(param.fit_intercept);
    let (start, mut w) = run.start(k)?;
    let mut batcher = Batches::new(param, data.n());
    let init_tag = run.tag(&[]);
    // Aligned tables (same ids in the same order) name batch rows by position.
    fed.remote("layout", &init_tag, &Layout::of(data)?, &run.roles.hosts)?;
    let aligned: Vec<bool> = run
        .roles
        .hosts
        .iter()
        .map(|h| fed.get("aligned", &init_tag, *h))
        .collect::<std::result::Result<_, _>>()?;
    // Fixed batches go to the hosts once; changing ones every epoch (announced by an
    // empty list here).
    let announced: &[Batch] = match &batcher {
        Batches::Fixed(b) => b,
        _ => &[],
    };
    send_batches(run, &init_tag, data, announced, &aligned)?;
    // The encrypted vectors of a batch go block by block: the guest sizes the blocks
    // from its memory budget and tells the hosts.
    let rows_per_block = pipeline_rows(run.ctx.memory, param.key_length);
    fed.remote("block_rows", &init_tag, &rows_per_block, &run.roles.hosts)?;
    // Sample weights or Poisson: the residual is a product `alpha·Σ[[u]]`, so every
    // party's gradients carry F more bits; every party learns it here.
    let weight_scale = guest_weight_scale(run, data)?;
    let scaled = weight_scale.is_some() || run.task == Task::Poisson;
    if run.task == Task::Poisson && run.roles.arbiter.is_none() {
        return Err(Error::param(
            "role",
            "HeteroPoisson needs an arbiter (as FATE's)",
        ));
    }
    let mut others = run.roles.hosts.clone();
    others.extend(run.roles.arbiter);
    fed.remote("scaled_residual", &init_tag, &scaled, &others)?;
    let grad_bits = run.grad_bits(scaled);

    // Keys: the arbiter's, or our own plus the host's.
    let (pk, own): (PublicKey, Option<Keypair>) = match run.roles.arbiter {
        Some(arbiter) => {
            fed.remote("batch_sizes", &init_tag, &batcher.sizes(), &[arbiter])?;
            (fed.get("pubkey", &init_tag, arbiter)?, None)
        }
        None => {
            let kp = Keypair::generate(param.key_length)?;
            fed.remote("pubkey", &init_tag, &kp.public, &run.roles.hosts)?;
            let host_pk: PublicKey = fed.get("pubkey", &init_tag, run.roles.hosts[0])?;
            (host_pk, Some(kp))
        }
    };
    // One re-randomization (with an arbiter) or encryption (without) per row and epoch.
    let obfuscating = own.as_ref().map_or(&pk, |kp| &kp.public);
    obfuscating.prepare_obfuscators(data.n().saturating_mul(param.max_iter));
    let f = run.f();
    let mut optimizer = Optimizer::new(
        param.optimizer,
        param.learning_rate,
        param.decay,
        param.decay_sqrt,
    );
    let mut sqn = sqn_state(run)?.map(|w| (w, SplitMix::seeded(param.sqn.random_seed)));
    let mut result = FitResult {
        iters: start,
        ..FitResult::default()
    };
    let mut best = BestModels::default();
    let mut recorder = Recorder::default();
    let mut validator = validator;
    let mut phases = Phases::new();
    let activity = Activity::new();
    for epoch in start..param.max_iter {
        optimizer.set_iters(epoch);
        let mut losses = Vec::new();
        let mut moved = vec![0.0; k];
        let per_epoch = batcher.per_epoch();
        let batches = batcher.next_epoch();
        let nb = batches.len();
        if per_epoch {
            send_batches(run, &run.tag(&[epoch]), data, &batches, &aligned)?;
        }
        for (bi, batch) in batches.iter().enumerate() {
            let tag = run.tag(&[epoch, bi]);
            let bl = batch.len();
            let blocks = Blocks::new(batch, rows_per_block);
            let features: Vec<f64> = w[..data.k].to_vec();
            let plan = GuestPlan {
                run,
                data,
                w: &w,
                weight_scale,
            };
            let mut sums = LossSums::default();
            let mut producer_phases = Phases::new();

            match (run.roles.arbiter, &own) {
                (Some(arbiter), _) => {
                    // Producer: per block, Σ_hosts [[u]] ⊕ half, re-randomized, to the
                    // hosts. Consumer: the gradient (and the loss's Σ d·c) of the block.
                    phases.lap("compute");
                    let loss_on = run.loss_on();
                    let mut half_c = Integer::new();
                    let mut acc: Option<Vec<Ciphertext>> = None;
                    pipeline(
                        &activity,
                        blocks.len(),
                        |j| {
                            let p = &mut producer_phases;
                            // Since the previous block: waiting for the consumer.
                            p.lap("ahead");
                            let rows = blocks.get(j);
                            let btag = run.tag(&[epoch, bi, j]);
                            let blk = plan.block(&rows, &mut sums)?;
                            p.lap("compute");
                            let mut forward: Option<Vec<Ciphertext>> = None;
                            for host in &run.roles.hosts {
                                let u = activity
                                    .wait(|| get_ciphers(run, "host_forward", &btag, *host, &pk))?;
                                check_block(&u, rows.len(), *host)?;
                                forward = Some(match forward {
                                    None => u,
                                    Some(acc) => pk.raw_add_batch(&acc, &u)?,
                                });
                            }
                            // Poisson's loss needs Σ y·wx_h: the host's [[wx_h]].
                            let host_wx = match (run.task, loss_on) {
                                (Task::Poisson, true) => {
                                    let host = run.roles.hosts[0];
                                    let wx = activity
                                        .wait(|| get_ciphers(run, "host_wx", &btag, host, &pk))?;
                                    check_block(&wx, rows.len(), host)?;
                                    Some(wx)
                                }
                                _ => None,
                            };
                            p.lap("wait for hosts");
                            let half_fixed: Vec<Integer> = blk
                                .half
                                .iter()
                                .map(|h| fixed(*h, if scaled { 2 * f } else { f }))
                                .collect::<Result<_>>()?;
                            if loss_on && !scaled {
                                half_c += half_fixed
                                    .iter()
                                    .zip(&blk.coef)
                                    .map(|(h, c)| Integer::from(h * *c))
                                    .sum::<Integer>();
                            }
                            let forward = forward.unwrap_or_default();
                            let sums: Vec<Ciphertext> = match &blk.alpha {
                                // d = half + alpha·Σu, at scale 2^(2F).
                                Some(alpha) => {
                                    let alpha: Vec<Integer> = alpha
                                        .iter()
                                        .map(|a| fixed(*a, f))
                                        .collect::<Result<_>>()?;
                                    forward
                                        .par_iter()
                                        .zip(alpha.par_iter().zip(half_fixed.par_iter()))
                                        .map(|(c, (a, h))| {
                                            Ok(pk.raw_add_plain(&pk.raw_mul(c, a)?, h))
                                        })
                                        .collect::<Result<_>>()?
                                }
                                None => forward
                                    .par_iter()
                                    .zip(half_fixed.par_iter())
                                    .map(|(c, h)| pk.raw_add_plain(c, h))
                                    .collect(),
                            };
                            let d = pk.rerandomize_raw_batch(&sums);
                            // With a scaled residual the loss's Σ u·c is taken on Σ[[u]].
                            let forward = (scaled && loss_on).then_some(forward);
                            p.lap("re-randomize");
                            fed.remote_bytes(
                                "fore_gradient",
                                &btag,
                                &encode_ciphers(&d),
                                &run.roles.hosts,
                            )?;
                            p.lap("send");
                            let loss_wx = host_wx.zip(blk.neg_y);
                            Ok((d, blk.coef, blk.x, forward, loss_wx))
                        },
                        |j, (d, coef, x, forward, loss_wx)| {
                            let started = Instant::now();
                            // The loss needs Σ u·c: computed as Σ d·c − Σ half·c in the
                            // same pass over [[d]] as the gradient (without weights), or
                            // on Σ[[u]] (with weights).
                            let mut cols =
                                scalar_columns(data, &blocks.get(j), &x, f, param.fit_intercept)?;
                            if loss_on && forward.is_none() {
                                cols.push(coef.clone());
                            }
                            let mut g = pk.raw_dot_columns(&d, &cols)?;
                            if let Some(forward) = &forward {
                                let mut cross = pk.raw_dot_columns(forward, &[coef])?;
                                // Poisson: Σ mu_g·u − Σ y·wx_h.
                                if let Some((wx, neg_y)) = loss_wx {
                                    let yw = pk.raw_dot_columns(&wx, &[neg_y])?;
                                    cross = pk.raw_add_batch(&cross, &yw)?;
                                }
                                g.extend(cross);
                            }
                            add_into(&pk, &mut acc, g)?;
                            phases.add("gradient", started.elapsed());
                            Ok(())
                        },
                    )?;
                    phases.lap("blocks (wall)");
                    let plain_loss =
                        sums.plain_loss(run.task, bl) + penalty_value(param, &features);
                    let mut grads = acc.unwrap_or_default();
                    let dc = loss_on.then(|| grads.pop()).flatten();
                    add_l2(&pk, param, &mut grads, &features, bl, grad_bits)?;
                    fed.remote_bytes("guest_gradient", &tag, &encode_ciphers(&grads), &[arbiter])?;
                    if let Some(dc) = dc {
                        let host = run.roles.hosts[0];
                        let parts =
                            activity.wait(|| get_ciphers(run, "host_loss", &tag, host, &pk))?;
                        phases.lap("wait for hosts");
                        let divisor = sums.divisor(run.task, bl);
                        let cross = if scaled {
                            dc
                        } else {
                            pk.raw_add_plain(&dc, &(-half_c))
                        };
                        let y_enc = loss_cipher(&pk, &parts, &cross, divisor)?;
                        let msg = LossMessage {
                            cipher: y_enc.as_integer().to_string_radix(16),
                            divisor,
                            plain: plain_loss,
                        };
                        fed.remote("loss", &tag, &msg, &[arbiter])?;
                        phases.lap("loss");
                    }
                    let step: Step = activity.wait(|| fed.get("guest_delta", &tag, arbiter))?;
                    phases.lap("wait for arbiter");
                    check_step(&step, k, arbiter)?;
                    for (m, d) in moved.iter_mut().zip(&step.delta) {
                        *m += d;
                    }
                    let before = sqn.as_ref().map(|_| w.clone());
                    apply_step(&mut w, &step, data.k);
                    if let (Some((window, rng)), Some(before)) = (sqn.as_mut(), before) {
                        if let Some(s) = window.push(&before, epoch * nb + bi + 1) {
                            sqn_guest(run, data, batch, &s, &pk, &tag, arbiter, rng)?;
                        }
                    }
                }
                (None, Some(kp)) => {
                    // Producer: per block, [[half]] under our key to the host.
                    // Consumer: Σ [[u]]·x per column and the loss's Σ [[u]]·c (host key),
                    // and the plaintext Σ half·x.
                    phases.lap("compute");
                    let host = run.roles.hosts[0];
                    let mut acc: Option<Vec<Ciphertext>> = None;
                    let mut plain_grad = vec![0.0; k];
                    pipeline(
                        &activity,
                        blocks.len(),
                        |j| {
                            let p = &mut producer_phases;
                            // Since the previous block: waiting for the consumer.
                            p.lap("ahead");
                            let btag = run.tag(&[epoch, bi, j]);
                            let blk = plan.block(&blocks.get(j), &mut sums)?;
                            p.lap("compute");
                            let half_enc = encrypt_fixed(&kp.private, &blk.half, f)?;
                            p.lap("encrypt");
                            fed.remote_bytes(
                                "fore_gradient",
                                &btag,
                                &encode_ciphers(&half_enc),
                                &[host],
                            )?;
                            p.lap("send");
                            Ok(blk)
                        },
                        |j, blk| {
                            let rows = blocks.get(j);
                            let btag = run.tag(&[epoch, bi, j]);
                            let u = activity
                                .wait(|| get_ciphers(run, "host_forward", &btag, host, &pk))?;
                            let started = Instant::now();
                            check_block(&u, rows.len(), host)?;
                            for (p, h) in blk.half.iter().enumerate() {
                                let x = blk.x.x(p);
                                for (c, g) in plain_grad.iter_mut().enumerate() {
                                    *g += h * if c < data.k { x[c] } else { 1.0 };
                                }
                            }
                            // Encrypted (host key): Σ u·x per column, and Σ u·c.
                            let mut cols =
                                scalar_columns(data, &rows, &blk.x, f, param.fit_intercept)?;
                            cols.push(blk.coef);
                            let g = pk.raw_dot_columns(&u, &cols)?;
                            add_into(&pk, &mut acc, g)?;
                            phases.add("gradient", started.elapsed());
                            Ok(())
                        },
                    )?;
                    phases.lap("blocks (wall)");
                    let plain_loss =
                        sums.plain_loss(run.task, bl) + penalty_value(param, &features);
                    let divisor = sums.divisor(run.task, bl);
                    let host_loss =
                        activity.wait(|| get_ciphers(run, "host_loss", &tag, host, &pk))?;
                    phases.lap("wait for host");
                    let mut enc = acc.unwrap_or_default();
                    // The last column's Σ u·c becomes the loss part Y.
                    if let Some(cross) = enc.last_mut() {
                        *cross = loss_cipher(&pk, &host_loss, cross, divisor)?;
                    }
                    let opened =
                        activity.wait(|| masked_open(run, &tag, &pk, &kp.private, &enc, host))?;
                    phases.lap("open");
                    let g: Vec<f64> = (0..k)
                        .map(|j| {
                            let reg = if j < data.k && param.penalty == Penalty::L2 {
                                param.alpha * w[j]
                            } else {
                                0.0
                            };
                            (opened[j] + plain_grad[j]) / bl as f64 + reg
                        })
                        .collect();
                    losses.push(plain_loss + opened[k] / divisor);
                    let step = Step {
                        delta: optimizer.delta(&g),
                        shrink: if param.penalty == Penalty::L1 {
                            param.alpha * optimizer.current_lr()
                        } else {
                            0.0
                        },
                    };
                    for (m, d) in moved.iter_mut().zip(&step.delta) {
                        *m += d;
                    }
                    apply_step(&mut w, &step, data.k);
                }
                (None, None) => unreachable!("a guest without an arbiter owns a key"),
            }
            phases.merge(producer_phases);
        }

        // Validation, then the epoch's verdict.
        let epoch_tag = run.tag(&[epoch]);
        let mut verdict = EpochVerdict::default();
        if let Some(v) = validator
            .as_mut()
            .filter(|_| param.callbacks.validates_at(epoch))
        {
            let eval = v(run.ctx, &run.tag(&[epoch, usize::MAX]), epoch, &w)?;
            if let Some(rounds) = param.callbacks.early_stopping() {
                let watched: &[(&str, f64)] = match param.callbacks.use_first_metric_only {
                    true => &eval[..eval.len().min(1)],
                    false => &eval,
                };
                if watched.is_empty() {
                    return Err(Error::param(
                        "early_stopping_rounds",
                        "no single-value metric could be computed for early stopping",
                    ));
                }
                verdict = recorder.update(watched, rounds);
                best.update(&verdict, epoch, &w);
                if verdict.stop {
                    let (name, value, _) = recorder.metrics[verdict.chosen.unwrap_or(0)];
                    run.ctx.tracker.info(&format!(
                        "early stopping at epoch {epoch}: {name} has not improved for {rounds} validation(s) (best {value:.6})"
                    ));
                }
            }
        }
        let mut others = run.roles.hosts.clone();
        others.extend(run.roles.arbiter);
        fed.remote("verdict", &epoch_tag, &verdict, &others)?;
        let conv = match run.roles.arbiter {
            Some(arbiter) => {
                activity.wait(|| fed.get::<Convergence>("converged", &epoch_tag, arbiter))?
            }
            None => {
                let loss =
                    (!losses.is_empty()).then(|| losses.iter().sum::<f64>() / losses.len() as f64);
                let host_moved: f64 =
                    activity.wait(|| fed.get("weight_diff", &epoch_tag, run.roles.hosts[0]))?;
                let norm = (moved.iter().map(|m| m * m).sum::<f64>() + host_moved).sqrt();
                let by_loss = converged(param, loss, result.loss_history.last().copied(), norm);
                let c = Convergence {
                    converged: verdict.stop || by_loss,
                    loss,
                    by_loss,
                };
                fed.remote("converged", &epoch_tag, &c, &run.roles.hosts)?;
                c
            }
        };
        if let Some(loss) = conv.loss {
            run.record_loss(&mut result.loss_history, epoch, loss)?;
            run.ctx.tracker.info(&format!(
                "epoch {epoch}: loss {loss:.6} ({})",
                phases.take(&activity)
            ));
        } else {
            run.ctx
                .tracker
                .info(&format!("epoch {epoch} done ({})", phases.take(&activity)));
        }
        run.progress(epoch);
        result.iters = epoch + 1;
        if conv.converged {
            result.converged = conv.by_loss;
            break;
        }
    }
    best.restore(param, &mut result, w);
    Ok(result)
}

/// `Y = [[Σh²]] ⊕ [[Σ u·c]] ⊕ divisor ⊗ [[reg_h]]` at scale `2^(2F)`.
fn loss_cipher(
    pk: &PublicKey,
    host_parts: &[Ciphertext],
    cross: &Ciphertext,
    divisor: f64,
) -> Result<Ciphertext> {
    let [hh, reg] = host_parts else {
        return Err(Error::param(
            "host_loss",
            format!(
                "expected 2 loss parts from the host, got {}",
                host_parts.len()
            ),
        ));
    };
    let reg = pk.raw_mul(reg, &Integer::from(divisor as i64))?;
    Ok(pk.raw_add(&pk.raw_add(hh, cross), &reg))
}

fn check_step(step: &Step, k: usize, from: Party) -> Result<()> {
    if step.delta.len() != k || step.delta.iter().any(|d| !d.is_finite()) {
        return Err(Error::param(
            "delta",
            format!(
                "{from} sent a step of {} values for {k} weights (or a non-finite one)",
                step.delta.len()
            ),
        ));
    }
    Ok(())
}

pub(super) fn converged(
    param: &LinearParam,
    loss: Option<f64>,
    previous: Option<f64>,
    weight_norm: f64,
) -> bool {
    match (param.early_stop, loss) {
        (EarlyStop::Diff, Some(l)) => previous.is_some_and(|p| (l - p).abs() < param.tol),
        (EarlyStop::Abs, Some(l)) => l <= param.tol,
        // Without a loss (several hosts) only the weights can tell.
        _ => weight_norm < param.tol,
    }
}

/// Arbiter-less: masks `enc` (under `their_key`), has `peer` decrypt it while we decrypt
/// theirs, and returns our values at scale `2^(2F)` unscaled to floats.
fn masked_open(
    run: &Run<'_>,
    tag: &str,
    their_key: &PublicKey,
    own: &PrivateKey,
    enc: &[Ciphertext],
    peer: Party,
) -> Result<Vec<f64>> {
    let fed = run.fed()?;
    let f2 = 2 * run.f();
    let mask_bits = f2 + MASK_BITS;
    let masks: Vec<Integer> = enc
        .iter()
        .map(|_| fateflow_crypto::random_integer(mask_bits))
        .collect();
    let masked: Vec<Ciphertext> = enc
        .iter()
        .zip(&masks)
        .map(|(c, r)| their_key.raw_add_plain(c, r))
        .collect();
    fed.remote_bytes("masked", tag, &encode_ciphers(&masked), &[peer])?;
    // Decrypt what the peer masked under our key.
    let theirs = get_ciphers(run, "masked", tag, peer, own.public_key())?;
    let opened: Vec<String> = own
        .decrypt_raw_batch(&theirs)
        .iter()
        .map(|m| m.to_string_radix(16))
        .collect();
    fed.remote("opened", tag, &opened, &[peer])?;
    let back: Vec<String> = fed.get("opened", tag, peer)?;
    if back.len() != masks.len() {
        return Err(Error::param(
            "opened",
            format!("{peer} returned {} values for {}", back.len(), masks.len()),
        ));
    }
    let n = their_key.n();
    back.iter()
        .zip(&masks)
        .map(|(s, r)| {
            let v = Integer::from_str_radix(s, 16).map_err(|e| {
                Error::Federation(fateflow_federation::Error::Decode {
                    name: "opened".into(),
                    from: peer,
                    detail: e.to_string(),
                })
            })?;
            Ok(decode_signed(n, &(v - r), f2))
        })
        .collect()
}

/// A host's side of training.
pub(crate) fn fit_host(run: &Run<'_>, data: &Dataset) -> Result<FitResult> {
    if run.param.sshe.is_some() {
        return super::sshe::fit_host(run, data);
    }
    let param = run.param;
    let fed = run.fed()?;
    let guest = run.roles.guest;
    let init_tag = run.tag(&[]);
    let layout: Layout = fed.get("layout", &init_tag, guest)?;
    let aligned = layout.matches(data)?;
    fed.remote("aligned", &init_tag, &aligned, &[guest])?;
    run.ctx.tracker.info(&if aligned {
        "the guest's and this host's tables are aligned: batch rows go by position".to_string()
    } else {
        format!(
            "the guest's table ({} rows) and this host's ({} rows) are not aligned: batch \
             rows go by sample id (run Intersection first to avoid it)",
            layout.rows,
            data.n()
        )
    });
    let announced: BatchRows = fed.get("batches", &init_tag, guest)?;
    let rows_per_block: usize = fed.get("block_rows", &init_tag, guest)?;
    let scaled: bool = fed.get("scaled_residual", &init_tag, guest)?;
    let grad_bits = run.grad_bits(scaled);
    if rows_per_block == 0 {
        return Err(Error::param(
            "block_rows",
            format!("{guest} sent blocks of 0 rows"),
        ));
    }
    let mut index = None;
    let fixed = host_batches(data, &mut index, announced)?;
    // An empty list: the guest sends the batches every epoch.
    let per_epoch = fixed.is_empty();
    let (pk, own): (PublicKey, Option<Keypair>) = match run.roles.arbiter {
        Some(arbiter) => (fed.get("pubkey", &init_tag, arbiter)?, None),
        None => {
            let kp = Keypair::generate(param.key_length)?;
            fed.remote("pubkey", &init_tag, &kp.public, &[guest])?;
            (fed.get("pubkey", &init_tag, guest)?, Some(kp))
        }
    };
    // The host encrypts under the arbiter's key, or under its own without an arbiter.
    let enc_key: PublicKey = match &own {
        Some(kp) => kp.public.clone(),
        None => pk.clone(),
    };
    // One encryption per row and epoch.
    let rows: usize = if per_epoch {
        data.n()
    } else {
        fixed.iter().map(Batch::len).sum()
    };
    enc_key.prepare_obfuscators(rows.saturating_mul(param.max_iter));
    let f = run.f();
    let k = data.k;
    let (start, mut w) = run.start(k)?;
    let mut optimizer = Optimizer::new(
        param.optimizer,
        param.learning_rate,
        param.decay,
        param.decay_sqrt,
    );
    let mut result = FitResult {
        iters: start,
        ..FitResult::default()
    };
    let mut best = BestModels::default();
    let mut phases = Phases::new();
    let activity = Activity::new();
    let mut sqn = sqn_state(run)?;
    for epoch in start..param.max_iter {
        optimizer.set_iters(epoch);
        let mut moved = vec![0.0; k];
        let drawn;
        let batches = if per_epoch {
            let rows: BatchRows =
                activity.wait(|| fed.get("batches", &run.tag(&[epoch]), guest))?;
            drawn = host_batches(data, &mut index, rows)?;
            &drawn
        } else {
            &fixed
        };
        for (bi, batch) in batches.iter().enumerate() {
            let tag = run.tag(&[epoch, bi]);
            let bl = batch.len();
            let blocks = Blocks::new(batch, rows_per_block);
            let encryptor: &dyn Encryptor = match &own {
                Some(kp) => &kp.private,
                None => &enc_key,
            };
            phases.lap("compute");
            // Producer: per block, [[u]] (`u = ¼·x_h·w_h` for LR, `x_h·w_h` for LinR) to
            // the guest. Consumer: the guest's [[d]] (or [[half]]) of the block, times x.
            let mut producer_phases = Phases::new();
            let mut hh = 0.0;
            let mut acc: Option<Vec<Ciphertext>> = None;
            // Without an arbiter: the plaintext Σ u·x per feature.
            let mut plain = vec![0.0; k];
            let arbiterless = own.is_some();
            pipeline(
                &activity,
                blocks.len(),
                |j| {
                    let p = &mut producer_phases;
                    // Since the previous block: waiting for the consumer.
                    p.lap("ahead");
                    let btag = run.tag(&[epoch, bi, j]);
                    let x = data.block(&blocks.get(j))?;
                    let h = linear(&x, &w, false);
                    if run.task != Task::Poisson {
                        for v in &h {
                            hh += v * v;
                        }
                    }
                    let u: Vec<f64> = match run.task {
                        Task::Logistic => h.iter().map(|v| 0.25 * v).collect(),
                        Task::Linear => h.clone(),
                        Task::Poisson => h.iter().map(|v| v.exp()).collect(),
                    };
                    if let Some(i) = u.iter().position(|v| !v.is_finite()) {
                        return Err(Error::InvalidValue {
                            table: data.table.clone(),
                            sid: data.sid(blocks.get(j)[i]),
                            column: "(this host's part of wx)".into(),
                            reason: format!("exp({}) is not a finite number; the weights diverged (lower learning_rate)", h[i]),
                        });
                    }
                    p.lap("compute");
                    let u_enc = encrypt_fixed(encryptor, &u, f)?;
                    p.lap("encrypt");
                    fed.remote_bytes("host_forward", &btag, &encode_ciphers(&u_enc), &[guest])?;
                    if run.task == Task::Poisson && run.loss_on() {
                        let wx = encrypt_fixed(encryptor, &h, f)?;
                        fed.remote_bytes("host_wx", &btag, &encode_ciphers(&wx), &[guest])?;
                    }
                    p.lap("send");
                    Ok((u, x))
                },
                |j, (u, x)| {
                    let rows = blocks.get(j);
                    let btag = run.tag(&[epoch, bi, j]);
                    let d =
                        activity.wait(|| get_ciphers(run, "fore_gradient", &btag, guest, &pk))?;
                    let started = Instant::now();
                    check_block(&d, rows.len(), guest)?;
                    if arbiterless {
                        for (p, u) in u.iter().enumerate() {
                            for (g, x) in plain.iter_mut().zip(x.x(p)) {
                                *g += u * x;
                            }
                        }
                    }
                    let cols = scalar_columns(data, &rows, &x, f, false)?;
                    let g = pk.raw_dot_columns(&d, &cols)?;
                    add_into(&pk, &mut acc, g)?;
                    phases.add("gradient", started.elapsed());
                    Ok(())
                },
            )?;
            phases.lap("blocks (wall)");
            phases.merge(producer_phases);
            if run.loss_on() {
                let parts = encrypt_fixed(encryptor, &[hh, penalty_value(param, &w)], 2 * f)?;
                fed.remote_bytes("host_loss", &tag, &encode_ciphers(&parts), &[guest])?;
            }
            let step = match (run.roles.arbiter, &own) {
                (Some(arbiter), _) => {
                    let mut grads = acc.unwrap_or_default();
                    add_l2(&pk, param, &mut grads, &w, bl, grad_bits)?;
                    fed.remote_bytes("host_gradient", &tag, &encode_ciphers(&grads), &[arbiter])?;
                    phases.lap("gradient");
                    let step: Step = activity.wait(|| fed.get("host_delta", &tag, arbiter))?;
                    phases.lap("wait for arbiter");
                    check_step(&step, k, arbiter)?;
                    step
                }
                (None, Some(kp)) => {
                    let enc = acc.unwrap_or_default();
                    let opened =
                        activity.wait(|| masked_open(run, &tag, &pk, &kp.private, &enc, guest))?;
                    phases.lap("open");
                    let g: Vec<f64> = (0..k)
                        .map(|j| {
                            let reg = if param.penalty == Penalty::L2 {
                                param.alpha * w[j]
                            } else {
                                0.0
                            };
                            (opened[j] + plain[j]) / bl as f64 + reg
                        })
                        .collect();
                    Step {
                        delta: optimizer.delta(&g),
                        shrink: if param.penalty == Penalty::L1 {
                            param.alpha * optimizer.current_lr()
                        } else {
                            0.0
                        },
                    }
                }
                (None, None) => unreachable!("a host without an arbiter owns a key"),
            };
            for (m, d) in moved.iter_mut().zip(&step.delta) {
                *m += d;
            }
            let before = sqn.as_ref().map(|_| w.clone());
            apply_step(&mut w, &step, k);
            if let (Some(window), Some(before), Some(arbiter)) =
                (sqn.as_mut(), before, run.roles.arbiter)
            {
                if let Some(s) = window.push(&before, epoch * batches.len() + bi + 1) {
                    sqn_host(run, data, batch, &s, &pk, &tag, arbiter)?;
                }
            }
        }
        let epoch_tag = run.tag(&[epoch]);
        if param.callbacks.validates_at(epoch) {
            serve_validation(run, data, &w, epoch)?;
        }
        let verdict: EpochVerdict = activity.wait(|| fed.get("verdict", &epoch_tag, guest))?;
        best.update(&verdict, epoch, &w);
        if run.roles.arbiter.is_none() {
            fed.remote(
                "weight_diff",
                &epoch_tag,
                &moved.iter().map(|m| m * m).sum::<f64>(),
                &[guest],
            )?;
        }
        let from = run.roles.arbiter.unwrap_or(guest);
        let conv: Convergence = activity.wait(|| fed.get("converged", &epoch_tag, from))?;
        if let Some(loss) = conv.loss {
            result.loss_history.push(loss);
        }
        run.progress(epoch);
        run.ctx
            .tracker
            .info(&format!("epoch {epoch} done ({})", phases.take(&activity)));
        result.iters = epoch + 1;
        if conv.converged {
            result.converged = conv.by_loss;
            break;
        }
    }
    best.restore(param, &mut result, w);
    Ok(result)
}

/// Hosts answer the guest's validation requests of `epoch`: `x·w` for the asked rows of
/// the training data, then of the validation data (FATE predicts both each round).
pub(super) fn serve_validation(
    run: &Run<'_>,
    train: &Dataset,
    w: &[f64],
    epoch: usize,
) -> Result<()> {
    let tag = run.tag(&[epoch, usize::MAX]);
    let w = super::predict::HostWeights::Plain(w.to_vec());
    super::predict::host_scores(run.ctx, train, &w, &format!("{tag}.train"))?;
    if let Some(validate) = run.validate_host {
        super::predict::host_scores(run.ctx, validate, &w, &format!("{tag}.validate"))?;
    }
    Ok(())
}

/// The arbiter's side of training.
pub(crate) fn fit_arbiter(run: &Run<'_>) -> Result<FitResult> {
    let param = run.param;
    let fed = run.fed()?;
    let guest = run.roles.guest;
    let init_tag = run.tag(&[]);
    let kp = Keypair::generate(param.key_length)?;
    let mut to_all = vec![guest];
    to_all.extend(run.roles.hosts.iter().copied());
    fed.remote("pubkey", &init_tag, &kp.public, &to_all)?;
    let sizes: Vec<usize> = fed.get("batch_sizes", &init_tag, guest)?;
    let scaled: bool = fed.get("scaled_residual", &init_tag, guest)?;
    let f2 = 2 * run.f();
    let grad_bits = run.grad_bits(scaled);
    let n = kp.public.n().clone();
    let new_opt = || {
        Optimizer::new(
            param.optimizer,
            param.learning_rate,
            param.decay,
            param.decay_sqrt,
        )
    };
    let mut guest_opt = new_opt();
    let mut sqn = sqn_state(run)?.map(|window| ArbiterSqn {
        window,
        hessian: SqnHessian::new(param.sqn.memory),
        weights: None,
    });
    let mut host_opts: Vec<Optimizer> = run.roles.hosts.iter().map(|_| new_opt()).collect();
    let start = run.warm.map_or(0, |w| w.start);
    let mut result = FitResult {
        iters: start,
        ..FitResult::default()
    };
    let mut best = BestModels::default();
    for epoch in start..param.max_iter {
        guest_opt.set_iters(epoch);
        for o in &mut host_opts {
            o.set_iters(epoch);
        }
        let mut losses = Vec::new();
        let mut moved_sq = 0.0;
        for (bi, &bl) in sizes.iter().enumerate() {
            let tag = run.tag(&[epoch, bi]);
            let shrink = |o: &Optimizer| {
                if param.penalty == Penalty::L1 {
                    param.alpha * o.current_lr()
                } else {
                    0.0
                }
            };
            let decode = |cts: &[Ciphertext]| -> Vec<f64> {
                kp.private
                    .decrypt_raw_batch(cts)
                    .iter()
                    .map(|m| decode_signed(&n, m, grad_bits) / bl as f64)
                    .collect()
            };
            let guest_g = decode(&get_ciphers(
                run,
                "guest_gradient",
                &tag,
                guest,
                &kp.public,
            )?);
            let mut pending_s = None;
            if let Some(q) = sqn.as_mut() {
                // FATE's sqn: one step for the joint gradient [hosts..., guest].
                let mut parts: Vec<Vec<f64>> = Vec::with_capacity(run.roles.hosts.len() + 1);
                for host in &run.roles.hosts {
                    parts.push(decode(&get_ciphers(
                        run,
                        "host_gradient",
                        &tag,
                        *host,
                        &kp.public,
                    )?));
                }
                parts.push(guest_g);
                let joint: Vec<f64> = parts.iter().flatten().copied().collect();
                let lr = guest_opt.current_lr();
                let delta = q.hessian.step(lr, &joint);
                moved_sq += delta.iter().map(|d| d * d).sum::<f64>();
                let shrink = if param.penalty == Penalty::L1 {
                    param.alpha * lr
                } else {
                    0.0
                };
                let mut at = 0;
                let mut targets: Vec<(&str, Party)> =
                    run.roles.hosts.iter().map(|h| ("host_delta", *h)).collect();
                targets.push(("guest_delta", guest));
                for ((name, party), part) in targets.into_iter().zip(&parts) {
                    let step = Step {
                        delta: delta[at..at + part.len()].to_vec(),
                        shrink,
                    };
                    at += part.len();
                    fed.remote(name, &tag, &step, &[party])?;
                }
                // FATE's arbiter tracks the weights from the steps alone, the first step
                // taken as the weights (`model_weight = delta`, then `-= delta`).
                match &mut q.weights {
                    None => q.weights = Some(delta),
                    Some(w) => {
                        for (a, d) in w.iter_mut().zip(&delta) {
                            *a -= d;
                        }
                    }
                }
                let w = q.weights.clone().unwrap_or_default();
                pending_s = q.window.push(&w, epoch * sizes.len() + bi + 1);
            } else {
                let step = Step {
                    delta: guest_opt.delta(&guest_g),
                    shrink: shrink(&guest_opt),
                };
                moved_sq += step.delta.iter().map(|d| d * d).sum::<f64>();
                fed.remote("guest_delta", &tag, &step, &[guest])?;
                for (host, opt) in run.roles.hosts.iter().zip(host_opts.iter_mut()) {
                    let g = decode(&get_ciphers(run, "host_gradient", &tag, *host, &kp.public)?);
                    let step = Step {
                        delta: opt.delta(&g),
                        shrink: shrink(opt),
                    };
                    moved_sq += step.delta.iter().map(|d| d * d).sum::<f64>();
                    fed.remote("host_delta", &tag, &step, &[*host])?;
                }
            }
            if run.loss_on() {
                let msg: LossMessage = fed.get("loss", &tag, guest)?;
                let c = Integer::from_str_radix(&msg.cipher, 16).map_err(|e| {
                    Error::Federation(fateflow_federation::Error::Decode {
                        name: "loss".into(),
                        from: guest,
                        detail: e.to_string(),
                    })
                })?;
                let c = Ciphertext::from_integer(c);
                kp.public.check_ciphertext(&c)?;
                let y = decode_signed(&n, &kp.private.decrypt_raw(&c), f2);
                losses.push(msg.plain + y / msg.divisor);
            }
            if let (Some(s), Some(q)) = (pending_s, sqn.as_mut()) {
                let y = sqn_arbiter_y(run, &tag, &kp, f2)?;
                if y.len() != s.len() {
                    return Err(Error::param(
                        "sqn_hess",
                        format!(
                            "the parties sent {} Hessian-vector values for {} weights",
                            y.len(),
                            s.len()
                        ),
                    ));
                }
                q.hessian.update(y, s);
            }
        }
        let epoch_tag = run.tag(&[epoch]);
        let verdict: EpochVerdict = fed.get("verdict", &epoch_tag, guest)?;
        let loss = (!losses.is_empty()).then(|| losses.iter().sum::<f64>() / losses.len() as f64);
        let by_loss = converged(
            param,
            loss,
            result.loss_history.last().copied(),
            moved_sq.sqrt(),
        );
        let done = verdict.stop || by_loss;
        fed.remote(
            "converged",
            &epoch_tag,
            &Convergence {
                converged: done,
                loss,
                by_loss,
            },
            &to_all,
        )?;
        if let Some(loss) = loss {
            run.record_loss(&mut result.loss_history, epoch, loss)?;
        }
        run.progress(epoch);
        result.iters = epoch + 1;
        best.update(&verdict, epoch, &[]);
        if done {
            result.converged = by_loss;
            break;
        }
    }
    best.restore(param, &mut result, Vec::new());
    Ok(result)
}

/// The arbiter's quasi-Newton state.
struct ArbiterSqn {
    window: SqnWindow,
    hessian: SqnHessian,
    /// The weights as FATE's arbiter tracks them from the steps.
    weights: Option<Vec<f64>>,
}

/// With `optimizer: sqn`, a party's window of averaged weights. FATE runs it with an
/// arbiter only: without one it is refused.
fn sqn_state(run: &Run<'_>) -> Result<Option<SqnWindow>> {
    if run.param.optimizer != OptimizerKind::Sqn {
        return Ok(None);
    }
    if run.roles.arbiter.is_none() {
        return Err(Error::Unsupported {
            parameter: "optimizer".into(),
            value: "sqn".into(),
            supported: "sqn in a job with an arbiter (its Hessian is kept there)".into(),
        });
    }
    Ok(Some(SqnWindow::new(run.param.sqn.interval)))
}

/// `c` of the Hessian-vector product `c·Σ (x·s)·x / m` (LR's Taylor loss: ¼).
fn sqn_scale(task: Task) -> f64 {
    match task {
        Task::Logistic => 0.25,
        Task::Linear | Task::Poisson => 1.0,
    }
}

/// Adds `m·α·s_j / c` (L2's share of the Hessian-vector product, before the arbiter
/// multiplies by `c / m`) to each encrypted sum, the intercept included as FATE does.
fn add_sqn_reg(
    run: &Run<'_>,
    pk: &PublicKey,
    hess: &mut [Ciphertext],
    s: &[f64],
    m: usize,
) -> Result<()> {
    let param = run.param;
    if param.penalty != Penalty::L2 {
        return Ok(());
    }
    let c = sqn_scale(run.task);
    for (h, sj) in hess.iter_mut().zip(s) {
        let reg = fixed(m as f64 * param.alpha * sj / c, 2 * run.f())?;
        *h = pk.raw_add_plain(h, &reg);
    }
    Ok(())
}

/// The guest's Hessian update (FATE's `HeteroStochasticQuansiNewtonGuest._update_hessian`):
/// samples up to `sample_size` rows of the batch, adds the hosts' `[[x_h·s_h]]` to its
/// `x_g·s_g + b_s`, sends the sums to the hosts, and sends the arbiter
/// `[[Σ F·x]] + reg` for its features and intercept.
#[allow(clippy::too_many_arguments)]
fn sqn_guest(
    run: &Run<'_>,
    data: &Dataset,
    batch: &Batch,
    s: &[f64],
    pk: &PublicKey,
    tag: &str,
    arbiter: Party,
    rng: &mut SplitMix,
) -> Result<()> {
    let fed = run.fed()?;
    let (param, f) = (run.param, run.f());
    let mut sample: Vec<usize> = (0..batch.len()).collect();
    if param.sqn.sample_size < batch.len() {
        for i in 0..param.sqn.sample_size {
            let j = i + rng.below(batch.len() - i);
            sample.swap(i, j);
        }
        sample.truncate(param.sqn.sample_size);
        sample.sort_unstable();
    }
    fed.remote("sqn_sample", tag, &sample, &run.roles.hosts)?;
    let rows: Vec<usize> = sample.iter().filter_map(|&p| batch.get(p)).collect();
    let x = data.block(&rows)?;
    let a = linear(&x, s, param.fit_intercept);
    let mut acc: Option<Vec<Ciphertext>> = None;
    for host in &run.roles.hosts {
        let h = get_ciphers(run, "sqn_host_forward", tag, *host, pk)?;
        if h.len() != rows.len() {
            return Err(Error::param(
                "sqn_host_forward",
                format!(
                    "{host} sent {} values for {} sampled rows",
                    h.len(),
                    rows.len()
                ),
            ));
        }
        add_into(pk, &mut acc, h)?;
    }
    let a_fixed: Vec<Integer> = a.iter().map(|v| fixed(*v, f)).collect::<Result<_>>()?;
    let sums: Vec<Ciphertext> = acc
        .unwrap_or_default()
        .iter()
        .zip(&a_fixed)
        .map(|(c, v)| pk.raw_add_plain(c, v))
        .collect();
    let forward = pk.rerandomize_raw_batch(&sums);
    fed.remote_bytes(
        "sqn_forward_hess",
        tag,
        &encode_ciphers(&forward),
        &run.roles.hosts,
    )?;
    let cols = scalar_columns(data, &rows, &x, f, param.fit_intercept)?;
    let mut hess = pk.raw_dot_columns(&forward, &cols)?;
    add_sqn_reg(run, pk, &mut hess, s, rows.len())?;
    fed.remote("sqn_size", tag, &rows.len(), &[arbiter])?;
    fed.remote_bytes("sqn_hess", tag, &encode_ciphers(&hess), &[arbiter])?;
    Ok(())
}

/// A host's Hessian update (FATE's `HeteroStochasticQuansiNewtonHost._update_hessian`).
fn sqn_host(
    run: &Run<'_>,
    data: &Dataset,
    batch: &Batch,
    s: &[f64],
    pk: &PublicKey,
    tag: &str,
    arbiter: Party,
) -> Result<()> {
    let fed = run.fed()?;
    let guest = run.roles.guest;
    let f = run.f();
    let sample: Vec<usize> = fed.get("sqn_sample", tag, guest)?;
    let rows: Vec<usize> = sample
        .iter()
        .map(|&p| {
            batch.get(p).ok_or_else(|| {
                Error::param(
                    "sqn_sample",
                    format!("{guest} sampled row {p} of a batch of {}", batch.len()),
                )
            })
        })
        .collect::<Result<_>>()?;
    let x = data.block(&rows)?;
    let hx = linear(&x, s, false);
    let enc = encrypt_fixed(pk, &hx, f)?;
    fed.remote_bytes("sqn_host_forward", tag, &encode_ciphers(&enc), &[guest])?;
    let forward = get_ciphers(run, "sqn_forward_hess", tag, guest, pk)?;
    if forward.len() != rows.len() {
        return Err(Error::param(
            "sqn_forward_hess",
            format!(
                "{guest} sent {} values for {} sampled rows",
                forward.len(),
                rows.len()
            ),
        ));
    }
    let cols = scalar_columns(data, &rows, &x, f, false)?;
    let mut hess = pk.raw_dot_columns(&forward, &cols)?;
    add_sqn_reg(run, pk, &mut hess, s, rows.len())?;
    fed.remote_bytes("sqn_hess", tag, &encode_ciphers(&hess), &[arbiter])?;
    Ok(())
}

/// The arbiter's `y` of a Hessian update: the parties' Hessian-vector products,
/// decrypted, in FATE's order (hosts, then the guest).
fn sqn_arbiter_y(run: &Run<'_>, tag: &str, kp: &Keypair, f2: u32) -> Result<Vec<f64>> {
    let fed = run.fed()?;
    let guest = run.roles.guest;
    let m: usize = fed.get("sqn_size", tag, guest)?;
    if m == 0 {
        return Err(Error::param("sqn_size", format!("{guest} sampled no rows")));
    }
    let scale = sqn_scale(run.task) / m as f64;
    let n = kp.public.n().clone();
    let mut y = Vec::new();
    let mut from: Vec<Party> = run.roles.hosts.clone();
    from.push(guest);
    for party in from {
        let cts = get_ciphers(run, "sqn_hess", tag, party, &kp.public)?;
        y.extend(
            kp.private
                .decrypt_raw_batch(&cts)
                .iter()
                .map(|v| decode_signed(&n, v, f2) * scale),
        );
    }
    Ok(y)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn param(v: serde_json::Value) -> LinearParam {
        LinearParam::parse(Task::Logistic, v.as_object().unwrap()).unwrap()
    }

    #[test]
    fn random_batches_are_a_new_draw_every_epoch() {
        let p = param(
            serde_json::json!({"batch_size": 320, "batch_strategy": "random",
            "init_param": {"random_seed": 7}}),
        );
        let mut b = Batches::new(&p, 569);
        assert_eq!(b.sizes(), [320]);
        let rows_of = |e: &[Batch]| -> Vec<Vec<usize>> {
            e.iter().map(|b| b.to_rows().into_owned()).collect()
        };
        let epochs: Vec<Vec<Vec<usize>>> = (0..3).map(|_| rows_of(&b.next_epoch())).collect();
        for e in &epochs {
            assert_eq!(e.len(), 1);
            let mut rows = e[0].clone();
            rows.dedup();
            assert_eq!(rows.len(), 320, "distinct rows");
            assert!(rows.iter().all(|&r| r < 569));
        }
        assert_ne!(epochs[0], epochs[1]);
        assert_ne!(epochs[1], epochs[2]);
        // Seeded: the same draws again.
        let mut again = Batches::new(&p, 569);
        assert_eq!(rows_of(&again.next_epoch()), epochs[0]);
        // A batch as large as the data is the full batch, as in FATE.
        let p = param(serde_json::json!({"batch_size": 569, "batch_strategy": "random"}));
        let mut b = Batches::new(&p, 569);
        assert_eq!(rows_of(&b.next_epoch()), vec![(0..569).collect::<Vec<_>>()]);
        // `full` with `shuffle` (FATE's default): a new order every epoch, every row once.
        let p = param(serde_json::json!({"batch_size": 200}));
        let mut b = Batches::new(&p, 569);
        assert_eq!(b.sizes(), [200, 200, 169]);
        let (e0, e1) = (rows_of(&b.next_epoch()), rows_of(&b.next_epoch()));
        assert_ne!(e0, e1);
        for e in [&e0, &e1] {
            assert_eq!(e.iter().map(Vec::len).collect::<Vec<_>>(), [200, 200, 169]);
            let mut all: Vec<usize> = e.iter().flatten().copied().collect();
            all.sort_unstable();
            assert_eq!(all, (0..569).collect::<Vec<_>>());
        }
        // Without `shuffle`: the same batches in id order every epoch.
        let p = param(serde_json::json!({"batch_size": 200, "shuffle": false}));
        let mut b = Batches::new(&p, 569);
        let e = rows_of(&b.next_epoch());
        assert_eq!(rows_of(&b.next_epoch()), e);
        assert_eq!(e[0], (0..200).collect::<Vec<_>>());
        assert_eq!(b.next_epoch()[2], Batch::Span(400, 569));
    }
}
