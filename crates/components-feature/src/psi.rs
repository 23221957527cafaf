//! `PSI`: the population stability index of every feature between an expected table
//! (input `train_data`) and an actual one (`validate_data`). Purely local.
//!
//! Parameters and defaults are FATE 1.x `PSIParam`'s: `max_bin_num` 20, `binning_error`
//! 1e-4 (the quantile summary's error); `dense_missing_val` only at its default (none:
//! NaN cells are missing).
//!
//! The expected table's columns are binned by FATE's quantile binning (`max_bin_num`
//! bins, duplicate split points removed, summary built partition by partition), both
//! tables are counted per bin, missing cells in an extra bin (index `max_bin_num`). Per
//! feature and bin, with `e` and `a` the shares of the expected and actual rows (a share
//! of 0 taken as 1e-6): `psi = (a − e) · ln(a / e)`; a feature's PSI is the sum over
//! its bins. Three passes, memory one quantile summary and a few counts per column.
//!
//! Outputs: the model (FATE's `PSIMeta{max_bin_num}` and `PsiSummary`: `total_score`,
//! per feature the bins' `psi`, `expect_perc`, `actual_perc` rounded to 6 decimals and
//! their `interval` strings such as `x1<=0.5`, `0.5<x1<=2.0`, `2.0<x1`, `missing`) and the
//! summary `{"psi_scores": {feature: psi}}`. No output data, as in FATE.

use std::collections::BTreeMap;

use fateflow_domain::module::Kind::{Any, Bool, Int, Number};
use fateflow_domain::module::{param, ModuleSchema, Param};
use fateflow_tables::{TableId, TableInfo};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use crate::binning::quantile::{bin_of, quantile_split_points, PartitionedSummary};
use crate::context::{Component, ComponentModel, ModelError, TaskContext};
use crate::error::{Error, Result};
use crate::params::Params;
use crate::table_io::{feature_header, open_first_input, scan_columns};

/// The module name recorded in the model.
pub const MODULE: &str = "PSI";

const PSI_PARAMS: &[Param] = &[
    param("max_bin_num", Int, "20", true),
    param("binning_error", Number, "0.0001", true),
    param("dense_missing_val", Any, "null", false),
    param("need_run", Bool, "true", true),
];

/// `PSI`'s parameter schema.
pub(crate) const SCHEMA: ModuleSchema = ModuleSchema {
    name: MODULE,
    params: &[PSI_PARAMS],
    conditions: &[],
    supported: &[],
};

/// FATE's quantile summary settings (binning's defaults).
const COMPRESS_THRES: usize = 10_000;
const HEAD_SIZE: usize = 10_000;

/// The share used in place of 0.
const ZERO_SHARE: f64 = 1e-6;

/// The parameters, defaults applied.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PsiParam {
    pub(crate) max_bin_num: usize,
    pub(crate) binning_error: f64,
}

impl PsiParam {
    pub(crate) fn parse(map: &Map<String, Value>) -> Result<Self> {
        let p = Params::with_schema(map, &SCHEMA);
        let max_bin_num = p.get_int("max_bin_num")?;
        if max_bin_num < 1 {
            return Err(Error::param(
                "max_bin_num",
                format!("expected a positive integer, found {max_bin_num}"),
            ));
        }
        let binning_error = p.get_float("binning_error")?;
        if !(binning_error > 0.0 && binning_error < 1.0) {
            return Err(Error::param(
                "binning_error",
                format!("expected a number between 0 and 1 (exclusive), found {binning_error}"),
            ));
        }
        Ok(PsiParam {
            max_bin_num: max_bin_num as usize,
            binning_error,
        })
    }
}

/// One feature's result (FATE's `FeaturePsi`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeaturePsi {
    /// The feature.
    pub feature_name: String,
    /// Each bin's PSI, rounded to 6 decimals.
    pub psi: Vec<f64>,
    /// Each bin's share of the expected rows, rounded to 6 decimals.
    pub expect_perc: Vec<f64>,
    /// Each bin's share of the actual rows, rounded to 6 decimals.
    pub actual_perc: Vec<f64>,
    /// Each bin as text (`x1<=0.5`, `0.5<x1<=2.0`, `2.0<x1`, `missing`).
    pub interval: Vec<String>,
}

/// Fitted values (FATE's `PsiSummary`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelParam {
    /// Each feature's PSI.
    pub total_score: BTreeMap<String, f64>,
    /// `"PSI"`.
    pub model_name: String,
    /// Per feature, in header order.
    pub feature_psi: Vec<FeaturePsi>,
}

/// Settings (FATE's `PSIMeta`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelMeta {
    /// `max_bin_num`.
    pub max_bin_num: usize,
}

/// A typed `PSI` model.
#[derive(Debug, Clone, PartialEq)]
pub struct PsiModel {
    /// Fitted values.
    pub param: ModelParam,
    /// Settings.
    pub meta: ModelMeta,
}

impl PsiModel {
    /// The model as the executor stores it.
    pub fn to_component_model(&self) -> ComponentModel {
        ComponentModel::from_parts(MODULE, &self.param, &self.meta)
    }

    /// Reads a stored model; the error says which part does not parse.
    pub fn from_component_model(model: &ComponentModel) -> Result<Self, ModelError> {
        let (param, meta) = model.parts()?;
        Ok(PsiModel { param, meta })
    }
}

/// FATE's `PSI` component.
#[derive(Debug, Clone, Copy, Default)]
pub struct Psi;

impl Component for Psi {
    fn run(&self, ctx: &TaskContext<'_>) -> Result<()> {
        let param = PsiParam::parse(&ctx.parameters)?;
        let (expect, expect_info, expect_rows) = open_first_input(ctx, MODULE, &["train_data"])?;
        let (actual, actual_info, actual_rows) = open_first_input(ctx, MODULE, &["validate_data"])?;
        let header = feature_header(&expect_info.schema);
        let actual_header = feature_header(&actual_info.schema);
        {
            let mut a = header.clone();
            let mut b = actual_header.clone();
            a.sort();
            b.sort();
            if a != b {
                return Err(Error::MissingColumn {
                    table: actual.to_string(),
                    column: header
                        .iter()
                        .find(|h| !actual_header.contains(h))
                        .or_else(|| actual_header.iter().find(|h| !header.contains(h)))
                        .cloned()
                        .unwrap_or_default(),
                    why: format!(
                        "PSI compares tables with the same feature columns; {expect} has {}, {actual} has {}",
                        header.join(", "),
                        actual_header.join(", ")
                    ),
                });
            }
        }
        ctx.tracker.info(&format!(
            "psi: {} features, expected {expect} ({expect_rows} rows), actual {actual} ({actual_rows} rows), {} bins",
            header.len(),
            param.max_bin_num
        ));
        let cols = |info: &TableInfo| -> Vec<usize> {
            header
                .iter()
                .map(|h| info.schema.column_index(h).expect("checked above"))
                .collect()
        };
        let (expect_cols, actual_cols) = (cols(&expect_info), cols(&actual_info));
        let started = std::time::Instant::now();
        let split_points = fit(ctx, &expect, &expect_info, &expect_cols, &header, &param)?;
        let fitted = started.elapsed();
        let bins = param.max_bin_num + 1;
        let expect_counts = count(
            ctx,
            &expect,
            &expect_info,
            &expect_cols,
            &split_points,
            bins,
        )?;
        let counted = started.elapsed();
        let actual_counts = count(
            ctx,
            &actual,
            &actual_info,
            &actual_cols,
            &split_points,
            bins,
        )?;
        ctx.tracker.info(&format!(
            "psi: split points {:.2} s, expected counted {:.2} s, actual counted {:.2} s",
            fitted.as_secs_f64(),
            (counted - fitted).as_secs_f64(),
            (started.elapsed() - counted).as_secs_f64()
        ));
        let model = build_model(
            &param,
            &header,
            &split_points,
            &expect_counts,
            &actual_counts,
            expect_rows as f64,
            actual_rows as f64,
        );
        ctx.tracker.save_model(
            ctx.first_output_model_name("model"),
            &model.to_component_model(),
        )?;
        let scores: Map<String, Value> = header
            .iter()
            .map(|h| (h.clone(), json!(model.param.total_score[h])))
            .collect();
        ctx.tracker.set_summary(json!({ "psi_scores": scores }))
    }
}

/// The quantile split points of every column of the expected table.
fn fit(
    ctx: &TaskContext<'_>,
    id: &TableId,
    info: &TableInfo,
    cols: &[usize],
    header: &[String],
    param: &PsiParam,
) -> Result<Vec<Vec<f64>>> {
    let mut summaries: Vec<PartitionedSummary> = cols
        .iter()
        .map(|_| PartitionedSummary::new(COMPRESS_THRES, HEAD_SIZE, param.binning_error))
        .collect();
    let mut current = 0;
    scan_columns(ctx, id, info, |partition, sids, values| {
        if partition != current {
            summaries
                .par_iter_mut()
                .for_each(PartitionedSummary::end_partition);
            current = partition;
        }
        let found: Option<(usize, String, f64)> = summaries
            .par_iter_mut()
            .zip(cols.par_iter())
            .enumerate()
            .filter_map(|(k, (s, &c))| {
                for (row, &v) in values[c].iter().enumerate() {
                    if v.is_infinite() {
                        return Some((k, sids.value(row).to_owned(), v));
                    }
                    if !v.is_nan() {
                        s.insert(v);
                    }
                }
                None
            })
            .find_any(|_| true);
        match found {
            Some((k, sid, v)) => Err(Error::InvalidValue {
                table: id.to_string(),
                sid,
                column: header[k].clone(),
                reason: format!(
                    "{v} cannot be binned (PSI takes finite values, or NaN for missing)"
                ),
            }),
            None => Ok(()),
        }
    })?;
    summaries
        .into_iter()
        .zip(header)
        .map(|(s, h)| match s.finish() {
            Some(mut s) => Ok(quantile_split_points(&mut s, param.max_bin_num)),
            // FATE refuses an expected table with an empty column.
            None => Err(Error::NoStatistic {
                table: id.to_string(),
                column: h.clone(),
                statistic: "split points",
                parameter: "max_bin_num",
            }),
        })
        .collect()
}

/// Rows per bin of every column (`bins` − 1 is the missing bin).
fn count(
    ctx: &TaskContext<'_>,
    id: &TableId,
    info: &TableInfo,
    cols: &[usize],
    split_points: &[Vec<f64>],
    bins: usize,
) -> Result<Vec<Vec<u64>>> {
    let mut counts = vec![vec![0u64; bins]; cols.len()];
    scan_columns(ctx, id, info, |_, _, values| {
        counts
            .par_iter_mut()
            .zip(cols.par_iter())
            .zip(split_points.par_iter())
            .for_each(|((n, &c), sp)| {
                for &v in values[c] {
                    let b = if v.is_nan() {
                        bins - 1
                    } else {
                        bin_of(sp, v).min(bins - 2)
                    };
                    n[b] += 1;
                }
            });
        Ok(())
    })?;
    Ok(counts)
}

/// `x` rounded to 6 decimals as numpy's `round` does (scale, round half to even).
fn round6(x: f64) -> f64 {
    (x * 1e6).round_ties_even() / 1e6
}

/// Python's `str()` of a float (`3.0`, `0.5`).
fn python_str(x: f64) -> String {
    format!("{x:?}")
}

/// The text of each bin of a feature with `split_points`, then `missing`.
fn intervals(name: &str, split_points: &[f64]) -> Vec<String> {
    let n = split_points.len();
    let mut out: Vec<String> = (0..n)
        .map(|i| {
            let mut s = String::new();
            if i > 0 {
                s.push_str(&python_str(round6(split_points[i - 1])));
                s.push('<');
            }
            s.push_str(name);
            if i + 1 < n {
                s.push_str("<=");
                s.push_str(&python_str(round6(split_points[i])));
            }
            s
        })
        .collect();
    out.push("missing".into());
    out
}

fn psi_of(e: f64, a: f64) -> f64 {
    let e = if e == 0.0 { ZERO_SHARE } else { e };
    let a = if a == 0.0 { ZERO_SHARE } else { a };
    (a - e) * (a / e).ln()
}

fn build_model(
    param: &PsiParam,
    header: &[String],
    split_points: &[Vec<f64>],
    expect: &[Vec<u64>],
    actual: &[Vec<u64>],
    expect_rows: f64,
    actual_rows: f64,
) -> PsiModel {
    let missing = param.max_bin_num;
    let mut total_score = BTreeMap::new();
    let mut feature_psi = Vec::with_capacity(header.len());
    for (f, name) in header.iter().enumerate() {
        let e: Vec<f64> = expect[f].iter().map(|&c| c as f64 / expect_rows).collect();
        let a: Vec<f64> = actual[f].iter().map(|&c| c as f64 / actual_rows).collect();
        let per_bin: Vec<f64> = e.iter().zip(&a).map(|(&e, &a)| psi_of(e, a)).collect();
        total_score.insert(name.clone(), per_bin.iter().sum());
        // The bins that have an interval, then the missing bin.
        let shown: Vec<usize> = (0..split_points[f].len()).chain([missing]).collect();
        feature_psi.push(FeaturePsi {
            feature_name: name.clone(),
            psi: shown.iter().map(|&b| round6(per_bin[b])).collect(),
            expect_perc: shown.iter().map(|&b| round6(e[b])).collect(),
            actual_perc: shown.iter().map(|&b| round6(a[b])).collect(),
            interval: intervals(name, &split_points[f]),
        });
    }
    PsiModel {
        param: ModelParam {
            total_score,
            model_name: "PSI".into(),
            feature_psi,
        },
        meta: ModelMeta {
            max_bin_num: param.max_bin_num,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fateflow_component_core::testing::{ctx, temp_store, upload, RecordingTracker};

    #[test]
    fn psi_equals_the_formula_on_hand_binned_data() {
        let (_dir, store) = temp_store();
        // Expected: x takes 1..=4 evenly; 2 bins → split points [2, 4].
        let expect = upload(&store, "expect", "id,x\na,1\nb,2\nc,3\nd,4\ne,\n");
        let actual = upload(&store, "actual", "id,x\na,1\nb,1\nc,1\nd,4\n");
        let tracker = RecordingTracker::new();
        let mut c = ctx(&store, &tracker, "psi_0", MODULE, json!({"max_bin_num": 2}));
        c.inputs.data.insert("train_data".into(), vec![expect]);
        c.inputs.data.insert("validate_data".into(), vec![actual]);
        Psi.run(&c).unwrap();
        let (_, m) = tracker.models().pop().unwrap();
        let m = PsiModel::from_component_model(&m).unwrap();
        let f = &m.param.feature_psi[0];
        assert_eq!(f.interval, ["x<=2.0", "2.0<x", "missing"]);
        // Expected shares 2/5, 2/5, 1/5; actual 3/4, 1/4, 0 (→ 1e-6).
        let want = [(0.4, 0.75), (0.4, 0.25), (0.2, 1e-6)];
        let total: f64 = want
            .iter()
            .map(|&(e, a): &(f64, f64)| (a - e) * (a / e).ln())
            .sum();
        assert!((m.param.total_score["x"] - total).abs() < 1e-12);
        assert_eq!(f.expect_perc, [0.4, 0.4, 0.2]);
        assert_eq!(f.actual_perc, [0.75, 0.25, 0.0]);
        assert_eq!(f.psi[0], round6((0.75 - 0.4) * (0.75f64 / 0.4).ln()));
        assert_eq!(tracker.summary().unwrap()["psi_scores"]["x"], json!(total));
    }

    #[test]
    fn different_columns_are_named() {
        let (_dir, store) = temp_store();
        let expect = upload(&store, "e2", "id,x,y\na,1,2\n");
        let actual = upload(&store, "a2", "id,x,z\na,1,2\n");
        let tracker = RecordingTracker::new();
        let mut c = ctx(&store, &tracker, "psi_0", MODULE, json!({}));
        c.inputs.data.insert("train_data".into(), vec![expect]);
        c.inputs.data.insert("validate_data".into(), vec![actual]);
        let e = Psi.run(&c).unwrap_err().to_string();
        assert!(e.contains("`y`") && e.contains("x, z"), "{e}");
    }

    #[test]
    fn intervals_read_like_fates() {
        assert_eq!(
            intervals("x1", &[0.1234567, 0.5, 3.0]),
            ["x1<=0.123457", "0.123457<x1<=0.5", "0.5<x1", "missing"]
        );
    }
}
