//! Both roles' runs: training (with validation, early stopping and warm start),
//! cross-validation and predict mode.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Instant;

use fateflow_component_core::rng::SplitMix;
use fateflow_crypto::paillier::Keypair;
use fateflow_domain::{Party, Role};
use fateflow_federation::FederationExt;
use serde_json::{json, Value};

use super::data::{Binned, Dataset, Missing};
use super::guest::{GuestSide, TreePlan};
use super::host::HostSide;
use super::messages::{HostImportance, HostInfo, RoundEnd, Setup, Stop};
use super::model::{FeatureImportance, SbtModelMeta, SbtModelParam, TreeParam};
use super::objective::Loss;
use fateflow_component_core::callbacks::{FoldHistory, TaskKind};

use super::param::{SbtParam, Strategy, TaskType};
use super::predict::{guest_eini, guest_leaves, host_answer, host_eini};
use super::tree::{Gh, Owner, SplitRule, Tree};
use crate::context::{ComponentModel, Metric, ModelInput, TaskContext};
use crate::error::{Error, Result};
use crate::evaluation::metrics;
use crate::predict_output::{self, class_key, DataType, PredictRow};
use crate::table_io::{match_rows, read_input};

pub(crate) const MODULE: &str = "HeteroSecureBoost";

/// The job's guest and hosts.
struct Roles {
    guest: Party,
    hosts: Vec<Party>,
}

pub(crate) fn run(ctx: &TaskContext<'_>) -> Result<()> {
    let param = SbtParam::parse(&ctx.parameters)?;
    let guest = *ctx
        .parties_of(Role::Guest)
        .first()
        .ok_or_else(|| Error::MissingInput {
            component: MODULE.into(),
            what: "a guest party (it holds the labels)".into(),
        })?;
    let hosts = ctx.parties_of(Role::Host);
    if hosts.is_empty() {
        return Err(Error::MissingInput {
            component: MODULE.into(),
            what: "at least one host party".into(),
        });
    }
    if matches!(param.strategy, Strategy::Layered { .. }) && hosts.len() != 1 {
        return Err(Error::param(
            "boosting_strategy",
            format!(
                "layered trees take exactly one host; this job has {}",
                hosts.len()
            ),
        ));
    }
    let roles = Roles { guest, hosts };
    let model_in = ctx
        .inputs
        .model
        .iter()
        .chain(&ctx.inputs.isometric_model)
        .next();
    if let Some(m) = model_in {
        if crate::context::canonical_module(&m.model.module) != MODULE {
            return Err(Error::InvalidModel {
                component: m.component.clone(),
                alias: m.alias.clone(),
                module: m.model.module.clone(),
                reason: format!("{MODULE} reads only a {MODULE} model"),
            });
        }
    }
    let training = ctx.inputs.data.contains_key("train_data");
    match (model_in, training) {
        (Some(m), false) => predict_mode(ctx, &param, &roles, m),
        (warm, _) => {
            let missing = Missing {
                use_missing: param.use_missing,
                zero_as_missing: param.zero_as_missing,
            };
            let (id, frame) =
                read_input(ctx, MODULE, &["train_data", "data"])?.ok_or_else(|| {
                    Error::MissingInput {
                        component: MODULE.into(),
                        what: "training data (input key `train_data`)".into(),
                    }
                })?;
            let train = Dataset::from_frame(&id.to_string(), &frame, missing)?;
            if train.n() == 0 {
                return Err(Error::EmptyTable {
                    table: train.table.clone(),
                    component: MODULE.into(),
                });
            }
            let validate = match read_input(ctx, MODULE, &["validate_data"])? {
                Some((id, frame)) => Some(Dataset::from_frame(&id.to_string(), &frame, missing)?),
                None => None,
            };
            if let Some(cv) = &param.cv {
                if warm.is_some() {
                    return Err(Error::param(
                        "cv_param.need_cv",
                        "cross-validation does not continue an input model",
                    ));
                }
                return cross_validate(ctx, &param, &roles, &train, cv);
            }
            let warm = warm.map(|m| Warm::read(m, &roles)).transpose()?;
            match ctx.role {
                Role::Guest => {
                    let fitted =
                        guest_fit(ctx, &param, &roles, &train, validate.as_ref(), warm, "")?;
                    let mut rows =
                        fitted
                            .target
                            .rows(&train, &fitted.train_scores, DataType::Train);
                    if let (Some(v), Some(s)) = (&validate, &fitted.validate_scores) {
                        let seen: HashSet<&str> = train.sids.iter().map(String::as_str).collect();
                        rows.extend(
                            fitted
                                .target
                                .rows(v, s, DataType::Validate)
                                .into_iter()
                                .filter(|r| !seen.contains(r.sid.as_str())),
                        );
                    }
                    write_predictions(ctx, &train, &fitted.target.detail_keys(), rows)?;
                    save(ctx, &fitted.model, &fitted.meta)?;
                    ctx.tracker.set_summary(fitted.summary)?;
                }
                Role::Host => {
                    let fitted =
                        host_fit(ctx, &param, &roles, &train, validate.as_ref(), warm, "")?;
                    save(ctx, &fitted.model, &fitted.meta)?;
                    ctx.tracker.set_summary(json!({
                        "best_iteration": fitted.model.best_iteration,
                        "is_converged": fitted.converged,
                    }))?;
                }
                role => {
                    return Err(Error::param(
                        "role",
                        format!("{MODULE} runs at the guest and the hosts, not at the {role}"),
                    ))
                }
            }
            ctx.tracker.progress(100);
            Ok(())
        }
    }
}

fn save(ctx: &TaskContext<'_>, param: &SbtModelParam, meta: &SbtModelMeta) -> Result<()> {
    let alias = ctx.first_output_model_name("model").to_owned();
    ctx.tracker
        .save_model(&alias, &ComponentModel::from_parts(MODULE, param, meta))
}

/// What the guest knows about the label.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    pub(crate) loss: Loss,
    /// Classes in ascending order (classification); empty for regression.
    pub(crate) classes: Vec<f64>,
    /// Trees per round.
    pub(crate) tree_dim: usize,
    pub(crate) multi_output: bool,
    pub(crate) threshold: f64,
}

impl Target {
    /// From the training labels: classes must be integers (at most 1000 of them, at
    /// least two); regression labels any number (tweedie: non-negative).
    fn of(param: &SbtParam, data: &Dataset, known: Option<&[f64]>) -> Result<(Target, Vec<f64>)> {
        let y = data.y.as_ref().ok_or_else(|| Error::MissingColumn {
            table: data.table.clone(),
            column: "label".into(),
            why: format!(
                "the guest of {MODULE} needs the label; set `with_label: true` in DataTransform"
            ),
        })?;
        let label_name = data.label_name.clone().unwrap_or_else(|| "label".into());
        match param.task_type {
            TaskType::Classification => {
                if let Some(i) = y.iter().position(|v| v.fract() != 0.0) {
                    return Err(Error::InvalidValue {
                        table: data.table.clone(),
                        sid: data.sids[i].clone(),
                        column: label_name,
                        reason: format!(
                            "label {} is not a class (classification needs integer labels; \
                             for a numeric target set `task_type: regression`)",
                            y[i]
                        ),
                    });
                }
                let mut classes: Vec<f64> = y.clone();
                classes.sort_by(f64::total_cmp);
                classes.dedup();
                if let Some(known) = known {
                    if let Some(c) = classes.iter().find(|c| !known.contains(c)) {
                        return Err(Error::param(
                            "train_data",
                            format!("label {c} is not one of the input model's classes {known:?}"),
                        ));
                    }
                    classes = known.to_vec();
                }
                if classes.len() < 2 {
                    return Err(Error::InvalidValue {
                        table: data.table.clone(),
                        sid: data.sids[0].clone(),
                        column: label_name,
                        reason: "the label has a single class; classification needs two or more"
                            .into(),
                    });
                }
                if classes.len() > 1000 {
                    return Err(Error::param(
                        "task_type",
                        format!("{} label classes; FATE allows at most 1000", classes.len()),
                    ));
                }
                let mapped = y
                    .iter()
                    .map(|v| classes.iter().position(|c| c == v).unwrap_or(0) as f64)
                    .collect();
                let k = classes.len();
                let multi_output = param.multi_output && k > 2;
                Ok((
                    Target {
                        loss: Loss::of(param.objective, k),
                        tree_dim: if k > 2 && !multi_output { k } else { 1 },
                        classes,
                        multi_output,
                        threshold: param.threshold,
                    },
                    mapped,
                ))
            }
            TaskType::Regression => {
                let loss = Loss::of(param.objective, 0);
                if matches!(loss, Loss::Tweedie(_)) {
                    if let Some(i) = y.iter().position(|&v| v < 0.0) {
                        return Err(Error::InvalidValue {
                            table: data.table.clone(),
                            sid: data.sids[i].clone(),
                            column: label_name,
                            reason: "tweedie regression needs non-negative labels".into(),
                        });
                    }
                }
                Ok((
                    Target {
                        loss,
                        classes: Vec::new(),
                        tree_dim: 1,
                        multi_output: false,
                        threshold: param.threshold,
                    },
                    y.clone(),
                ))
            }
        }
    }

    /// From a trained model (predict jobs, online inference).
    pub(crate) fn of_model(
        param: &SbtModelParam,
        meta: &SbtModelMeta,
        threshold: f64,
    ) -> std::result::Result<Target, String> {
        let classes: Vec<f64> = param
            .classes_
            .iter()
            .filter_map(|c| c.parse().ok())
            .collect();
        let objective = meta.objective_meta["objective"]
            .as_str()
            .unwrap_or("cross_entropy");
        let p0 = meta.objective_meta["param"][0].as_f64();
        let loss = match objective {
            "cross_entropy" if classes.len() > 2 => Loss::Softmax {
                classes: classes.len(),
            },
            "cross_entropy" => Loss::Sigmoid,
            "lse" => Loss::Lse,
            "lae" => Loss::Lae,
            "huber" => Loss::Huber(p0.unwrap_or(1.0)),
            "fair" => Loss::Fair(p0.unwrap_or(1.0)),
            "log_cosh" => Loss::LogCosh,
            "tweedie" => Loss::Tweedie(p0.unwrap_or(1.5)),
            other => return Err(format!("unknown objective {other:?}")),
        };
        if matches!(loss, Loss::Sigmoid | Loss::Softmax { .. }) && classes.len() < 2 {
            return Err(format!(
                "classes_ {:?}: fewer than two classes",
                param.classes_
            ));
        }
        if param.init_score.len() != loss.dim() {
            return Err(format!(
                "init_score has {} values for {} dimensions",
                param.init_score.len(),
                loss.dim()
            ));
        }
        Ok(Target {
            loss,
            classes,
            tree_dim: param.tree_dim.max(1),
            multi_output: param.multi_output,
            threshold,
        })
    }

    fn detail_keys(&self) -> Vec<String> {
        match self.loss {
            Loss::Sigmoid | Loss::Softmax { .. } => {
                self.classes.iter().map(|&c| class_key(c)).collect()
            }
            _ => vec![predict_output::REGRESSION_DETAIL_KEY.into()],
        }
    }

    /// The output of every row of `data` from its raw scores (row-major, `loss.dim()`
    /// per row).
    fn rows(&self, data: &Dataset, scores: &[f64], data_type: DataType) -> Vec<PredictRow> {
        let dim = self.loss.dim();
        let y = data.y.as_deref().unwrap_or(&[]);
        (0..data.n())
            .map(|i| {
                self.row(
                    &data.sids[i],
                    y.get(i).copied().unwrap_or(f64::NAN),
                    &scores[i * dim..(i + 1) * dim],
                    data_type,
                )
            })
            .collect()
    }

    /// One row's output from its raw scores.
    pub(crate) fn row(
        &self,
        sid: &str,
        label: f64,
        score: &[f64],
        data_type: DataType,
    ) -> PredictRow {
        let mut p = vec![0.0; score.len()];
        self.loss.predict(score, &mut p);
        match self.loss {
            Loss::Sigmoid => PredictRow {
                sid: sid.into(),
                label,
                predict_result: if p[0] > self.threshold {
                    self.classes[1]
                } else {
                    self.classes[0]
                },
                predict_score: p[0],
                data_type,
                detail: vec![1.0 - p[0], p[0]],
            },
            Loss::Softmax { .. } => {
                let mut best = 0;
                for (i, v) in p.iter().enumerate() {
                    if *v > p[best] {
                        best = i;
                    }
                }
                PredictRow {
                    sid: sid.into(),
                    label,
                    predict_result: self.classes[best],
                    predict_score: p[best],
                    data_type,
                    detail: p,
                }
            }
            _ => predict_output::regression_row(sid, label, p[0], data_type),
        }
    }
}

/// A warm start's input model.
struct Warm {
    param: SbtModelParam,
    learning_rate: f64,
    trees: Vec<Tree>,
}

impl Warm {
    fn read(m: &ModelInput, roles: &Roles) -> Result<Warm> {
        let invalid = |reason: String| Error::InvalidModel {
            component: m.component.clone(),
            alias: m.alias.clone(),
            module: m.model.module.clone(),
            reason,
        };
        let (param, meta): (SbtModelParam, SbtModelMeta) =
            m.model.parts().map_err(|e| invalid(e.to_string()))?;
        let host_ids: Vec<u64> = roles.hosts.iter().map(|p| p.party_id).collect();
        let trees = param
            .trees_
            .iter()
            .map(|t| t.to_tree(&host_ids))
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(invalid)?;
        Ok(Warm {
            param,
            learning_rate: meta.learning_rate,
            trees,
        })
    }
}

/// The guest's fitted model and scores.
pub(crate) struct GuestFitted {
    pub(crate) target: Target,
    pub(crate) model: SbtModelParam,
    pub(crate) meta: SbtModelMeta,
    /// Raw scores, row-major (`loss.dim()` per row).
    pub(crate) train_scores: Vec<f64>,
    pub(crate) validate_scores: Option<Vec<f64>>,
    pub(crate) summary: Value,
}

/// Which parties' features round `round` may use.
fn plan_for(param: &SbtParam, round: usize, hosts: usize) -> (TreePlan, String) {
    let guest_only = TreePlan {
        guest: (0, usize::MAX),
        hosts: vec![(0, 0); hosts],
    };
    match param.strategy {
        Strategy::Std if round < param.complete_secure => (guest_only, "0_-1".into()),
        Strategy::Std => (TreePlan::everyone(hosts), "2_-1".into()),
        Strategy::Mix { tree_num_per_party } => {
            let turn = (round / tree_num_per_party.max(1)) % (hosts + 1);
            if turn == 0 {
                (guest_only, "0_-1".into())
            } else {
                let mut hs = vec![(0, 0); hosts];
                hs[turn - 1] = (0, usize::MAX);
                (
                    TreePlan {
                        guest: (0, 0),
                        hosts: hs,
                    },
                    format!("1_{}", turn - 1),
                )
            }
        }
        Strategy::Layered { .. } if round < param.complete_secure => (guest_only, "0_-1".into()),
        Strategy::Layered { host_depth, .. } => (
            TreePlan {
                guest: (host_depth, usize::MAX),
                hosts: vec![(0, host_depth); hosts],
            },
            "3_-1".into(),
        ),
    }
}

/// The features a tree may use: all, or `max(1, ⌊rate·k⌋)` drawn per tree and party
/// from `random_seed`.
pub(crate) fn sample_features(
    seed: u64,
    tree: usize,
    party: usize,
    k: usize,
    rate: f64,
) -> Vec<bool> {
    if rate >= 1.0 || k == 0 {
        return vec![true; k];
    }
    let m = ((rate * k as f64) as usize).max(1);
    let mut rng = SplitMix(seed ^ ((party as u64) << 48) ^ (tree as u64).wrapping_mul(0x9E37));
    let mut order: Vec<usize> = (0..k).collect();
    rng.shuffle(&mut order);
    let mut out = vec![false; k];
    for &f in &order[..m] {
        out[f] = true;
    }
    out
}

/// FATE's GOSS for one round: the rows with the largest `Σ|g|`, plus a random share of
/// the rest whose g and h are scaled by `(1 − top) / other`.
fn goss(
    g: &mut [f64],
    h: &mut [f64],
    dim: usize,
    n: usize,
    top: f64,
    other: f64,
    rng: &mut SplitMix,
) -> Result<Vec<u32>> {
    let a = (n as f64 * top) as usize;
    let b = (n as f64 * other) as usize;
    if a == 0 || b == 0 {
        return Err(Error::param(
            "top_rate",
            format!("GOSS keeps {a} top and {b} other rows of {n}; both must be at least one"),
        ));
    }
    let mut order: Vec<usize> = (0..n).collect();
    let key = |i: usize| -> f64 { g[i * dim..(i + 1) * dim].iter().map(|v| v.abs()).sum() };
    let keys: Vec<f64> = (0..n).map(key).collect();
    order.sort_by(|&x, &y| keys[y].total_cmp(&keys[x]));
    let mut rest = order[a..].to_vec();
    rng.shuffle(&mut rest);
    let factor = (1.0 - top) / other;
    let mut active: Vec<u32> = order[..a].iter().map(|&i| i as u32).collect();
    for &i in &rest[..b.min(rest.len())] {
        for d in 0..dim {
            g[i * dim + d] *= factor;
            h[i * dim + d] *= factor;
        }
        active.push(i as u32);
    }
    active.sort_unstable();
    Ok(active)
}

fn sitename(p: Party) -> String {
    format!("{}:{}", p.role, p.party_id)
}

fn rule(param: &SbtParam) -> SplitRule {
    SplitRule {
        l1: param.tree.l1,
        l2: param.tree.l2,
        min_leaf_node: param.tree.min_leaf_node as u64,
        min_child_weight: param.tree.min_child_weight,
        min_impurity_split: param.tree.min_impurity_split,
        use_missing: param.use_missing,
    }
}

fn meta(param: &SbtParam, rounds: usize) -> SbtModelMeta {
    let (objective, oparams) = match param.objective {
        super::param::Objective::CrossEntropy => ("cross_entropy", vec![]),
        super::param::Objective::Lse => ("lse", vec![]),
        super::param::Objective::Lae => ("lae", vec![]),
        super::param::Objective::Huber(d) => ("huber", vec![d]),
        super::param::Objective::Fair(c) => ("fair", vec![c]),
        super::param::Objective::LogCosh => ("log_cosh", vec![]),
        super::param::Objective::Tweedie(r) => ("tweedie", vec![r]),
    };
    let strategy = match param.strategy {
        Strategy::Std => "std",
        Strategy::Mix { .. } => "mix",
        Strategy::Layered { .. } => "layered",
    };
    SbtModelMeta {
        tree_meta: json!({
            "criterion_meta": {"criterion_method": "xgboost", "criterion_param": [param.tree.l2, param.tree.l1]},
            "max_depth": param.tree.max_depth,
            "min_sample_split": param.tree.min_sample_split,
            "min_impurity_split": param.tree.min_impurity_split,
            "min_leaf_node": param.tree.min_leaf_node,
            "use_missing": param.use_missing,
            "zero_as_missing": param.zero_as_missing,
        }),
        learning_rate: param.learning_rate,
        num_trees: rounds,
        quantile_meta: json!({"quantile_method": "", "bin_num": param.bin_num}),
        objective_meta: json!({"objective": objective, "param": oparams}),
        task_type: match param.task_type {
            TaskType::Classification => "classification".into(),
            TaskType::Regression => "regression".into(),
        },
        n_iter_no_change: param.n_iter_no_change,
        tol: param.tol,
        use_missing: param.use_missing,
        zero_as_missing: param.zero_as_missing,
        boosting_strategy: strategy.into(),
        module: MODULE.into(),
    }
}

fn model_name(param: &SbtParam) -> &'static str {
    match param.strategy {
        Strategy::Std => "hetero_sbt",
        Strategy::Mix { .. } => "hetero_fast_sbt_mix",
        Strategy::Layered { .. } => "hetero_fast_sbt_layered",
    }
}

/// Validation metric values, FATE's names; `None` where a metric is undefined.
fn metric_value(target: &Target, metric: &str, rows: &[PredictRow]) -> Option<f64> {
    let labels: Vec<f64> = rows.iter().map(|r| r.label).collect();
    match target.loss {
        Loss::Sigmoid => {
            let pos = target.classes[1];
            let l: Vec<bool> = labels.iter().map(|&v| v == pos).collect();
            let s: Vec<f64> = rows.iter().map(|r| r.predict_score).collect();
            metrics::binary_by_name(metric, &l, &s)
        }
        Loss::Softmax { .. } => {
            let p: Vec<f64> = rows.iter().map(|r| r.predict_result).collect();
            match metric {
                "accuracy" => Some(metrics::multi_class(&labels, &p).accuracy),
                _ => None,
            }
        }
        _ => {
            let p: Vec<f64> = rows.iter().map(|r| r.predict_result).collect();
            metrics::regression_by_name(metric, &labels, &p)
        }
    }
}

/// Whether larger is better for `metric` (FATE's performance recorder).
fn larger_is_better(metric: &str) -> bool {
    !matches!(
        metric,
        "root_mean_squared_error"
            | "mean_absolute_error"
            | "mean_squared_error"
            | "median_absolute_error"
    )
}

/// Early stopping's copy of the best round: the round, train and validation scores,
/// and the number of trees.
type Snapshot = (usize, Vec<f64>, Option<Vec<f64>>, usize);

/// The guest's training run. `prefix` separates the messages of cross-validation folds
/// (and names their metrics `fold_<k>.`).
fn guest_fit(
    ctx: &TaskContext<'_>,
    param: &SbtParam,
    roles: &Roles,
    train: &Dataset,
    validate: Option<&Dataset>,
    warm: Option<Warm>,
    prefix: &str,
) -> Result<GuestFitted> {
    let fed = ctx.federation()?;
    let started = Instant::now();
    let known: Option<Vec<f64>> = warm.as_ref().and_then(|w| {
        (!w.param.classes_.is_empty()).then(|| {
            w.param
                .classes_
                .iter()
                .filter_map(|c| c.parse().ok())
                .collect()
        })
    });
    let (target, y) = Target::of(param, train, known.as_deref())?;
    // Sample weights (FATE: g and h times the row's weight; the loss a weighted mean).
    if let Some(w) = &train.weight {
        if let Some(i) = w.iter().position(|&v| v < 0.0) {
            return Err(Error::InvalidValue {
                table: train.table.clone(),
                sid: train.sids[i].clone(),
                column: "sample weight".into(),
                reason: format!(
                    "weight {} is negative; gradient boosting needs non-negative hessians",
                    w[i]
                ),
            });
        }
        ctx.tracker
            .info("sample weights: gradients and hessians are weighted per row");
    }
    let loss = target.loss;
    let dim = loss.dim();
    let n = train.n();
    let lr = param.learning_rate;
    let init = match &warm {
        Some(w) if w.param.init_score.len() == dim => w.param.init_score.clone(),
        _ => loss.init_score(&y),
    };
    let binned = Binned::fit(train, param.bin_num, param.binning_error);
    let constant = binned.constant_features();
    if !constant.is_empty() {
        let names: Vec<&str> = constant.iter().map(|&f| train.header[f].as_str()).collect();
        ctx.tracker.info(&format!(
            "features with a single value cannot split and are never used: {}",
            names.join(", ")
        ));
    }
    let keys = Keypair::generate(param.key_length)?;
    let validate_sids = validate.map(|v| v.sids.clone());
    let start_round = warm
        .as_ref()
        .map_or(0, |w| w.trees.len() / target.tree_dim.max(1));
    let setup = Setup {
        public_key: keys.public.clone(),
        sids: train.sids.clone(),
        use_missing: param.use_missing,
        cipher_compress: param.cipher_compress,
        subsample_feature_rate: param.subsample_feature_rate,
        random_seed: param.random_seed,
        trees_per_round: target.tree_dim,
        validate_sids,
        start_round,
    };
    let stag = format!("{prefix}setup");
    fed.remote("sbt_setup", &stag, &setup, &roles.hosts)?;
    drop(setup);
    let mut host_features = Vec::with_capacity(roles.hosts.len());
    for &h in &roles.hosts {
        let info: HostInfo = fed.get("sbt_host_info", &stag, h)?;
        host_features.push(info.features);
    }
    ctx.tracker.info(&format!(
        "{MODULE} guest: {n} rows × {} features, hosts with {host_features:?} features; {} bins; key {} bits; {} round(s) of {} tree(s)",
        train.header.len(),
        param.bin_num,
        param.key_length,
        param.num_trees,
        target.tree_dim
    ));
    let side = GuestSide {
        fed,
        hosts: roles.hosts.clone(),
        host_sitenames: roles.hosts.iter().map(|&p| sitename(p)).collect(),
        sitename: sitename(ctx.parties_of(Role::Guest)[0]),
        keys: &keys,
        cipher_compress: param.cipher_compress,
        rule: rule(param),
        max_depth: param.tree.max_depth,
        min_sample_split: param.tree.min_sample_split,
        prefix: prefix.into(),
    };
    let mut trees: Vec<Tree> = Vec::new();
    let mut tree_plan: Vec<String> = Vec::new();
    let mut losses: Vec<f64> = Vec::new();
    let mut leaf_counts: Vec<BTreeMap<String, u64>> = Vec::new();
    let mut scores: Vec<f64> = (0..n).flat_map(|_| init.iter().copied()).collect();
    let mut vscores: Option<Vec<f64>> =
        validate.map(|v| (0..v.n()).flat_map(|_| init.iter().copied()).collect());
    let mut applied_to_validate = 0usize;
    let warm_importances = warm.as_ref().map(|w| w.param.feature_importances.clone());
    if let Some(w) = warm {
        // The input model's trees score the training data again.
        let leaves = guest_leaves(
            fed,
            &roles.hosts,
            &format!("{prefix}warm"),
            &w.trees,
            0,
            train,
        )?;
        add_leaves(&mut scores, &leaves, &w.trees, &target, w.learning_rate, 0);
        trees = w.trees;
        tree_plan = w.param.tree_plan.clone();
        losses = w.param.losses.clone();
        leaf_counts = w
            .param
            .trees_
            .iter()
            .map(|t| t.leaf_count.clone())
            .collect();
        log_metric(
            ctx,
            "train",
            "init_iter",
            vec![("init_iter".into(), start_round.into())],
            json!({"metric_type": "init_iter"}),
        )?;
    }
    // Split count and gain per guest feature: the input model's, then per new tree.
    let mut importance: BTreeMap<usize, (f64, f64)> = BTreeMap::new();
    let old_trees = trees.len();
    if let Some(w) = &warm_importances {
        for f in w.iter().filter(|f| f.sitename.starts_with("guest")) {
            if let Some(fid) = train.header.iter().position(|h| *h == f.fullname) {
                let e = importance.entry(fid).or_default();
                e.0 += f.importance;
                e.1 += f.importance2;
            }
        }
    }
    let mut tree_splits: Vec<Vec<(usize, f64)>> = Vec::new();
    let mut rng = SplitMix(param.random_seed);
    let mut validation: BTreeMap<&'static str, Vec<(String, Vec<f64>)>> = BTreeMap::new();
    let kind = match target.loss {
        Loss::Sigmoid => TaskKind::Binary,
        Loss::Softmax { .. } => TaskKind::MultiClass,
        _ => TaskKind::Regression,
    };
    let metric_names: Vec<&'static str> = if param.validation.strategy {
        param.validation.metrics_for(kind)?
    } else {
        Vec::new()
    };
    let mut best: Vec<(f64, usize, usize)> = Vec::new(); // per metric: best value, its round, rounds without improvement
    let mut snapshot: Option<Snapshot> = None;
    let mut best_iteration: i64 = -1;
    let mut converged = false;
    let total_rounds = param.num_trees;
    let mut g = vec![0.0; n * dim];
    let mut h = vec![0.0; n * dim];
    let mut rounds_run = 0;
    for round in start_round..start_round + total_rounds {
        for i in 0..n {
            loss.grad_hess(
                y[i],
                &scores[i * dim..(i + 1) * dim],
                &mut g[i * dim..(i + 1) * dim],
                &mut h[i * dim..(i + 1) * dim],
            );
        }
        if let Some(w) = &train.weight {
            for (i, &wi) in w.iter().enumerate() {
                for v in &mut g[i * dim..(i + 1) * dim] {
                    *v *= wi;
                }
                for v in &mut h[i * dim..(i + 1) * dim] {
                    *v *= wi;
                }
            }
        }
        let active: Vec<u32> = match param.goss {
            Some((top, other)) => goss(&mut g, &mut h, dim, n, top, other, &mut rng)?,
            None => (0..n as u32).collect(),
        };
        let (plan, plan_code) = plan_for(param, round, roles.hosts.len());
        for k in 0..target.tree_dim {
            let t = trees.len();
            let tree_started = Instant::now();
            let gh = if target.multi_output || target.tree_dim == 1 {
                Gh::quantize(dim, &g, &h, active.clone())?
            } else {
                let gk: Vec<f64> = (0..n).map(|i| g[i * dim + k]).collect();
                let hk: Vec<f64> = (0..n).map(|i| h[i * dim + k]).collect();
                Gh::quantize(1, &gk, &hk, active.clone())?
            };
            let valid = sample_features(
                param.random_seed,
                t,
                0,
                binned.k(),
                param.subsample_feature_rate,
            );
            let grown = side.grow(t, &binned, &valid, &gh, &plan)?;
            let leaf_of_row = grown.leaf_of_row;
            let mut counts: BTreeMap<String, u64> = BTreeMap::new();
            for (i, &leaf) in leaf_of_row.iter().enumerate() {
                let w = &grown.tree.nodes[leaf as usize].weight;
                if target.multi_output {
                    for d in 0..dim {
                        scores[i * dim + d] += lr * w[d];
                    }
                } else {
                    scores[i * dim + k] += lr * w[0];
                }
                *counts.entry(leaf.to_string()).or_default() += 1;
            }
            tree_splits.push(grown.guest_splits);
            let tm = grown.timing;
            let leaves = grown.tree.leaves().len();
            ctx.tracker.info(&format!(
                "tree {t} (round {round}, class {k}): {} nodes, {leaves} leaves in {:.3} s (encrypt {:.3} s, own histograms and splits {:.3} s, waiting for hosts {:.3} s, decrypt {:.3} s)",
                grown.tree.nodes.len(),
                tree_started.elapsed().as_secs_f64(),
                tm.encrypt.as_secs_f64(),
                tm.own.as_secs_f64(),
                tm.wait_hosts.as_secs_f64(),
                tm.decrypt.as_secs_f64(),
            ));
            trees.push(grown.tree);
            tree_plan.push(plan_code.clone());
            leaf_counts.push(counts);
            let done = (round - start_round) * target.tree_dim + k + 1;
            ctx.tracker
                .progress((done * 99 / (total_rounds * target.tree_dim).max(1)) as u8);
        }
        rounds_run += 1;
        let mut scratch = vec![0.0; dim];
        let row_loss =
            |i: usize, s: &mut Vec<f64>| loss.row_loss(y[i], &scores[i * dim..(i + 1) * dim], s);
        let loss_value = match &train.weight {
            None => (0..n).map(|i| row_loss(i, &mut scratch)).sum::<f64>() / n as f64,
            Some(w) => {
                (0..n)
                    .map(|i| w[i] * row_loss(i, &mut scratch))
                    .sum::<f64>()
                    / w.iter().sum::<f64>()
            }
        };
        let converge = param.n_iter_no_change
            && losses
                .last()
                .is_some_and(|&prev| (prev - loss_value).abs() < param.tol);
        losses.push(loss_value);
        log_metric(
            ctx,
            "train",
            &format!("{}loss", metric_prefix(prefix)),
            vec![(round.into(), loss_value.into())],
            json!({"metric_type": "LOSS", "unit_name": "iters", "curve_name": "loss"}),
        )?;
        // Validation.
        let validate_now = param.validation.validates_at(round);
        let rend = RoundEnd {
            validate: validate_now && validate.is_some(),
        };
        let rtag = format!("{prefix}round{round}");
        fed.remote("sbt_round", &rtag, &rend, &roles.hosts)?;
        let mut stop = converge;
        let mut keep_rounds = None;
        if validate_now {
            if let (Some(v), Some(vs)) = (validate, vscores.as_mut()) {
                let new = &trees[applied_to_validate..];
                let leaves = guest_leaves(
                    fed,
                    &roles.hosts,
                    &format!("{rtag}.v"),
                    new,
                    applied_to_validate,
                    v,
                )?;
                add_leaves(vs, &leaves, new, &target, lr, applied_to_validate);
                applied_to_validate = trees.len();
            }
            let name = format!("{}iteration_{round}", metric_prefix(prefix));
            let mut watched: Vec<(String, f64)> = Vec::new();
            let sets: Vec<(&'static str, Vec<PredictRow>)> = {
                let mut s = vec![("train", target.rows(train, &scores, DataType::Train))];
                if let (Some(v), Some(vs)) = (validate, vscores.as_ref()) {
                    s.push(("validate", target.rows(v, vs, DataType::Validate)));
                }
                s
            };
            for (ns, rows) in &sets {
                for &metric in &metric_names {
                    let Some(value) = metric_value(&target, metric, rows) else {
                        continue;
                    };
                    log_metric(
                        ctx,
                        ns,
                        &name,
                        vec![(metric.into(), ((value * 1e6).round() / 1e6).into())],
                        json!({"name": name, "metric_type": "EVALUATION_SUMMARY"}),
                    )?;
                    let per = validation.entry(ns).or_default();
                    match per.iter_mut().find(|(m, _)| m == metric) {
                        Some((_, v)) => v.push(value),
                        None => per.push((metric.to_string(), vec![value])),
                    }
                    if (*ns == "validate") == validate.is_some() {
                        watched.push((metric.to_string(), value));
                    }
                }
            }
            if let Some(rounds) = param.validation.early_stopping() {
                if param.validation.use_first_metric_only {
                    watched.truncate(1);
                }
                if best.is_empty() {
                    best = watched.iter().map(|(_, v)| (*v, round, 0)).collect();
                    snapshot = Some((round, scores.clone(), vscores.clone(), trees.len()));
                    best_iteration = round as i64;
                } else {
                    for (j, (m, v)) in watched.iter().enumerate() {
                        let Some(b) = best.get_mut(j) else { continue };
                        let improved = if larger_is_better(m) {
                            *v > b.0
                        } else {
                            *v < b.0
                        };
                        if improved {
                            *b = (*v, round, 0);
                            if j == 0 {
                                snapshot =
                                    Some((round, scores.clone(), vscores.clone(), trees.len()));
                                best_iteration = round as i64;
                            }
                        } else {
                            b.2 += 1;
                        }
                    }
                    if let Some(j) = best.iter().position(|b| b.2 >= rounds) {
                        stop = true;
                        best_iteration = best[j].1 as i64;
                        ctx.tracker.info(&format!(
                            "early stopping after round {round}: {} has not improved for {rounds} validation(s); keeping round {}",
                            watched[j].0, best[j].1
                        ));
                        keep_rounds = Some(best[j].1 + 1);
                    }
                }
            }
        }
        if converge {
            converged = true;
            ctx.tracker.info(&format!(
                "converged after round {round}: the loss changed by less than tol {}",
                param.tol
            ));
        }
        let last = round + 1 == start_round + total_rounds;
        fed.remote(
            "sbt_stop",
            &rtag,
            &Stop {
                stop: stop || last,
                keep_rounds,
                converged: converge,
            },
            &roles.hosts,
        )?;
        if let Some(keep) = keep_rounds {
            let (_, s, vs, len) =
                snapshot
                    .clone()
                    .filter(|s| s.0 + 1 == keep)
                    .unwrap_or_else(|| {
                        (
                            keep - 1,
                            scores.clone(),
                            vscores.clone(),
                            keep * target.tree_dim,
                        )
                    });
            scores = s;
            vscores = vs;
            trees.truncate(len);
            tree_plan.truncate(len);
            leaf_counts.truncate(len);
            tree_splits.truncate(len.saturating_sub(old_trees));
            losses.truncate(keep);
            applied_to_validate = applied_to_validate.min(len);
        }
        if stop {
            break;
        }
    }
    // Validation scores of trees never applied to the validation data.
    if let (Some(v), Some(vs)) = (validate, vscores.as_mut()) {
        if applied_to_validate < trees.len() {
            let new = &trees[applied_to_validate..];
            let tag = format!("{prefix}final.v");
            fed.remote(
                "sbt_round",
                &tag,
                &RoundEnd { validate: true },
                &roles.hosts,
            )?;
            let leaves = guest_leaves(fed, &roles.hosts, &tag, new, applied_to_validate, v)?;
            add_leaves(vs, &leaves, new, &target, lr, applied_to_validate);
        } else {
            fed.remote(
                "sbt_round",
                &format!("{prefix}final.v"),
                &RoundEnd { validate: false },
                &roles.hosts,
            )?;
        }
    }
    for (fid, gain) in tree_splits.iter().flatten() {
        let e = importance.entry(*fid).or_default();
        e.0 += 1.0;
        e.1 += gain;
    }
    // The hosts' split counts.
    let mut host_counts: Vec<(String, usize, Party)> = Vec::new();
    for &h in &roles.hosts {
        let imp: HostImportance = fed.get("sbt_importance", &format!("{prefix}end"), h)?;
        for (name, c) in imp.counts {
            host_counts.push((name, c, h));
        }
    }
    let mut feature_importances: Vec<FeatureImportance> = importance
        .iter()
        .map(|(&fid, &(count, gain))| FeatureImportance {
            sitename: side.sitename.clone(),
            fid: fid as i64,
            importance: count,
            fullname: train.header[fid].clone(),
            importance2: gain,
            main: "split".into(),
        })
        .chain(
            host_counts
                .iter()
                .filter(|c| c.1 > 0)
                .map(|(name, c, h)| FeatureImportance {
                    sitename: sitename(*h),
                    fid: 0,
                    importance: *c as f64,
                    fullname: name.clone(),
                    importance2: 0.0,
                    main: "split".into(),
                }),
        )
        .collect();
    feature_importances.sort_by(|a, b| b.importance.total_cmp(&a.importance));
    let summary_importance: serde_json::Map<String, Value> = feature_importances
        .iter()
        .map(|f| (f.fullname.clone(), json!(f.importance)))
        .collect();
    let validation_json = if validation.is_empty() {
        Value::Null
    } else {
        Value::Object(
            validation
                .into_iter()
                .map(|(ns, per)| {
                    (
                        ns.to_string(),
                        Value::Object(per.into_iter().map(|(m, v)| (m, json!(v))).collect()),
                    )
                })
                .collect(),
        )
    };
    let summary = json!({
        "loss_history": losses,
        "best_iteration": best_iteration,
        "feature_importance": summary_importance,
        "validation_metrics": validation_json,
        "is_converged": converged,
    });
    let own = |o: Owner| o == Owner::Guest;
    let model = SbtModelParam {
        tree_num: trees.len(),
        trees_: trees
            .iter()
            .zip(leaf_counts)
            .map(|(t, c)| TreeParam::of(t, own, c))
            .collect(),
        init_score: init,
        losses,
        tree_dim: target.tree_dim,
        num_classes: target.classes.len(),
        classes_: target.classes.iter().map(|&c| class_key(c)).collect(),
        feature_importances,
        feature_name_fid_mapping: train
            .header
            .iter()
            .enumerate()
            .map(|(i, h)| (i.to_string(), h.clone()))
            .collect(),
        best_iteration,
        tree_plan: if param.strategy == Strategy::Std && param.complete_secure == 0 {
            Vec::new()
        } else {
            tree_plan
        },
        model_name: model_name(param).into(),
        multi_output: target.multi_output,
    };
    ctx.tracker.info(&format!(
        "{MODULE} guest: {} tree(s) in {} round(s) ({rounds_run} this run), {:.2} s; final loss {}",
        trees.len(),
        trees.len() / target.tree_dim.max(1),
        started.elapsed().as_secs_f64(),
        model.losses.last().copied().unwrap_or(f64::NAN)
    ));
    Ok(GuestFitted {
        meta: meta(param, start_round + param.num_trees),
        target,
        model,
        train_scores: scores,
        validate_scores: vscores,
        summary,
    })
}

fn metric_prefix(prefix: &str) -> String {
    prefix
        .strip_prefix("cv")
        .and_then(|r| r.strip_suffix('.'))
        .map_or(String::new(), |fold| format!("fold_{fold}."))
}

fn log_metric(
    ctx: &TaskContext<'_>,
    namespace: &str,
    name: &str,
    data: Vec<(Value, Value)>,
    meta: Value,
) -> Result<()> {
    ctx.log_metric(Metric {
        namespace: namespace.into(),
        name: name.into(),
        data,
        meta,
    })
}

/// Adds `lr · w` of each row's leaf in `trees` (the trees `first..` of the model) to its
/// raw scores.
pub(crate) fn add_leaves(
    scores: &mut [f64],
    leaves: &[u32],
    trees: &[Tree],
    target: &Target,
    lr: f64,
    first: usize,
) {
    let dim = target.loss.dim();
    let t_n = trees.len();
    if t_n == 0 {
        return;
    }
    for (i, row) in leaves.chunks(t_n).enumerate() {
        for (j, &leaf) in row.iter().enumerate() {
            let w = &trees[j].nodes[leaf as usize].weight;
            if target.multi_output {
                for d in 0..dim.min(w.len()) {
                    scores[i * dim + d] += lr * w[d];
                }
            } else {
                let k = (first + j) % target.tree_dim.max(1);
                scores[i * dim + k] += lr * w.first().copied().unwrap_or(0.0);
            }
        }
    }
}

/// The host's fitted model.
struct HostFitted {
    model: SbtModelParam,
    meta: SbtModelMeta,
    converged: bool,
}

/// A host's training run.
fn host_fit(
    ctx: &TaskContext<'_>,
    param: &SbtParam,
    roles: &Roles,
    train: &Dataset,
    validate: Option<&Dataset>,
    warm: Option<Warm>,
    prefix: &str,
) -> Result<HostFitted> {
    let fed = ctx.federation()?;
    let me = ctx
        .parties_of(Role::Host)
        .iter()
        .position(|p| p.party_id == ctx.party_id)
        .unwrap_or(0);
    let stag = format!("{prefix}setup");
    let setup: Setup = fed.get("sbt_setup", &stag, roles.guest)?;
    let sids: Vec<&str> = train.sids.iter().map(String::as_str).collect();
    let order = match_rows(&train.table, &train.sid_name, &sids, &setup.sids)?;
    let train = train.reorder(&order);
    let binned = Binned::fit(&train, param.bin_num, param.binning_error);
    fed.remote(
        "sbt_host_info",
        &stag,
        &HostInfo {
            features: binned.k(),
        },
        &[roles.guest],
    )?;
    let vdata = match &setup.validate_sids {
        Some(vs) => {
            let source = validate.unwrap_or(&train);
            let sids: Vec<&str> = source.sids.iter().map(String::as_str).collect();
            Some(source.reorder(&rows_by_sid(source, &sids, vs)?))
        }
        None => None,
    };
    ctx.tracker.info(&format!(
        "{MODULE} host: {} rows × {} features; {} bins",
        train.n(),
        binned.k(),
        param.bin_num
    ));
    let side = HostSide {
        fed,
        guest: roles.guest,
        index: me,
        public_key: &setup.public_key,
        use_missing: setup.use_missing,
        cipher_compress: setup.cipher_compress,
        prefix: prefix.into(),
    };
    let mut trees: Vec<Tree> = Vec::new();
    if let Some(w) = warm {
        host_answer(
            fed,
            roles.guest,
            &format!("{prefix}warm"),
            me,
            &w.trees,
            &train,
        )?;
        trees = w.trees;
    }
    let mut round = setup.start_round;
    let mut converged = false;
    loop {
        for _ in 0..setup.trees_per_round {
            let t = trees.len();
            let valid = sample_features(
                setup.random_seed,
                t,
                me + 1,
                binned.k(),
                setup.subsample_feature_rate,
            );
            trees.push(side.grow(t, &binned, &valid)?);
        }
        let rtag = format!("{prefix}round{round}");
        let rend: RoundEnd = fed.get("sbt_round", &rtag, roles.guest)?;
        if rend.validate {
            let v = vdata.as_ref().ok_or_else(|| {
                super::guest::protocol(roles.guest, "validation asked for without validation rows")
            })?;
            host_answer(fed, roles.guest, &format!("{rtag}.v"), me, &trees, v)?;
        }
        let stop: Stop = fed.get("sbt_stop", &rtag, roles.guest)?;
        if let Some(keep) = stop.keep_rounds {
            trees.truncate(keep * setup.trees_per_round);
        }
        converged |= stop.converged;
        round += 1;
        if stop.stop {
            break;
        }
    }
    if setup.validate_sids.is_some() {
        let tag = format!("{prefix}final.v");
        let rend: RoundEnd = fed.get("sbt_round", &tag, roles.guest)?;
        if rend.validate {
            if let Some(v) = &vdata {
                host_answer(fed, roles.guest, &tag, me, &trees, v)?;
            }
        }
    }
    // Split counts of this host's features over the trees kept.
    let mut counts = vec![0usize; binned.k()];
    for t in &trees {
        for (n, o) in t.nodes.iter().zip(&t.owners) {
            if *o == Owner::Host(me) && !n.is_leaf && n.fid >= 0 {
                if let Some(c) = counts.get_mut(n.fid as usize) {
                    *c += 1;
                }
            }
        }
    }
    let anonymous = |f: usize| format!("host_{}_x{f}", ctx.party_id);
    fed.remote(
        "sbt_importance",
        &format!("{prefix}end"),
        &HostImportance {
            counts: counts
                .iter()
                .enumerate()
                .map(|(f, &c)| (anonymous(f), c))
                .collect(),
        },
        &[roles.guest],
    )?;
    let me_owner = Owner::Host(me);
    let mut feature_importances: Vec<FeatureImportance> = counts
        .iter()
        .enumerate()
        .filter(|(_, &c)| c > 0)
        .map(|(f, &c)| FeatureImportance {
            sitename: "hostLocal".into(),
            fid: f as i64,
            importance: c as f64,
            fullname: train.header[f].clone(),
            importance2: 0.0,
            main: "split".into(),
        })
        .collect();
    feature_importances.sort_by(|a, b| b.importance.total_cmp(&a.importance));
    let model = SbtModelParam {
        tree_num: trees.len(),
        trees_: trees
            .iter()
            .map(|t| TreeParam::of(t, |o| o == me_owner, BTreeMap::new()))
            .collect(),
        init_score: Vec::new(),
        losses: Vec::new(),
        tree_dim: setup.trees_per_round,
        num_classes: 0,
        classes_: Vec::new(),
        feature_importances,
        feature_name_fid_mapping: train
            .header
            .iter()
            .enumerate()
            .map(|(i, h)| (i.to_string(), h.clone()))
            .collect(),
        best_iteration: -1,
        tree_plan: Vec::new(),
        model_name: model_name(param).into(),
        multi_output: false,
    };
    Ok(HostFitted {
        meta: meta(param, round),
        model,
        converged,
    })
}

/// Rows of `data` in the order of `wanted` (every id must be there; extra rows are
/// left out).
fn rows_by_sid(data: &Dataset, sids: &[&str], wanted: &[String]) -> Result<Vec<usize>> {
    let index: HashMap<&str, usize> = sids.iter().enumerate().map(|(i, &s)| (s, i)).collect();
    wanted
        .iter()
        .map(|s| {
            index.get(s.as_str()).copied().ok_or_else(|| Error::InvalidValue {
                table: data.table.clone(),
                sid: s.clone(),
                column: data.sid_name.clone(),
                reason: "the guest has this sample but this host does not; run Intersection first so that both hold the same ids".into(),
            })
        })
        .collect()
}

fn write_predictions(
    ctx: &TaskContext<'_>,
    source: &Dataset,
    detail_keys: &[String],
    rows: Vec<PredictRow>,
) -> Result<()> {
    predict_output::write_rows(ctx, &source.sid_name, &source.table, detail_keys, rows)
}

/// Predict mode: score `test_data` with an input model.
fn predict_mode(
    ctx: &TaskContext<'_>,
    param: &SbtParam,
    roles: &Roles,
    m: &ModelInput,
) -> Result<()> {
    let fed = ctx.federation()?;
    let warm = Warm::read(m, roles)?;
    let invalid = |reason: String| Error::InvalidModel {
        component: m.component.clone(),
        alias: m.alias.clone(),
        module: m.model.module.clone(),
        reason,
    };
    let (_, meta): (SbtModelParam, SbtModelMeta) =
        m.model.parts().map_err(|e| invalid(e.to_string()))?;
    let header: Vec<String> = (0..warm.param.feature_name_fid_mapping.len())
        .map(|i| {
            warm.param
                .feature_name_fid_mapping
                .get(&i.to_string())
                .cloned()
                .ok_or_else(|| invalid(format!("feature_name_fid_mapping has no feature {i}")))
        })
        .collect::<Result<_>>()?;
    let missing = Missing {
        use_missing: true,
        zero_as_missing: meta.zero_as_missing,
    };
    let (id, frame) =
        read_input(ctx, MODULE, &["test_data", "data"])?.ok_or_else(|| Error::MissingInput {
            component: MODULE.into(),
            what: "data to predict (input key `test_data`)".into(),
        })?;
    let data = Dataset::from_frame(&id.to_string(), &frame, missing)?.select(&header)?;
    let tag = "predict";
    match ctx.role {
        Role::Guest => {
            fed.remote("sbt_predict_sids", tag, &data.sids, &roles.hosts)?;
            let target = Target::of_model(&warm.param, &meta, param.threshold).map_err(invalid)?;
            // FATE's EINI runs for std and layered models; mix predicts in one round.
            let eini = param.eini_inference && meta.boosting_strategy != "mix";
            fed.remote("sbt_predict_eini", tag, &eini, &roles.hosts)?;
            let scores = if eini {
                ctx.tracker.info(&format!(
                    "EINI prediction (random mask: {})",
                    param.eini_random_mask
                ));
                guest_eini(
                    fed,
                    &roles.hosts,
                    tag,
                    &warm.trees,
                    &data,
                    &warm.param.init_score,
                    meta.learning_rate,
                    target.multi_output,
                    param.key_length,
                    param.eini_random_mask,
                )?
            } else {
                let leaves = guest_leaves(fed, &roles.hosts, tag, &warm.trees, 0, &data)?;
                let mut scores: Vec<f64> = (0..data.n())
                    .flat_map(|_| warm.param.init_score.iter().copied())
                    .collect();
                add_leaves(
                    &mut scores,
                    &leaves,
                    &warm.trees,
                    &target,
                    meta.learning_rate,
                    0,
                );
                scores
            };
            let rows = target.rows(&data, &scores, DataType::Test);
            write_predictions(ctx, &data, &target.detail_keys(), rows)?;
        }
        _ => {
            let me = ctx
                .parties_of(Role::Host)
                .iter()
                .position(|p| p.party_id == ctx.party_id)
                .unwrap_or(0);
            let wanted: Vec<String> = fed.get("sbt_predict_sids", tag, roles.guest)?;
            let sids: Vec<&str> = data.sids.iter().map(String::as_str).collect();
            let aligned = data.reorder(&rows_by_sid(&data, &sids, &wanted)?);
            let eini: bool = fed.get("sbt_predict_eini", tag, roles.guest)?;
            if eini {
                host_eini(
                    fed,
                    roles.guest,
                    &roles.hosts,
                    me,
                    tag,
                    &warm.trees,
                    &aligned,
                    param.eini_random_mask,
                )?;
            } else {
                host_answer(fed, roles.guest, tag, me, &warm.trees, &aligned)?;
            }
        }
    }
    ctx.tracker.progress(100);
    Ok(())
}

/// k-fold cross-validation: per fold a model on the other folds, scored on this fold.
fn cross_validate(
    ctx: &TaskContext<'_>,
    param: &SbtParam,
    roles: &Roles,
    data: &Dataset,
    cv: &super::param::CvParam,
) -> Result<()> {
    if cv.history == FoldHistory::Instance {
        return Err(Error::Unsupported {
            parameter: "cv_param.history_value_type".into(),
            value: "instance".into(),
            supported: "score".into(),
        });
    }
    let fed = ctx.federation()?;
    let folds: Vec<Vec<String>> = if ctx.role == Role::Guest {
        let mut order: Vec<usize> = (0..data.n()).collect();
        if cv.shuffle {
            SplitMix(cv.random_seed).shuffle(&mut order);
        }
        let mut folds = vec![Vec::new(); cv.n_splits];
        for (pos, i) in order.into_iter().enumerate() {
            folds[pos % cv.n_splits].push(data.sids[i].clone());
        }
        fed.remote("cv_folds", "cv", &folds, &roles.hosts)?;
        folds
    } else {
        fed.get("cv_folds", "cv", roles.guest)?
    };
    let sids: Vec<&str> = data.sids.iter().map(String::as_str).collect();
    let mut all_rows: Vec<PredictRow> = Vec::new();
    let mut keys: Vec<String> = Vec::new();
    let mut per_fold: Vec<(String, f64)> = Vec::new();
    let mut fold_summaries = serde_json::Map::new();
    for (fold, test_sids) in folds.iter().enumerate() {
        let test: HashSet<&str> = test_sids.iter().map(String::as_str).collect();
        let train_rows: Vec<usize> = (0..data.n()).filter(|&i| !test.contains(sids[i])).collect();
        let test_rows = rows_by_sid(data, &sids, test_sids)?;
        let train = data.reorder(&train_rows);
        let testset = data.reorder(&test_rows);
        let prefix = format!("cv{fold}.");
        if ctx.role == Role::Guest {
            let fitted = guest_fit(ctx, param, roles, &train, Some(&testset), None, &prefix)?;
            let rows = fitted.target.rows(
                &testset,
                fitted.validate_scores.as_deref().unwrap_or(&[]),
                DataType::Validate,
            );
            let metric = match fitted.target.loss {
                Loss::Sigmoid => "auc",
                Loss::Softmax { .. } => "accuracy",
                _ => "root_mean_squared_error",
            };
            let value = metric_value(&fitted.target, metric, &rows).unwrap_or(f64::NAN);
            log_metric(
                ctx,
                "cv",
                metric,
                vec![(fold.into(), value.into())],
                json!({"metric_type": "CV_EVALUATE", "unit_name": "fold"}),
            )?;
            ctx.tracker
                .info(&format!("fold {fold}: {metric} {value:.6}"));
            per_fold.push((metric.into(), value));
            fold_summaries.insert(format!("fold_{fold}"), fitted.summary.clone());
            keys = fitted.target.detail_keys();
            all_rows.extend(rows);
        } else {
            host_fit(ctx, param, roles, &train, Some(&testset), None, &prefix)?;
        }
    }
    if ctx.role == Role::Guest {
        fold_summaries.insert("fold_num".into(), json!(folds.len()));
        let name = per_fold
            .first()
            .map_or("metric".to_string(), |p| p.0.clone());
        let values: Vec<f64> = per_fold.iter().map(|p| p.1).collect();
        let mean = values.iter().sum::<f64>() / values.len().max(1) as f64;
        fold_summaries.insert("cv".into(), json!({name: values, "mean": mean}));
        ctx.tracker.set_summary(Value::Object(fold_summaries))?;
        if cv.history == FoldHistory::Score {
            write_predictions(ctx, data, &keys, all_rows)?;
        }
    }
    ctx.tracker.progress(100);
    Ok(())
}
