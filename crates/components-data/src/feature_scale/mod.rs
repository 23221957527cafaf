//! `FeatureScale`: min-max or standard scaling of feature columns, fit then transform.
//!
//! Purely local: each party scales its own columns.
//!
//! # Fit (no `FeatureScale` model among the task's model inputs)
//!
//! Parameters and defaults are FATE 1.x `ScaleParam`'s:
//!
//! - `method`: `standard_scale` (default) or `min_max_scale`; FATE 2's `standard` and
//!   `min_max` are accepted too.
//! - `mode`: `normal` (default): `feat_upper` / `feat_lower` are values, a number for
//!   every column or a list with one number per feature column; `cap`: they are
//!   quantiles of the column between 0 and 1 (defaults 1 and 0), the value of rank
//!   `ceil(q · n)` among the column's n non-missing values (q ≤ 1e-4 gives the minimum,
//!   q ≥ 1 − 1e-4 the maximum), which is what FATE's quantile summary returns exactly
//!   up to ~10 000 rows.
//! - `scale_col_indexes`: `-1` (default) scales every feature column and ignores
//!   `scale_names`, as FATE does; a list of indexes into the feature columns (the label
//!   excluded) scales those plus the columns named in `scale_names`.
//! - `with_mean`, `with_std` (default true): `standard_scale` subtracts the mean / divides
//!   by the standard deviation only when set.
//!
//! For each scaled column the fit computes, over its non-missing (non-NaN) cells:
//!
//! - `column_upper` / `column_lower`: in `normal` mode the column's maximum and minimum,
//!   moved to `feat_upper` when above it and to `feat_lower` when below it; in `cap`
//!   mode the two quantiles.
//! - `standard_scale`: `mean` and `std` of the values clipped to
//!   `[column_lower, column_upper]`; `std` is the population deviation
//!   `sqrt(E[x²] − mean²)`, a variance below 1e-8 counts as 0 and a deviation below 1e-6
//!   becomes 1; `with_mean` false makes `mean` 0, `with_std` false makes `std` 1.
//!
//! Then every scaled cell `x` is clipped to `[column_lower, column_upper]` and becomes
//! `(x − column_lower) / range` (`min_max_scale`, range `column_upper − column_lower`,
//! 1 when below 1e-6) or `(x − mean) / std` (`standard_scale`). Missing cells stay NaN;
//! the label and unselected columns are copied unchanged.
//!
//! # Transform (a `FeatureScale` model is among the model inputs)
//!
//! The model's numbers are applied exactly as in the fit, so transforming the fitting
//! data reproduces the fit output bit for bit; the task's own parameters are ignored.
//! Every scaled column of the model must be a column of the data (a missing one fails
//! naming it).
//!
//! # Outputs
//!
//! - Output data (first output data name, default `data`): a table in
//!   [`TaskContext::output_table`] with the input's schema (label included), sids and
//!   partitioning.
//! - Model (first output model name, default `model`): a [`FeatureScaleModel`]
//!   (`col_scale_param` holds the scaled columns only); in transform mode the input
//!   model unchanged.
//! - Metric namespace `train`, name `scale`, no points, meta `{"name": "scale",
//!   "metric_type": "SCALE", "method"}`, in both modes, as FATE logs it.
//! - Summary (fit only): FATE's `{column: {"column_upper", "column_lower", "mean",
//!   "std"}}` for the scaled columns.
//!
//! Departures from FATE: a `scale_names` entry that is not a feature column fails (FATE
//! ignores it); missing cells are left out of every statistic (FATE's statistics are
//! not NaN-aware); `method: null` means the default, where FATE copies the data.

pub mod model;
pub(crate) mod param;

use fateflow_tables::{
    read_partition_frame, Frame, TableId, TableInfo, TableOrigin, TableSchema, WriteMode,
};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

use crate::context::{Component, Metric, ModelInput, TableRef, TaskContext};
use crate::error::{Error, Result};
use crate::table_io::feature_header;
use crate::table_io::percent;
use crate::table_io::{batch_from_rows, open_first_input};

pub use model::{ColumnScaleParam, FeatureScaleModel};
use model::{ModelMeta, ModelParam, MODULE};
use param::{Bound, Method, Mode, ScaleParam};

/// Input data keys tried in order.
const INPUT_KEYS: [&str; 2] = ["data", "train_data"];

/// Variances below this count as 0 (FATE's `FLOAT_ZERO`).
const FLOAT_ZERO: f64 = 1e-8;

/// Ranges and deviations below this are replaced by 1.
const MIN_DIVISOR: f64 = 1e-6;

/// Quantiles within this of 0 or 1 give the minimum or maximum (FATE's default
/// quantile-summary error).
const QUANTILE_ERROR: f64 = 1e-4;

/// FATE's `FeatureScale` component.
#[derive(Debug, Clone, Copy, Default)]
pub struct FeatureScale;

impl Component for FeatureScale {
    fn run(&self, ctx: &TaskContext<'_>) -> Result<()> {
        let (id, info, rows) = open_first_input(ctx, MODULE, &INPUT_KEYS)?;
        let input = Input { id, info, rows };
        match ctx.models_of(MODULE).next() {
            Some(model) => transform(ctx, &input, model),
            None => fit(ctx, &input),
        }
    }
}

/// The input table.
struct Input {
    id: TableId,
    info: TableInfo,
    rows: u64,
}

impl Input {
    fn name(&self) -> String {
        self.id.to_string()
    }

    fn schema(&self) -> &TableSchema {
        &self.info.schema
    }

    /// Calls `f` with each partition's rows, partition by partition.
    fn for_each_partition(
        &self,
        ctx: &TaskContext<'_>,
        mut f: impl FnMut(u32, Frame) -> Result<()>,
    ) -> Result<()> {
        for partition in 0..self.info.partitions {
            let frame = read_partition_frame(ctx.tables, &self.id, partition)
                .map_err(|e| Error::table(&self.id, e))?;
            f(partition, frame)?;
        }
        Ok(())
    }
}

/// How one column is scaled: clip to `[lower, upper]`, subtract `center`, divide by
/// `divisor`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ColumnScaler {
    /// Index in the table's header.
    index: usize,
    lower: f64,
    upper: f64,
    center: f64,
    divisor: f64,
}

/// A model's column range whose upper bound is below its lower bound.
#[derive(Debug, Clone, Copy, PartialEq, thiserror::Error)]
#[error("column_upper {upper} is below column_lower {lower}")]
struct InvertedRange {
    lower: f64,
    upper: f64,
}

impl ColumnScaler {
    fn new(
        index: usize,
        method: Method,
        p: &ColumnScaleParam,
    ) -> std::result::Result<Self, InvertedRange> {
        let (center, divisor) = match method {
            Method::MinMax => {
                let range = p.column_upper - p.column_lower;
                if range < 0.0 {
                    return Err(InvertedRange {
                        lower: p.column_lower,
                        upper: p.column_upper,
                    });
                }
                (
                    p.column_lower,
                    if range.abs() < MIN_DIVISOR {
                        1.0
                    } else {
                        range
                    },
                )
            }
            Method::Standard => (p.mean, p.std),
        };
        Ok(ColumnScaler {
            index,
            lower: p.column_lower,
            upper: p.column_upper,
            center,
            divisor,
        })
    }

    /// The scaled value, as the transform writes it.
    pub fn apply(&self, v: f64) -> f64 {
        (clip(v, self.lower, self.upper) - self.center) / self.divisor
    }
}

impl FeatureScaleModel {
    /// Each scaled column's scaler by column name (online inference scales one row
    /// with exactly what the batch transform applies).
    pub fn column_scalers(&self) -> std::result::Result<BTreeMap<String, ColumnScaler>, String> {
        let method = Method::from_name(&self.meta.method).ok_or_else(|| {
            format!(
                "unknown method `{}` (expected min_max_scale or standard_scale)",
                self.meta.method
            )
        })?;
        self.param
            .col_scale_param
            .iter()
            .map(|(column, p)| {
                ColumnScaler::new(0, method, p)
                    .map(|s| (column.clone(), s))
                    .map_err(|e| format!("column `{column}`: {e}"))
            })
            .collect()
    }
}

/// `v` moved into `[lower, upper]` the way FATE does it (NaN stays NaN).
fn clip(v: f64, lower: f64, upper: f64) -> f64 {
    if v > upper {
        upper
    } else if v < lower {
        lower
    } else {
        v
    }
}

/// Running statistics of one column.
#[derive(Debug, Clone, Default)]
struct Stats {
    count: u64,
    min: f64,
    max: f64,
    sum: f64,
    sum_square: f64,
    /// Every value, in `cap` mode only.
    values: Vec<f64>,
}

impl Stats {
    fn add_extremes(&mut self, v: f64, keep: bool) {
        if self.count == 0 {
            self.min = v;
            self.max = v;
        } else {
            self.min = self.min.min(v);
            self.max = self.max.max(v);
        }
        self.count += 1;
        if keep {
            self.values.push(v);
        }
    }

    /// The value of rank `ceil(q · n)` (1-based) of the sorted values.
    fn quantile(&mut self, q: f64) -> f64 {
        self.values
            .sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
        let n = self.values.len();
        if q <= QUANTILE_ERROR {
            return self.values[0];
        }
        if q >= 1.0 - QUANTILE_ERROR {
            return self.values[n - 1];
        }
        let rank = ((q * n as f64).ceil() as usize).clamp(1, n);
        self.values[rank - 1]
    }
}

fn fit(ctx: &TaskContext<'_>, input: &Input) -> Result<()> {
    let param = ScaleParam::parse(&ctx.parameters)?;
    let schema = input.schema().clone();
    let header = feature_header(&schema);
    let selected = param.selected(&header)?;
    let columns: Vec<usize> = selected
        .iter()
        .map(|&f| {
            schema
                .column_index(&header[f])
                .expect("a feature is a header column")
        })
        .collect();
    ctx.tracker.info(&format!(
        "feature_scale: fitting {} ({} mode) on {} ({} rows), {} of {} feature columns",
        param.method.as_str(),
        param.mode.as_str(),
        input.id,
        input.rows,
        selected.len(),
        header.len()
    ));

    // Pass 1: extremes (and every value for quantiles).
    let keep = param.mode == Mode::Cap;
    let mut stats = vec![Stats::default(); selected.len()];
    input.for_each_partition(ctx, |_, frame| {
        for row in frame.rows() {
            for (s, &c) in stats.iter_mut().zip(&columns) {
                if !row[c].is_nan() {
                    s.add_extremes(row[c], keep);
                }
            }
        }
        Ok(())
    })?;
    let no_value = |k: usize, statistic: &'static str| Error::NoStatistic {
        table: input.name(),
        column: header[selected[k]].clone(),
        statistic,
        parameter: "method",
    };
    let mut bounds = Vec::with_capacity(selected.len());
    for (k, s) in stats.iter_mut().enumerate() {
        if s.count == 0 {
            return Err(no_value(k, "min"));
        }
        let f = selected[k];
        let (lower, upper) = match param.mode {
            Mode::Cap => {
                let q = |b: &Option<Bound>, default| match b {
                    Some(Bound::Scalar(q)) => *q,
                    _ => default,
                };
                (
                    s.quantile(q(&param.feat_lower, 0.0)),
                    s.quantile(q(&param.feat_upper, 1.0)),
                )
            }
            Mode::Normal => {
                let (mut lower, mut upper) = (s.min, s.max);
                if let Some(b) = &param.feat_upper {
                    let b = b.at("feat_upper", &header, f)?;
                    if upper > b {
                        upper = b;
                    }
                    if lower > b {
                        lower = b;
                    }
                }
                if let Some(b) = &param.feat_lower {
                    let b = b.at("feat_lower", &header, f)?;
                    if lower < b {
                        lower = b;
                    }
                    if upper < b {
                        upper = b;
                    }
                }
                (lower, upper)
            }
        };
        s.values = Vec::new();
        bounds.push((lower, upper));
    }

    // Pass 2 (standard_scale): mean and deviation of the clipped values.
    if param.method == Method::Standard && (param.with_mean || param.with_std) {
        input.for_each_partition(ctx, |_, frame| {
            for row in frame.rows() {
                for ((s, &c), &(lower, upper)) in stats.iter_mut().zip(&columns).zip(&bounds) {
                    let v = row[c];
                    if !v.is_nan() {
                        let v = clip(v, lower, upper);
                        s.sum += v;
                        s.sum_square += v * v;
                    }
                }
            }
            Ok(())
        })?;
    }
    let col_scale_param = selected
        .iter()
        .zip(&stats)
        .zip(&bounds)
        .map(|((&f, s), &(lower, upper))| {
            let (mean, std) = match param.method {
                Method::MinMax => (0.0, 0.0),
                Method::Standard => {
                    let n = s.count as f64;
                    let mean = s.sum / n;
                    let variance = s.sum_square / n - mean * mean;
                    let variance = if variance.abs() < FLOAT_ZERO {
                        0.0
                    } else {
                        variance.max(0.0)
                    };
                    let std = variance.sqrt();
                    let std = if std.abs() < MIN_DIVISOR { 1.0 } else { std };
                    (
                        if param.with_mean { mean } else { 0.0 },
                        if param.with_std { std } else { 1.0 },
                    )
                }
            };
            (
                header[f].clone(),
                ColumnScaleParam {
                    column_upper: upper,
                    column_lower: lower,
                    mean,
                    std,
                },
            )
        })
        .collect();
    let is_standard = param.method == Method::Standard;
    let model = FeatureScaleModel {
        param: ModelParam {
            col_scale_param,
            header: header.clone(),
        },
        meta: ModelMeta {
            method: param.method.as_str().into(),
            mode: param.mode.as_str().into(),
            area: "null".into(),
            scale_column: selected.iter().map(|&f| header[f].clone()).collect(),
            feat_upper: param
                .feat_upper
                .as_ref()
                .map_or(Value::Null, Bound::to_json),
            feat_lower: param
                .feat_lower
                .as_ref()
                .map_or(Value::Null, Bound::to_json),
            with_mean: is_standard && param.with_mean,
            with_std: is_standard && param.with_std,
            need_run: true,
        },
    };
    let scalers = scalers(&model, &schema, |reason| Error::InvalidModel {
        component: ctx.component.clone(),
        alias: ctx.first_output_model_name("model").into(),
        module: MODULE.into(),
        reason,
    })
    .map_err(|e| match e {
        ScalerError::Model(e) => e,
        ScalerError::MissingColumn(column) => Error::MissingColumn {
            table: input.name(),
            column,
            why: "a scaled column".into(),
        },
    })?;
    let output = write_output(ctx, input, &scalers)?;
    let alias = ctx.first_output_model_name("model");
    ctx.tracker.save_model(alias, &model.to_component_model())?;
    report(ctx, &model, &output, input.rows)?;
    let summary: Map<String, Value> = model
        .param
        .col_scale_param
        .iter()
        .map(|(column, p)| {
            (
                column.clone(),
                json!({
                    "column_upper": p.column_upper,
                    "column_lower": p.column_lower,
                    "mean": p.mean,
                    "std": p.std,
                }),
            )
        })
        .collect();
    ctx.tracker.set_summary(Value::Object(summary))
}

/// Why scalers cannot be built from a model.
enum ScalerError {
    Model(Error),
    MissingColumn(String),
}

/// The scalers of `model` for a table with `schema`, in header order.
fn scalers(
    model: &FeatureScaleModel,
    schema: &TableSchema,
    bad_model: impl Fn(String) -> Error,
) -> std::result::Result<Vec<ColumnScaler>, ScalerError> {
    let method = Method::from_name(&model.meta.method).ok_or_else(|| {
        ScalerError::Model(bad_model(format!(
            "unknown method `{}` (expected min_max_scale or standard_scale)",
            model.meta.method
        )))
    })?;
    let mut out = Vec::with_capacity(model.param.col_scale_param.len());
    for (column, p) in &model.param.col_scale_param {
        let index = schema
            .column_index(column)
            .filter(|_| schema.is_feature(column))
            .ok_or_else(|| ScalerError::MissingColumn(column.clone()))?;
        let scaler = ColumnScaler::new(index, method, p).map_err(|reason| {
            ScalerError::Model(bad_model(format!("column `{column}`: {reason}")))
        })?;
        out.push(scaler);
    }
    out.sort_by_key(|s| s.index);
    Ok(out)
}

fn transform(ctx: &TaskContext<'_>, input: &Input, model_input: &ModelInput) -> Result<()> {
    let bad_model = |reason: String| Error::InvalidModel {
        component: model_input.component.clone(),
        alias: model_input.alias.clone(),
        module: model_input.model.module.clone(),
        reason,
    };
    let model = FeatureScaleModel::from_component_model(&model_input.model)
        .map_err(|e| bad_model(e.to_string()))?;
    let scalers = scalers(&model, input.schema(), bad_model).map_err(|e| match e {
        ScalerError::Model(e) => e,
        ScalerError::MissingColumn(column) => Error::MissingColumn {
            table: input.name(),
            column,
            why: format!(
                "scaled by model `{}` of component `{}`",
                model_input.alias, model_input.component
            ),
        },
    })?;
    ctx.tracker.info(&format!(
        "feature_scale: transforming {} ({} rows) with model `{}` of component `{}` ({}, {} columns)",
        input.id,
        input.rows,
        model_input.alias,
        model_input.component,
        model.meta.method,
        scalers.len()
    ));
    let output = write_output(ctx, input, &scalers)?;
    let alias = ctx.first_output_model_name("model");
    ctx.tracker.save_model(alias, &model_input.model)?;
    report(ctx, &model, &output, input.rows)
}

/// Scales every row and writes the output table; returns it.
fn write_output(
    ctx: &TaskContext<'_>,
    input: &Input,
    scalers: &[ColumnScaler],
) -> Result<TableRef> {
    let data_name = ctx.first_output_data_name("data");
    let output = ctx.output_table(data_name);
    let dest = output.to_id("output table")?;
    let schema = input.schema().clone();
    let info = TableInfo {
        origin: TableOrigin::Output,
        layout: fateflow_tables::RowLayout::Columns,
        ..input.info.clone()
    };
    let mut stage = ctx
        .tables
        .begin_write(&dest, &info)
        .map_err(|e| Error::table(&dest, e))?;
    input.for_each_partition(ctx, |partition, frame| {
        if frame.nrows() > 0 {
            let (_, sids, mut values) = frame.into_parts();
            let ncols = schema.header.len();
            for row in values.chunks_mut(ncols) {
                for s in scalers {
                    row[s.index] = s.apply(row[s.index]);
                }
            }
            let batch = batch_from_rows(&dest, &schema, sids, &values)?;
            stage
                .write(partition, &batch)
                .map_err(|e| Error::table(&dest, e))?;
        }
        ctx.tracker
            .progress(percent(partition + 1, input.info.partitions));
        Ok(())
    })?;
    stage
        .commit(WriteMode::Replace, input.rows)
        .map_err(|e| Error::table(&dest, e))?;
    ctx.tracker.save_output_data(data_name, &output)?;
    Ok(output)
}

/// Logs FATE's `scale` metric and a log line.
fn report(
    ctx: &TaskContext<'_>,
    model: &FeatureScaleModel,
    output: &TableRef,
    rows: u64,
) -> Result<()> {
    ctx.log_metric(Metric {
        namespace: "train".into(),
        name: "scale".into(),
        data: Vec::new(),
        meta: json!({"name": "scale", "metric_type": "SCALE", "method": model.meta.method}),
    })?;
    ctx.tracker
        .info(&format!("feature_scale: wrote {rows} rows to {output}"));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn param(lower: f64, upper: f64, mean: f64, std: f64) -> ColumnScaleParam {
        ColumnScaleParam {
            column_upper: upper,
            column_lower: lower,
            mean,
            std,
        }
    }

    #[test]
    fn min_max_clips_and_guards_the_range() {
        let s = ColumnScaler::new(0, Method::MinMax, &param(2.0, 6.0, 0.0, 0.0)).unwrap();
        assert_eq!(s.apply(4.0), 0.5);
        assert_eq!(s.apply(10.0), 1.0);
        assert_eq!(s.apply(-1.0), 0.0);
        assert!(s.apply(f64::NAN).is_nan());
        let flat = ColumnScaler::new(0, Method::MinMax, &param(3.0, 3.0, 0.0, 0.0)).unwrap();
        assert_eq!(flat.apply(5.0), 0.0);
        assert!(ColumnScaler::new(0, Method::MinMax, &param(3.0, 2.0, 0.0, 0.0)).is_err());
    }

    #[test]
    fn standard_clips_then_standardizes() {
        let s = ColumnScaler::new(0, Method::Standard, &param(0.0, 10.0, 4.0, 2.0)).unwrap();
        assert_eq!(s.apply(6.0), 1.0);
        assert_eq!(s.apply(20.0), 3.0);
    }

    #[test]
    fn quantiles_take_rank_ceil_q_n() {
        let mut s = Stats::default();
        for v in [5.0, 1.0, 4.0, 2.0, 3.0] {
            s.add_extremes(v, true);
        }
        assert_eq!(s.quantile(0.0), 1.0);
        assert_eq!(s.quantile(1.0), 5.0);
        // ceil(0.5 * 5) = 3rd smallest; ceil(0.2 * 5) = 1st; ceil(0.21 * 5) = 2nd.
        assert_eq!(s.quantile(0.5), 3.0);
        assert_eq!(s.quantile(0.2), 1.0);
        assert_eq!(s.quantile(0.21), 2.0);
    }
}
