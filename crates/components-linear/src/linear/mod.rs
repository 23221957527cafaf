//! `HeteroLR` and `HeteroLinR`: vertical logistic and linear regression on Paillier
//! encryption, with or without an arbiter (spec §6). See [`train`] for the protocol.
//!
//! # Inputs and outputs
//!
//! - Fit: `train_data` (or `data`) at guest and hosts, optional `validate_data` (scored
//!   into the output after the train rows; a validate row whose id is already a train
//!   row is dropped, as FATE's `union` keeps the first). The arbiter has no data.
//! - Predict: a model input from this module, and `test_data` (or `data`).
//! - Guest output data: one row per sample in the [`predict_output`](crate::predict_output)
//!   layout (`label`, `predict_result`, `predict_score`, `type`). Hosts and the arbiter
//!   output no data (as in FATE).
//! - Model at every party: `param` = `{iters, loss_history, is_converged, header,
//!   weight: {feature: w}, intercept, best_iteration, need_one_vs_rest}` (the guest's
//!   intercept; 0 at hosts), `meta` = the training settings.
//! - Metrics: `train/loss` per epoch (guest and arbiter), `cv/<metric>` per fold, and
//!   per validation round the single-value metrics of the train and validate data
//!   (namespace `train`/`validate`, name `iteration_<epoch>`, one point per metric).
//!
//! # Callbacks (FATE 1.11's `callback_param`)
//!
//! `EarlyStopping` or `PerformanceEvaluate` run FATE's validation strategy: after each
//! epoch `validation_freqs` names, the guest scores the train data and the validate data
//! with the hosts and records `metrics` (FATE's defaults: auc, ks or rmse, mae). With
//! `early_stopping_rounds`, FATE's performance recorder watches those of the validate
//! data (of the train data without validate rows), or only the first with
//! `use_first_metric_only`; training stops once a metric has not improved for that many
//! validations, and every party keeps the model of that metric's best epoch (without a
//! stop, of the first metric's), whose epoch becomes `iters` and `best_iteration`.
//! The deprecated top-level keys act as `callback_param` with `PerformanceEvaluate`.
//! `ModelCheckpoint` is accepted at FATE's default `save_freq` (1) and said so in the
//! task log: no per-epoch checkpoint is kept (deploying one is refused by the server),
//! the final model is FATE's; another `save_freq` is refused.
//!
//! `cv_param.need_cv`: k-fold cross-validation instead of one fit; the output holds each
//! sample's prediction from the fold that left it out (type `validate`), no model.

pub(crate) mod init;
pub(crate) mod optimizer;
pub(crate) mod param;
pub(crate) mod predict;
pub(crate) mod train;

use std::collections::BTreeMap;

use fateflow_domain::Role;
use fateflow_federation::FederationExt;
use fateflow_tables::Frame;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::context::{Component, ComponentModel, Metric, TaskContext};
use crate::error::{Error, Result};
use crate::evaluation::metrics;
use crate::predict_output::{self, DataType, PredictRow};
use crate::rng::SplitMix;
use crate::table_io::read_input;

use param::LinearParam;
pub use param::Task;
use predict::{guest_scores, host_scores, sigmoid};
use train::{fit_arbiter, fit_guest, fit_host, FitResult, Roles, Run};

/// FATE's `HeteroLR`.
#[derive(Debug, Clone, Copy, Default)]
pub struct HeteroLR;

/// FATE's `HeteroLinR`.
#[derive(Debug, Clone, Copy, Default)]
pub struct HeteroLinR;

impl Component for HeteroLR {
    fn run(&self, ctx: &TaskContext<'_>) -> Result<()> {
        run(ctx, Task::Logistic)
    }
}

impl Component for HeteroLinR {
    fn run(&self, ctx: &TaskContext<'_>) -> Result<()> {
        run(ctx, Task::Linear)
    }
}

/// A party's numeric data: rows of features and, at the guest, labels.
#[derive(Debug, Clone)]
pub(crate) struct Dataset {
    pub(crate) table: String,
    pub(crate) sid_name: String,
    pub(crate) sids: Vec<String>,
    pub(crate) header: Vec<String>,
    pub(crate) k: usize,
    values: Vec<f64>,
    pub(crate) y: Option<Vec<f64>>,
}

impl Dataset {
    /// Features are every column but the label; missing cells are refused.
    pub(crate) fn from_frame(table: &str, frame: &Frame) -> Result<Dataset> {
        let label = frame.label_name().and_then(|l| frame.column_index(l));
        let features: Vec<usize> = (0..frame.ncols()).filter(|c| Some(*c) != label).collect();
        let header: Vec<String> = features
            .iter()
            .map(|&c| frame.columns()[c].clone())
            .collect();
        let mut values = Vec::with_capacity(frame.nrows() * features.len());
        for (i, row) in frame.rows().enumerate() {
            for &c in &features {
                let v = row[c];
                if !v.is_finite() {
                    return Err(Error::InvalidValue {
                        table: table.into(),
                        sid: frame.sids()[i].clone(),
                        column: frame.columns()[c].clone(),
                        reason: "missing or non-finite value; fill it first (DataTransform missing_fill)".into(),
                    });
                }
                values.push(v);
            }
        }
        let y = label.map(|l| frame.column(l));
        Ok(Dataset {
            table: table.into(),
            sid_name: frame.sid_name().into(),
            sids: frame.sids().to_vec(),
            k: header.len(),
            header,
            values,
            y,
        })
    }

    pub(crate) fn n(&self) -> usize {
        self.sids.len()
    }

    pub(crate) fn x(&self, i: usize) -> &[f64] {
        &self.values[i * self.k..(i + 1) * self.k]
    }

    /// The same rows with the columns of `header`, in its order (predict mode).
    fn select(&self, header: &[String]) -> Result<Dataset> {
        let idx: Vec<usize> = header
            .iter()
            .map(|h| {
                self.header
                    .iter()
                    .position(|c| c == h)
                    .ok_or_else(|| Error::MissingColumn {
                        table: self.table.clone(),
                        column: h.clone(),
                        why: "the model was trained with it".into(),
                    })
            })
            .collect::<Result<_>>()?;
        let mut values = Vec::with_capacity(self.n() * idx.len());
        for i in 0..self.n() {
            let row = self.x(i);
            values.extend(idx.iter().map(|&c| row[c]));
        }
        Ok(Dataset {
            header: header.to_vec(),
            k: idx.len(),
            values,
            ..self.clone()
        })
    }

    /// The rows at `rows`, in that order.
    fn subset(&self, rows: &[usize]) -> Dataset {
        let mut values = Vec::with_capacity(rows.len() * self.k);
        for &i in rows {
            values.extend_from_slice(self.x(i));
        }
        Dataset {
            sids: rows.iter().map(|&i| self.sids[i].clone()).collect(),
            values,
            y: self
                .y
                .as_ref()
                .map(|y| rows.iter().map(|&i| y[i]).collect()),
            ..self.clone()
        }
    }
}

/// The fitted model, FATE's `LRModelParam` fields.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LinearModelParam {
    /// Epochs run.
    pub iters: usize,
    /// Loss per epoch (empty at hosts with several hosts).
    pub loss_history: Vec<f64>,
    /// Whether the stop criterion was met.
    pub is_converged: bool,
    /// Feature names, in weight order.
    pub header: Vec<String>,
    /// Weight per feature.
    pub weight: BTreeMap<String, f64>,
    /// The intercept (guest; 0 elsewhere).
    pub intercept: f64,
    /// The epoch of the best validation score, with early stopping.
    pub best_iteration: Option<usize>,
    /// Always false: multi-class one-vs-rest is not implemented.
    pub need_one_vs_rest: bool,
}

fn run(ctx: &TaskContext<'_>, task: Task) -> Result<()> {
    let param = LinearParam::parse(task, &ctx.parameters)?;
    let roles = Roles::of(ctx, task)?;
    if param.callbacks.checkpoint {
        ctx.tracker.info(
            "callback ModelCheckpoint: per-epoch checkpoints are not kept by this server \
             (deploying a checkpoint is refused); the final model is saved as usual",
        );
    }
    if let Some(model) = ctx.models_of(task.module()).next() {
        let p: LinearModelParam =
            serde_json::from_value(model.model.param.clone()).map_err(|e| Error::InvalidModel {
                component: model.component.clone(),
                alias: model.alias.clone(),
                module: model.model.module.clone(),
                reason: format!("not a {} model: {e}", task.module()),
            })?;
        return predict_mode(ctx, task, &param, &roles, &p, &model.model.meta);
    }
    if ctx.role == Role::Arbiter {
        return fit_arbiter_side(ctx, task, &param, &roles);
    }
    let (train_id, frame) =
        read_input(ctx, task.module(), &["train_data", "data"])?.ok_or_else(|| {
            Error::MissingInput {
                component: task.module().into(),
                what: "training data (input key `train_data`)".into(),
            }
        })?;
    let train = Dataset::from_frame(&train_id.to_string(), &frame)?;
    if train.n() == 0 {
        return Err(Error::EmptyTable {
            table: train.table.clone(),
            component: task.module().into(),
        });
    }
    if ctx.role == Role::Guest && task == Task::Logistic {
        refuse_multi_class(&train)?;
    }
    let validate = match read_input(ctx, task.module(), &["validate_data"])? {
        Some((id, frame)) => Some(Dataset::from_frame(&id.to_string(), &frame)?),
        None => None,
    };
    ctx.tracker.info(&format!(
        "{} at {}: {} rows × {} features; {} host(s), {}; key {} bits",
        task.module(),
        ctx.role,
        train.n(),
        train.k,
        roles.hosts.len(),
        if roles.arbiter.is_some() {
            "with arbiter"
        } else {
            "without arbiter"
        },
        param.key_length
    ));
    if let Some(cv) = param.cv {
        return cross_validate(ctx, task, &param, &roles, &train, cv);
    }
    if param.callbacks.early_stopping().is_some() && validate.is_none() {
        return Err(Error::MissingInput {
            component: task.module().into(),
            what:
                "validation data (input key `validate_data`): early stopping needs it, as in FATE \
                   (\"validate data is needed when early stopping is enabled\")"
                    .into(),
        });
    }
    let run = Run {
        ctx,
        task,
        param: &param,
        roles: &roles,
        run: "fit".into(),
        validate_host: validate.as_ref(),
    };
    match ctx.role {
        Role::Guest => {
            // FATE unions train and validate predictions keeping the first value of a
            // repeated id: validate rows already in the training data are dropped.
            let validate = validate.as_ref().map(|v| without_sids_of(v, &train));
            let mut summary = ValidationSummary::default();
            let mut validator = |ctx: &TaskContext<'_>,
                                 tag: &str,
                                 epoch: usize,
                                 w: &[f64]|
             -> Result<Vec<(&'static str, f64)>> {
                let metrics = &param.callbacks.metrics;
                let rows = score_rows(
                    ctx,
                    task,
                    &param,
                    &roles,
                    &train,
                    w,
                    &format!("{tag}.train"),
                    DataType::Train,
                )?;
                let mut eval = summary.record(ctx, task, metrics, DataType::Train, epoch, &rows)?;
                if let Some(v) = validate.as_ref() {
                    let rows = score_rows(
                        ctx,
                        task,
                        &param,
                        &roles,
                        v,
                        w,
                        &format!("{tag}.validate"),
                        DataType::Validate,
                    )?;
                    if !rows.is_empty() {
                        eval =
                            summary.record(ctx, task, metrics, DataType::Validate, epoch, &rows)?;
                    }
                }
                Ok(eval)
            };
            let fit = fit_guest(&run, &train, Some(&mut validator))?;
            let summary = summary.into_json();
            let k = train.k;
            let intercept = if param.fit_intercept {
                fit.weights[k]
            } else {
                0.0
            };
            let w = &fit.weights[..k];
            let mut rows = score_rows(
                ctx,
                task,
                &param,
                &roles,
                &train,
                &fit.weights,
                "final.train",
                DataType::Train,
            )?;
            if let Some(v) = &validate {
                rows.extend(score_rows(
                    ctx,
                    task,
                    &param,
                    &roles,
                    v,
                    &fit.weights,
                    "final.validate",
                    DataType::Validate,
                )?);
            }
            write_predictions(ctx, &train, rows)?;
            save(
                ctx,
                task,
                &param,
                &train.header,
                w,
                intercept,
                &fit,
                summary,
            )
        }
        Role::Host => {
            let fit = fit_host(&run, &train)?;
            host_scores(ctx, &train, &fit.weights, "final.train")?;
            if let Some(v) = &validate {
                host_scores(ctx, v, &fit.weights, "final.validate")?;
            }
            save(
                ctx,
                task,
                &param,
                &train.header,
                &fit.weights,
                0.0,
                &fit,
                None,
            )
        }
        Role::Arbiter => unreachable!("handled above"),
        other => Err(Error::param(
            "role",
            format!("{} does not run at {other}", task.module()),
        )),
    }
}

/// FATE switches HeteroLR to one-vs-rest when the label has more than two classes.
/// That is not implemented here, and a binary model trained on such labels would look
/// like a success while being wrong, so the guest refuses before any party computes.
fn refuse_multi_class(train: &Dataset) -> Result<()> {
    let Some(y) = train.y.as_ref() else {
        return Ok(());
    };
    let distinct: std::collections::BTreeSet<u64> =
        y.iter().map(|&v| (v + 0.0).to_bits()).collect();
    let mut classes: Vec<f64> = distinct.into_iter().map(f64::from_bits).collect();
    if classes.len() <= 2 {
        return Ok(());
    }
    classes.sort_by(f64::total_cmp);
    let shown: Vec<String> = classes.iter().take(10).map(|c| format!("{c}")).collect();
    let more = if classes.len() > 10 { ", ..." } else { "" };
    Err(Error::InvalidParameter {
        parameter: "label".into(),
        reason: format!(
            "HeteroLR: the label of table {} has {} classes ({}{more}); multi-class \
             (one-vs-rest) HeteroLR is not supported yet",
            train.table,
            classes.len(),
            shown.join(", ")
        ),
    })
}

fn fit_arbiter_side(
    ctx: &TaskContext<'_>,
    task: Task,
    param: &LinearParam,
    roles: &Roles,
) -> Result<()> {
    if roles.arbiter.is_none() {
        return Err(Error::param(
            "role",
            "an arbiter task in a job without an arbiter",
        ));
    }
    if let Some(cv) = param.cv {
        for fold in 0..cv.n_splits {
            let run = Run {
                ctx,
                task,
                param,
                roles,
                run: format!("cv{fold}"),
                validate_host: None,
            };
            fit_arbiter(&run)?;
        }
        return Ok(());
    }
    let run = Run {
        ctx,
        task,
        param,
        roles,
        run: "fit".into(),
        validate_host: None,
    };
    let fit = fit_arbiter(&run)?;
    save(ctx, task, param, &[], &[], 0.0, &fit, None)
}

/// Scores `data` with the guest weights `w` (intercept last when fitted) and the hosts.
#[allow(clippy::too_many_arguments)]
fn score_rows(
    ctx: &TaskContext<'_>,
    task: Task,
    param: &LinearParam,
    roles: &Roles,
    data: &Dataset,
    w: &[f64],
    tag: &str,
    data_type: DataType,
) -> Result<Vec<PredictRow>> {
    let intercept = if param.fit_intercept && w.len() > data.k {
        w[data.k]
    } else {
        0.0
    };
    let scores = guest_scores(ctx, &roles.hosts, data, &w[..data.k], intercept, tag)?;
    Ok(rows_from_scores(
        task,
        param.threshold,
        data,
        &scores,
        data_type,
    ))
}

fn rows_from_scores(
    task: Task,
    threshold: f64,
    data: &Dataset,
    scores: &[f64],
    data_type: DataType,
) -> Vec<PredictRow> {
    scores
        .iter()
        .enumerate()
        .map(|(i, &s)| {
            let label = data.y.as_ref().map_or(f64::NAN, |y| y[i]);
            match task {
                Task::Logistic => predict_output::binary_row(
                    data.sids[i].clone(),
                    label,
                    sigmoid(s),
                    threshold,
                    data_type,
                ),
                Task::Linear => PredictRow {
                    sid: data.sids[i].clone(),
                    label,
                    predict_result: s,
                    predict_score: s,
                    data_type,
                },
            }
        })
        .collect()
}

/// The rows of `data` whose ids are not in `train`.
fn without_sids_of(data: &Dataset, train: &Dataset) -> Dataset {
    let known: std::collections::HashSet<&str> = train.sids.iter().map(String::as_str).collect();
    let rows: Vec<usize> = (0..data.n())
        .filter(|&i| !known.contains(data.sids[i].as_str()))
        .collect();
    data.subset(&rows)
}

/// FATE's validation summary: per namespace (`train`, `validate`), per metric, the
/// values of every validation round.
#[derive(Debug, Default)]
struct ValidationSummary {
    values: BTreeMap<&'static str, Vec<(&'static str, Vec<f64>)>>,
}

impl ValidationSummary {
    /// Computes FATE's single-value `metrics` of `rows`, records each as FATE's
    /// evaluation does during training (namespace `train`/`validate`, name
    /// `iteration_<epoch>`, one point per metric, rounded to 6 digits), and returns them.
    fn record(
        &mut self,
        ctx: &TaskContext<'_>,
        task: Task,
        metrics: &[&'static str],
        data_type: DataType,
        epoch: usize,
        rows: &[PredictRow],
    ) -> Result<Vec<(&'static str, f64)>> {
        let namespace: &'static str = match data_type {
            DataType::Validate => "validate",
            _ => "train",
        };
        let name = format!("iteration_{epoch}");
        let mut out = Vec::with_capacity(metrics.len());
        for &metric in metrics {
            let value =
                single_value_metric(task, metric, rows).ok_or_else(|| Error::InvalidParameter {
                    parameter: "metrics".into(),
                    reason: format!(
                        "{metric} of the {namespace} data at epoch {epoch} is undefined \
                         (the label has a single class)"
                    ),
                })?;
            ctx.log_metric(Metric {
                namespace: namespace.into(),
                name: name.clone(),
                data: vec![(metric.into(), round6(value).into())],
                meta: json!({"name": name, "metric_type": "EVALUATION_SUMMARY"}),
            })?;
            let per_metric = self.values.entry(namespace).or_default();
            match per_metric.iter_mut().find(|(m, _)| *m == metric) {
                Some((_, v)) => v.push(value),
                None => per_metric.push((metric, vec![value])),
            }
            out.push((metric, value));
        }
        Ok(out)
    }

    fn into_json(self) -> Option<Value> {
        if self.values.is_empty() {
            return None;
        }
        let mut out = serde_json::Map::new();
        for (ns, per_metric) in self.values {
            let m: serde_json::Map<String, Value> = per_metric
                .into_iter()
                .map(|(k, v)| (k.to_string(), json!(v)))
                .collect();
            out.insert(ns.to_string(), Value::Object(m));
        }
        Some(Value::Object(out))
    }
}

fn round6(v: f64) -> f64 {
    (v * 1e6).round() / 1e6
}

/// One of FATE's single-value metrics of `rows` (`None` when undefined).
fn single_value_metric(task: Task, metric: &str, rows: &[PredictRow]) -> Option<f64> {
    let labels: Vec<f64> = rows.iter().map(|r| r.label).collect();
    match task {
        Task::Logistic => {
            let labels: Vec<bool> = labels.iter().map(|&l| l == 1.0).collect();
            let scores: Vec<f64> = rows.iter().map(|r| r.predict_score).collect();
            match metric {
                "auc" => metrics::auc(&labels, &scores),
                "ks" => metrics::ks(&labels, &scores).map(|k| k.ks),
                _ => None,
            }
        }
        Task::Linear => {
            let pred: Vec<f64> = rows.iter().map(|r| r.predict_result).collect();
            Some(match metric {
                "root_mean_squared_error" => metrics::root_mean_squared_error(&labels, &pred),
                "mean_absolute_error" => metrics::mean_absolute_error(&labels, &pred),
                "mean_squared_error" => metrics::mean_squared_error(&labels, &pred),
                "median_absolute_error" => metrics::median_absolute_error(&labels, &pred),
                "r2_score" => metrics::r2_score(&labels, &pred),
                "explained_variance" => metrics::explained_variance(&labels, &pred),
                _ => return None,
            })
        }
    }
}

/// LR: AUC (higher is better); LinR: RMSE (lower is better).
fn validation_metric(task: Task, rows: &[PredictRow]) -> (&'static str, f64, bool) {
    match task {
        Task::Logistic => {
            let labels: Vec<bool> = rows.iter().map(|r| r.label == 1.0).collect();
            let scores: Vec<f64> = rows.iter().map(|r| r.predict_score).collect();
            (
                "auc",
                metrics::auc(&labels, &scores).unwrap_or(f64::NAN),
                true,
            )
        }
        Task::Linear => {
            let labels: Vec<f64> = rows.iter().map(|r| r.label).collect();
            let pred: Vec<f64> = rows.iter().map(|r| r.predict_result).collect();
            (
                "rmse",
                metrics::root_mean_squared_error(&labels, &pred),
                false,
            )
        }
    }
}

fn write_predictions(ctx: &TaskContext<'_>, source: &Dataset, rows: Vec<PredictRow>) -> Result<()> {
    // FATE's `union` of the train and validate predictions keeps the first row of a
    // repeated id.
    let mut seen = std::collections::HashSet::new();
    let rows: Vec<PredictRow> = rows
        .into_iter()
        .filter(|r| seen.insert(r.sid.clone()))
        .collect();
    let frame =
        predict_output::to_frame(&source.sid_name, rows).map_err(|e| Error::InvalidValue {
            table: source.table.clone(),
            sid: String::new(),
            column: source.sid_name.clone(),
            reason: format!("predictions could not be written: {e}"),
        })?;
    let name = ctx.first_output_data_name("data").to_owned();
    let target = ctx.output_table(&name);
    let id = target.to_id("output")?;
    fateflow_tables::write_frame(
        ctx.tables,
        &id,
        &frame,
        4,
        fateflow_tables::WriteMode::Replace,
    )
    .map_err(|e| Error::table(&id, e))?;
    ctx.tracker.save_output_data(&name, &target)
}

#[allow(clippy::too_many_arguments)]
fn save(
    ctx: &TaskContext<'_>,
    task: Task,
    param: &LinearParam,
    header: &[String],
    w: &[f64],
    intercept: f64,
    fit: &FitResult,
    validation_metrics: Option<Value>,
) -> Result<()> {
    let model = LinearModelParam {
        iters: fit.iters,
        loss_history: fit.loss_history.clone(),
        is_converged: fit.converged,
        header: header.to_vec(),
        weight: header.iter().cloned().zip(w.iter().copied()).collect(),
        intercept,
        best_iteration: fit.best_iteration,
        need_one_vs_rest: false,
    };
    let param_json =
        serde_json::to_value(&model).map_err(|e| Error::tracker("serialize the model", e))?;
    ctx.tracker.save_model(
        ctx.first_output_model_name("model"),
        &ComponentModel {
            module: task.module().into(),
            param: param_json,
            meta: param.meta(task),
        },
    )?;
    let mut summary = json!({
        "iters": fit.iters,
        "loss_history": fit.loss_history,
        "is_converged": fit.converged,
        "best_iteration": fit.best_iteration,
    });
    if let Some(v) = validation_metrics {
        summary["validation_metrics"] = v;
    }
    ctx.tracker.set_summary(summary)?;
    ctx.tracker.info(&format!(
        "{} done: {} epochs, converged: {}, last loss: {}",
        task.module(),
        fit.iters,
        fit.converged,
        fit.loss_history
            .last()
            .map_or("n/a".into(), |l| format!("{l:.6}"))
    ));
    ctx.tracker.progress(100);
    Ok(())
}

fn predict_mode(
    ctx: &TaskContext<'_>,
    task: Task,
    param: &LinearParam,
    roles: &Roles,
    model: &LinearModelParam,
    meta: &Value,
) -> Result<()> {
    if ctx.role == Role::Arbiter {
        ctx.tracker
            .info("predict mode: nothing to do at the arbiter");
        return Ok(());
    }
    let (id, frame) = read_input(
        ctx,
        task.module(),
        &["test_data", "data", "validate_data", "train_data"],
    )?
    .ok_or_else(|| Error::MissingInput {
        component: task.module().into(),
        what: "data to predict (input key `test_data`)".into(),
    })?;
    let data = Dataset::from_frame(&id.to_string(), &frame)?.select(&model.header)?;
    let w: Vec<f64> = model
        .header
        .iter()
        .map(|h| model.weight.get(h).copied().unwrap_or(0.0))
        .collect();
    let threshold = meta
        .get("threshold")
        .and_then(Value::as_f64)
        .unwrap_or(param.threshold);
    match ctx.role {
        Role::Guest => {
            let scores = guest_scores(ctx, &roles.hosts, &data, &w, model.intercept, "predict")?;
            let rows = rows_from_scores(task, threshold, &data, &scores, DataType::Test);
            ctx.tracker.info(&format!("predicted {} rows", rows.len()));
            write_predictions(ctx, &data, rows)?;
        }
        _ => host_scores(ctx, &data, &w, "predict")?,
    }
    ctx.tracker.progress(100);
    Ok(())
}

fn cross_validate(
    ctx: &TaskContext<'_>,
    task: Task,
    param: &LinearParam,
    roles: &Roles,
    data: &Dataset,
    cv: param::CvParam,
) -> Result<()> {
    let fed = ctx.federation()?;
    // The guest deals the folds and tells the hosts which samples each fold tests.
    let folds: Vec<Vec<String>> = if ctx.role == Role::Guest {
        let mut order: Vec<usize> = (0..data.n()).collect();
        if cv.shuffle {
            SplitMix::seeded(cv.random_seed.or(Some(0))).shuffle(&mut order);
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
    let index: std::collections::HashMap<&str, usize> = data
        .sids
        .iter()
        .enumerate()
        .map(|(i, s)| (s.as_str(), i))
        .collect();
    let mut all_rows = Vec::new();
    let mut per_fold = Vec::new();
    for (fold, test_sids) in folds.iter().enumerate() {
        let test: std::collections::HashSet<&str> = test_sids.iter().map(String::as_str).collect();
        let train_rows: Vec<usize> = (0..data.n())
            .filter(|&i| !test.contains(data.sids[i].as_str()))
            .collect();
        let test_rows: Vec<usize> = test_sids
            .iter()
            .map(|s| {
                index
                    .get(s.as_str())
                    .copied()
                    .ok_or_else(|| Error::InvalidValue {
                        table: data.table.clone(),
                        sid: s.clone(),
                        column: data.sid_name.clone(),
                        reason:
                            "a cross-validation sample of the guest is not in this party's data"
                                .into(),
                    })
            })
            .collect::<Result<_>>()?;
        let train = data.subset(&train_rows);
        let test = data.subset(&test_rows);
        let run = Run {
            ctx,
            task,
            param,
            roles,
            run: format!("cv{fold}"),
            validate_host: None,
        };
        let tag = format!("cv{fold}.score");
        if ctx.role == Role::Guest {
            let fit = fit_guest(&run, &train, None)?;
            let rows = score_rows(
                ctx,
                task,
                param,
                roles,
                &test,
                &fit.weights,
                &tag,
                DataType::Validate,
            )?;
            let (name, value, _) = validation_metric(task, &rows);
            ctx.log_metric(Metric {
                namespace: "cv".into(),
                name: name.into(),
                data: vec![(fold.into(), value.into())],
                meta: json!({"metric_type": "CV_EVALUATE", "unit_name": "fold"}),
            })?;
            ctx.tracker.info(&format!("fold {fold}: {name} {value:.6}"));
            per_fold.push((name, value));
            all_rows.extend(rows);
        } else {
            let fit = fit_host(&run, &train)?;
            host_scores(ctx, &test, &fit.weights, &tag)?;
        }
    }
    if ctx.role == Role::Guest {
        let name = per_fold.first().map_or("metric", |p| p.0);
        let values: Vec<f64> = per_fold.iter().map(|p| p.1).collect();
        let mean = values.iter().sum::<f64>() / values.len().max(1) as f64;
        ctx.tracker
            .set_summary(json!({"cv": {name: values, "mean": mean}}))?;
        write_predictions(ctx, data, all_rows)?;
    }
    ctx.tracker.progress(100);
    Ok(())
}
