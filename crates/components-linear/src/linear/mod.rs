//! `HeteroLR` and `HeteroLinR`: vertical logistic and linear regression on Paillier
//! encryption, with or without an arbiter (spec §6). See [`train`] for the protocol.
//!
//! # Inputs and outputs
//!
//! - Fit: `train_data` (or `data`) at guest and hosts, optional `validate_data` (used
//!   with `validation_freqs`, and scored into the output). The arbiter has no data.
//! - Predict: a model input from this module, and `test_data` (or `data`).
//! - Guest output data: one row per sample in the [`predict_output`](crate::predict_output)
//!   layout (`label`, `predict_result`, `predict_score`, `type`). Hosts and the arbiter
//!   output no data (as in FATE).
//! - Model at every party: `param` = `{iters, loss_history, is_converged, header,
//!   weight: {feature: w}, intercept, best_iteration, need_one_vs_rest}` (the guest's
//!   intercept; 0 at hosts), `meta` = the training settings.
//! - Metrics: `train/loss` per epoch (guest and arbiter), `validate/<metric>` per
//!   validation, `cv/<metric>` per fold.
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
            let mut validator = |ctx: &TaskContext<'_>,
                                 tag: &str,
                                 epoch: usize,
                                 w: &[f64]|
             -> Result<Option<f64>> {
                let Some(v) = validate.as_ref() else {
                    return Ok(None);
                };
                let rows = score_rows(ctx, task, &param, &roles, v, w, tag, DataType::Validate)?;
                let (name, value, higher_better) = validation_metric(task, &rows);
                ctx.log_metric(Metric {
                    namespace: "validate".into(),
                    name: name.into(),
                    data: vec![(epoch.into(), value.into())],
                    meta: json!({"metric_type": "VALIDATION_EVALUATE", "unit_name": "iters"}),
                })?;
                Ok(Some(if higher_better { value } else { -value }))
            };
            let fit = fit_guest(&run, &train, Some(&mut validator))?;
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
            save(ctx, task, &param, &train.header, w, intercept, &fit)
        }
        Role::Host => {
            let fit = fit_host(&run, &train)?;
            host_scores(ctx, &train, &fit.weights, "final.train")?;
            if let Some(v) = &validate {
                host_scores(ctx, v, &fit.weights, "final.validate")?;
            }
            save(ctx, task, &param, &train.header, &fit.weights, 0.0, &fit)
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
    save(ctx, task, param, &[], &[], 0.0, &fit)
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

fn save(
    ctx: &TaskContext<'_>,
    task: Task,
    param: &LinearParam,
    header: &[String],
    w: &[f64],
    intercept: f64,
    fit: &FitResult,
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
    ctx.tracker.set_summary(json!({
        "iters": fit.iters,
        "loss_history": fit.loss_history,
        "is_converged": fit.converged,
        "best_iteration": fit.best_iteration,
    }))?;
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
