//! `DataStatistics`: per-column statistics of one party's table, purely local.
//!
//! Parameters and defaults are FATE 1.x `StatisticsParam`'s: `statistics` (default
//! `"summary"`) always computes FATE's basic set (sum, mean, stddev, median, min, max,
//! missing_ratio, missing_count, skewness, kurtosis, coefficient_of_variance) and adds the
//! names given (`count`, `variance`, percentiles `"NN%"`); `column_indexes` (`-1`: every
//! feature column) and `column_names` select columns (their union, indexes first);
//! values in `abnormal_list` count as missing besides NaN; `quantile_error` is the
//! quantile summary's relative error; `bias: false` applies the sample corrections to
//! skewness and kurtosis.
//!
//! One streaming pass over the table, record batch by record batch, columns in
//! parallel: per column the count, sum, extremes and central moments (Welford /
//! Terriberry updates, so the moments equal a two-pass computation to rounding), and
//! FATE's Greenwald–Khanna quantile summary built partition by partition as FATE's
//! quantile binning builds it (`bin_num` 2, compress threshold and head size 10 000), so
//! median and percentiles are FATE's (exact while a partition holds fewer values than
//! the head size). Memory: a few numbers and one bounded summary per column.
//!
//! Definitions, over a column's n non-missing values (FATE's):
//! `mean = sum / n`; `variance = m2` (the population variance, below 1e-8 in absolute
//! value → 0); `stddev = √variance`; `coefficient_of_variance = |stddev / mean|` with a
//! mean below 1e-8 replaced by 1e-8; `skewness = m3 / variance^1.5` and
//! `kurtosis = m4 / variance² − 3` (0 and −3 when the variance is 0), with `bias: false`
//! `√(n(n−1))/(n−2) · skewness` for n > 2 and
//! `((n²−1)·m4/variance² − 3(n−1)²)/((n−2)(n−3))` for n > 3; `missing_count` and
//! `missing_ratio` count NaN cells only (not `abnormal_list` values), over every row.
//! A statistic that does not exist (the mean of a column without a value) is `null`.
//!
//! Outputs: the model (FATE's `StatisticMeta` / `ModelParam`), the summary
//! `{column: {statistic: value}}` that `flow tracking get-summary` and the Board show.
//! No output data, as in FATE.
//!
//! A column index or name outside the header is skipped and logged, as FATE skips it.
//!
//! Departures from FATE: an infinite value fails naming its row; the moments are
//! computed stably instead of from raw power sums; selecting no column at all fails.

pub mod model;
pub(crate) mod param;

use arrow_array::StringArray;
use fateflow_tables::{TableId, TableInfo};
use rayon::prelude::*;
use serde_json::{Map, Value};

use crate::binning::quantile::PartitionedSummary;
use crate::context::{Component, TaskContext};
use crate::error::{Error, Result};
use crate::table_io::{feature_header, open_first_input, scan_columns};

pub use model::StatisticsModel;
use model::{FeatureValues, ModelMeta, ModelParam, PartyResult, MODULE};
use param::{Metric, StatisticsParam};

/// Input data keys tried in order.
const INPUT_KEYS: [&str; 2] = ["data", "train_data"];

/// Variances below this count as 0 (FATE's `FLOAT_ZERO`).
pub(crate) const FLOAT_ZERO: f64 = 1e-8;

/// FATE's `SummaryStatistics` rules, shared with the selection's statistic filters: a
/// population variance below 1e-8 in absolute value is 0.
pub(crate) fn fate_variance(v: f64) -> f64 {
    if v.abs() < FLOAT_ZERO {
        0.0
    } else {
        v.max(0.0)
    }
}

/// `|stddev / mean|`, a mean below 1e-8 in absolute value taken as 1e-8.
pub(crate) fn coefficient_of_variance(stddev: f64, mean: f64) -> f64 {
    let mean = if mean.abs() < FLOAT_ZERO {
        FLOAT_ZERO
    } else {
        mean
    };
    (stddev / mean).abs()
}

/// Skewness `m3 / m2^1.5` from the (floored) variance and the third central moment; 0
/// when the variance is 0.
pub(crate) fn skewness(m2: f64, m3: f64) -> f64 {
    if m2 == 0.0 {
        0.0
    } else {
        m3 / m2.powf(1.5)
    }
}

/// Excess kurtosis `m4 / m2² − 3`; −3 when the variance is 0.
pub(crate) fn kurtosis(m2: f64, m4: f64) -> f64 {
    if m2 == 0.0 {
        -3.0
    } else {
        m4 / (m2 * m2) - 3.0
    }
}

/// FATE's quantile summary settings for statistics (binning's defaults).
const COMPRESS_THRES: usize = 10_000;
const HEAD_SIZE: usize = 10_000;

/// FATE's `DataStatistics` component.
#[derive(Debug, Clone, Copy, Default)]
pub struct DataStatistics;

impl Component for DataStatistics {
    fn run(&self, ctx: &TaskContext<'_>) -> Result<()> {
        let param = StatisticsParam::parse(&ctx.parameters)?;
        let (id, info, rows) = open_first_input(ctx, MODULE, &INPUT_KEYS)?;
        let schema = &info.schema;
        let header = feature_header(schema);
        if header.is_empty() {
            return Err(Error::param(
                "column_indexes",
                format!("table {id} has no feature column to describe"),
            ));
        }
        let (selected, skipped) = param.selected(&header);
        if !skipped.is_empty() {
            ctx.tracker.info(&format!(
                "data_statistics: skipping {} (not among the feature columns {} of {id}), as FATE does",
                skipped.join(", "),
                header.join(", ")
            ));
        }
        if selected.is_empty() {
            return Err(Error::param(
                "column_indexes",
                format!(
                    "no column of {id} selected (its feature columns: {})",
                    header.join(", ")
                ),
            ));
        }
        let names: Vec<String> = selected.iter().map(|&f| header[f].clone()).collect();
        let table_cols: Vec<usize> = names
            .iter()
            .map(|n| {
                schema
                    .column_index(n)
                    .expect("a feature is a header column")
            })
            .collect();
        ctx.tracker.info(&format!(
            "data_statistics: {} statistics of {} of {} feature columns of {id} ({rows} rows)",
            param.statistics.len(),
            names.len(),
            header.len()
        ));
        let columns: Vec<(usize, &str)> = table_cols
            .iter()
            .zip(&names)
            .map(|(&c, n)| (c, n.as_str()))
            .collect();
        let how = Describe {
            abnormal: &param.abnormal,
            quantile_error: Some(param.quantile_error),
            bias: param.bias,
        };
        let described = describe(ctx, &id, &info, rows, &columns, &how)?;
        let model = build_model(&param, &names, described);
        ctx.tracker.save_model(
            ctx.first_output_model_name("model"),
            &model.to_component_model(),
        )?;
        ctx.tracker.set_summary(summary(&model, &names))
    }
}

/// How [`describe`] runs.
pub(crate) struct Describe<'a> {
    /// Values counted as missing besides NaN.
    pub(crate) abnormal: &'a [f64],
    /// The quantile summary's error; `None`: no quantile is wanted (no summary is built).
    pub(crate) quantile_error: Option<f64>,
    /// `bias` of skewness and kurtosis.
    pub(crate) bias: bool,
}

/// Every statistic of `columns` (table column index, name) of `id`, in one pass: values
/// that are NaN or in `abnormal` are left out (NaN cells counted as missing).
pub(crate) fn describe(
    ctx: &TaskContext<'_>,
    id: &TableId,
    info: &TableInfo,
    rows: u64,
    columns: &[(usize, &str)],
    how: &Describe<'_>,
) -> Result<Vec<Described>> {
    let (abnormal, bias) = (how.abnormal, how.bias);
    let mut scans: Vec<ColumnScan> = columns
        .iter()
        .map(|_| {
            ColumnScan::new(
                how.quantile_error.unwrap_or(1e-4),
                how.quantile_error.is_some(),
            )
        })
        .collect();
    let mut current = 0;
    scan_columns(ctx, id, info, |partition, sids, values| {
        if partition != current {
            scans.par_iter_mut().for_each(ColumnScan::end_partition);
            current = partition;
        }
        scans
            .par_iter_mut()
            .zip(columns.par_iter())
            .for_each(|(s, &(c, _))| s.feed(sids, values[c], abnormal));
        match scans
            .iter()
            .zip(columns)
            .find(|(s, _)| s.infinite.is_some())
        {
            Some((s, &(_, name))) => {
                let (sid, v) = s.infinite.clone().expect("found");
                Err(infinite(id, sid, name, v))
            }
            None => Ok(()),
        }
    })?;
    Ok(scans
        .into_par_iter()
        .map(|s| s.finish(rows, bias))
        .collect())
}

fn infinite(id: &TableId, sid: String, column: &str, v: f64) -> Error {
    Error::InvalidValue {
        table: id.to_string(),
        sid,
        column: column.into(),
        reason: format!("{v} is not a number statistics can use (NaN marks a missing value)"),
    }
}

/// Central moments of the values seen so far (Terriberry's online update).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct Moments {
    pub(crate) n: u64,
    pub(crate) mean: f64,
    /// Sums of the 2nd, 3rd and 4th powers of deviations from the mean.
    pub(crate) m2: f64,
    pub(crate) m3: f64,
    pub(crate) m4: f64,
}

impl Moments {
    pub(crate) fn push(&mut self, x: f64) {
        let n1 = self.n as f64;
        self.n += 1;
        let n = self.n as f64;
        let delta = x - self.mean;
        let delta_n = delta / n;
        let delta_n2 = delta_n * delta_n;
        let term1 = delta * delta_n * n1;
        self.mean += delta_n;
        self.m4 += term1 * delta_n2 * (n * n - 3.0 * n + 3.0) + 6.0 * delta_n2 * self.m2
            - 4.0 * delta_n * self.m3;
        self.m3 += term1 * delta_n * (n - 2.0) - 3.0 * delta_n * self.m2;
        self.m2 += term1;
    }
}

/// One column's running state.
struct ColumnScan {
    /// NaN cells.
    nan: u64,
    sum: f64,
    min: f64,
    max: f64,
    moments: Moments,
    /// `None` when no quantile is wanted.
    quantiles: Option<PartitionedSummary>,
    /// The first infinite value and its row.
    infinite: Option<(String, f64)>,
}

impl ColumnScan {
    fn new(error: f64, quantiles: bool) -> Self {
        ColumnScan {
            nan: 0,
            sum: 0.0,
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
            moments: Moments::default(),
            quantiles: quantiles.then(|| PartitionedSummary::new(COMPRESS_THRES, HEAD_SIZE, error)),
            infinite: None,
        }
    }

    fn feed(&mut self, sids: &StringArray, values: &[f64], abnormal: &[f64]) {
        if self.infinite.is_some() {
            return;
        }
        for (row, &v) in values.iter().enumerate() {
            if v.is_nan() {
                self.nan += 1;
                continue;
            }
            if v.is_infinite() {
                self.infinite = Some((sids.value(row).to_owned(), v));
                return;
            }
            if abnormal.contains(&v) {
                continue;
            }
            self.sum += v;
            self.min = self.min.min(v);
            self.max = self.max.max(v);
            self.moments.push(v);
            if let Some(q) = &mut self.quantiles {
                q.insert(v);
            }
        }
    }

    fn end_partition(&mut self) {
        if let Some(q) = &mut self.quantiles {
            q.end_partition();
        }
    }

    fn finish(self, rows: u64, bias: bool) -> Described {
        let m = self.moments;
        let n = m.n as f64;
        let has = m.n > 0;
        let variance = has.then(|| fate_variance(m.m2 / n));
        let mean = has.then(|| self.sum / n);
        let (skewness, kurtosis) = match variance {
            None => (None, None),
            Some(var) => {
                let (m3, m4) = (m.m3 / n, m.m4 / n);
                let corrected = !bias && var > 0.0;
                let skew = if corrected && m.n > 2 {
                    (n * (n - 1.0)).sqrt() / (n - 2.0) * skewness(var, m3)
                } else {
                    skewness(var, m3)
                };
                let kurt = if corrected && m.n > 3 {
                    let g2 = m4 / (var * var);
                    ((n * n - 1.0) * g2 - 3.0 * (n - 1.0) * (n - 1.0)) / ((n - 2.0) * (n - 3.0))
                } else {
                    kurtosis(var, m4)
                };
                (Some(skew), Some(kurt))
            }
        };
        let stddev = variance.map(f64::sqrt);
        let cv = stddev
            .zip(mean)
            .map(|(s, mu)| coefficient_of_variance(s, mu));
        Described {
            count: m.n,
            sum: self.sum,
            mean,
            variance,
            stddev,
            cv,
            skewness,
            kurtosis,
            min: has.then_some(self.min),
            max: has.then_some(self.max),
            missing: self.nan,
            rows,
            quantiles: self.quantiles.and_then(PartitionedSummary::finish),
        }
    }
}

/// Everything computed of one column.
pub(crate) struct Described {
    count: u64,
    sum: f64,
    mean: Option<f64>,
    variance: Option<f64>,
    stddev: Option<f64>,
    cv: Option<f64>,
    skewness: Option<f64>,
    kurtosis: Option<f64>,
    min: Option<f64>,
    max: Option<f64>,
    missing: u64,
    rows: u64,
    quantiles: Option<crate::binning::quantile::QuantileSummary>,
}

impl Described {
    /// The value of `stat`, `None` when it does not exist (or is not finite).
    pub(crate) fn value(&mut self, stat: Metric) -> Option<f64> {
        let finite = |v: Option<f64>| v.filter(|v| v.is_finite());
        finite(match stat {
            Metric::Count => Some(self.count as f64),
            Metric::Sum => Some(self.sum),
            Metric::Mean => self.mean,
            Metric::Stddev => self.stddev,
            Metric::Variance => self.variance,
            Metric::CoefficientOfVariance => self.cv,
            Metric::Skewness => self.skewness,
            Metric::Kurtosis => self.kurtosis,
            Metric::Min => self.min,
            Metric::Max => self.max,
            Metric::MissingCount => Some(self.missing as f64),
            Metric::MissingRatio => Some(self.missing as f64 / self.rows.max(1) as f64),
            Metric::Median => self.quantile(0.5),
            Metric::Quantile(q) => self.quantile(q),
            // `max − min`: a selection filter's, never a `DataStatistics` statistic.
            Metric::Range => self.max.zip(self.min).map(|(a, b)| (a - b).abs()),
        })
    }

    fn quantile(&mut self, q: f64) -> Option<f64> {
        self.quantiles.as_mut().and_then(|s| s.query(q))
    }
}

fn build_model(
    param: &StatisticsParam,
    names: &[String],
    mut described: Vec<Described>,
) -> StatisticsModel {
    // FATE computes the plain statistics first, then the quantiles.
    let order = param
        .statistics
        .iter()
        .filter(|(_, s)| !s.is_quantile())
        .chain(param.statistics.iter().filter(|(_, s)| s.is_quantile()));
    let results = order
        .map(|(name, stat)| FeatureValues {
            values: described.iter_mut().map(|d| d.value(*stat)).collect(),
            col_names: names.to_vec(),
            value_name: name.clone(),
        })
        .collect();
    StatisticsModel {
        param: ModelParam {
            self_values: PartyResult { results },
            host_values: Default::default(),
            model_name: "statistic_model".into(),
        },
        meta: ModelMeta {
            statistics: param.statistics.iter().map(|(n, _)| n.clone()).collect(),
            static_columns: names.to_vec(),
            quantile_error: param.quantile_error,
            need_run: true,
        },
    }
}

/// FATE's summary: `{column: {statistic: value}}`, statistics in the model's order.
fn summary(model: &StatisticsModel, names: &[String]) -> Value {
    let mut out = Map::new();
    for (i, column) in names.iter().enumerate() {
        let mut stats = Map::new();
        for r in &model.param.self_values.results {
            stats.insert(r.value_name.clone(), r.values[i].into());
        }
        out.insert(column.clone(), Value::Object(stats));
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests;
