//! `Evaluation`: metrics of a model component's predictions, logged like FATE 1.x's.
//!
//! # Input
//!
//! Every table of the task's data inputs (all input keys, in key order) is one data set.
//! Each follows the [`predict_output`](mod@crate::predict_output) contract: columns
//! `label`, `predict_score` (binary: probability of class 1; regression: the
//! prediction), `predict_result` (multi-class: the predicted class) and optionally
//! `type` (0 train, 1 validate, 2 test; without it every row is `train`). Binary and
//! regression need `label` and `predict_score`, multi-class needs `label` and
//! `predict_result`; a missing column, a NaN in one of them or an unknown `type` code
//! fails the task naming the column (and the row). Other columns are ignored.
//!
//! # Parameters (FATE's `EvaluateParam`)
//!
//! - `eval_type`: `binary` (default), `multi`, `regression` or `clustering` (FATE's
//!   clustering metrics on a `HeteroKmeans` output: see `clustering.rs`, which also
//!   lists their names and shapes; one input table only, as FATE).
//! - `pos_label` (default 1, a number or numeric string): binary labels equal to it are
//!   the positive class, all others negative.
//! - `metrics`: names or FATE aliases (`rmse`, `mae`, `mse`, `r2`, `acc`, ...); default
//!   every metric of the type. Binary: `auc`, `ks`, `lift`, `gain`, `accuracy`,
//!   `precision`, `recall`, `roc`, `confusion_mat`, `f1_score` (`psi` and `quantile_pr`
//!   are not supported yet). Multi: `accuracy`, `precision`, `recall`. Regression:
//!   `explained_variance`, `mean_absolute_error`, `mean_squared_error`,
//!   `median_absolute_error`, `r2_score`, `root_mean_squared_error`. `precision` and
//!   `recall` always come together, as in FATE.
//! - `need_run` is the executor's business; `unfold_multi_result` must stay false.
//!
//! # Metrics
//!
//! Per data set `N` and data type `S` (the namespace: `train`, `validate`, `test`),
//! with FATE's names and metric types (the definitions are in [`metrics`]):
//!
//! | name | metric_type | data | meta |
//! |---|---|---|---|
//! | `N` | `EVALUATION_SUMMARY` | `[metric, value]` per single-value metric: binary `auc`, `ks`; multi `accuracy`, `precision`, `recall` (means over classes); regression each metric | `name` |
//! | `N_ks_fpr`, `N_ks_tpr` | `KS_EVALUATION` | `[cut, fpr]` / `[cut, tpr]`, cuts 0, 0.01, …, 0.99, 1 | `curve_name` (`N_fpr`, `N_tpr`), `pair_type` `N`, `thresholds` |
//! | `N_roc` | `ROC_EVALUATION` | `[fpr, tpr]` | `unit_name` `fpr`, `ordinate_name` `tpr`, `curve_name`, `thresholds` |
//! | `N_lift`, `N_gain` | `LIFT_EVALUATION`, `GAIN_EVALUATION` | `[share predicted positive, lift / recall]` | `curve_name`, `thresholds` |
//! | `N_accuracy` | `ACCURACY_EVALUATION` | `[cut, accuracy]` (binary only) | `curve_name`, `thresholds` |
//! | `N_precision`, `N_recall` | `PRECISION_BINARY_EVALUATION` / `RECALL_BINARY_EVALUATION` (`..._MULTI_...` for multi) | binary `[cut, value]`; multi `[class, value]` | `ordinate_name`, `curve_name`, `pair_type`, binary `thresholds` |
//! | `N_confusion_mat` | `CONFUSION_MAT` | none | `tp`, `fp`, `tn`, `fn`, `thresholds` (0, 0.01, …, 0.99) |
//! | `N_f1_score` | `F1_SCORE` | none | `f1_scores`, `thresholds` |
//!
//! Every meta also has `name` (the metric name). `N` is the upstream component when the
//! table is a task output of this job (namespace `output_data_<job_id>_<component>_<version>`,
//! so `hetero_lr_0` as in FATE, where it is the DSL data key); otherwise it is the
//! table's name. Two inputs with the same `N` get `_1`, `_2`, ... suffixes.
//!
//! # Summary
//!
//! `{N: {S: {metric: value}}}` with the single-value metrics, as FATE 1.11 sets it. For
//! binary data sets it also holds `threshold` (0.5) and, at that threshold (score
//! strictly above it is class 1, as FATE's classifiers decide), `accuracy`, `precision`,
//! `recall` (scikit-learn's definitions: 0 when undefined) and `confusion_matrix`
//! `{tp, fp, tn, fn}`; FATE has no such single values for binary tasks.
//!
//! # Departures from FATE
//!
//! - Values are logged at full precision; FATE rounds every value and threshold to 6
//!   digits.
//! - The first ROC threshold is `max score + 1` (scikit-learn before 1.3, which FATE
//!   1.x used), never infinity.
//! - `pos_label`: labels equal to it are positive, all others negative. FATE's code maps
//!   every label to 0 when `pos_label` is not 1 and ignores `pos_label` 0.
//! - A one-class binary data set skips `auc`, `ks` and `roc` (with a log line) where
//!   FATE fails the task; recall is then undefined and logged as `null`.
//! - No output data is written (FATE's Evaluation has none either).
//!
//! A host or arbiter task without input data does nothing, as in FATE (only the guest
//! has labels); a guest without input data fails.

mod clustering;
pub mod metrics;
pub(crate) mod param;

use std::collections::BTreeMap;

use fateflow_domain::Role;
use fateflow_tables::read_all;
use serde_json::{json, Map, Value};

use crate::context::{Component, Metric, TableRef, TaskContext};
use crate::error::{Error, Result};
use crate::predict_output::{self, DataType};
use crate::table_io::percent;

use metrics::{Confusion, Curve, Ranked};
use param::{EvalType, EvaluationParam, MetricName};

/// The module name.
const MODULE: &str = "Evaluation";

/// The threshold of the binary single values in the summary.
const SUMMARY_THRESHOLD: f64 = 0.5;

/// FATE's `Evaluation` component.
#[derive(Debug, Clone, Copy, Default)]
pub struct Evaluation;

impl Component for Evaluation {
    fn run(&self, ctx: &TaskContext<'_>) -> Result<()> {
        let param = EvaluationParam::parse(&ctx.parameters)?;
        let inputs: Vec<&TableRef> = ctx.inputs.data.values().flatten().collect();
        if inputs.is_empty() {
            if matches!(ctx.role, Role::Host | Role::Arbiter) {
                // FATE's Evaluation does nothing without data; only the guest has labels.
                ctx.tracker
                    .info("evaluation: no input data on this party; nothing to evaluate");
                return Ok(());
            }
            return Err(Error::MissingInput {
                component: MODULE.into(),
                what: "an input data table (the predictions of a model component)".into(),
            });
        }
        if param.eval_type == EvalType::Clustering {
            // FATE evaluates one clustering component's output per Evaluation.
            if inputs.len() > 1 {
                return Err(Error::param(
                    "input data",
                    format!(
                        "{} tables given; with eval_type `clustering` Evaluation takes the output of one clustering component, as FATE",
                        inputs.len()
                    ),
                ));
            }
            let name = data_name(ctx, inputs[0]);
            let by_type = clustering::evaluate(ctx, &param, &name, inputs[0])?;
            let mut summary = Map::new();
            if !by_type.is_empty() {
                summary.insert(name, Value::Object(by_type));
            }
            ctx.tracker.progress(100);
            return ctx.tracker.set_summary(Value::Object(summary));
        }
        // Every input is read and checked before anything is logged.
        let mut data_sets: Vec<(String, &TableRef, DataSet)> = Vec::with_capacity(inputs.len());
        for table in &inputs {
            let taken: Vec<String> = data_sets.iter().map(|(n, _, _)| n.clone()).collect();
            let name = unique(data_name(ctx, table), &taken);
            data_sets.push((name, table, DataSet::read(ctx, table, param.eval_type)?));
        }
        let mut summary = Map::new();
        for (done, (name, table, data)) in data_sets.into_iter().enumerate() {
            ctx.tracker.info(&format!(
                "evaluation: {} evaluation of {table} as `{name}` ({} rows)",
                param.eval_type.as_str(),
                data.rows
            ));
            let mut by_type = Map::new();
            for (data_type, rows) in &data.groups {
                let namespace = data_type.as_str();
                let report = match param.eval_type {
                    EvalType::Binary => binary(ctx, &param, &name, namespace, rows),
                    EvalType::Multi => multi(&param, &name, namespace, rows),
                    EvalType::Regression => regression(&param, &name, namespace, rows),
                    EvalType::Clustering => Report::default(),
                };
                let summary = report.log(ctx, &name, namespace)?;
                by_type.insert(namespace.to_owned(), Value::Object(summary));
            }
            summary.insert(name, Value::Object(by_type));
            ctx.tracker
                .progress(percent(done as u32 + 1, inputs.len() as u32));
        }
        ctx.tracker.set_summary(Value::Object(summary))
    }
}

/// The metric name of a data set: the upstream component of a task output of this job,
/// else the table name.
fn data_name(ctx: &TaskContext<'_>, table: &TableRef) -> String {
    let prefix = format!("output_data_{}_", ctx.job_id);
    table
        .namespace
        .strip_prefix(&prefix)
        .and_then(|rest| rest.rsplit_once('_'))
        .filter(|(component, version)| {
            !component.is_empty()
                && !version.is_empty()
                && version.bytes().all(|b| b.is_ascii_digit())
        })
        .map_or_else(|| table.name.clone(), |(component, _)| component.to_owned())
}

/// `name`, or `name_1`, `name_2`, ... when taken.
fn unique(name: String, taken: &[String]) -> String {
    if !taken.contains(&name) {
        return name;
    }
    (1..)
        .map(|i| format!("{name}_{i}"))
        .find(|n| !taken.contains(n))
        .expect("some suffix is free")
}

/// The labels and values (scores or predicted labels) of one data type.
#[derive(Debug, Default)]
struct Rows {
    labels: Vec<f64>,
    values: Vec<f64>,
}

/// One input table, split by data type.
struct DataSet {
    rows: usize,
    groups: BTreeMap<DataType, Rows>,
}

impl DataSet {
    fn read(ctx: &TaskContext<'_>, table: &TableRef, eval_type: EvalType) -> Result<Self> {
        let id = table.to_id("input data")?;
        let frame = read_all(ctx.tables, &id).map_err(|e| Error::table(&id, e))?;
        let table_name = id.to_string();
        let value_column = match eval_type {
            EvalType::Multi => predict_output::PREDICT_RESULT,
            EvalType::Binary | EvalType::Regression | EvalType::Clustering => {
                predict_output::PREDICT_SCORE
            }
        };
        let column = |name: &str, why: &str| {
            frame
                .column_index(name)
                .ok_or_else(|| Error::MissingColumn {
                    table: table_name.clone(),
                    column: name.into(),
                    why: why.into(),
                })
        };
        let label = column(
            predict_output::LABEL,
            "the true label, required by Evaluation",
        )?;
        let value = column(
            value_column,
            &format!(
                "required by Evaluation with eval_type `{}`",
                eval_type.as_str()
            ),
        )?;
        let type_column = frame.column_index(predict_output::TYPE);
        if frame.nrows() == 0 {
            return Err(Error::EmptyTable {
                table: table_name,
                component: MODULE.into(),
            });
        }
        let invalid = |row: usize, column: &str, reason: String| Error::InvalidValue {
            table: table_name.clone(),
            sid: frame.sids()[row].clone(),
            column: column.into(),
            reason,
        };
        let mut groups: BTreeMap<DataType, Rows> = BTreeMap::new();
        for (i, row) in frame.rows().enumerate() {
            let data_type = match type_column {
                None => DataType::Train,
                Some(c) => DataType::from_code(row[c]).ok_or_else(|| {
                    invalid(
                        i,
                        predict_output::TYPE,
                        format!(
                            "{} is not a data type code (0 train, 1 validate, 2 test)",
                            row[c]
                        ),
                    )
                })?,
            };
            for (c, name) in [(label, predict_output::LABEL), (value, value_column)] {
                if row[c].is_nan() {
                    return Err(invalid(i, name, "the value is missing".into()));
                }
            }
            let rows = groups.entry(data_type).or_default();
            rows.labels.push(row[label]);
            rows.values.push(row[value]);
        }
        Ok(DataSet {
            rows: frame.nrows(),
            groups,
        })
    }
}

/// What one data type of one data set produced.
#[derive(Debug, Default)]
struct Report {
    /// Single values for the `EVALUATION_SUMMARY` metric, in metric order.
    singles: Vec<(&'static str, f64)>,
    /// Curve and table metrics.
    metrics: Vec<Metric>,
    /// The summary of this data type.
    summary: Map<String, Value>,
    /// Single values are logged as `CLUSTERING_EVALUATION_SUMMARY`.
    clustering: bool,
}

impl Report {
    fn single(&mut self, metric: MetricName, value: f64) {
        self.singles.push((metric.as_str(), value));
        self.summary.insert(metric.as_str().into(), json!(value));
    }

    /// Logs the metrics and returns the summary.
    fn log(self, ctx: &TaskContext<'_>, name: &str, namespace: &str) -> Result<Map<String, Value>> {
        if !self.singles.is_empty() {
            ctx.log_metric(Metric {
                namespace: namespace.into(),
                name: name.into(),
                data: self
                    .singles
                    .iter()
                    .map(|(k, v)| (json!(k), json!(v)))
                    .collect(),
                meta: json!({
                    "name": name,
                    "metric_type": if self.clustering {
                        "CLUSTERING_EVALUATION_SUMMARY"
                    } else {
                        "EVALUATION_SUMMARY"
                    },
                }),
            })?;
        }
        for metric in self.metrics {
            ctx.log_metric(metric)?;
        }
        Ok(self.summary)
    }
}

/// A curve metric: points `(x, y)` and `meta` extended with `name` and `metric_type`.
fn curve_metric(
    namespace: &str,
    name: String,
    metric_type: &str,
    x: &[f64],
    y: &[f64],
    extra: Value,
) -> Metric {
    let mut meta = Map::new();
    meta.insert("name".into(), json!(name));
    meta.insert("metric_type".into(), json!(metric_type));
    if let Value::Object(extra) = extra {
        meta.extend(extra);
    }
    Metric {
        namespace: namespace.into(),
        name,
        data: x.iter().zip(y).map(|(x, y)| (json!(x), json!(y))).collect(),
        meta: Value::Object(meta),
    }
}

fn curve_with_thresholds(
    namespace: &str,
    name: String,
    metric_type: &str,
    curve: &Curve,
    mut extra: Value,
) -> Metric {
    extra["thresholds"] = json!(curve.thresholds);
    curve_metric(namespace, name, metric_type, &curve.x, &curve.y, extra)
}

fn confusion_json(m: &Confusion) -> Value {
    json!({"tp": m.tp, "fp": m.fp, "tn": m.tn, "fn": m.fn_})
}

fn binary(
    ctx: &TaskContext<'_>,
    param: &EvaluationParam,
    name: &str,
    namespace: &str,
    rows: &Rows,
) -> Report {
    let labels: Vec<bool> = rows.labels.iter().map(|&l| l == param.pos_label).collect();
    let scores = &rows.values;
    let ranked = Ranked::new(&labels, scores);
    let mut report = Report::default();
    let one_class = ranked.positives() == 0 || ranked.negatives() == 0;
    let skip = |metric: MetricName| {
        ctx.tracker.info(&format!(
            "evaluation: `{name}` {namespace} has only {} samples; {} is undefined and skipped",
            if ranked.positives() == 0 {
                "negative"
            } else {
                "positive"
            },
            metric.as_str()
        ));
    };
    for &metric in &param.metrics {
        match metric {
            MetricName::Auc => match metrics::auc(&labels, scores) {
                Some(auc) => report.single(metric, auc),
                None => skip(metric),
            },
            MetricName::Ks => match metrics::ks(&labels, scores) {
                Some(ks) => {
                    report.single(metric, ks.ks);
                    for (curve, values) in [("fpr", &ks.fpr), ("tpr", &ks.tpr)] {
                        report.metrics.push(curve_metric(
                            namespace,
                            format!("{name}_ks_{curve}"),
                            "KS_EVALUATION",
                            &ks.cuts,
                            values,
                            json!({
                                "curve_name": format!("{name}_{curve}"),
                                "pair_type": name,
                                "thresholds": ks.thresholds,
                            }),
                        ));
                    }
                }
                None => skip(metric),
            },
            MetricName::Roc => match metrics::roc_curve(&labels, scores) {
                Some(roc) => report.metrics.push(curve_with_thresholds(
                    namespace,
                    format!("{name}_roc"),
                    "ROC_EVALUATION",
                    &metrics::fate_roc(&roc),
                    json!({"unit_name": "fpr", "ordinate_name": "tpr", "curve_name": name}),
                )),
                None => skip(metric),
            },
            MetricName::Lift | MetricName::Gain => {
                let (curve, metric_type) = if metric == MetricName::Lift {
                    (metrics::lift(&ranked), "LIFT_EVALUATION")
                } else {
                    (metrics::gain(&ranked), "GAIN_EVALUATION")
                };
                report.metrics.push(curve_with_thresholds(
                    namespace,
                    format!("{name}_{}", metric.as_str()),
                    metric_type,
                    &curve,
                    json!({"curve_name": name}),
                ));
            }
            MetricName::Accuracy => report.metrics.push(curve_with_thresholds(
                namespace,
                format!("{name}_accuracy"),
                "ACCURACY_EVALUATION",
                &metrics::accuracy_curve(&ranked),
                json!({"curve_name": name}),
            )),
            MetricName::Precision => {
                // Logged as a pair with recall, which the parameters always include.
                let (precision, recall) = metrics::precision_recall(&ranked);
                for (curve, metric_type, ordinate, suffix) in [
                    (
                        &precision,
                        "PRECISION_BINARY_EVALUATION",
                        "Precision",
                        "precision",
                    ),
                    (&recall, "RECALL_BINARY_EVALUATION", "Recall", "recall"),
                ] {
                    report.metrics.push(curve_with_thresholds(
                        namespace,
                        format!("{name}_{suffix}"),
                        metric_type,
                        curve,
                        json!({"ordinate_name": ordinate, "curve_name": name, "pair_type": name}),
                    ));
                }
            }
            MetricName::Recall => {}
            MetricName::ConfusionMat => {
                let (thresholds, counts) = metrics::confusion_table(&ranked);
                let column = |f: fn(&Confusion) -> u64| counts.iter().map(f).collect::<Vec<_>>();
                report.metrics.push(curve_metric(
                    namespace,
                    format!("{name}_confusion_mat"),
                    "CONFUSION_MAT",
                    &[],
                    &[],
                    json!({
                        "tp": column(|m| m.tp),
                        "tn": column(|m| m.tn),
                        "fp": column(|m| m.fp),
                        "fn": column(|m| m.fn_),
                        "thresholds": thresholds,
                    }),
                ));
            }
            MetricName::F1Score => {
                let (thresholds, f1) = metrics::f1_table(&ranked);
                report.metrics.push(curve_metric(
                    namespace,
                    format!("{name}_f1_score"),
                    "F1_SCORE",
                    &[],
                    &[],
                    json!({"f1_scores": f1, "thresholds": thresholds}),
                ));
            }
            _ => {}
        }
    }
    if one_class && !param.metrics.is_empty() {
        ctx.tracker.info(&format!(
            "evaluation: `{name}` {namespace}: {} positive and {} negative samples",
            ranked.positives(),
            ranked.negatives()
        ));
    }
    let at = ranked.confusion(SUMMARY_THRESHOLD);
    report
        .summary
        .insert("threshold".into(), json!(SUMMARY_THRESHOLD));
    report
        .summary
        .insert("accuracy".into(), json!(at.accuracy()));
    report
        .summary
        .insert("precision".into(), json!(at.precision(0.0)));
    report
        .summary
        .insert("recall".into(), json!(at.recall(0.0)));
    report
        .summary
        .insert("confusion_matrix".into(), confusion_json(&at));
    report
}

/// A class label as JSON: an integer when it is one.
fn class_json(class: f64) -> Value {
    if class.fract() == 0.0 && class.abs() < 9.0e15 {
        json!(class as i64)
    } else {
        json!(class)
    }
}

fn multi(param: &EvaluationParam, name: &str, namespace: &str, rows: &Rows) -> Report {
    let m = metrics::multi_class(&rows.labels, &rows.values);
    let mut report = Report::default();
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    // FATE pads classes 0..=max with 0 when the labels are class indexes.
    let indexes = m
        .classes
        .iter()
        .all(|&c| c >= 0.0 && c.fract() == 0.0 && c < 1.0e6);
    let padded = |values: &[f64]| -> (Vec<Value>, Vec<f64>) {
        if !indexes {
            return (
                m.classes.iter().map(|&c| class_json(c)).collect(),
                values.to_vec(),
            );
        }
        let max = m.classes.last().copied().unwrap_or(0.0) as usize;
        let mut out = vec![0.0; max + 1];
        for (&c, &v) in m.classes.iter().zip(values) {
            out[c as usize] = v;
        }
        ((0..=max).map(|c| json!(c)).collect(), out)
    };
    for &metric in &param.metrics {
        match metric {
            MetricName::Accuracy => report.single(metric, m.accuracy),
            MetricName::Precision | MetricName::Recall => {
                let (values, metric_type, ordinate) = if metric == MetricName::Precision {
                    (&m.precision, "PRECISION_MULTI_EVALUATION", "Precision")
                } else {
                    (&m.recall, "RECALL_MULTI_EVALUATION", "Recall")
                };
                report.single(metric, mean(values));
                let (classes, values) = padded(values);
                let metric_name = format!("{name}_{}", metric.as_str());
                report.metrics.push(Metric {
                    namespace: namespace.into(),
                    name: metric_name.clone(),
                    data: classes
                        .into_iter()
                        .zip(values)
                        .map(|(c, v)| (c, json!(v)))
                        .collect(),
                    meta: json!({
                        "name": metric_name,
                        "metric_type": metric_type,
                        "ordinate_name": ordinate,
                        "curve_name": name,
                        "pair_type": name,
                    }),
                });
            }
            _ => {}
        }
    }
    report
}

fn regression(param: &EvaluationParam, _name: &str, _namespace: &str, rows: &Rows) -> Report {
    let (y, p) = (&rows.labels, &rows.values);
    let mut report = Report::default();
    for &metric in &param.metrics {
        let value = match metric {
            MetricName::ExplainedVariance => metrics::explained_variance(y, p),
            MetricName::MeanAbsoluteError => metrics::mean_absolute_error(y, p),
            MetricName::MeanSquaredError => metrics::mean_squared_error(y, p),
            MetricName::MedianAbsoluteError => metrics::median_absolute_error(y, p),
            MetricName::R2Score => metrics::r2_score(y, p),
            MetricName::RootMeanSquaredError => metrics::root_mean_squared_error(y, p),
            _ => continue,
        };
        report.single(metric, value);
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{context, RecordingTracker};
    use fateflow_tables::LocalTableStore;

    #[test]
    fn data_names() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalTableStore::open(dir.path()).unwrap();
        let tracker = RecordingTracker::new();
        let ctx = context("evaluation_0", "Evaluation", json!({}), &store, &tracker);
        let name = |ns: &str, n: &str| data_name(&ctx, &TableRef::new(ns, n));
        assert_eq!(
            name("output_data_test_job_hetero_lr_0_0", "data_guest_9999"),
            "hetero_lr_0"
        );
        assert_eq!(
            name("output_data_test_job_hetero_lr_0_12", "data_guest_9999"),
            "hetero_lr_0"
        );
        assert_eq!(name("output_data_other_job_lr_0_0", "t"), "t");
        assert_eq!(name("experiment", "breast_eval"), "breast_eval");
        assert_eq!(unique("a".into(), &["a".into(), "a_1".into()]), "a_2");
        assert_eq!(unique("b".into(), &["a".into()]), "b");
    }
}
